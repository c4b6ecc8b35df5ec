"""Files that hold personal data: folders 0700, files 0600, whatever the process umask says.

Decree 13/2023 asks that personal data be readable only by those who need it; on one machine
that is the account running motcua. Every writer of personal data (documents, outboxes,
registers, keys, tokens) goes through these helpers, so no file is ever briefly world-readable.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700; tighten `path` if it already existed.

    Existing parents are left alone (they may be the user's home or /tmp)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)  # mkdir's mode goes through the umask
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """`os.open` with 0600 for a new file (a folder made private first); tightens an old file."""
    private_dir(path.parent)
    fd = os.open(path, flags, FILE_MODE)
    if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
        os.fchmod(fd, FILE_MODE)
    return fd


def write_private(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace `path` atomically by `data`, 0600 (or `mode`, e.g. 0644 for a public
    certificate) in a 0700 folder: readers see the old or the new bytes."""
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        if mode != FILE_MODE:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
