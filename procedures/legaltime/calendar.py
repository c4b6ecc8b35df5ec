"""Calendar data: time units, office hours and the working-day calendar a dossier counts in.

Pure data (pydantic, frozen) so that a calendar can be frozen into a workflow input and handed
to the clock in `procedures.legaltime.clock`. Loading it from the `holidays` package and the
override file is the only I/O here, and `load_calendar` imports what it needs lazily so that
workflow code importing this module (through the sandbox passthrough) pulls in neither
`holidays` nor YAML.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, time, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_OVERRIDES = Path(__file__).parents[1] / "calendar" / "vn.yaml"
"""The override file shipped with the repository, edited by an administrator."""

VN_UTC_OFFSET = timedelta(hours=7)
"""Asia/Ho_Chi_Minh: UTC+7 all year (no DST), so a fixed offset needs no tz database."""


class CalendarError(ValueError):
    """A calendar or its override file is wrong; the message says where and what."""


class TimeUnit(StrEnum):
    """The unit a legal time limit is counted in."""

    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    CALENDAR_DAYS = "calendar_days"


class TimeLimit(BaseModel):
    """An amount of time in a unit, e.g. 0.5 working days (= 4 working hours)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: float = Field(gt=0, description="How much time; fractions allowed (0.5 day).")
    unit: TimeUnit = Field(TimeUnit.WORKING_DAYS, description="The unit the amount counts in.")


class OfficeHours(BaseModel):
    """An agency's office hours and its receipt cut-off (local time, Asia/Ho_Chi_Minh).

    One working day is the sum of the periods (8 hours by default, as the law counts it), so
    "N working days" from an opening always ends at a closing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    periods: tuple[tuple[time, time], ...] = Field(
        ((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0))),
        description="Opening periods of a working day, in order; 8 hours in all by default.",
    )
    cutoff: time = Field(
        time(15, 0), description="Dossiers received after this count from the next working day."
    )

    @field_validator("periods", "cutoff", mode="before")
    @classmethod
    def _no_numbers(cls, value: Any) -> Any:
        """Refuse numbers as times: YAML reads an unquoted 13:00 as the integer 780."""
        flat = [value]
        while any(isinstance(v, list | tuple) for v in flat):
            flat = [t for v in flat for t in (v if isinstance(v, list | tuple) else [v])]
        if any(isinstance(t, int | float) for t in flat):
            raise ValueError('times must be strings like "07:30" (quote them in YAML)')
        return value

    @model_validator(mode="after")
    def _check_periods(self) -> Self:
        """Periods must be naive local times, non-empty, ordered and not overlapping."""
        if not self.periods:
            raise ValueError("office hours need at least one opening period")
        if any(t.tzinfo is not None for p in self.periods for t in p) or self.cutoff.tzinfo:
            raise ValueError("office hours are local times: give them without a UTC offset")
        previous_end: time | None = None
        for start, end in self.periods:
            if start >= end:
                raise ValueError(f"period {start}-{end} ends before it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError(f"period {start}-{end} overlaps or precedes the one before")
            previous_end = end
        return self

    @property
    def day_minutes(self) -> int:
        """Length of one working day in minutes: the sum of the opening periods."""
        return sum(_minute_of_day(end) - _minute_of_day(start) for start, end in self.periods)


def _minute_of_day(t: time) -> int:
    return t.hour * 60 + t.minute


class WorkCalendar(BaseModel):
    """The working-day calendar a dossier counts in: pure data, no I/O, serialisable.

    A weekday is a working day unless it is in `non_working`; a weekend day is a working day
    only if it is in `working` (a make-up day, ngày làm bù). `version` is a short hash of the
    content, derived on validation, so a dossier can record which calendar it counted by; a
    given version must match the content. Copies made with `model_copy(update=...)` are
    re-validated, so the version always matches.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    utc_offset: timedelta = Field(VN_UTC_OFFSET, description="Fixed local offset from UTC.")
    first_year: int = Field(description="First year the calendar covers.")
    last_year: int = Field(description="Last year the calendar covers (inclusive).")
    non_working: tuple[date, ...] = Field(
        (), description="Public holidays and swapped days off, sorted."
    )
    working: tuple[date, ...] = Field(
        (), description="Make-up working days (ngày làm bù), e.g. a Saturday; sorted."
    )
    office_hours: OfficeHours = Field(
        default_factory=OfficeHours, description="Hours of agencies without their own entry."
    )
    agency_hours: dict[str, OfficeHours] = Field(
        default_factory=dict, description="Office hours by agency code."
    )
    version: str = Field("", description="Content hash, derived; empty on input means derive.")

    @field_validator("non_working", "working")
    @classmethod
    def _sorted_unique(cls, value: tuple[date, ...]) -> tuple[date, ...]:
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _check_and_version(self) -> Self:
        """Reject inconsistent content and derive the version from what is left."""
        if not timedelta(hours=-24) < self.utc_offset < timedelta(hours=24):
            raise ValueError(f"utc_offset {self.utc_offset} is not a valid UTC offset")
        if self.first_year > self.last_year:
            raise ValueError(f"first_year {self.first_year} is after last_year {self.last_year}")
        for name in ("non_working", "working"):
            outside = [
                d for d in getattr(self, name) if not self.first_year <= d.year <= self.last_year
            ]
            if outside:
                raise ValueError(
                    f"{name} has {outside[0]} outside the covered years "
                    f"{self.first_year}-{self.last_year}"
                )
        both = sorted(set(self.non_working) & set(self.working))
        if both:
            raise ValueError(f"{both[0]} is both a non-working and a make-up working day")
        digest = self._content_hash()
        if self.version and self.version != digest:
            raise ValueError(
                f"version {self.version!r} does not match the content (hash {digest!r}); "
                "leave version empty to derive it"
            )
        object.__setattr__(self, "version", digest)
        return self

    def _content_hash(self) -> str:
        content = self.model_dump(mode="json", exclude={"version"})
        content["agency_hours"] = sorted(content["agency_hours"].items())
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy; with `update`, re-validate so that checks and version follow the new content."""
        if not update:
            return super().model_copy(deep=deep)
        data = self.model_dump(exclude={"version"})
        data.update(update)
        return self.model_validate(data)

    @property
    def tz(self) -> timezone:
        """The calendar's fixed local time zone (UTC+7 for Vietnam)."""
        return timezone(self.utc_offset)

    def hours_for(self, agency: str | None = None) -> OfficeHours:
        """Office hours of an agency, or the default ones if it has none of its own."""
        if agency is None:
            return self.office_hours
        return self.agency_hours.get(agency, self.office_hours)


class OverrideKind(StrEnum):
    """What an override-file entry does to its date."""

    HOLIDAY = "holiday"
    """An extra day off, e.g. a weekday swapped for a later make-up Saturday."""
    WORKING = "working"
    """A make-up working day (ngày làm bù), usually a Saturday."""
    NOT_HOLIDAY = "not_holiday"
    """Remove a day the `holidays` package lists as a holiday."""


class _Override(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: date
    kind: OverrideKind
    source: str = Field(min_length=1, description="Legal source of the entry.")
    note: str = ""


class _OverrideFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    office_hours: OfficeHours = Field(default_factory=OfficeHours)
    agency_hours: dict[str, OfficeHours] = Field(default_factory=dict)
    dates: tuple[_Override, ...] = ()


def load_calendar(years: range | None = None, overrides: Path | None = None) -> WorkCalendar:
    """Build a `WorkCalendar` from the `holidays` package (VN) and the override file.

    `years` defaults to 2024 up to the current year + 3; `overrides` defaults to the shipped
    `procedures/calendar/vn.yaml`. Override entries outside `years` are ignored. Any problem
    in the file raises `CalendarError` naming the file, the line and what is wrong.
    """
    import holidays  # lazy: heavy, and only needed when loading

    if years is None:
        years = range(2024, date.today().year + 4)
    if len(years) == 0 or years.step != 1:
        raise CalendarError(f"years must be a non-empty range with step 1, got {years!r}")
    path = DEFAULT_OVERRIDES if overrides is None else overrides
    spec, lines = _read_overrides(path)

    off = set(holidays.country_holidays("VN", years=list(years)))
    make_up: set[date] = set()
    for index, entry in enumerate(spec.dates):
        if entry.date.year not in years:
            continue
        if entry.kind is OverrideKind.HOLIDAY:
            off.add(entry.date)
        elif entry.kind is OverrideKind.WORKING:
            off.discard(entry.date)
            make_up.add(entry.date)
        else:
            if entry.date not in off:
                raise CalendarError(
                    f"{path}:{lines[index]}: not_holiday {entry.date}: the holidays package "
                    "does not list this date, so the entry has no effect (wrong date?)"
                )
            off.discard(entry.date)
    try:
        return WorkCalendar(
            first_year=years[0],
            last_year=years[-1],
            non_working=tuple(off),
            working=tuple(make_up),
            office_hours=spec.office_hours,
            agency_hours=spec.agency_hours,
        )
    except ValidationError as exc:
        raise CalendarError(f"{path}: {_describe(exc)}") from exc


def _read_overrides(path: Path) -> tuple[_OverrideFile, list[int]]:
    """Parse and validate the override file; also return each date entry's line number."""
    import yaml  # lazy: only needed when loading

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarError(f"{path}: cannot read the override file: {exc}") from exc

    class Loader(yaml.SafeLoader):
        """Keeps dates as text, so that pydantic reports a bad one with its line."""

    def as_text(loader: Loader, node: yaml.Node) -> str:
        return str(loader.construct_scalar(node))  # type: ignore[arg-type]

    Loader.add_constructor("tag:yaml.org,2002:timestamp", as_text)
    loader = Loader(text)
    loader.name = str(path)  # marks in error messages name the file
    try:
        root = loader.get_single_node()
        data = {} if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CalendarError(f"{path}: the file must be a mapping with keys {_TOP_KEYS}")
    lines = _entry_lines(root)
    try:
        spec = _OverrideFile.model_validate(data)
    except ValidationError as exc:
        raise CalendarError(f"{path}{_locate(exc, lines)}: {_describe(exc)}") from exc
    seen: dict[date, int] = {}
    for index, entry in enumerate(spec.dates):
        if entry.date in seen:
            raise CalendarError(
                f"{path}:{lines[index]}: {entry.date} appears twice (first at line "
                f"{lines[seen[entry.date]]}); keep one entry per date"
            )
        seen[entry.date] = index
    return spec, lines


_TOP_KEYS = "office_hours, agency_hours, dates"


def _entry_lines(root: Any) -> list[int]:
    """1-based line of each item of the top-level `dates` list, from the YAML node tree."""
    import yaml

    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "dates" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _locate(exc: ValidationError, lines: list[int]) -> str:
    """':<line>' of the first error if it is inside a `dates` entry, else ''."""
    loc = exc.errors()[0]["loc"]
    if len(loc) >= 2 and loc[0] == "dates" and isinstance(loc[1], int) and loc[1] < len(lines):
        return f":{lines[loc[1]]}"
    return ""


def _describe(exc: ValidationError) -> str:
    """One line per pydantic error: where in the file and what is wrong."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "file"
        what = err["msg"]
        if err["type"] == "extra_forbidden":
            what = "unknown key"
        got = repr(err.get("input"))
        parts.append(f"{where}: {what} (got {got[:80]})")
    return "; ".join(parts)
