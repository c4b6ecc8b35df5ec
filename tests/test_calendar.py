"""The working-day calendar: what the package and the override file give, and loader errors."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from procedures.legaltime.calendar import (
    DEFAULT_OVERRIDES,
    CalendarError,
    OfficeHours,
    TimeLimit,
    TimeUnit,
    WorkCalendar,
    load_calendar,
)

YEARS = range(2024, 2030)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load_calendar(YEARS)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "override.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_covers_the_requested_years(cal: WorkCalendar) -> None:
    assert (cal.first_year, cal.last_year) == (2024, 2029)
    assert cal.utc_offset == timedelta(hours=7)
    assert cal.tz.utcoffset(None) == timedelta(hours=7)


def test_default_years_start_2024_and_reach_three_years_ahead() -> None:
    default = load_calendar()
    assert default.first_year == 2024
    assert default.last_year == date.today().year + 3


def test_tet_2026_weekdays_are_off(cal: WorkCalendar) -> None:
    tet = {date(2026, 2, d) for d in range(16, 21)}
    assert tet <= set(cal.non_working)
    assert date(2026, 2, 13) not in cal.non_working
    assert date(2026, 2, 23) not in cal.non_working


def test_statutory_days_2025_2026(cal: WorkCalendar) -> None:
    off = set(cal.non_working)
    for d in (
        date(2025, 4, 30),
        date(2025, 5, 1),
        date(2025, 9, 1),  # adjacent day of 2/9 in 2025
        date(2025, 9, 2),
        date(2026, 9, 1),  # adjacent day of 2/9 in 2026
        date(2026, 9, 2),
        date(2026, 11, 24),  # Vietnam Culture Day, from 2026
    ):
        assert d in off, d
    assert date(2025, 11, 24) not in off


def test_swaps_from_the_override_file(cal: WorkCalendar) -> None:
    off = set(cal.non_working)
    assert {date(2025, 5, 2), date(2026, 1, 2), date(2026, 8, 31)} <= off
    assert cal.working == (date(2025, 4, 26), date(2026, 1, 10), date(2026, 8, 22))
    assert all(d.weekday() == 5 for d in cal.working)  # all make-up days are Saturdays


def test_without_overrides_the_make_up_saturdays_are_missing(tmp_path: Path) -> None:
    bare = load_calendar(YEARS, write(tmp_path, "dates: []\n"))
    assert bare.working == ()
    assert date(2026, 1, 2) not in bare.non_working  # only the override file knows this swap
    assert date(2026, 8, 31) in bare.non_working  # the package already lists this one


def test_shipped_file_is_the_default() -> None:
    assert DEFAULT_OVERRIDES.name == "vn.yaml"
    assert load_calendar(YEARS).version == load_calendar(YEARS, DEFAULT_OVERRIDES).version


def test_office_hours_default_from_file(cal: WorkCalendar) -> None:
    assert cal.office_hours == OfficeHours()
    assert cal.office_hours.day_minutes == 480
    assert cal.hours_for("000.00.19.H26") == OfficeHours()


def test_agency_hours(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'agency_hours:\n  "000.00.19.H26":\n'
        '    periods: [["07:00", "11:30"], ["13:30", "17:00"]]\n'
        '    cutoff: "16:00"\n',
    )
    loaded = load_calendar(YEARS, path)
    own = loaded.hours_for("000.00.19.H26")
    assert own.periods == ((time(7), time(11, 30)), (time(13, 30), time(17)))
    assert own.cutoff == time(16)
    assert own.day_minutes == 480
    assert loaded.hours_for("other") == OfficeHours()


def test_entries_outside_the_years_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "dates:\n  - {date: 2031-01-02, kind: holiday, source: test}\n")
    assert date(2031, 1, 2) not in load_calendar(YEARS, path).non_working


def test_not_holiday_and_working_remove_package_days(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dates:\n"
        "  - {date: 2026-11-24, kind: not_holiday, source: test}\n"
        "  - {date: 2026-02-20, kind: working, source: test}\n",
    )
    loaded = load_calendar(YEARS, path)
    assert date(2026, 11, 24) not in loaded.non_working
    assert date(2026, 2, 20) not in loaded.non_working
    assert loaded.working == (date(2026, 2, 20),)


def test_version_is_a_stable_content_hash(cal: WorkCalendar) -> None:
    assert len(cal.version) == 12
    assert load_calendar(YEARS).version == cal.version
    assert load_calendar(range(2024, 2031)).version != cal.version


def test_round_trips_through_json(cal: WorkCalendar) -> None:
    again = WorkCalendar.model_validate_json(cal.model_dump_json())
    assert again == cal
    assert again.version == cal.version


def test_a_wrong_version_is_refused(cal: WorkCalendar) -> None:
    data = cal.model_dump()
    data["version"] = "deadbeef0000"
    with pytest.raises(ValidationError, match="does not match the content"):
        WorkCalendar.model_validate(data)


def test_copy_with_update_revalidates_and_changes_version(cal: WorkCalendar) -> None:
    extra = cal.model_copy(update={"non_working": (*cal.non_working, date(2026, 2, 23))})
    assert date(2026, 2, 23) in extra.non_working
    assert extra.version != cal.version
    assert cal.model_copy().version == cal.version
    with pytest.raises(ValidationError, match="both a non-working and a make-up"):
        cal.model_copy(update={"non_working": (*cal.non_working, date(2026, 8, 22))})


def test_calendar_content_is_checked() -> None:
    with pytest.raises(ValidationError, match="outside the covered years"):
        WorkCalendar(first_year=2025, last_year=2025, non_working=(date(2026, 1, 1),))
    with pytest.raises(ValidationError, match="after last_year"):
        WorkCalendar(first_year=2026, last_year=2025)
    unsorted = WorkCalendar(
        first_year=2026, last_year=2026, non_working=(date(2026, 5, 1), date(2026, 4, 30))
    )
    assert unsorted.non_working == (date(2026, 4, 30), date(2026, 5, 1))


def test_office_hours_are_checked() -> None:
    with pytest.raises(ValidationError, match="ends before it starts"):
        OfficeHours(periods=((time(11), time(8)),))
    with pytest.raises(ValidationError, match="overlaps"):
        OfficeHours(periods=((time(8), time(12)), (time(11), time(17))))
    with pytest.raises(ValidationError, match="at least one"):
        OfficeHours(periods=())


def test_time_limit_units() -> None:
    assert TimeLimit(amount=0.5).unit is TimeUnit.WORKING_DAYS
    with pytest.raises(ValidationError):
        TimeLimit(amount=0)


# ---- override-file errors: the message names the file, the line and what is wrong ---------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dates: [\n", "not valid YAML"),
        ("holidays: []\n", "holidays: unknown key"),
        (
            "dates:\n  - {date: 2026-01-02, kind: holiday, source: ok}\n"
            "  - date: 2026-02-30\n    kind: holiday\n    source: x\n",
            ":3: dates.1.date",
        ),
        (
            "dates:\n  - date: 2026-01-02\n    kind: workday\n    source: x\n",
            ":2: dates.0.kind: Input should be 'holiday', 'working' or 'not_holiday'",
        ),
        ("dates:\n  - {date: 2026-01-02, kind: holiday}\n", ":2: dates.0.source: Field required"),
        (
            "dates:\n  - {date: 2026-01-02, kind: holiday, source: x, why: y}\n",
            ":2: dates.0.why: unknown key",
        ),
        (
            "dates:\n  - {date: 2026-01-02, kind: holiday, source: a}\n"
            "  - {date: 2026-01-02, kind: working, source: b}\n",
            ":3: 2026-01-02 appears twice (first at line 2)",
        ),
        (
            "dates:\n  - {date: 2026-03-03, kind: not_holiday, source: x}\n",
            ":2: not_holiday 2026-03-03: the holidays package does not list this date",
        ),
        ("office_hours:\n  cutoff: 15:00\n", 'times must be strings like "07:30"'),
        ("office_hours:\n  periods: [['13:00', '08:00']]\n", "ends before it starts"),
        ("- 1\n- 2\n", "must be a mapping"),
    ],
)
def test_override_errors_are_located(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CalendarError) as info:
        load_calendar(YEARS, path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message, message


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="cannot read"):
        load_calendar(YEARS, tmp_path / "nope.yaml")


def test_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)
