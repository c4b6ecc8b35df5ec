"""Private key files made once, on first use, under the data folder (0600 files, 0700 folders).

The embedded default has no key management service: the keys that sign documents and audit
exports are generated the first time they are needed. Several worker threads or processes may
need the same key at once, so creation happens under an exclusive `flock` and through
`os.replace`: exactly one key is ever made, and nobody reads half a file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from activities.private import private_dir, write_private

MAX_KEY_FILE = 64 * 1024
"""Key and certificate files are a few hundred bytes; a bigger one is not ours."""


class KeyFileError(Exception):
    """A key file that exists but cannot be used (too big, unreadable)."""


def read_limited(path: Path, limit: int = MAX_KEY_FILE) -> bytes:
    """A small file's bytes; refuses a file larger than `limit`."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise KeyFileError(f"{path}: larger than {limit} bytes, not a key or certificate")
    return data


def create_once(folder: Path, make: Callable[[], dict[str, tuple[bytes, int]]], probe: str) -> None:
    """Run `make` and write the files it returns (name -> (bytes, mode)) unless `probe` exists.

    Checked and created under an exclusive lock on `folder/.lock`, across threads and
    processes, so concurrent first uses make one key, not two.
    """
    if (folder / probe).is_file():
        return
    private_dir(folder)
    with open(folder / ".lock", "a+b") as lock:
        os.chmod(folder / ".lock", 0o600)
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if (folder / probe).is_file():
                return
            files = make()
            # The probe last: a crash in between leaves no probe, and the next use starts over.
            for name, (data, mode) in sorted(files.items(), key=lambda item: item[0] == probe):
                write_private(folder / name, data, mode)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
