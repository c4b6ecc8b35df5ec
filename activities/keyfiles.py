"""Private key files made once, on first use, under the data folder (0600 files, 0700 folders).

The embedded default has no key management service: the keys that sign documents and audit
exports are generated the first time they are needed. Several worker threads or processes may
need the same key at once, so creation happens under an exclusive `flock` and through
`os.replace`: exactly one key is ever made, and nobody reads half a file.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

MAX_KEY_FILE = 64 * 1024
"""Key and certificate files are a few hundred bytes; a bigger one is not ours."""


class KeyFileError(Exception):
    """A key file that exists but cannot be used (too big, unreadable)."""


def private_folder(path: Path) -> Path:
    """Make `path` (and missing parents) with mode 0700; tighten it if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def read_limited(path: Path, limit: int = MAX_KEY_FILE) -> bytes:
    """A small file's bytes; refuses a file larger than `limit`."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise KeyFileError(f"{path}: larger than {limit} bytes, not a key or certificate")
    return data


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` atomically with `mode` (0600 unless said otherwise)."""
    private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_once(folder: Path, make: Callable[[], dict[str, tuple[bytes, int]]], probe: str) -> None:
    """Run `make` and write the files it returns (name -> (bytes, mode)) unless `probe` exists.

    Checked and created under an exclusive lock on `folder/.lock`, across threads and
    processes, so concurrent first uses make one key, not two.
    """
    if (folder / probe).is_file():
        return
    private_folder(folder)
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
