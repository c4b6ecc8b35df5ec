"""Append-only JSON lines files shared by threads and processes, each keyed by one field:
the outboxes, the send log and the registers."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

from activities.private import open_private

log = structlog.get_logger(__name__)

AppendFn = Callable[[dict[str, Any]], None]
"""Appends one record while the log's lock is held."""


class JsonlLog:
    """An append-only JSON lines file shared by threads and processes, keyed by one field.

    The index of keys seen is built by scanning the file on first use and then kept up to date
    incrementally: under the exclusive `flock` every caller first reads what other processes
    appended since its last look, so the check and the append are one atomic step across
    processes. A torn last line (a writer killed mid-write) is skipped and terminated before
    the next append, so one crash never corrupts later records.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.seen: set[str] = set()
        self._offset = 0
        self._lock = threading.Lock()

    def absorb(self, record: dict[str, Any]) -> None:
        """Index one record read from or written to the file; subclasses index more."""
        self.seen.add(str(record[self.key]))

    def reset(self) -> None:
        """Forget the index, before reading the file again from its start."""
        self.seen.clear()

    @contextmanager
    def locked(self) -> Iterator[AppendFn]:
        """Hold the file lock, caught up with every writer; yield a function that appends."""
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        with self._lock, os.fdopen(fd, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                torn = self._catch_up(fh)

                def append(record: dict[str, Any]) -> None:
                    nonlocal torn
                    line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
                    fh.write((b"\n" if torn else b"") + line.encode())
                    fh.flush()
                    os.fsync(fh.fileno())
                    torn = False
                    self._offset = fh.tell()
                    self.absorb(record)

                yield append
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _catch_up(self, fh: Any) -> bool:
        """Read lines appended since the last look; True if the file ends with a torn line."""
        size = os.fstat(fh.fileno()).st_size
        if size < self._offset:  # truncated or replaced by an operator: index it again
            self.reset()
            self._offset = 0
        fh.seek(self._offset)
        complete, _, _ = fh.read().rpartition(b"\n")
        for raw in complete.split(b"\n"):
            if not raw.strip():
                continue
            try:
                self.absorb(json.loads(raw))
            except (ValueError, KeyError, TypeError):
                log.warning("outbox line unreadable, skipped", file=str(self.path))
        self._offset = size
        if size == 0:
            return False
        fh.seek(size - 1)
        return bool(fh.read(1) != b"\n")
