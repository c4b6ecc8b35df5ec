"""`motcua inbox`: an agency's open tasks across dossiers, overdue first."""

from __future__ import annotations

import argparse
import sys

from motcua import client
from motcua.commands.output import add_common, emit, when

NOTE = (
    "note: the inbox reads Temporal's visibility, which is eventually consistent; "
    "a dossier submitted or moved a moment ago may not show yet."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("inbox", help="an agency's open tasks, overdue first")
    parser.add_argument("--agency", required=True, metavar="CODE", help="national agency code")
    parser.add_argument("--role", help="only tasks for this role")
    parser.add_argument("--overdue", action="store_true", help="only overdue tasks")
    add_common(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    async with client.session(args.address) as temporal:
        items = await client.inbox(temporal, args.agency, args.role, args.overdue)
        print(NOTE, file=sys.stderr)
        emit(items, args.json, lambda: _table(items))
    return 0


def _table(items: list[client.InboxItem]) -> str:
    if not items:
        return "no open tasks"
    rows = [("DOSSIER", "PROCEDURE", "STEP", "ROLE", "DUE", "HOURS LEFT", "OVERDUE", "TITLE")]
    rows += [
        (
            i.dossier,
            i.procedure_code,
            i.step,
            i.role + (f" ({i.assignee})" if i.assignee else ""),
            when(i.due_at),
            f"{i.hours_left:g}",
            "OVERDUE" if i.overdue else "",
            i.title,
        )
        for i in items
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    )
