"""`motcua show`: a dossier in full, for officers: tasks, timeline, documents and clock."""

from __future__ import annotations

import argparse

from motcua import client
from motcua.commands.output import add_common, emit, hours, shown, when
from procedures.legaltime.clock import SUSPENSION_WORDS, SuspendReason
from workflows.api import DossierState, RepetitionView, TimelineEntry


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("show", help="a dossier's timeline, documents and clock")
    parser.add_argument("dossier", metavar="DOSSIER", help="dossier code")
    add_common(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    async with client.session(args.address) as temporal:
        state = await client.show(temporal, args.dossier)
        emit(state, args.json, lambda: render(state))
    return 0


def render(state: DossierState) -> str:
    """Sections in the order an officer reads them: what, when due, who has it, what happened."""
    clock = state.clock
    vi, en = client.STATUS_LABELS[state.status]
    lines = [
        f"{state.code}  {state.procedure_code} {shown(state.procedure_name)}",
        f"status {state.status.value} {vi} / {en}"
        + (f"  result {state.result.value}" if state.result else ""),
        f"clock  received {when(clock.received_at)}  due {when(clock.due_at)}  "
        f"used {hours(clock.used_minutes)}  remaining {hours(clock.remaining_minutes)}  "
        f"{clock.status}" + ("  SUSPENDED" if clock.suspended else ""),
        f"       extensions {clock.extensions}  calendar {state.calendar_version}",
    ]
    lines += [f"       suspended {span}" for span in _suspensions(state.timeline)]
    if clock.restarted_at is not None:
        lines.append(
            f"       restarted {when(clock.restarted_at)}"
            + (f", counted from {when(clock.counted_from)}" if clock.counted_from else "")
            + f": {shown(clock.restart_reason or '')}"
        )
    if state.phases:
        lines.append("phases")
        lines += [
            f"  {shown(p.phase) + (f' #{p.visit}' if p.visit > 1 else ''):<22} "
            f"from {when(p.started_at)}  due {when(p.due_at)}  "
            + (f"ended {when(p.finished_at)}  " if p.finished_at else "")
            + f"{p.status}"
            + ("  SUSPENDED" if p.suspended and not p.finished_at else "")
            + ("  OVERDUE" if p.overdue else "")
            for p in state.phases
        ]
    lines.append("tasks")
    lines += [
        f"  {shown(t.step):<22} {t.status.value:<9} {shown(t.agency)}/{shown(t.role)}"
        + (f" ({shown(t.assignee)})" if t.assignee else "")
        + f"  due {when(t.due_at)}"
        + (f"  -> {shown(t.decision)}" if t.decision else "")
        + ("  OVERDUE" if t.overdue else "")
        for t in state.tasks
    ] or ["  none"]
    if state.repetitions:
        lines.append("repeats")
        lines += [_repetition(r) for r in state.repetitions]
    lines.append("timeline")
    lines += [
        f"  {when(e.at)}  {e.kind:<18} {shown(e.step or ''):<20} {shown(e.detail)}"
        + (f" [{e.on_time}]" if e.on_time else "")
        + (f"  by {shown(e.actor)}" if e.actor else "")
        for e in state.timeline
    ]
    lines.append("documents")
    lines += [
        f"  {when(d.issued_at)}  {shown(d.title)}  {shown(d.path)}" for d in state.documents
    ] or ["  none"]
    return "\n".join(line.rstrip() for line in lines)


def _why(reason: str) -> str:
    """A suspension's reason with its words: `citizen_appointment: chờ người yêu cầu …`."""
    if reason in set(SuspendReason):
        return f"{reason}: {SUSPENSION_WORDS[SuspendReason(reason)][0]}"
    return shown(reason)


def _suspensions(timeline: tuple[TimelineEntry, ...]) -> list[str]:
    """Each suspension of the clock, from its timeline entries: `from -> to (reason)`."""
    spans: list[str] = []
    opened: TimelineEntry | None = None
    for entry in timeline:
        if entry.kind == "suspended":
            opened = entry
        elif entry.kind == "resumed" and opened is not None:
            spans.append(f"{when(opened.at)} -> {when(entry.at)} ({_why(opened.detail)})")
            opened = None
    if opened is not None:
        spans.append(f"{when(opened.at)} -> now ({_why(opened.detail)})")
    return spans


def _repetition(run: RepetitionView) -> str:
    """A repeat step's count: `report 4 of 6, due …  reported 3, missed 1 (1 in a row)`."""
    if run.finished:
        where = f"finished after report {run.number} of {run.times}"
    elif run.awaiting and run.due_at is not None:
        where = f"report {run.number} of {run.times} due {when(run.due_at)}"
    elif run.opens_at is not None:
        where = f"report {run.number + 1} of {run.times} opens {when(run.opens_at)}"
    else:
        where = f"report {run.number} of {run.times}"
    return (
        f"  {shown(run.step):<22} {where}  reported {run.reported}, missed {run.missed} "
        f"({run.missed_in_row} in a row)"
    )
