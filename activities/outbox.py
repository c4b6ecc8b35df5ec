"""The outbox: messages to applicants and officers, records for the National Public Service Portal.

Each is one JSON line appended to a file under `<data>/outbox/`; messages with a recipient
are then delivered (`activities.delivery`: SMTP, an SMS gateway) and the portal connector reads
its file later. Temporal retries an activity whenever it cannot tell that it finished, so every
append is idempotent by the id the workflow derived: a retried or re-executed activity, in this
process or another worker process, writes nothing twice, and the send log sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from temporalio import activity

from activities.delivery import GIVE_UP_AFTER, Delivery, DeliveryError
from activities.jsonl import JsonlLog
from activities.payloads import Notification, OfficerNotices, PortalRecord

log = structlog.get_logger(__name__)


class Outbox:
    """The applicant's, officers' and portal outboxes of one data directory, as activities."""

    def __init__(self, data_dir: Path, delivery: Delivery | None = None) -> None:
        self.delivery = delivery or Delivery(data_dir)
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
        with _giving_up(message.notification_id):
            state = self.delivery.applicant(message)
            log.info("notification delivery", notification_id=message.notification_id, state=state)

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
        for notice in batch.notices:
            with _giving_up(notice.notice_id):
                state = self.delivery.officers(notice)
                log.info("officer notice delivery", notice_id=notice.notice_id, state=state)

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


@contextmanager
def _giving_up(key: str) -> Iterator[None]:
    """Let a failed delivery fail the activity (Temporal retries it) until `GIVE_UP_AFTER`
    attempts; then log and go on, the message left queued with its state "failed"."""
    try:
        yield
    except Exception as err:
        # The class only (an SMTP reply may quote the address), or our own one-line message
        # naming the settings file and key, which never quotes an address.
        error = str(err) if isinstance(err, DeliveryError) else type(err).__name__
        if activity.in_activity() and activity.info().attempt >= GIVE_UP_AFTER:
            log.warning("delivery given up", key=key, error=error)
            return
        log.warning("delivery failed, to retry", key=key, error=error)
        raise


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
