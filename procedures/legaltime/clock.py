"""Working-time clock: legal deadlines counted in Vietnamese working time.

Pure and deterministic (stdlib, pydantic and `procedures.legaltime.calendar` only; no I/O, no
wall clock), so workflow code can import it through Temporal's sandbox passthrough.

Working time is measured on a single axis: `W(t)`, the working microseconds elapsed between the
start of the calendar's first year and the instant `t`. It grows by one working day per working
day and only inside office hours, and stands still otherwise. Adding working time is `W` forward
then back: the answer is the *earliest* instant with the target `W`, so a deadline that uses up
the morning ends at 11:30, not at 13:00. `W` is computed from a per-calendar table of working
days (built once per calendar version) and a per-office-hours table of periods, so a due date
costs a few dictionary and list look-ups, never a loop over days or minutes.

All instants must be timezone-aware; any zone is accepted, the arithmetic is done in the
calendar's local time (UTC+7) and results are returned in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from procedures.legaltime.calendar import OfficeHours, TimeLimit, TimeUnit, WorkCalendar

_US_PER_MIN = 60_000_000
_US_PER_S = 1_000_000


class ClockError(ValueError):
    """A clock operation that the calendar or the ledger does not allow."""


# --------------------------------------------------------------------------------------------
# Precomputed tables


@dataclass(frozen=True, slots=True)
class _Days:
    """Working days of one calendar: `before[i]` working days precede day `ord0 + i`."""

    tz: timezone
    ord0: int
    before: list[int]
    is_working: bytearray
    ordinals: list[int]
    label: str


@dataclass(frozen=True, slots=True)
class _Hours:
    """Office hours in microseconds of the day: (start, end, working time before the period)."""

    periods: tuple[tuple[int, int, int], ...]
    day_us: int
    cutoff_us: int
    close_us: int


_DAYS_CACHE: dict[str, _Days] = {}
_DAYS_CACHE_SIZE = 32


def _days(cal: WorkCalendar) -> _Days:
    """The working-day table of `cal`, cached by its content version."""
    table = _DAYS_CACHE.get(cal.version)
    if table is None:
        table = _build_days(cal)
        if not cal.version:  # built without validation (model_construct): no key to trust
            return table
        if len(_DAYS_CACHE) >= _DAYS_CACHE_SIZE:
            del _DAYS_CACHE[next(iter(_DAYS_CACHE))]
        _DAYS_CACHE[cal.version] = table
    return table


def _build_days(cal: WorkCalendar) -> _Days:
    ord0 = date(cal.first_year, 1, 1).toordinal()
    end = date(cal.last_year, 12, 31).toordinal()
    off = {d.toordinal() for d in cal.non_working}
    make_up = {d.toordinal() for d in cal.working}
    before: list[int] = []
    is_working = bytearray()
    ordinals: list[int] = []
    for o in range(ord0, end + 1):
        before.append(len(ordinals))
        working = o in make_up or (o % 7 not in (6, 0) and o not in off)  # ordinal%7: 6 Sat, 0 Sun
        is_working.append(working)
        if working:
            ordinals.append(o)
    label = f"calendar {cal.version} covering {cal.first_year}-{cal.last_year}"
    return _Days(cal.tz, ord0, before, is_working, ordinals, label)


@lru_cache(maxsize=64)
def _hours(hours: OfficeHours) -> _Hours:
    """Microsecond table of an agency's office hours."""
    periods = []
    cumulative = 0
    for start, end in hours.periods:
        s, e = _time_us(start), _time_us(end)
        periods.append((s, e, cumulative))
        cumulative += e - s
    return _Hours(tuple(periods), cumulative, _time_us(hours.cutoff), periods[-1][1])


def _tod_us(h: int, m: int, s: int, us: int) -> int:
    return ((h * 60 + m) * 60 + s) * _US_PER_S + us


def _time_us(t: time) -> int:
    return _tod_us(t.hour, t.minute, t.second, t.microsecond)


# --------------------------------------------------------------------------------------------
# The W axis


def _local(days: _Days, instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ClockError(f"{instant} has no time zone; give instants as aware datetimes")
    return instant.astimezone(days.tz)


def _index(days: _Days, ordinal: int) -> int:
    i = ordinal - days.ord0
    if not 0 <= i < len(days.before):
        raise ClockError(
            f"{date.fromordinal(ordinal)} is outside {days.label}; load a calendar covering it"
        )
    return i


def _w(days: _Days, hrs: _Hours, local: datetime) -> int:
    """Working microseconds from the calendar's start to `local` (already in local time)."""
    i = _index(days, local.toordinal())
    base = days.before[i] * hrs.day_us
    w = base
    if days.is_working[i]:
        tod = _tod_us(local.hour, local.minute, local.second, local.microsecond)
        for start, end, cumulative in hrs.periods:
            if tod < start:
                break
            w = base + cumulative + (min(tod, end) - start)
    return w


def _from_w(days: _Days, hrs: _Hours, w: int) -> datetime:
    """The earliest instant whose working time is `w` (> 0): a period end rather than the
    next opening when `w` falls on a boundary."""
    k, rest = divmod(w - 1, hrs.day_us)
    rest += 1
    if k < 0:
        raise ClockError(f"no instant before the start of {days.label}")
    if k >= len(days.ordinals):
        raise ClockError(f"the deadline falls after the end of {days.label}")
    for start, end, cumulative in hrs.periods:
        if rest <= cumulative + (end - start):
            return _at(days, days.ordinals[k], start + rest - cumulative)
    raise AssertionError("unreachable: rest is at most one working day")


def _at(days: _Days, ordinal: int, tod_us: int) -> datetime:
    d = date.fromordinal(ordinal)
    return datetime(d.year, d.month, d.day, tzinfo=days.tz) + timedelta(microseconds=tod_us)


def _next_opening(days: _Days, hrs: _Hours, ordinal: int) -> datetime:
    """Opening of the first working day strictly after `ordinal`."""
    i = _index(days, ordinal) + 1
    k = days.before[i] if i < len(days.before) else len(days.ordinals)
    if k >= len(days.ordinals):
        raise ClockError(f"no working day after {date.fromordinal(ordinal)} in {days.label}")
    return _at(days, days.ordinals[k], hrs.periods[0][0])


# --------------------------------------------------------------------------------------------
# Public arithmetic


def is_working_day(cal: WorkCalendar, d: date) -> bool:
    """Whether `d` is a working day: Mon-Fri not off, or a make-up day."""
    days = _days(cal)
    return bool(days.is_working[_index(days, d.toordinal())])


def receipt_start(cal: WorkCalendar, received_at: datetime, hours: OfficeHours) -> datetime:
    """When the clock starts for a dossier received at `received_at`.

    Received on a working day, at or before the cut-off and inside an opening period: that
    instant. Before the first opening or in a break (and not after the cut-off): the next
    opening that day. After the cut-off, after closing, or on a day off: the next working day's
    opening.
    """
    days, hrs = _days(cal), _hours(hours)
    local = _local(days, received_at)
    ordinal = local.toordinal()
    if days.is_working[_index(days, ordinal)]:
        tod = _tod_us(local.hour, local.minute, local.second, local.microsecond)
        if tod <= hrs.cutoff_us:
            for start, end, _ in hrs.periods:
                if tod < start:
                    return _at(days, ordinal, start)
                if tod < end:
                    return local
    return _next_opening(days, hrs, ordinal)


def add_working_time(
    cal: WorkCalendar, start: datetime, minutes: int, hours: OfficeHours
) -> datetime:
    """The instant `minutes` working minutes after `start` (in local time).

    A result on a period boundary is the period's end (11:30, 17:00), never the next opening,
    so a due instant is always inside office hours. Zero minutes gives `start` back.
    """
    if minutes < 0:
        raise ClockError(f"cannot add a negative working time ({minutes} min)")
    days, hrs = _days(cal), _hours(hours)
    local = _local(days, start)
    if minutes == 0:
        return local
    return _from_w(days, hrs, _w(days, hrs, local) + minutes * _US_PER_MIN)


def working_minutes_between(cal: WorkCalendar, a: datetime, b: datetime, hours: OfficeHours) -> int:
    """Working minutes from `a` to `b`, whole minutes truncated toward zero; negative if b < a."""
    days, hrs = _days(cal), _hours(hours)
    diff = _w(days, hrs, _local(days, b)) - _w(days, hrs, _local(days, a))
    return diff // _US_PER_MIN if diff >= 0 else -(-diff // _US_PER_MIN)


def limit_minutes(limit: TimeLimit, hours: OfficeHours) -> int:
    """A working-time limit in working minutes, rounded to the minute.

    One working day is `hours.day_minutes` (480 by default: 8 working hours), so 0.5 day is
    4 working hours. Calendar days are not working time: use `deadline`.
    """
    if limit.unit is TimeUnit.CALENDAR_DAYS:
        raise ClockError("a limit in calendar days has no fixed working-time length")
    per_unit = hours.day_minutes if limit.unit is TimeUnit.WORKING_DAYS else 60
    minutes = round(limit.amount * per_unit)
    if minutes < 1:
        raise ClockError(f"{limit.amount} {limit.unit} is less than a working minute")
    return minutes


def deadline(cal: WorkCalendar, start: datetime, limit: TimeLimit, hours: OfficeHours) -> datetime:
    """The due instant of `limit` counted from `start` (a clock start, see `receipt_start`).

    Working units: `start` plus the limit in working time. Calendar days (amount rounded up to
    whole days): the start day is not counted (Civil Code 2015 art. 147), so the last day is
    `start`'s local date plus N; if that is not a working day the limit runs to the next working
    day (art. 148(5)); the due instant is that day's closing time, since nothing is handed over
    after the office closes.
    """
    if limit.unit is not TimeUnit.CALENDAR_DAYS:
        return add_working_time(cal, start, limit_minutes(limit, hours), hours)
    days, hrs = _days(cal), _hours(hours)
    ordinal = _local(days, start).toordinal() + math.ceil(limit.amount)
    if days.is_working[_index(days, ordinal)]:
        return _at(days, ordinal, hrs.close_us)
    day = _next_opening(days, hrs, ordinal)
    return _at(days, day.toordinal(), hrs.close_us)


# --------------------------------------------------------------------------------------------
# Dossier clock: a budget and a ledger


class SuspendReason(StrEnum):
    """Why the clock stopped: the time is not counted against the agency."""

    SUPPLEMENT = "supplement"
    """Request to supplement the dossier (yêu cầu bổ sung, hoàn thiện hồ sơ)."""
    FINANCIAL_OBLIGATION = "financial_obligation"
    """The citizen is paying a financial obligation (e.g. land tax)."""
    CITIZEN_APPOINTMENT = "citizen_appointment"
    """The applicant is to come and act in person (sign the register, receive the result)."""
    VERIFICATION = "verification"
    """Another agency verifies or is consulted, for a time the law does not count."""
    OTHER = "other"


SUSPENSION_WORDS: dict[SuspendReason, tuple[str, str]] = {
    SuspendReason.SUPPLEMENT: ("chờ bổ sung, hoàn thiện hồ sơ", "waiting for a supplement"),
    SuspendReason.FINANCIAL_OBLIGATION: (
        "chờ thực hiện nghĩa vụ tài chính",
        "waiting for financial obligations to be paid",
    ),
    SuspendReason.CITIZEN_APPOINTMENT: (
        "chờ người yêu cầu đến thực hiện",
        "waiting for the applicant to come in person",
    ),
    SuspendReason.VERIFICATION: (
        "chờ xác minh, lấy ý kiến cơ quan liên quan",
        "waiting for another agency's verification",
    ),
    SuspendReason.OTHER: ("tạm dừng tính thời hạn", "the time limit is suspended"),
}
"""Why the clock stands, in the applicant's words (Vietnamese, English)."""


class ClockStatus(StrEnum):
    """Where a finish (or now) stands against the due instant, as the national portal counts."""

    EARLY = "early"
    """trước hạn: on a local day before the due day."""
    ON_TIME = "on_time"
    """đúng hạn: on the due day, at or before the due instant."""
    LATE = "late"
    """quá hạn: after the due instant."""


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime


class StartEntry(_Entry):
    """The dossier was received at `at` (the raw receipt; cut-off rules apply on reading)."""

    kind: Literal["start"] = "start"


class SuspendEntry(_Entry):
    """The clock stops at `at`."""

    kind: Literal["suspend"] = "suspend"
    reason: SuspendReason


class ResumeEntry(_Entry):
    """The clock runs again from `at`."""

    kind: Literal["resume"] = "resume"


class ExtendEntry(_Entry):
    """The budget grows by `amount` (apology and new appointment, form 04)."""

    kind: Literal["extend"] = "extend"
    amount: TimeLimit
    reason: str = Field(min_length=1)


class RestartEntry(_Entry):
    """The limit counts anew, in full, from `at` (receipt rules apply): the complete dossier's
    receipt where the law counts from it. Closes an open suspension; earlier suspensions and
    extensions no longer move the due instant."""

    kind: Literal["restart"] = "restart"
    reason: str = Field(min_length=1)


class FinishEntry(_Entry):
    """Processing finished at `at` (result ready or dossier closed)."""

    kind: Literal["finish"] = "finish"


LedgerEntry = Annotated[
    StartEntry | SuspendEntry | ResumeEntry | ExtendEntry | RestartEntry | FinishEntry,
    Field(discriminator="kind"),
]


class DossierClock(BaseModel):
    """A budget and a ledger, not a stored due date.

    Everything time-related is derived from the ledger and the `WorkCalendar` handed in, so a
    newer calendar (an extra Tết day, a new swap) moves the due instant of a running dossier.

    - Counting starts at `receipt_start` of the start entry (cut-off and office hours apply),
      or of the last restart entry: the limit then runs anew in full from it, and suspensions
      and extensions before it no longer count.
    - Budget: `budget` plus every extension (since the last restart). Working units add up in
      working minutes; a calendar-day budget adds calendar days (extensions must then be
      calendar days too).
    - Suspensions (supplement requested, financial obligation, other) shift the due instant by
      the working time they cover, counted from the clock start at the earliest; an open
      suspension counts up to `now` when given, otherwise not at all (the due instant is then
      the earliest it can still be).
    - Status, as the national portal and Decision 766/QĐ-TTg count "early or on time": early
      and on time are told apart by the appointment *day*, late by the appointment *instant*
      (the receipt slip gives hour and date). Finishing on a local day before the due day is
      EARLY (trước hạn); on the due day, at or before the due instant, ON_TIME (đúng hạn);
      after the due instant, even on the due day, LATE (quá hạn). An unfinished dossier is
      rated as if it finished at `now`.

    Methods that record an event return a new clock; invalid ones raise `ClockError`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget: TimeLimit
    max_extensions: int = Field(ge=0, description="Extensions the procedure allows.")
    hours: OfficeHours = Field(default_factory=OfficeHours, description="Office hours used.")
    entries: tuple[LedgerEntry, ...] = ()
    whole_minutes: bool = Field(
        False,
        description="Read every instant (receipt, suspension, resumption, finish, now) from the "
        "start of its minute, as forms and the portal print them: a second used before a "
        "suspension does not make the due instant 16:59:59, shown as 16:59.",
    )

    @model_validator(mode="after")
    def _check_ledger(self) -> Self:
        _check(self, self.entries)
        return self

    # ---- recording ---------------------------------------------------------------------

    def start(self, at: datetime) -> DossierClock:
        """Record the receipt of the dossier."""
        return self._record(StartEntry, at=at)

    def suspend(self, at: datetime, reason: SuspendReason) -> DossierClock:
        """Stop the clock, e.g. when a supplement is requested."""
        return self._record(SuspendEntry, at=at, reason=reason)

    def resume(self, at: datetime) -> DossierClock:
        """Run the clock again, e.g. when the supplement arrives."""
        return self._record(ResumeEntry, at=at)

    def extend(self, at: datetime, amount: TimeLimit, reason: str) -> DossierClock:
        """Grow the budget; at most `max_extensions` times."""
        return self._record(ExtendEntry, at=at, amount=amount, reason=reason)

    def restart(self, at: datetime, reason: str) -> DossierClock:
        """Count the limit anew from `at` (a supplement completing the dossier, where the law
        counts from the complete dossier's receipt); closes an open suspension."""
        return self._record(RestartEntry, at=at, reason=reason)

    def finish(self, at: datetime) -> DossierClock:
        """Record the end of processing; closes an open suspension."""
        return self._record(FinishEntry, at=at)

    def with_budget(self, budget: TimeLimit) -> DossierClock:
        """The same ledger counted against another limit (a variable time limit whose case
        changed): still from the receipt, suspensions and extensions kept."""
        if (budget.unit is TimeUnit.CALENDAR_DAYS) != (self.budget.unit is TimeUnit.CALENDAR_DAYS):
            raise ClockError(f"a {self.budget.unit} budget cannot become {budget.unit}")
        return self.model_copy(update={"budget": budget})

    def _record(self, kind: type[_Entry], **fields: Any) -> DossierClock:
        try:
            entry = kind(**fields)
        except ValidationError as exc:
            raise ClockError(f"invalid {kind.__name__}: {exc}") from exc
        entries = (*self.entries, entry)
        _check(self, entries)
        return self.model_copy(update={"entries": entries})

    # ---- reading -----------------------------------------------------------------------

    @property
    def started_at(self) -> datetime | None:
        """The raw receipt instant, if started."""
        return self.entries[0].at if self.entries else None

    @property
    def finished_at(self) -> datetime | None:
        """The finish instant, if finished."""
        last = self.entries[-1] if self.entries else None
        return last.at if isinstance(last, FinishEntry) else None

    @property
    def suspended(self) -> bool:
        """Whether the clock is stopped right now (a suspension without a resume)."""
        for entry in reversed(self.entries):
            if isinstance(entry, SuspendEntry):
                return True
            if isinstance(entry, ResumeEntry | RestartEntry | StartEntry | FinishEntry):
                return False
        return False

    @property
    def extensions(self) -> int:
        """How many extensions were granted."""
        return sum(isinstance(e, ExtendEntry) for e in self.entries)

    @property
    def restarted(self) -> RestartEntry | None:
        """The last restart, if the limit was counted anew."""
        return next((e for e in reversed(self.entries) if isinstance(e, RestartEntry)), None)

    def extended_by(self) -> list[TimeLimit]:
        """The extensions that move the due instant: those since the last restart."""
        extra: list[TimeLimit] = []
        for entry in self.entries:
            if isinstance(entry, RestartEntry):
                extra.clear()
            elif isinstance(entry, ExtendEntry):
                extra.append(entry.amount)
        return extra

    def counting_start(self, cal: WorkCalendar) -> datetime:
        """When counting started: the receipt (or the last restart) moved past cut-off and
        closed hours."""
        restarted = self.restarted
        return receipt_start(cal, (restarted or self._first()).at, self.hours)

    def due(self, cal: WorkCalendar, now: datetime | None = None) -> datetime:
        """The due instant under `cal`: budget and extensions from the counting start, shifted
        by suspended working time (an open suspension up to `now`).

        Memoised (`_DUES`): a dossier asks for the same clocks' due instants on every
        search-attribute sync, view and form, and a finished clock's many times over.
        """
        key = (id(self), id(cal), now if self.suspended else None)
        hit = _DUES.get(key)
        if hit is not None and hit[0] is self and hit[1] is cal:
            return hit[2]
        days, hrs = _days(cal), _hours(self.hours)
        due = _from_w(days, hrs, self._due_w(cal, days, hrs, now))
        if len(_DUES) >= _DUES_SIZE:
            _DUES.clear()
        _DUES[key] = (self, cal, due)
        return due

    def used(self, cal: WorkCalendar, now: datetime) -> int:
        """Working minutes counted against the budget up to `now` (or the finish)."""
        days, hrs = _days(cal), _hours(self.hours)
        start_w = self._w_of(days, hrs, self.counting_start(cal))
        end_w = max(self._w_of(days, hrs, self._effective(now)), start_w)
        suspended = sum(
            max(min(e if e is not None else end_w, end_w) - s, 0)
            for s, e in self._suspensions(days, hrs, start_w)
        )
        return (end_w - start_w - suspended) // _US_PER_MIN

    def remaining(self, cal: WorkCalendar, now: datetime) -> int:
        """Working minutes left until the due instant at `now` (or the finish); negative when
        late. Stands still while suspended. A started minute counts as left (rounded up), as
        `used` counts only whole minutes: together they make the budget, so a dossier with
        nothing used has all of it left (80h00 of 10 days, not 79h59)."""
        days, hrs = _days(cal), _hours(self.hours)
        start_w = self._w_of(days, hrs, self.counting_start(cal))
        now_w = max(self._w_of(days, hrs, self._effective(now)), start_w)
        diff = self._due_w(cal, days, hrs, now) - now_w
        return -(-diff // _US_PER_MIN)

    def status(self, cal: WorkCalendar, now: datetime | None = None) -> ClockStatus:
        """EARLY / ON_TIME / LATE of the finish, or of `now` if not finished (see class doc)."""
        at = self.finished_at or now
        if at is None:
            raise ClockError("the clock is not finished: pass `now` to rate it so far")
        due = self.due(cal, at)
        at = self._minute(at.astimezone(due.tzinfo))
        if at > due:
            return ClockStatus.LATE
        return ClockStatus.ON_TIME if at.date() == due.date() else ClockStatus.EARLY

    # ---- internals ---------------------------------------------------------------------

    def _first(self) -> _Entry:
        if not self.entries:
            raise ClockError("the clock has not started")
        return self.entries[0]

    def _effective(self, now: datetime) -> datetime:
        return self.finished_at or now

    def _minute(self, local: datetime) -> datetime:
        """`local` itself, or the start of its minute when the clock counts whole minutes."""
        return local.replace(second=0, microsecond=0) if self.whole_minutes else local

    def _w_of(self, days: _Days, hrs: _Hours, instant: datetime) -> int:
        return _w(days, hrs, self._minute(_local(days, instant)))

    def _due_w(self, cal: WorkCalendar, days: _Days, hrs: _Hours, now: datetime | None) -> int:
        start = self.counting_start(cal)
        start_w = self._w_of(days, hrs, start)
        extra = self.extended_by()
        if self.budget.unit is TimeUnit.CALENDAR_DAYS:
            total = TimeLimit(
                amount=self.budget.amount + sum(x.amount for x in extra),
                unit=TimeUnit.CALENDAR_DAYS,
            )
            base_w = _w(days, hrs, deadline(cal, start, total, self.hours))
        else:
            minutes = limit_minutes(self.budget, self.hours)
            minutes += sum(limit_minutes(x, self.hours) for x in extra)
            base_w = start_w + minutes * _US_PER_MIN
        now_w = None if now is None else self._w_of(days, hrs, now)
        for s, e in self._suspensions(days, hrs, start_w):
            if e is None:
                e = s if now_w is None else now_w
            base_w += max(e - s, 0)
        return base_w

    def _suspensions(self, days: _Days, hrs: _Hours, start_w: int) -> list[tuple[int, int | None]]:
        """Suspended intervals on the W axis, starting no earlier than the clock start; an open
        one ends with None."""
        intervals: list[tuple[int, int | None]] = []
        since: int | None = None
        for entry in self.entries:
            if isinstance(entry, SuspendEntry):
                since = max(self._w_of(days, hrs, entry.at), start_w)
            elif since is not None and isinstance(entry, ResumeEntry | RestartEntry | FinishEntry):
                intervals.append((since, self._w_of(days, hrs, entry.at)))
                since = None
        if since is not None:
            intervals.append((since, None))
        return intervals


_DUES: dict[tuple[int, int, datetime | None], tuple[DossierClock, WorkCalendar, datetime]] = {}
"""Due instants by (clock, calendar, `now` while suspended: otherwise it plays no part).

Clocks and calendars are frozen and replaced by every change, so the objects themselves are
the key; each entry holds them, so their ids cannot be reused while it is kept, and a hit is
checked by identity. The same answer as computing it: workflow code stays deterministic."""
_DUES_SIZE = 1024


def _check(clock: DossierClock, entries: tuple[_Entry, ...]) -> None:
    """Replay the ledger and raise `ClockError` at the first event it does not allow."""
    suspended = finished = False
    extensions = 0
    previous: datetime | None = None
    for n, entry in enumerate(entries):
        what = f"ledger entry {n} ({type(entry).__name__.removesuffix('Entry').lower()}"
        what += f" at {entry.at.isoformat()})"
        if n == 0 and not isinstance(entry, StartEntry):
            raise ClockError(f"{what}: the ledger must begin with start")
        if finished:
            raise ClockError(f"{what}: the clock is already finished")
        if previous is not None and entry.at < previous:
            raise ClockError(f"{what}: earlier than the entry before ({previous.isoformat()})")
        previous = entry.at
        if isinstance(entry, StartEntry):
            if n:
                raise ClockError(f"{what}: the clock has already started")
        elif isinstance(entry, SuspendEntry):
            if suspended:
                raise ClockError(f"{what}: the clock is already suspended")
            suspended = True
        elif isinstance(entry, ResumeEntry):
            if not suspended:
                raise ClockError(f"{what}: the clock is not suspended")
            suspended = False
        elif isinstance(entry, RestartEntry):
            suspended = False
        elif isinstance(entry, ExtendEntry):
            extensions += 1
            if extensions > clock.max_extensions:
                raise ClockError(
                    f"{what}: extension {extensions} exceeds the {clock.max_extensions} "
                    "the procedure allows"
                )
            if (entry.amount.unit is TimeUnit.CALENDAR_DAYS) != (
                clock.budget.unit is TimeUnit.CALENDAR_DAYS
            ):
                raise ClockError(
                    f"{what}: a {clock.budget.unit} budget cannot be extended in "
                    f"{entry.amount.unit}"
                )
        elif isinstance(entry, FinishEntry):
            finished = True
