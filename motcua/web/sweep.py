"""Scans uploaded but never attached to a dossier (an abandoned application, a bare
`POST /api/v1/uploads`) deleted after a bounded age, from either storage.

The rule has one home, here: a scan any dossier's list names is never deleted, whatever its
age; any other scan is deleted once it was last stored more than `max_age` ago. Lists are read
before the scans are: a scan attached meanwhile was stored (or renewed, its bytes uploaded
again) by that submission a moment ago, so it is too young to go. The web app runs it
periodically (`sweep_every_seconds`), `motcua sweep-scans` runs it from cron; several
processes running it at once only repeat each other's deletes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import BaseModel

from motcua.web.storage import Storage

log = structlog.get_logger(__name__)

DEFAULT_MAX_AGE = timedelta(hours=24)
MIN_SWEEP_HOURS = 2
"""The smallest age bound: well above a submission's time between storing its scans and
attaching them, and above the S3 storage's renewal interval (`RENEW_AFTER`, 1 h)."""
MAX_SWEEP_HOURS = 24 * 366


class Swept(BaseModel):
    """What one sweep found and did."""

    examined: int = 0
    attached: int = 0
    """Scans a dossier names: kept whatever their age."""
    deleted: int = 0
    freed_bytes: int = 0


def sweep_unattached(
    storage: Storage,
    max_age: timedelta = DEFAULT_MAX_AGE,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> Swept:
    """Delete the scans no dossier names that were last stored over `max_age` before `now`
    (`dry_run`: count them only)."""
    before = (now or datetime.now(UTC)) - max_age
    attached = storage.referenced()
    swept = Swept()
    for sha256, stored_at in storage.stored():
        swept.examined += 1
        if sha256 in attached:
            swept.attached += 1
        elif stored_at < before:
            freed = 0 if dry_run else storage.delete_unless_renewed(sha256, before)
            if dry_run or freed:
                swept.deleted += 1
                swept.freed_bytes += freed
    return swept


async def sweep_periodically(storage: Storage, max_age: timedelta, every: float) -> None:
    """The web app's sweeper: one sweep every `every` seconds, off the event loop, a failure
    logged and tried again next time; runs until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            swept = await asyncio.to_thread(sweep_unattached, storage, max_age)
        except Exception as err:  # the next round tries again; the app goes on serving
            log.warning("scan sweep failed", error=type(err).__name__)
            continue
        if swept.deleted:
            log.info("unattached scans swept", deleted=swept.deleted, freed=swept.freed_bytes)
