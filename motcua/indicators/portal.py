"""Portal synchronisation: which dossiers' final status reached the portal feed.

The worker queues every status change for the National Public Service Portal in the portal
outbox (`<data>/outbox/portal.jsonl`, `activities.outbox.sync_portal`), the feed the portal
connector reads. A dossier ended in the period is synchronised when the feed holds a record of
its end status dated in the period. Visibility is not asked.

The feed only grows, so it is read incrementally: each process keeps, per feed file, the offset
read up to and the end records seen (`Tally`), and a dashboard refresh reads only the lines
appended since. Memory is one small entry per ended dossier, never the file; a feed truncated,
rewritten or replaced (another inode) is read again from its start.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from activities import DATA_DIR
from workflows.api import PortalStatus

FEED = Path("outbox") / "portal.jsonl"
"""The portal outbox, under a data folder."""
END_STATUSES = frozenset({PortalStatus.RETURNED, PortalStatus.REFUSED, PortalStatus.WITHDRAWN})
"""The end statuses of dossiers finished, refused and withdrawn (`workflows.dossier`). Stopped
ones are left out: a dossier of an unpublished procedure stops before any portal record."""
MAX_LINE = 64 * 1024
"""A feed line longer than this is not one of ours: skipped unread."""
HEAD = 256
"""Bytes of the feed's start remembered: a feed rewritten in place starts differently."""
CHUNK = 1 << 20


def feed_of(data: Path = DATA_DIR) -> Path:
    return data / FEED


def is_sub_procedure(code: str) -> bool:
    """A sub-procedure's code is its parent's plus `.step` (`workflows.dossier`), and a
    dossier's is `<agency>-<YYMMDD>-<NNNN>` (`workflows.counter`): a dot after the last dash.
    Sub-procedures are counted in their parent, like everywhere in the indicators."""
    return "." in code.rpartition("-")[2]


class Tally:
    """The end records of one feed file read so far: per dossier, its procedure and the
    instants (POSIX seconds) of its end-status records, usually one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ended: dict[str, tuple[str, tuple[float, ...]]] = {}
        self._offset = 0
        self._file: tuple[int, int] | None = None
        self._head = b""
        self._lock = threading.Lock()

    def synced(self, start: datetime, end: datetime, group_of: Mapping[str, str]) -> dict[str, int]:
        """Per group, the dossiers with an end-status record dated in [start, end), after
        reading what was appended since the last call."""
        lo, hi = start.timestamp(), end.timestamp()
        found: dict[str, int] = {}
        with self._lock:
            self._catch_up()
            for procedure, instants in self.ended.values():
                group = group_of.get(procedure)
                if group is not None and any(lo <= t < hi for t in instants):
                    found[group] = found.get(group, 0) + 1
        return found

    def _catch_up(self) -> None:
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            self._reset()
            return
        with fh:
            st = os.fstat(fh.fileno())
            head = fh.read(HEAD)
            same = self._file == (st.st_dev, st.st_ino) and head.startswith(self._head)
            if not same or st.st_size < self._offset:
                self._reset()
                self._file = (st.st_dev, st.st_ino)
            self._head = head
            fh.seek(self._offset)
            self._offset = self._read(fh, self._offset)

    def _reset(self) -> None:
        self.ended.clear()
        self._offset, self._file, self._head = 0, None, b""

    def _read(self, fh: BinaryIO, offset: int) -> int:
        """Absorb the complete lines from `offset` on; the offset after the last of them (a
        last line still being written is left for the next look)."""
        while True:
            line = fh.readline(MAX_LINE + 1)
            if not line.endswith(b"\n"):
                if len(line) <= MAX_LINE:
                    return offset  # the end, or a line not finished yet
                while line and not line.endswith(b"\n"):  # too long: skip to its end
                    line = fh.readline(CHUNK)
                if not line:
                    return offset
                offset = fh.tell()
                continue
            offset += len(line)
            if len(line) <= MAX_LINE:
                self._absorb(line)

    def _absorb(self, line: bytes) -> None:
        """One line; a line that is not an end record of a dossier (torn, foreign, another
        status, a sub-procedure, a time without its zone) is skipped."""
        try:
            record = json.loads(line)
            code, procedure = str(record["dossier_code"]), str(record["procedure_code"])
            at = datetime.fromisoformat(record["at"])
            if record["status"] not in END_STATUSES or at.tzinfo is None:
                return
        except (ValueError, KeyError, TypeError):
            return
        if is_sub_procedure(code):
            return
        _, instants = self.ended.get(code, ("", ()))
        t = at.timestamp()
        if t not in instants:
            self.ended[code] = (sys.intern(procedure), (*instants, t))


_TALLIES: dict[Path, Tally] = {}
_TALLIES_LOCK = threading.Lock()


def synced(
    feed: Path, start: datetime, end: datetime, group_of: Mapping[str, str]
) -> dict[str, int]:
    """Per group, the dossiers with an end-status record dated in [start, end); `group_of`
    maps a procedure code to its group (agency or procedure code), others are skipped. A
    missing feed counts nothing. Reads only what was appended since this process last read
    `feed` (`Tally`)."""
    key = feed.absolute()
    with _TALLIES_LOCK:
        tally = _TALLIES.setdefault(key, Tally(key))
    return tally.synced(start, end, group_of)
