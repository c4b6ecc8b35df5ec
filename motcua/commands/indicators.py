"""`motcua indicators`: Decision 766 indicators and the periodic one-stop report.

Counted from the dossiers' search attributes (docs/indicators.md); `--xlsx` writes the report
as agencies file it, `--officers` adds per-officer figures of one agency for its head.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from activities import DATA_DIR
from motcua import client
from motcua.commands.output import add_common
from motcua.indicators import export, feedback, figures, portal
from motcua.indicators.queries import Scope
from motcua.indicators.scoring import score
from procedures.errors import ProcedureError
from procedures.loader import DEFAULT_CATALOG, load_catalog
from runtime.errors import UserError
from workflows.forms import VIETNAM

MAX_PERIOD = timedelta(days=3660)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "indicators", help="service indicators (Decision 766) and the one-stop report"
    )
    add_common(parser)
    parser.add_argument(
        "--from", dest="start", help="first day, YYYY-MM-DD (default: 1st of month)"
    )
    parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument("--agency", help="receiving agency code")
    parser.add_argument("--procedure", help="procedure code")
    parser.add_argument("--sector", help="sector (lĩnh vực), as the procedures name it")
    parser.add_argument("--by", choices=("agency", "procedure"), default="agency")
    parser.add_argument(
        "--catalog", type=Path, default=DEFAULT_CATALOG, help="catalogue folder (the groups)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR,
        help="the worker's data folder, whose portal outbox gives the portal synchronisation "
        "(default: $MOTCUA_DATA or .data)",
    )
    parser.add_argument("--csv", action="store_true", help="print CSV")
    parser.add_argument("--xlsx", type=Path, metavar="FILE", help="write the report as Excel")
    parser.add_argument(
        "--officers", action="store_true", help="per-officer figures of --agency (for its head)"
    )
    parser.add_argument(
        "--no-average",
        action="store_true",
        help="skip the average processing time (the one figure that lists dossiers)",
    )
    parser.set_defaults(handler=run)


def _day(text: str, option: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise UserError(f"{option} {text!r}: expected YYYY-MM-DD") from None
    return datetime.combine(day, time(), VIETNAM).astimezone(UTC)


def scope_of(args: argparse.Namespace, now: datetime) -> Scope:
    """The period in Vietnam's days: from the first day's midnight to after the last day."""
    local = now.astimezone(VIETNAM)
    start = _day(args.start, "--from") if args.start else _day(f"{local:%Y-%m}-01", "--from")
    end = _day(args.end, "--to") + timedelta(days=1) if args.end else now
    if end <= start or end - start > MAX_PERIOD:
        raise UserError("--to must be on or after --from, within ten years")
    return Scope(start, end, args.agency, args.procedure, args.sector)


async def run(args: argparse.Namespace) -> int:
    scope = scope_of(args, datetime.now(UTC))
    if args.officers and not args.agency:
        raise UserError("--officers needs --agency")
    try:
        procedures = [f.procedure for f in load_catalog(args.catalog).values()]
    except ProcedureError as err:
        first = str(err).splitlines()[0] if str(err) else "unreadable"
        raise UserError(f"cannot load the catalogue {args.catalog}: {first}") from None
    others, channels = feedback.split(procedures)
    async with client.session(args.address) as temporal:
        if args.officers:  # dossiers of the catalogue, its feedback left out
            mine = replace(scope, catalogue=tuple(sorted(p.code for p in others)))
            people = await figures.officers(temporal, mine, args.agency)
            if args.json:
                print("[" + ",".join(p.model_dump_json() for p in people) + "]")
            else:
                print(f"{'officer':<40} {'decided':>8} {'ended late':>10}")
                for p in people:
                    print(f"{p.officer:<40} {p.decided:>8} {p.ended_late:>10}")
            return 0
        rows = await figures.table(
            temporal,
            scope,
            others,
            by=args.by,
            average=not args.no_average,
            portal_feed=portal.feed_of(args.data),
        )
        rows = await feedback.add(temporal, rows, scope, channels)
    if args.xlsx:
        try:
            export.workbook(rows, args.xlsx)
        except OSError as err:
            raise UserError(f"cannot write {args.xlsx}: {err.strerror}") from None
    if args.json:
        print("[" + ",".join(_json(r) for r in rows) + "]")
    elif args.csv:
        print(export.csv_text(rows), end="")
    elif not args.xlsx:
        print(export.text(rows))
    return 0


def _json(row: figures.Row) -> str:
    data = row.model_dump(mode="json")
    data["rates"] = row.rates()
    data["score"] = [s.model_dump() for s in score(row)]
    return json.dumps(data, ensure_ascii=False)
