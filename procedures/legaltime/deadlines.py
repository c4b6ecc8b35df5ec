"""Instants the escalation ladder waits for, derived from a clock like its due instant.

Reminders fall at a share of a step's own time, the apology task a set time before the legal
deadline. Both are due instants of the same ledger with a smaller budget, so suspensions,
extensions and a newer calendar move them exactly as they move the deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from procedures.legaltime.calendar import TimeLimit, TimeUnit, WorkCalendar
from procedures.legaltime.clock import (
    DossierClock,
    ExtendEntry,
    limit_minutes,
    working_minutes_between,
)


def _shrunk(clock: DossierClock, minutes: int) -> DossierClock:
    """The same ledger without extensions and with a budget of `minutes` working minutes."""
    budget = TimeLimit(amount=max(minutes, 1) / 60, unit=TimeUnit.WORKING_HOURS)
    entries = tuple(e for e in clock.entries if not isinstance(e, ExtendEntry))
    return clock.model_copy(update={"budget": budget, "entries": entries})


def _total_minutes(clock: DossierClock) -> int:
    return sum(limit_minutes(t, clock.hours) for t in (clock.budget, *clock.extended_by()))


def share_instant(clock: DossierClock, cal: WorkCalendar, share: float, now: datetime) -> datetime:
    """When `share` (0..1) of the clock's budget will have been used."""
    if clock.budget.unit is TimeUnit.CALENDAR_DAYS:
        start = clock.counting_start(cal)
        return start + (clock.due(cal, now) - start) * share
    return _shrunk(clock, round(_total_minutes(clock) * share)).due(cal, now)


def instant_before_due(
    clock: DossierClock, cal: WorkCalendar, before: TimeLimit, now: datetime
) -> datetime:
    """The instant `before` ahead of the due instant, extensions included."""
    due = clock.due(cal, now)
    if before.unit is TimeUnit.CALENDAR_DAYS:
        return due - timedelta(days=before.amount)
    wanted = limit_minutes(before, clock.hours)
    if clock.budget.unit is not TimeUnit.CALENDAR_DAYS:
        return _shrunk(clock, _total_minutes(clock) - wanted).due(cal, now)
    back = 1
    while working_minutes_between(cal, due - timedelta(days=back), due, clock.hours) < wanted:
        back += 1
    return due - timedelta(days=back)
