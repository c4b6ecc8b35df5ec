"""The working-time clock: worked examples computed by hand, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procedures.legaltime.calendar import (
    DEFAULT_OVERRIDES,
    OfficeHours,
    TimeLimit,
    TimeUnit,
    WorkCalendar,
    load_calendar,
)
from procedures.legaltime.clock import (
    ClockError,
    ClockStatus,
    DossierClock,
    SuspendReason,
    add_working_time,
    deadline,
    is_working_day,
    limit_minutes,
    receipt_start,
    working_minutes_between,
)

VN = timezone(timedelta(hours=7))
HOURS = OfficeHours()
CAL = load_calendar(range(2024, 2030))


def vn(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=VN)


def days(n: float) -> TimeLimit:
    return TimeLimit(amount=n)


def clock(budget: TimeLimit, received: datetime, max_extensions: int = 1) -> DossierClock:
    return DossierClock(budget=budget, max_extensions=max_extensions).start(received)


# ---- working days --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before Tết
        (date(2026, 2, 16), False),  # Tết 2026: Mon 16 - Fri 20 Feb
        (date(2026, 2, 20), False),
        (date(2026, 2, 23), True),
        (date(2025, 4, 26), True),  # make-up Saturday for Fri 2/5/2025
        (date(2025, 5, 2), False),
        (date(2026, 8, 22), True),  # make-up Saturday for Mon 31/8/2026
        (date(2026, 8, 29), False),  # an ordinary Saturday
        (date(2026, 8, 31), False),
        (date(2026, 9, 1), False),
        (date(2026, 9, 3), True),
        (date(2026, 4, 27), False),  # Hùng Kings day (Sun 26/4) observed on Monday
    ],
)
def test_is_working_day(d: date, working: bool) -> None:
    assert is_working_day(CAL, d) is working


def test_outside_the_calendar_is_an_error() -> None:
    with pytest.raises(ClockError, match=r"outside calendar .* covering 2024-2029"):
        is_working_day(CAL, date(2031, 1, 6))
    with pytest.raises(ClockError, match="after the end of calendar"):
        add_working_time(CAL, vn(2029, 12, 20, 8), 20 * 480, HOURS)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ClockError, match="no time zone"):
        receipt_start(CAL, datetime(2026, 3, 3, 9), HOURS)


# ---- receipt -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "starts"),
    [
        (vn(2026, 3, 3, 9, 15), vn(2026, 3, 3, 9, 15)),  # inside office hours
        (vn(2026, 3, 3, 15, 0), vn(2026, 3, 3, 15, 0)),  # exactly at the cut-off: same day
        (vn(2026, 3, 3, 15, 30), vn(2026, 3, 4, 7, 30)),  # after the cut-off
        (vn(2026, 3, 3, 18, 0), vn(2026, 3, 4, 7, 30)),  # after closing
        (vn(2026, 3, 3, 6, 0), vn(2026, 3, 3, 7, 30)),  # before opening
        (vn(2026, 3, 3, 12, 0), vn(2026, 3, 3, 13, 0)),  # lunch break
        (vn(2026, 3, 3, 11, 30), vn(2026, 3, 3, 13, 0)),  # at the morning closing
        (vn(2026, 3, 7, 9, 0), vn(2026, 3, 9, 7, 30)),  # Saturday
        (vn(2026, 2, 13, 16, 0), vn(2026, 2, 23, 7, 30)),  # Friday before Tết, after cut-off
        (vn(2026, 8, 21, 16, 0), vn(2026, 8, 22, 7, 30)),  # next day is a make-up Saturday
        (datetime(2026, 3, 3, 1, 0, tzinfo=UTC), vn(2026, 3, 3, 8, 0)),  # any zone accepted
    ],
)
def test_receipt_start(received: datetime, starts: datetime) -> None:
    assert receipt_start(CAL, received, HOURS) == starts


def test_receipt_cutoff_is_per_agency() -> None:
    late_desk = OfficeHours(cutoff=time(17, 0))
    assert receipt_start(CAL, vn(2026, 3, 3, 15, 30), late_desk) == vn(2026, 3, 3, 15, 30)


# ---- adding working time -------------------------------------------------------------------


def due(received: datetime, limit: TimeLimit, hours: OfficeHours = HOURS) -> datetime:
    return deadline(CAL, receipt_start(CAL, received, hours), limit, hours)


def test_across_tet_2026() -> None:
    # Thu 12 (rest of day), Fri 13, [14-22 off], Mon 23, Tue 24, Wed 25, Thu 26 until 10:00.
    assert due(vn(2026, 2, 12, 10), days(5)) == vn(2026, 2, 26, 10)
    # Received Fri 13 Feb after the cut-off: counts from Mon 23 Feb.
    assert due(vn(2026, 2, 13, 15, 1), days(1)) == vn(2026, 2, 23, 17)


def test_across_30_4_and_1_5_2025() -> None:
    # Tue 29 Apr (1), Wed 30 Apr - Sun 4 May off (incl. swapped Fri 2 May), Mon 5 May (2).
    assert due(vn(2025, 4, 29, 7, 30), days(2)) == vn(2025, 5, 5, 17)


def test_across_2_9_with_adjacent_day() -> None:
    # 2025: Mon 1 and Tue 2 Sep off. Fri 29 Aug afternoon (4 h) + Wed 3 Sep morning (4 h).
    assert due(vn(2025, 8, 29, 13), days(1)) == vn(2025, 9, 3, 11, 30)
    # 2026: Mon 31 Aug (swap), Tue 1, Wed 2 Sep off. Fri 28 Aug (1), Thu 3 Sep (2).
    assert due(vn(2026, 8, 28, 7, 30), days(2)) == vn(2026, 9, 3, 17)


def test_make_up_saturday_counts(tmp_path: Path) -> None:
    # Fri 25 Apr 2025 13:00-17:00 (4 h) + Sat 26 Apr 07:30-11:30 (4 h, make-up day).
    assert due(vn(2025, 4, 25, 13), days(1)) == vn(2025, 4, 26, 11, 30)
    # Without the override file the Saturday is an ordinary weekend day.
    empty = tmp_path / "empty.yaml"
    empty.write_text("dates: []\n", encoding="utf-8")
    bare = load_calendar(range(2025, 2026), empty)
    start = vn(2025, 4, 25, 13)
    assert add_working_time(bare, start, 480, HOURS) == vn(2025, 4, 28, 11, 30)


def test_receipt_after_cutoff() -> None:
    # Tue 3 Mar 2026 15:30 counts from Wed 4 Mar 07:30: Wed, Thu, Fri.
    assert due(vn(2026, 3, 3, 15, 30), days(3)) == vn(2026, 3, 6, 17)
    assert due(vn(2026, 3, 3, 15, 0), days(1)) == vn(2026, 3, 4, 15, 0)


def test_receipt_outside_office_hours() -> None:
    assert due(vn(2026, 3, 3, 12, 10), TimeLimit(amount=2, unit=TimeUnit.WORKING_HOURS)) == vn(
        2026, 3, 3, 15
    )
    assert due(vn(2026, 3, 7, 10), days(1)) == vn(2026, 3, 9, 17)  # Saturday -> Monday


def test_half_day_share_is_four_working_hours() -> None:
    assert limit_minutes(days(0.5), HOURS) == 240
    assert due(vn(2026, 3, 3, 7, 30), days(0.5)) == vn(2026, 3, 3, 11, 30)
    # 10:00-11:30 (1.5 h), then 13:00-15:30 (2.5 h).
    assert due(vn(2026, 3, 3, 10), days(0.5)) == vn(2026, 3, 3, 15, 30)
    # Starting at 13:00 the half day ends at closing, not at next morning's opening.
    assert due(vn(2026, 3, 3, 13), days(0.5)) == vn(2026, 3, 3, 17)


def test_other_office_hours() -> None:
    province = OfficeHours(periods=((time(7), time(11, 30)), (time(13, 30), time(17))))
    assert province.day_minutes == 480
    # 10:00-11:30 (1.5 h), then 13:30-16:00 (2.5 h).
    assert due(vn(2026, 3, 3, 10), days(0.5), province) == vn(2026, 3, 3, 16)


def test_calendar_day_procedure() -> None:
    permit = TimeLimit(amount=15, unit=TimeUnit.CALENDAR_DAYS)
    # Start day not counted: Mon 2 Mar + 15 days = Tue 17 Mar, due at closing.
    assert due(vn(2026, 3, 2, 9), permit) == vn(2026, 3, 17, 17)
    ten = TimeLimit(amount=10, unit=TimeUnit.CALENDAR_DAYS)
    # Wed 4 Mar + 10 = Sat 14 Mar: runs to the next working day, Mon 16 Mar.
    assert due(vn(2026, 3, 4, 9), ten) == vn(2026, 3, 16, 17)
    # Fri 6 Feb + 10 = Mon 16 Feb, Tết: runs to Mon 23 Feb.
    assert due(vn(2026, 2, 6, 9), ten) == vn(2026, 2, 23, 17)
    # After the cut-off the start moves to the next working day first: Wed 4 + 10 = Sat 14.
    assert due(vn(2026, 3, 3, 16), ten) == vn(2026, 3, 16, 17)
    with pytest.raises(ClockError, match="calendar days"):
        limit_minutes(ten, HOURS)


def test_working_minutes_between() -> None:
    assert working_minutes_between(CAL, vn(2026, 2, 13, 7, 30), vn(2026, 2, 23, 17), HOURS) == 960
    assert working_minutes_between(CAL, vn(2026, 3, 3, 12), vn(2026, 3, 3, 12, 59), HOURS) == 0
    assert working_minutes_between(CAL, vn(2026, 3, 3, 17), vn(2026, 3, 3, 8), HOURS) == -450
    assert add_working_time(CAL, vn(2026, 3, 3, 12), 0, HOURS) == vn(2026, 3, 3, 12)
    with pytest.raises(ClockError, match="negative"):
        add_working_time(CAL, vn(2026, 3, 3, 12), -1, HOURS)


# ---- the dossier clock ---------------------------------------------------------------------


MON = vn(2026, 3, 2, 7, 30)  # five working days from here end Fri 6 Mar 17:00


def test_clock_without_events() -> None:
    c = clock(days(5), MON)
    assert c.due(CAL) == vn(2026, 3, 6, 17)
    assert c.used(CAL, vn(2026, 3, 3, 9, 30)) == 600  # Mon 8 h + Tue 2 h
    assert c.remaining(CAL, vn(2026, 3, 3, 9, 30)) == 1800
    assert c.used(CAL, vn(2026, 3, 1, 9)) == 0  # before the start
    assert not c.suspended


def test_used_and_remaining_make_the_budget_with_seconds_on_the_clock() -> None:
    received = vn(2026, 3, 2, 9, 25) + timedelta(seconds=33)
    c = clock(days(10), received)
    looked = received + timedelta(seconds=20)
    assert (c.used(CAL, looked), c.remaining(CAL, looked)) == (0, 4800)  # 80h00, not 79h59
    later = received + timedelta(minutes=90, seconds=10)
    assert c.used(CAL, later) + c.remaining(CAL, later) == 4800


def test_suspension_shifts_due_by_suspended_working_time() -> None:
    c = clock(days(5), MON).suspend(vn(2026, 3, 3, 10), SuspendReason.SUPPLEMENT)
    assert c.suspended
    # Open suspension: counted up to `now`; without it, not at all.
    assert c.due(CAL) == vn(2026, 3, 6, 17)
    # Tue 10:00-17:00 (5.5 h) + Wed 07:30-11:30 (4 h) = 9.5 h past Fri 17:00: Tue 10 Mar 09:00.
    assert c.due(CAL, vn(2026, 3, 4, 12)) == vn(2026, 3, 10, 9)
    assert c.used(CAL, vn(2026, 3, 4, 12)) == 630  # frozen at Mon 8 h + Tue 2.5 h
    assert c.remaining(CAL, vn(2026, 3, 4, 12)) == 1770
    c = c.resume(vn(2026, 3, 5, 14))
    assert not c.suspended
    # Suspended 5.5 + 8 + 5 = 18.5 h: Fri 17:00 -> Mon 8, Tue 8, Wed 07:30 + 2.5 h.
    assert c.due(CAL) == vn(2026, 3, 11, 10)
    assert c.used(CAL, vn(2026, 3, 5, 14)) == 630
    assert c.remaining(CAL, vn(2026, 3, 6, 17)) == 1770 - 11 * 60


def test_a_suspended_clock_asked_again_later_counts_up_to_the_new_now() -> None:
    """Due instants are memoised per clock: an open suspension still moves with `now`."""
    c = clock(days(5), MON).suspend(vn(2026, 3, 3, 10), SuspendReason.SUPPLEMENT)
    for _ in range(2):
        assert c.due(CAL, vn(2026, 3, 4, 12)) == vn(2026, 3, 10, 9)
        assert c.due(CAL, vn(2026, 3, 3, 12)) == vn(2026, 3, 9, 9)  # 10:00-11:30 past Fri 17:00
        assert c.due(CAL) == vn(2026, 3, 6, 17)
    resumed = c.resume(vn(2026, 3, 5, 14))
    assert resumed.due(CAL, vn(2026, 3, 3, 12)) == resumed.due(CAL) == vn(2026, 3, 11, 10)


def test_financial_obligation_before_counting_start_is_not_double_counted() -> None:
    # Received after the cut-off (counts from Wed 07:30); suspended at 16:30 the same day.
    c = clock(days(1), vn(2026, 3, 3, 16)).suspend(
        vn(2026, 3, 3, 16, 30), SuspendReason.FINANCIAL_OBLIGATION
    )
    c = c.resume(vn(2026, 3, 4, 9, 30))  # only Wed 07:30-09:30 was suspended
    assert c.counting_start(CAL) == vn(2026, 3, 4, 7, 30)
    assert c.due(CAL) == vn(2026, 3, 5, 9, 30)


def test_extension_and_max_extensions() -> None:
    c = clock(days(5), MON, max_extensions=1)
    c = c.extend(vn(2026, 3, 5, 9), days(2), "đo đạc lại thửa đất")
    assert c.due(CAL) == vn(2026, 3, 10, 17)
    assert c.extensions == 1
    with pytest.raises(ClockError, match="extension 2 exceeds the 1 the procedure allows"):
        c.extend(vn(2026, 3, 9, 9), days(1), "again")
    with pytest.raises(ClockError, match="exceeds the 0"):
        clock(days(5), MON, max_extensions=0).extend(vn(2026, 3, 5, 9), days(1), "x")


def test_calendar_day_budget_with_extension_and_suspension() -> None:
    permit = TimeLimit(amount=15, unit=TimeUnit.CALENDAR_DAYS)
    c = DossierClock(budget=permit, max_extensions=1).start(vn(2026, 3, 2, 9))
    assert c.due(CAL) == vn(2026, 3, 17, 17)
    c = c.extend(vn(2026, 3, 10, 9), TimeLimit(amount=10, unit=TimeUnit.CALENDAR_DAYS), "x")
    assert c.due(CAL) == vn(2026, 3, 27, 17)  # Mon 2 + 25 days = Fri 27 Mar
    c = c.suspend(vn(2026, 3, 11, 13), SuspendReason.SUPPLEMENT).resume(vn(2026, 3, 12, 13))
    assert c.due(CAL) == vn(2026, 3, 30, 17)  # shifted by one working day (8 h)
    with pytest.raises(ClockError, match="cannot be extended in working_days"):
        DossierClock(budget=permit, max_extensions=1).start(MON).extend(MON, days(1), "x")


def test_newer_calendar_moves_the_due_instant(tmp_path: Path) -> None:
    c = clock(days(5), vn(2026, 2, 10, 7, 30))
    # Tue 10, Wed 11, Thu 12, Fri 13, [Tết], Mon 23.
    assert c.due(CAL) == vn(2026, 2, 23, 17)
    extra = tmp_path / "vn.yaml"
    extra.write_text(
        DEFAULT_OVERRIDES.read_text(encoding="utf-8")
        + '  - date: 2026-02-23\n    kind: holiday\n    source: "test: one more Tết day"\n',
        encoding="utf-8",
    )
    newer = load_calendar(range(2024, 2030), extra)
    assert newer.version != CAL.version
    assert c.due(newer) == vn(2026, 2, 24, 17)
    assert c.due(CAL) == vn(2026, 2, 23, 17)  # the old calendar still gives the old answer


@pytest.mark.parametrize(
    ("finished", "status"),
    [
        (vn(2026, 3, 5, 16), ClockStatus.EARLY),
        (vn(2026, 3, 6, 9), ClockStatus.ON_TIME),  # on the due day
        (vn(2026, 3, 6, 17), ClockStatus.ON_TIME),  # at the due instant
        (vn(2026, 3, 6, 17, 0, 1), ClockStatus.LATE),
        (vn(2026, 3, 9, 8), ClockStatus.LATE),
        (datetime(2026, 3, 5, 18, 30, tzinfo=UTC), ClockStatus.ON_TIME),  # 01:30 Fri in VN
    ],
)
def test_status(finished: datetime, status: ClockStatus) -> None:
    assert clock(days(5), MON).finish(finished).status(CAL) is status


def test_status_of_a_running_clock_needs_now() -> None:
    c = clock(days(5), MON)
    assert c.status(CAL, vn(2026, 3, 9, 8)) is ClockStatus.LATE
    assert c.status(CAL, vn(2026, 3, 3, 8)) is ClockStatus.EARLY
    with pytest.raises(ClockError, match="pass `now`"):
        c.status(CAL)


def test_finish_closes_a_suspension_and_freezes_the_clock() -> None:
    c = clock(days(5), MON).suspend(vn(2026, 3, 3, 10), SuspendReason.OTHER)
    c = c.finish(vn(2026, 3, 4, 10))
    assert c.finished_at == vn(2026, 3, 4, 10)
    assert not c.suspended
    assert c.used(CAL, vn(2026, 4, 1, 9)) == 630
    assert c.due(CAL) == vn(2026, 3, 9, 17)  # shifted by Tue 5.5 h + Wed 2.5 h = 8 h


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda c: c.resume(vn(2026, 3, 3, 9)), "not suspended"),
        (
            lambda c: c.suspend(vn(2026, 3, 3, 9), SuspendReason.SUPPLEMENT).suspend(
                vn(2026, 3, 3, 10), SuspendReason.OTHER
            ),
            "already suspended",
        ),
        (lambda c: c.finish(vn(2026, 3, 3, 9)).resume(vn(2026, 3, 3, 10)), "already finished"),
        (lambda c: c.finish(vn(2026, 3, 3, 9)).finish(vn(2026, 3, 3, 10)), "already finished"),
        (lambda c: c.start(vn(2026, 3, 3, 9)), "already started"),
        (lambda c: c.finish(vn(2026, 3, 1, 9)), "earlier than the entry before"),
    ],
)
def test_invalid_transitions(build: object, message: str) -> None:
    with pytest.raises(ClockError, match=message):
        build(clock(days(5), MON))  # type: ignore[operator]


def test_bad_event_data_is_a_clock_error() -> None:
    with pytest.raises(ClockError, match="invalid StartEntry"):
        DossierClock(budget=days(5), max_extensions=1).start(datetime(2026, 3, 2, 9))
    with pytest.raises(ClockError, match="invalid ExtendEntry"):
        clock(days(5), MON).extend(vn(2026, 3, 3, 9), days(1), "")


def test_events_need_a_start() -> None:
    empty = DossierClock(budget=days(5), max_extensions=1)
    with pytest.raises(ClockError, match="must begin with start"):
        empty.suspend(MON, SuspendReason.SUPPLEMENT)
    with pytest.raises(ClockError, match="has not started"):
        empty.due(CAL)


def test_round_trips_through_json() -> None:
    c = (
        clock(days(5), MON)
        .suspend(vn(2026, 3, 3, 10), SuspendReason.SUPPLEMENT)
        .resume(vn(2026, 3, 5, 14))
        .extend(vn(2026, 3, 6, 9), days(1), "thẩm tra")
        .finish(vn(2026, 3, 12, 10))
    )
    again = DossierClock.model_validate_json(c.model_dump_json())
    assert again == c
    assert again.due(CAL) == c.due(CAL) == vn(2026, 3, 12, 10)
    assert again.status(CAL) is ClockStatus.ON_TIME


def test_an_invalid_ledger_does_not_deserialise() -> None:
    data = clock(days(5), MON).model_dump(mode="json")
    data["entries"].append({"kind": "resume", "at": "2026-03-03T09:00:00+07:00"})
    with pytest.raises(ValueError, match="not suspended"):
        DossierClock.model_validate(data)


# ---- properties ----------------------------------------------------------------------------

ZONES = st.sampled_from([VN, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))])
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=ZONES
)
LIMITS = st.one_of(
    st.integers(1, 40).map(lambda n: TimeLimit(amount=n)),
    st.sampled_from([0.25, 0.5, 1.5, 2.5]).map(lambda x: TimeLimit(amount=x)),
    st.integers(1, 60).map(lambda n: TimeLimit(amount=n, unit=TimeUnit.WORKING_HOURS)),
    st.integers(1, 30).map(lambda n: TimeLimit(amount=n, unit=TimeUnit.CALENDAR_DAYS)),
)
HOUR_SETS = st.sampled_from(
    [HOURS, OfficeHours(periods=((time(7), time(11, 30)), (time(13, 30), time(17))))]
)


def in_office_hours(cal: WorkCalendar, instant: datetime, hours: OfficeHours) -> bool:
    local = instant.astimezone(VN)
    return is_working_day(cal, local.date()) and any(
        start <= local.time() <= end for start, end in hours.periods
    )


@settings(max_examples=300, deadline=None)
@given(received=INSTANTS, limit=LIMITS, hours=HOUR_SETS)
def test_due_is_inside_office_hours(
    received: datetime, limit: TimeLimit, hours: OfficeHours
) -> None:
    assert in_office_hours(CAL, due(received, limit, hours), hours)


@settings(max_examples=300, deadline=None)
@given(received=INSTANTS, limit=LIMITS.filter(lambda x: x.unit != TimeUnit.CALENDAR_DAYS))
def test_measuring_start_to_due_gives_the_budget_back(received: datetime, limit: TimeLimit) -> None:
    start = receipt_start(CAL, received, HOURS)
    end = deadline(CAL, start, limit, HOURS)
    assert working_minutes_between(CAL, start, end, HOURS) == limit_minutes(limit, HOURS)
    assert end > start


@settings(max_examples=300, deadline=None)
@given(
    received=INSTANTS,
    budget=st.integers(1, 30),
    at=st.floats(0.01, 0.99),
    hours_suspended=st.integers(1, 80),
)
def test_suspension_moves_due_by_exactly_its_working_time(
    received: datetime, budget: int, at: float, hours_suspended: int
) -> None:
    c = clock(days(budget), received)
    start = c.counting_start(CAL)
    suspended_at = add_working_time(CAL, start, max(1, int(at * budget * 480)), HOURS)
    resumed_at = add_working_time(CAL, suspended_at, hours_suspended * 60, HOURS)
    shifted = c.suspend(suspended_at, SuspendReason.SUPPLEMENT).resume(resumed_at)
    before, after = c.due(CAL), shifted.due(CAL)
    assert after == add_working_time(CAL, before, hours_suspended * 60, HOURS)
    assert working_minutes_between(CAL, before, after, HOURS) == hours_suspended * 60


@settings(max_examples=300, deadline=None)
@given(
    received=INSTANTS,
    budget=LIMITS,
    amount=st.sampled_from([0.5, 1, 2, 10]),
    in_hours=st.booleans(),
    suspended_hours=st.integers(0, 20),
)
def test_extension_never_moves_due_earlier(
    received: datetime, budget: TimeLimit, amount: float, in_hours: bool, suspended_hours: int
) -> None:
    if budget.unit is TimeUnit.CALENDAR_DAYS:
        unit = TimeUnit.CALENDAR_DAYS  # a calendar-day budget is extended in calendar days
    else:
        unit = TimeUnit.WORKING_HOURS if in_hours else TimeUnit.WORKING_DAYS
    c = DossierClock(budget=budget, max_extensions=1).start(received)
    if suspended_hours:
        start = c.counting_start(CAL)
        resumed = add_working_time(CAL, start, suspended_hours * 60, HOURS)
        c = c.suspend(start, SuspendReason.SUPPLEMENT).resume(resumed)
    later = c.extend(c.entries[-1].at, TimeLimit(amount=amount, unit=unit), "x")
    assert later.due(CAL) >= c.due(CAL)


def test_a_whole_minute_clock_is_not_a_minute_short_after_a_suspension() -> None:
    """Received 09:23:27, suspended a second later until 17:00 five days on: nothing was used,
    so the whole budget runs from 17:00 (due 17:00, not 16:59:59 shown as 16:59)."""
    received = vn(2026, 3, 2, 9, 23) + timedelta(seconds=27)
    for whole, due in ((False, vn(2026, 3, 13, 17) - timedelta(seconds=1)), (True, None)):
        c = DossierClock(budget=days(5), max_extensions=0, hours=HOURS, whole_minutes=whole)
        c = c.start(received).suspend(received + timedelta(seconds=1), SuspendReason.OTHER)
        c = c.resume(vn(2026, 3, 6, 17))
        if whole:
            assert c.due(CAL) == vn(2026, 3, 13, 17)
            assert c.used(CAL, vn(2026, 3, 6, 17)) == 0
            assert c.remaining(CAL, vn(2026, 3, 9, 7, 30)) == 5 * 480
        else:
            assert c.due(CAL) == due  # the second counted: what old dossiers keep doing
    c = DossierClock(budget=days(1), max_extensions=0, hours=HOURS, whole_minutes=True)
    c = c.start(received).finish(vn(2026, 3, 3, 9, 23) + timedelta(seconds=50))
    assert c.status(CAL) is ClockStatus.ON_TIME  # 09:23:50 is in the due minute, 09:23


def test_a_restart_counts_the_whole_limit_anew_from_the_complete_dossier() -> None:
    """Received Monday 2 March 2026 at 08:30; a supplement asked on Wednesday at 08:30 (two
    working days used), brought on Friday at 16:00 (after the cut-off): the limit of 5 working
    days runs anew from Monday 9 March 07:30, so due Friday 13 March 17:00; the suspension and
    the extension granted before no longer count; a later suspension still does."""
    c = clock(days(5), vn(2026, 3, 2, 8, 30), max_extensions=2)
    c = c.extend(vn(2026, 3, 3, 9), days(1), "đã xin lỗi")
    c = c.suspend(vn(2026, 3, 4, 8, 30), SuspendReason.SUPPLEMENT)
    assert c.due(CAL) == vn(2026, 3, 10, 8, 30)  # 6 days: an open suspension counts to `now`
    c = c.restart(vn(2026, 3, 6, 16), "hồ sơ đã được bổ sung đầy đủ")
    assert not c.suspended and c.extensions == 1
    assert c.restarted is not None and c.restarted.reason == "hồ sơ đã được bổ sung đầy đủ"
    assert c.counting_start(CAL) == vn(2026, 3, 9, 7, 30)
    assert c.due(CAL) == vn(2026, 3, 13, 17)
    assert c.started_at == vn(2026, 3, 2, 8, 30)  # the receipt stays the receipt
    assert c.used(CAL, vn(2026, 3, 9, 11, 30)) == 240
    assert c.remaining(CAL, vn(2026, 3, 6, 16, 30)) == 5 * 480
    c = c.suspend(vn(2026, 3, 10, 7, 30), SuspendReason.FINANCIAL_OBLIGATION)
    c = c.resume(vn(2026, 3, 11, 7, 30))
    assert c.due(CAL) == vn(2026, 3, 16, 17)
    assert c.extend(vn(2026, 3, 12, 9), days(1), "lần hai").due(CAL) == vn(2026, 3, 17, 17)
    assert c.finish(vn(2026, 3, 16, 10)).status(CAL) is ClockStatus.ON_TIME
