"""Portal synchronisation: which dossiers' final status reached the portal feed.

The worker queues every status change for the National Public Service Portal in the portal
outbox (`<data>/outbox/portal.jsonl`, `activities.outbox.sync_portal`), the feed the portal
connector reads. A dossier ended in the period is synchronised when the feed holds a record of
its end status dated in the period. Read once per table, line by line; visibility is not asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from activities import DATA_DIR
from workflows.api import PortalStatus

FEED = Path("outbox") / "portal.jsonl"
"""The portal outbox, under a data folder."""
END_STATUSES = frozenset({PortalStatus.RETURNED, PortalStatus.REFUSED, PortalStatus.WITHDRAWN})
"""The end statuses of dossiers finished, refused and withdrawn (`workflows.dossier`). Stopped
ones are left out: a dossier of an unpublished procedure stops before any portal record."""
MAX_LINE = 64 * 1024
"""A feed line longer than this is not one of ours: skipped unread."""


def feed_of(data: Path = DATA_DIR) -> Path:
    return data / FEED


def is_sub_procedure(code: str) -> bool:
    """A sub-procedure's code is its parent's plus `.step` (`workflows.dossier`), and a
    dossier's is `<agency>-<YYMMDD>-<NNNN>` (`workflows.counter`): a dot after the last dash.
    Sub-procedures are counted in their parent, like everywhere in the indicators."""
    return "." in code.rpartition("-")[2]


def synced(
    feed: Path, start: datetime, end: datetime, group_of: Mapping[str, str]
) -> dict[str, int]:
    """Per group, the dossiers with an end-status record dated in [start, end); `group_of`
    maps a procedure code to its group (agency or procedure code), others are skipped. A
    missing feed counts nothing; a line that is not a record (torn, foreign) is skipped."""
    found: dict[str, set[str]] = {}
    try:
        lines = feed.open("rb")
    except FileNotFoundError:
        return {}
    with lines:
        for line in lines:
            if len(line) > MAX_LINE:
                continue
            try:
                record = json.loads(line)
                code, group = str(record["dossier_code"]), group_of.get(record["procedure_code"])
                counted = (
                    group is not None
                    and record["status"] in END_STATUSES
                    and start <= datetime.fromisoformat(record["at"]) < end
                    and not is_sub_procedure(code)
                )
            except (ValueError, KeyError, TypeError):
                continue
            if counted and group is not None:
                found.setdefault(group, set()).add(code)
    return {group: len(codes) for group, codes in found.items()}
