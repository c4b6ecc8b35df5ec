"""`motcua inbox`: the dossiers waiting on an agency, a page at a time, overdue first.

A page is read from visibility alone, so it answers as fast for 100,000 open dossiers as for
ten; `--details` adds each listed dossier's open tasks (one query per dossier of the page).
"""

from __future__ import annotations

import argparse
import sys

from motcua import client
from motcua.commands.output import add_common, emit, shown, when

NOTE = (
    "note: the inbox reads Temporal's visibility, which is eventually consistent; "
    "a dossier submitted or moved a moment ago may not show yet."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "inbox", help="the dossiers waiting on an agency, a page at a time, overdue first"
    )
    parser.add_argument("--agency", required=True, metavar="CODE", help="national agency code")
    parser.add_argument("--role", help="only dossiers waiting on this role")
    parser.add_argument("--overdue", action="store_true", help="only overdue dossiers")
    parser.add_argument(
        "--page-size",
        type=int,
        default=client.DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"rows per page (default %(default)s, at most {client.MAX_PAGE_SIZE})",
    )
    parser.add_argument("--page", metavar="TOKEN", help="the next page, as the previous printed")
    parser.add_argument(
        "--details", action="store_true", help="also each dossier's open tasks (slower)"
    )
    add_common(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    async with client.session(args.address) as temporal:
        page = await client.inbox(
            temporal,
            args.agency,
            args.role,
            args.overdue,
            page_size=args.page_size,
            page=args.page,
            details=args.details,
        )
        print(NOTE, file=sys.stderr)
        emit(page, args.json, lambda: _text(page, args))
    return 0


def _text(page: client.InboxPage, args: argparse.Namespace) -> str:
    whose = page.agency + (f"/{page.role}" if page.role else "")
    if not page.rows:
        return f"no open tasks for {whose}" if page.first == 1 else "no more dossiers"
    table = [("DOSSIER", "PROCEDURE", "WAITING ON", "DUE", "OVERDUE", "STATUS")]
    table += [
        (
            r.dossier,
            r.procedure_code,
            shown(", ".join(r.waiting_on)),
            when(r.due_at),
            "OVERDUE" if r.overdue else "",
            client.STATUS_LABELS[r.status][1],
        )
        for r in page.rows
    ]
    widths = [max(len(line[c]) for line in table) for c in range(len(table[0]) - 1)]
    cells = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)) + "  " for line in table
    ]
    out = [cells[0] + table[0][-1]]
    for row, text, line in zip(page.rows, cells[1:], table[1:], strict=True):
        out.append(text + line[-1])
        out += [_task(t) for t in row.tasks or ()]
    if any(r.due_at is None and r.tasks is None for r in page.rows):
        out.append("\nDUE -: another agency also has a task open; --details gives this one's")
    last = page.first + len(page.rows) - 1
    out.append(
        f"\n{page.first}-{last} of {page.total:,} dossiers waiting on {whose} "
        f"({page.overdue:,} overdue); overdue first, by due instant within the page"
    )
    if page.next_page:
        out.append(f"next page: motcua inbox {_again(page, args)} --page {page.next_page}")
    return "\n".join(out)


def _again(page: client.InboxPage, args: argparse.Namespace) -> str:
    """The options that select this inbox again, for the next page's command."""
    flags = [f"--agency {page.agency}"]
    flags += [f"--role {page.role}"] if page.role else []
    flags += ["--overdue"] if page.overdue_only else []
    flags += [f"--page-size {args.page_size}"] if args.page_size != client.DEFAULT_PAGE_SIZE else []
    flags += ["--details"] if args.details else []
    return " ".join(flags)


def _task(t: client.InboxItem) -> str:
    """A task line under its dossier: step, title, who holds it, when it is due."""
    holder = f"{shown(t.role)} ({shown(t.assignee)})" if t.assignee else shown(t.role)
    late = ", OVERDUE" if t.overdue else ""
    due = f"due {when(t.due_at)}, {t.hours_left:g} h left{late}"
    if t.phase is not None:
        due += f"; phase {shown(t.phase)} due {when(t.phase_due_at)}"
    return f"    - {shown(t.step)}: {shown(t.title)} [{holder}] {due}"
