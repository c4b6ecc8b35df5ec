"""`motcua calendar`: show the working-day calendar, and publish a new one to running dossiers."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from motcua import calendar_broadcast, client
from motcua.commands.output import add_common, emit
from procedures.legaltime.calendar import CalendarError, WorkCalendar, load_calendar
from runtime.errors import UserError

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua calendar show` and `motcua calendar publish`."""
    parser = subparsers.add_parser(
        "calendar", help="the working-day calendar: show it, publish a new one"
    )
    sub = parser.add_subparsers(dest="calendar_command", required=True, metavar="ACTION")

    show = sub.add_parser("show", help="holidays and make-up working days of a year")
    show.add_argument("--year", type=int, default=date.today().year, help="default: this year")
    _overrides_option(show)
    show.set_defaults(handler=run_show)

    publish = sub.add_parser(
        "publish",
        help="send the calendar to every running dossier (batch signal)",
        description="Load the calendar (holidays package + override file) and send it to "
        "every running dossier with one batch signal selected by a visibility query; their "
        "due instants and timers follow. Waits for the batch job and reports the counts.",
    )
    _overrides_option(publish)
    publish.add_argument("--reason", default="new working-day calendar", help="batch reason")
    add_common(publish)
    publish.set_defaults(handler=run_publish)


def _overrides_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overrides",
        type=Path,
        metavar="FILE",
        help="override file (default: procedures/calendar/vn.yaml)",
    )


def _load(overrides: Path | None, year: int | None = None) -> WorkCalendar:
    try:
        if year is None:
            return load_calendar(overrides=overrides)
        return load_calendar(years=range(year, year + 1), overrides=overrides)
    except CalendarError as err:
        raise UserError(str(err)) from None


def run_show(args: argparse.Namespace) -> int:
    calendar = _load(args.overrides, args.year)
    off, make_up = calendar_broadcast.year_summary(calendar, args.year)
    print(f"calendar {calendar.version}, {args.year}")
    print("weekdays off (public holidays and swapped days):")
    print("\n".join(f"  {d.isoformat()} {_WEEKDAYS[d.weekday()]}" for d in off) or "  none")
    print("make-up working days (ngày làm bù):")
    print("\n".join(f"  {d.isoformat()} {_WEEKDAYS[d.weekday()]}" for d in make_up) or "  none")
    return 0


async def run_publish(args: argparse.Namespace) -> int:
    calendar = _load(args.overrides)
    async with client.session(args.address) as temporal:
        job_id = await calendar_broadcast.start_broadcast(temporal, calendar, args.reason)
        if not args.json:
            print(f"batch job {job_id}: sending calendar {calendar.version}", flush=True)
        result = await calendar_broadcast.wait_broadcast(temporal, job_id, calendar.version)
    emit(
        result,
        args.json,
        lambda: (
            f"{result.state}: {result.signalled} of {result.total} running dossier(s) "
            f"signalled" + (f", {result.failed} failed" if result.failed else "")
        ),
    )
    return 1 if result.failed or result.state != "completed" else 0
