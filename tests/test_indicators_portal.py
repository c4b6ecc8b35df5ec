"""Portal synchronisation from the portal outbox, written by the worker's own activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from activities.outbox import Outbox
from activities.payloads import PortalRecord
from motcua.indicators import portal
from motcua.indicators.figures import Row
from motcua.indicators.scoring import score
from workflows.api import PortalStatus

NOW = datetime(2026, 11, 30, 3, tzinfo=UTC)
GROUPS = {"1.000001": "AG.A", "1.000002": "AG.B"}


def queue(outbox: Outbox, code: str, procedure: str, status: PortalStatus, at: datetime) -> None:
    """One record as `sync_portal` queues it."""
    n = len(outbox.portal.seen)
    record = PortalRecord(
        record_id=f"{code}:p{n}", dossier_code=code, procedure_code=procedure, status=status, at=at
    )
    outbox.sync_portal(record)


def test_ended_dossiers_whose_end_status_reached_the_feed_are_counted_once(
    data_dir: Path,
) -> None:
    outbox = Outbox(data_dir)
    a, b = "AG.A-261130-0001", "AG.A-261130-0002"
    queue(outbox, a, "1.000001", PortalStatus.RECEIVED, NOW - timedelta(hours=2))
    queue(outbox, a, "1.000001", PortalStatus.RETURNED, NOW)
    queue(outbox, b, "1.000001", PortalStatus.REFUSED, NOW)
    queue(outbox, b, "1.000001", PortalStatus.REFUSED, NOW + timedelta(minutes=1))  # again
    queue(outbox, "AG.A-261130-0003", "1.000001", PortalStatus.PROCESSING, NOW)  # not ended
    queue(outbox, "AG.A-261130-0004", "1.000001", PortalStatus.STOPPED, NOW)  # left out
    queue(outbox, f"{a}.check", "1.000002", PortalStatus.RETURNED, NOW)  # a sub-procedure
    queue(outbox, "AG.B-261101-0001", "1.000002", PortalStatus.WITHDRAWN, NOW - timedelta(days=40))
    queue(outbox, "AG.B-261130-0001", "1.000002", PortalStatus.WITHDRAWN, NOW)
    queue(outbox, "X-261130-0001", "9.999999", PortalStatus.RETURNED, NOW)  # not in catalogue
    feed = portal.feed_of(data_dir)
    with feed.open("ab") as fh:
        fh.write(b'{"record_id": "torn", "dossier_code": "AG.A-2611')  # a writer killed mid-line
    start, end = NOW - timedelta(days=30), NOW + timedelta(hours=1)
    assert portal.synced(feed, start, end, GROUPS) == {"AG.A": 2, "AG.B": 1}
    assert portal.synced(data_dir / "none.jsonl", start, end, GROUPS) == {}


def test_a_refresh_reads_what_was_appended_and_a_rewritten_feed_again(data_dir: Path) -> None:
    """The dashboard refreshes: each look reads only the lines appended since the last one
    (the offset moves on), a line still being written waits for its end, and a feed
    truncated, rewritten in place or replaced by a new file is read again from its start."""
    outbox = Outbox(data_dir)
    feed = portal.feed_of(data_dir)
    start, end = NOW - timedelta(days=1), NOW + timedelta(hours=1)
    queue(outbox, "AG.A-261130-0001", "1.000001", PortalStatus.RETURNED, NOW)
    assert portal.synced(feed, start, end, GROUPS) == {"AG.A": 1}
    read = portal._TALLIES[feed.absolute()]._offset
    assert read == feed.stat().st_size
    queue(outbox, "AG.A-261130-0002", "1.000001", PortalStatus.REFUSED, NOW)
    assert portal.synced(feed, start, end, GROUPS) == {"AG.A": 2}
    assert portal._TALLIES[feed.absolute()]._offset > read

    line = b'{"at": "2026-11-30T03:00:00+00:00", "dossier_code": "AG.B-261130-0001", '
    rest = b'"procedure_code": "1.000002", "record_id": "b1", "status": %d}\n' % int(
        PortalStatus.WITHDRAWN
    )
    with feed.open("ab") as fh:
        fh.write(line)  # a writer in the middle of its line
    assert portal.synced(feed, start, end, GROUPS) == {"AG.A": 2}
    with feed.open("ab") as fh:
        fh.write(rest)
    assert portal.synced(feed, start, end, GROUPS) == {"AG.A": 2, "AG.B": 1}

    feed.write_bytes(line + rest + b"\n" * 2000)  # rewritten in place, and longer
    assert portal.synced(feed, start, end, GROUPS) == {"AG.B": 1}
    feed.write_bytes(b"")  # truncated
    assert portal.synced(feed, start, end, GROUPS) == {}
    feed.rename(feed.with_suffix(".old"))  # rotated away: a new file, then records in it
    assert portal.synced(feed, start, end, GROUPS) == {}
    queue(Outbox(data_dir), "AG.A-261130-0009", "1.000001", PortalStatus.RETURNED, NOW)
    assert portal.synced(feed, start, end, GROUPS) == {"AG.A": 1}


def test_the_rate_and_its_score_count_finished_refused_and_withdrawn() -> None:
    row = Row(
        label="AG.A",
        start=NOW - timedelta(days=30),
        end=NOW,
        carried_over=0,
        received=4,
        received_by_channel={"online": 4},
        finished_early=2,
        finished_on_time=0,
        finished_late=0,
        refused=1,
        withdrawn=0,
        stopped=5,
        in_progress_on_time=0,
        in_progress_overdue=0,
        supplement_requested=0,
        apologies=0,
        digitised=4,
        paid_online=0,
        with_fees=0,
        ratings={},
        processing_days_total=0.0,
        processing_days_count=0,
        portal_synced=2,
    )
    assert row.rates()["portal_sync_rate"] == 0.6667
    scored = {s.component: s for s in score(row)}["portal_sync"]
    assert (scored.target, scored.points, scored.score) == (1.0, 9, 6.0)
    assert row.model_copy(update={"portal_synced": None}).rates()["portal_sync_rate"] is None
