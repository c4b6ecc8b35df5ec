"""Sessions ended before their time (an officer logged out): kept server-side, because a
signed cookie copied before the logout would otherwise stay valid for the rest of its hours.

One small file in the data folder (`web-sessions-revoked.json`, 0600) holds the revoked
session ids with the instant their cookie would have expired anyway; every web process on the
folder (and each one after a restart) reads it, re-reading only when it changed (one `stat`
per request), and writes it under an exclusive lock, dropping the expired ids. It is bounded:
past `max_entries` the ids closest to expiry are dropped first, and that is logged.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import structlog

from activities.private import open_private, write_private

log = structlog.get_logger(__name__)

FILE = "web-sessions-revoked.json"
MAX_ENTRIES = 100_000
"""Far above a province's logouts in one session lifetime (8-10 h); ~6 MB at most."""
MAX_FILE_BYTES = 16 * 1024 * 1024


class RevokedSessions:
    """The revoked session ids of a data folder."""

    def __init__(self, data_dir: Path, max_entries: int = MAX_ENTRIES) -> None:
        self.path = data_dir / FILE
        self.lock = data_dir / f".{FILE}.lock"
        self.max_entries = max_entries
        self._seen: tuple[int, int, int] | None = None
        self._ids: dict[str, float] = {}

    def is_revoked(self, sid: str) -> bool:
        """Whether the session was ended; re-reads the file when another process changed it."""
        self._refresh()
        until = self._ids.get(sid)
        return until is not None and until > time.time()

    def revoke(self, sid: str, until: float) -> None:
        """End the session `sid` (its cookie expires at unix time `until` in any case)."""
        fd = open_private(self.lock, os.O_WRONLY | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = time.time()
            ids = {s: t for s, t in self._read().items() if t > now}
            ids[sid] = until
            if len(ids) > self.max_entries:
                dropped = len(ids) - self.max_entries
                log.warning("revoked sessions over their bound", dropped=dropped)
                ids = dict(sorted(ids.items(), key=lambda item: item[1])[dropped:])
            write_private(self.path, json.dumps(ids, separators=(",", ":")).encode())
            self._ids = ids
            self._seen = None
        finally:
            os.close(fd)  # releases the lock

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._seen, self._ids = None, {}
            return
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)  # every write is a new file
        if seen != self._seen:
            self._ids = self._read()
            self._seen = seen

    def _read(self) -> dict[str, float]:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw) if len(raw) <= MAX_FILE_BYTES else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            return {}
        return {str(s): float(t) for s, t in data.items() if isinstance(t, int | float)}
