"""The outbox: messages to applicants and officers, records for the National Public Service Portal.

Each is one JSON line appended to a file under `<data>/outbox/`; a sender process (or the
portal connector) reads them later. Temporal retries an activity whenever it cannot tell that
it finished, so every append is idempotent by the id the workflow derived: a retried or
re-executed activity, in this process or another worker process, writes nothing twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from temporalio import activity

from activities.payloads import Notification, OfficerNotices, PortalRecord
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


class Outbox:
    """The applicant's, officers' and portal outboxes of one data directory, as activities."""

    def __init__(self, data_dir: Path) -> None:
        folder = data_dir / "outbox"
        self.notifications = JsonlLog(folder / "notifications.jsonl", "notification_id")
        self.officers = JsonlLog(folder / "officers.jsonl", "notice_id")
        self.portal = JsonlLog(folder / "portal.jsonl", "record_id")

    @activity.defn(name="notify_applicant")
    def notify_applicant(self, message: Notification) -> None:
        """Queue one message to the applicant (it may hold their contact: never logged)."""
        written = _append_once(
            self.notifications, message.notification_id, message.model_dump(mode="json")
        )
        log.info(
            "notification queued" if written else "notification already queued",
            notification_id=message.notification_id,
            dossier_code=message.dossier_code,
            channel=message.channel,
        )

    @activity.defn(name="notify_officers")
    def notify_officers(self, batch: OfficerNotices) -> None:
        """Queue reminders, overdue and escalation notices for the roles holding a task."""
        records = [(n.notice_id, n.model_dump(mode="json")) for n in batch.notices]
        written = _append_new(self.officers, records)
        for notice in batch.notices:
            fresh = notice.notice_id in written
            log.info(
                "officer notice queued" if fresh else "officer notice already queued",
                notice_id=notice.notice_id,
                dossier_code=notice.dossier_code,
                kind=notice.kind.value,
                role=f"{notice.agency}/{notice.role}",
            )

    @activity.defn(name="sync_portal")
    def sync_portal(self, record: PortalRecord) -> None:
        """Queue one status change or progress step for the National Public Service Portal."""
        written = _append_once(self.portal, record.record_id, record.model_dump(mode="json"))
        log.info(
            "portal record queued" if written else "portal record already queued",
            record_id=record.record_id,
            dossier_code=record.dossier_code,
            status=record.status,
        )


def _append_once(outbox: JsonlLog, key: str, record: dict[str, Any]) -> bool:
    """Append `record` unless its key was written before; True if it was written now."""
    return bool(_append_new(outbox, [(key, record)]))


def _append_new(outbox: JsonlLog, records: Sequence[tuple[str, dict[str, Any]]]) -> set[str]:
    """Append each (key, record) whose key was never written, under one lock; the keys written."""
    written: set[str] = set()
    with outbox.locked() as append:
        for key, record in records:
            if key not in outbox.seen:
                append(record)
                written.add(key)
    return written
