"""`motcua dryrun PATH`: run one dossier of a procedure file for real, and report it.

For procedure authors, before a file reaches the catalogue: the path walked, the clocks, the
forms and the notices, on Temporal's time-skipping server (see `motcua.dryrun`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.exceptions import TemporalError

from motcua.commands import options
from motcua.commands.files import json_object
from motcua.commands.validate import located
from motcua.dryrun import (
    MAX_VISITS,
    DossierRun,
    DryRun,
    channel_for,
    dry_run,
    plan_for,
    time_skipping_server,
)
from procedures.errors import ProcedureError
from procedures.fields import application_problems
from procedures.loader import load_procedure
from procedures.models import FrozenProcedure
from runtime import logs
from runtime.errors import UserError
from workflows.api import PhaseView
from workflows.forms import VIETNAM, local

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `dryrun`."""
    parser = subparsers.add_parser(
        "dryrun",
        help="run one dossier of a procedure file end to end, in seconds, and report it",
        description="Check a procedure file, then run one dossier of it for real on "
        "Temporal's time-skipping test server with the production worker: officers act at "
        "once with the first decision that does not end the dossier badly, events arrive. "
        "Print the path walked, the timeline, the legal clock, portal statuses, documents "
        "and notifications. The applicant is made up.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="procedure file (YAML)")
    parser.add_argument(
        "--decide",
        action="append",
        default=[],
        type=_pair,
        metavar="STEP=DECISION[,DECISION...]",
        help="the decision to take at a task step, one per visit, the last for any later visit "
        "(e.g. endorse=return_for_rework,sign; repeatable); `apology=approve` has the head "
        "approve the apology letter, which is otherwise left unapproved",
    )
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        type=_field,
        metavar="STEP.FIELD=VALUE",
        dest="fields",
        help="a value an officer enters at a task (repeatable), e.g. "
        "review.refusal_reason='Ngành nghề bị cấm'; JSON scalars such as 3 or true are typed",
    )
    parser.add_argument(
        "--supplement",
        action="append",
        default=[],
        metavar="STEP",
        help="the officer at this task asks for a supplement first, and the applicant brings "
        "it (repeatable; once per dossier, as the law allows): the clock stops meanwhile",
    )
    parser.add_argument(
        "--max-visits",
        type=int,
        default=MAX_VISITS,
        metavar="N",
        help=f"stop the run when a step is taken more than N times (default {MAX_VISITS})",
    )
    parser.add_argument("--form", type=Path, metavar="FILE.json", help="form data (JSON object)")
    parser.add_argument(
        "--channel",
        type=options.channel,
        metavar="CHANNEL",
        help=f"submission channel: {options.CHANNEL_CHOICES} (default: the procedure's first)",
    )
    parser.add_argument(
        "--late",
        action="append",
        default=[],
        metavar="STEP",
        help="the officer acts on this task only after its deadline (repeatable): reminders, "
        "escalation and the apology request happen on the way",
    )
    parser.add_argument(
        "--no-event", action="store_true", help="awaited events never come: waits time out"
    )
    parser.add_argument(
        "--received",
        type=_instant,
        metavar="ISO-DATETIME",
        help="receive at this instant (local time unless an offset is given), now or later, "
        "e.g. 2027-02-04T16:00 for the week before Tết",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="keep forms and outboxes in DIR (new or empty)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=run)


def _field(text: str) -> tuple[str, Any]:
    """`STEP.FIELD=VALUE`, the value a JSON scalar where it parses (`3`, `true`), else text."""
    name, sep, raw = text.partition("=")
    if not (sep and name):
        raise argparse.ArgumentTypeError(f"expected STEP.FIELD=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        return name, raw
    return name, value if isinstance(value, str | int | float | bool) else raw


def _pair(text: str) -> str:
    step, sep, decision = text.partition("=")
    if not (step and sep and decision):
        raise argparse.ArgumentTypeError(f"expected STEP=DECISION, got {text!r}")
    return text


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=VIETNAM)


async def run(args: argparse.Namespace) -> int:
    """Check the file and the options first; only then start a server, and always stop it."""
    frozen = _load(args.path)
    plan = plan_for(
        frozen,
        args.decide,
        args.late,
        args.no_event,
        args.max_visits,
        args.fields,
        args.supplement,
    )
    form = _form(args.form, frozen) if args.form else None
    channel = channel_for(frozen, args.channel)
    out = _out(args.out) if args.out else None
    logs.set_level("ERROR")  # the report says what matters; a failure ends it in one line
    with _interrupted_as_keyboard(), tempfile.TemporaryDirectory(prefix="motcua-") as temporary:
        async with time_skipping_server() as env:
            try:
                result = await dry_run(
                    env,
                    frozen,
                    out or Path(temporary),
                    plan,
                    channel=channel,
                    form=form,
                    received=args.received,
                    keep=out is not None,
                )
            except TemporalError as err:  # whatever the scenario, one line, never a traceback
                cause = getattr(err, "cause", None)
                raise UserError(f"the dry run stopped: {cause or err}") from None
    print(result.model_dump_json(indent=2) if args.json else report(result))
    return 0


@contextlib.contextmanager
def _interrupted_as_keyboard() -> Iterator[None]:
    """Ctrl-C (or SIGTERM) cancels the run, so that every `finally` stops what it started (the
    test server would otherwise outlive the command), and then ends it as an interrupt (exit
    status 130), whatever error the cancelled call was turned into: temporalio reports a
    cancelled update as an error of its own."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, interrupt)
    try:
        yield
    except BaseException:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def _load(path: Path) -> FrozenProcedure:
    """The procedure, or its problems printed as `motcua validate` prints them."""
    if not path.is_file():
        raise UserError(f"no such file: {path}", 2)
    try:
        return load_procedure(path)
    except ProcedureError as err:
        problems = located(err.problems)
        for problem in problems:
            print(problem, file=sys.stderr)
        plural = "s" if len(problems) != 1 else ""
        raise UserError(f"{path}: {len(problems)} problem{plural}; nothing was run") from None


def _form(path: Path, frozen: FrozenProcedure) -> dict[str, Any]:
    """The form data as given, refused as a real submission would refuse it: nothing is
    invented for a missing required field once the author gives a form."""
    form = json_object(path, "form file", exit_code=1)
    declared = frozen.procedure.application
    problems = application_problems(declared, form) if declared else []
    if problems:
        raise UserError(
            f"form file {path}: {'; '.join(problems)} (a submission would be refused)", 2
        )
    return form


def _out(path: Path) -> Path:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"--out {path}: not an empty folder (outboxes would mix runs)", 2)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------------ text output


def report(result: DryRun) -> str:
    """The dry run for people: each dossier (the submitted one, then sub-procedures')."""
    parts = [f"Dry run of {result.source}"]
    parts += [_dossier(run, result.data_dir) for run in result.dossiers]
    if result.data_dir:
        parts.append(f"Forms and outboxes are in {result.data_dir}.")
    else:
        parts.append("Forms and outboxes were in a temporary folder: --out DIR keeps them.")
    return "\n\n".join(parts)


def _phase_line(phase: PhaseView, run: DossierRun) -> str:
    """One run of a phase: `decision (Quyết định): 20 working days from …, due …, late`; a
    restart of the dossier's limit while it ran counts it anew too, which its line says."""
    visit = f" #{phase.visit}" if phase.visit > 1 else ""
    words = f"{phase.limit.amount:g} {str(phase.limit.unit).replace('_', ' ')}"
    ended = f", ended {local(phase.finished_at)}" if phase.finished_at else ""
    anew = (
        f" (counted anew from {local(run.counted_from)})"
        if run.restarted_at is not None
        and run.counted_from is not None
        and phase.started_at < run.restarted_at
        and (phase.finished_at is None or run.restarted_at <= phase.finished_at)
        else ""
    )
    return (
        f"{phase.phase}{visit} ({phase.title}): {words} from {local(phase.started_at)} "
        f"[{phase.step}]{anew}, due {local(phase.due_at)}{ended}, "
        f"{phase.status.replace('_', ' ')}"
        + (" OVERDUE" if phase.overdue and not phase.finished_at else "")
    )


def _dossier(run: DossierRun, data_dir: str | None) -> str:
    result = run.result.value if run.result else "running"
    clock = (
        f"  legal clock: received {local(run.received_at)}, due {local(run.due_at)}"
        + (f" ({run.extensions} extension)" if run.extensions else "")
        + f", finished {local(run.finished_at)}; {run.working_days_used:g} working days used"
        f" of {run.time_limit}"
        + (f" (counted anew from {local(run.counted_from)})" if run.counted_from else "")
        if run.received
        else f"  legal clock: never received (submitted {local(run.received_at)}, ended "
        f"{local(run.finished_at)} before receipt); no receipt, no clock"
    )
    lines = [
        f"Dossier {run.code} — {run.procedure_code} {run.procedure_name}",
        f"  result: {result}" + (f", {run.on_time.replace('_', ' ')}" if run.received else ""),
        clock,
    ]
    lines += [f"  phase {_phase_line(p, run)}" for p in run.phases]
    lines.append("  path:")
    steps = max((len(taken.step) for taken in run.path), default=0)
    outcomes = max((len(taken.outcome) for taken in run.path), default=0)
    for taken in run.path:
        cells = [local(taken.at), taken.step.ljust(steps), taken.outcome.ljust(outcomes)]
        cells += [f"by {taken.by}"] if taken.by else []
        cells += [taken.on_time.replace("_", " ")] if taken.on_time else []
        lines.append("    " + "  ".join(cells).rstrip())
    statuses = " → ".join(f"{s.value} {s.name.lower()}" for s in run.portal_statuses)
    lines += [f"  portal statuses: {statuses}", "  timeline:"]
    for entry in run.timeline:
        step = f" [{entry.step}]" if entry.step else ""
        who = f" by {entry.actor}" if entry.actor else ""
        lines.append(f"    {local(entry.at)}  {entry.kind}{step}{who} {entry.detail}".rstrip())
    folder = Path(data_dir) if data_dir else Path()
    lines.append("  documents:")
    lines += [f"    {doc.title}: {folder / doc.path}" for doc in run.documents]
    lines.append("  notifications:")
    lines += [
        f"    {local(n.at)}  {n.channel}  {n.subject}"
        + (f" ({len(n.documents)} attached)" if n.documents else "")
        for n in run.notifications
    ]
    lines.append("  officers told:" + ("" if run.officer_notices else " none"))
    lines += [
        f"    {local(n.at)}  {n.kind.value} [{n.step}] to {n.agency}/{n.role}"
        + (f" at {n.share:.0%}" if n.share is not None else "")
        for n in run.officer_notices
    ]
    return "\n".join(lines)
