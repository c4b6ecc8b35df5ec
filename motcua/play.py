"""Officers played by a script, for the demo, the dry run and the benchmarks.

They act through the same client operations a person uses (claim, then complete with a
decision and the required fields; events delivered; sub-procedure dossiers played too), so
what is played is the real workflow, its validators, activities and documents. A `Plan` says
where they differ from the default, and a `TimeSkip` lets late officers and missing events
happen in seconds on Temporal's time-skipping server (`motcua dryrun`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from time import monotonic
from typing import Any

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowExecutionStatus

from motcua import client as ops
from procedures.legaltime.calendar import WorkCalendar
from procedures.legaltime.clock import deadline
from procedures.models import (
    EndStep,
    FieldType,
    FormField,
    FrozenProcedure,
    TaskStep,
    WaitStep,
)
from runtime.errors import UserError
from workflows.api import (
    APOLOGY_STEP,
    Actor,
    DossierState,
    TaskStatus,
    TimelineEntry,
)

POLL_SECONDS = 0.2
APPROVE = "approve"
"""The one decision on the apology letter (`TaskView.decisions` of step `apology`)."""
PAST = timedelta(seconds=1)
"""How far past a deadline time is skipped, so that the dossier's own timer has fired."""
FAILURES = (
    "workflow_execution_failed_event_attributes",
    "workflow_task_failed_event_attributes",
    "activity_task_failed_event_attributes",
)
"""History events that record a failure, for telling why a dossier failed or stalled."""
Dossiers = list[tuple[FrozenProcedure, DossierState]]
"""A running dossier and its running sub-procedure dossiers, each with its procedure."""


@dataclass(frozen=True)
class Plan:
    """How the played officers behave, where it differs from the default.

    `decisions` picks a task's decision by step (default: the first that does not end the
    dossier badly); `apology: approve` has the head approve the apology letter, which is
    otherwise left unapproved so that lateness stays visible. Officers act on a `late` step only
    once its deadline has passed; with `no_event`, awaited events never come.
    """

    decisions: Mapping[str, str] = field(default_factory=dict)
    late: frozenset[str] = frozenset()
    no_event: bool = False


DEFAULT_PLAN = Plan()


@dataclass(frozen=True)
class TimeSkip:
    """Moves a time-skipping server's clock to an instant, firing every timer on the way;
    `calendar` is the dossiers' own, to know when a wait times out."""

    calendar: WorkCalendar
    skip_to: Callable[[datetime], Awaitable[None]]


def _sample(spec: FormField) -> Any:
    """A plausible value an officer would type for a required field."""
    match spec.type:
        case FieldType.INTEGER:
            return 1
        case FieldType.NUMBER:
            return 1.0
        case FieldType.BOOLEAN:
            return True
        case FieldType.DATE:
            return date.today().isoformat()
        case FieldType.CHOICE:
            return spec.choices[0]
    return "DEMO-001"


def sample_fields(fields: Mapping[str, FormField]) -> dict[str, Any]:
    """Plausible values for the required ones of `fields`, as a person would fill them in."""
    return {name: _sample(spec) for name, spec in fields.items() if spec.required}


def _decision(frozen: FrozenProcedure, step_id: str, plan: Plan) -> str:
    """The planned decision, else the first one that does not end the dossier badly."""
    step = frozen.procedure.steps[step_id]
    assert isinstance(step, TaskStep)
    if plan.decisions.get(step_id) in step.decisions:
        return plan.decisions[step_id]
    for decision, target in step.decisions.items():
        end = frozen.procedure.steps[target]
        if not isinstance(end, EndStep) or end.result.value == "approved":
            return decision
    return next(iter(step.decisions))


async def _act_on(client: Client, frozen: FrozenProcedure, state: DossierState, plan: Plan) -> bool:
    """Take the first action the plan calls for now on one dossier; False if there is none.

    One action at a time: it may end the dossier or cancel a sibling branch's task, so the
    state is read again before the next.
    """
    for task in state.tasks:
        if task.status not in (TaskStatus.OPEN, TaskStatus.CLAIMED):
            continue
        if task.step in plan.late and not task.overdue:
            continue
        step = frozen.procedure.steps[task.step]
        assert isinstance(step, TaskStep)
        actor = Actor(user=f"demo.{task.role}", agency=task.agency, role=task.role)
        fields = sample_fields(step.fields)
        if task.status is TaskStatus.OPEN:
            await ops.claim(client, state.code, task.step, actor)
        await ops.complete(
            client, state.code, task.step, actor, _decision(frozen, task.step, plan), fields
        )
        return True
    apology = state.apology
    if apology is not None and plan.decisions.get(APOLOGY_STEP) == APPROVE:
        actor = Actor(user=f"demo.{apology.role}", agency=apology.agency, role=apology.role)
        await ops.approve_apology(client, state.code, actor, "Hồ sơ giải quyết quá hạn")
        return True
    waiting = awaited(state)
    if waiting and not plan.no_event:
        agency = frozen.procedure.agencies[frozen.procedure.receiving_agency]
        actor = Actor(user="demo.cashier", agency=agency.code, role="one_stop")
        await ops.deliver_event(client, state.code, waiting, actor)
        return True
    return False


def _waiting(state: DossierState) -> TimelineEntry | None:
    """The timeline entry of the wait the dossier is in, if it is waiting for an event."""
    pending: dict[str | None, TimelineEntry] = {}
    for entry in state.timeline:
        if entry.kind == "waiting":
            pending[entry.step] = entry
        elif entry.kind in ("arrived", "timed_out"):
            pending.pop(entry.step, None)
    return next(iter(pending.values()), None)


def awaited(state: DossierState) -> str | None:
    """The event a wait step is waiting for, read from the timeline."""
    entry = _waiting(state)
    return entry.detail if entry else None


def handed_over(state: DossierState) -> dict[str, bool]:
    """Codes of the dossier's sub-procedure dossiers, from the timeline: returned or not."""
    visits: dict[str, int] = {}
    codes: dict[str, bool] = {}
    for entry in state.timeline:
        if entry.step is None or entry.kind not in ("handed_over", "returned"):
            continue
        if entry.kind == "handed_over":
            visits[entry.step] = visits.get(entry.step, 0) + 1
        visit = visits.get(entry.step, 1)
        code = f"{state.code}.{entry.step}" + (f".{visit}" if visit > 1 else "")
        codes[code] = entry.kind == "returned"
    return codes


def children(state: DossierState) -> list[str]:
    """Codes of sub-procedure dossiers still running, from the timeline."""
    return [code for code, returned in handed_over(state).items() if not returned]


async def _running(client: Client, frozen: FrozenProcedure, state: DossierState) -> Dossiers | None:
    """The dossier and its running sub-procedure dossiers, nested ones too; None while one
    that was handed over has not started yet."""
    found = [(frozen, state)]
    for child in children(state):
        try:
            child_state = await ops.show(client, child)
        except ops.DossierNotFound:  # handed over, but not started yet
            return None
        if child_state.result is None:
            sub = frozen.subprocedures[child_state.procedure_code]
            nested = await _running(client, sub, child_state)
            if nested is None:
                return None
            found += nested
    return found


def _wake_at(dossiers: Dossiers, plan: Plan, calendar: WorkCalendar) -> datetime | None:
    """When skipping time moves the dossiers on: a late task's deadline, or the timeout of a
    wait whose event never comes."""
    instants = []
    for frozen, state in dossiers:
        instants += [
            task.due_at + PAST
            for task in state.tasks
            if task.step in plan.late
            and task.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)
            and not task.overdue
            and not state.clock.suspended  # its due instant recedes while the clock stands
        ]
        waiting = _waiting(state) if plan.no_event else None
        if waiting is not None and waiting.step is not None:
            proc = frozen.procedure
            step = proc.steps[waiting.step]
            assert isinstance(step, WaitStep)
            receiving = proc.agencies[proc.receiving_agency]
            hours = receiving.office_hours(calendar)
            instants.append(deadline(calendar, waiting.at, step.timeout, hours) + PAST)
    return min(instants, default=None)


async def _idle(client: Client, codes: Sequence[str]) -> bool:
    """No activity in flight: a form, notice or portal record the walk still waits for."""
    for code in codes:
        described = await client.get_workflow_handle(code).describe()
        if described.raw_description.pending_activities:
            return False
    return True


async def _closed(client: Client, code: str) -> None:
    """Until the workflow has completed, read from its description: unlike awaiting its
    result, this never lets a time-skipping server skip ahead."""
    handle = client.get_workflow_handle(code)
    while (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
        await asyncio.sleep(POLL_SECONDS)


async def _act_on_any(client: Client, dossiers: Dossiers, plan: Plan) -> bool:
    """The first action the plan calls for now, on the dossier or a sub-procedure's."""
    for frozen, state in dossiers:
        if await _act_on(client, frozen, state, plan):
            return True
    return False


async def play(
    client: Client,
    code: str,
    frozen: FrozenProcedure,
    plan: Plan = DEFAULT_PLAN,
    time: TimeSkip | None = None,
    patience: float | None = None,
) -> DossierState:
    """Act as the officers of every agency until the dossier ends.

    With `time`, when nobody is to act before a late step's deadline or a wait's timeout, and
    the dossiers stood still since the last look, the server's clock is moved there. With
    `patience`, a dossier that closes without a result (a form that cannot be rendered, an
    unmapped sub-procedure result) is a `DossierFailed`, and so is one where nothing is to be
    done and nothing changes for that many seconds (a failing workflow task or activity holds
    it); without, the demo and benchmarks spend no extra call per look on watching for it.
    """
    last_seen: list[int] | None = None
    still_since = monotonic()
    codes = [code]
    while True:
        try:
            state = await ops.show(client, code)
            dossiers = await _running(client, frozen, state) if state.result is None else None
        except (ops.NoWorker, ops.NotReady):  # a workflow task keeps failing: no query runs
            if patience is None:
                raise
            raise DossierFailed(code, "stalled", await _trouble(client, codes)) from None
        if state.result is not None:
            await _closed(client, code)
            return state
        if dossiers is None:  # a sub-procedure is starting
            await asyncio.sleep(POLL_SECONDS)
            continue
        codes = [current.code for _, current in dossiers]
        if patience is not None:
            await _check_running(client, codes)
        if await _act_on_any(client, dossiers, plan):
            last_seen = None
            continue
        seen: list[int] | None = [len(current.timeline) for _, current in dossiers]
        wake = _wake_at(dossiers, plan, time.calendar) if time else None
        if time and wake and seen == last_seen and await _idle(client, codes):
            await time.skip_to(wake)
            seen = None  # two looks again before the next skip
        if seen != last_seen:
            still_since = monotonic()
        elif patience is not None and monotonic() - still_since > patience:
            raise DossierFailed(code, "stalled", await _trouble(client, codes))
        last_seen = seen
        await asyncio.sleep(POLL_SECONDS)


class DossierFailed(UserError):
    """A played dossier that can never end: the workflow failed or stands stuck."""

    def __init__(self, code: str, how: str, reason: str) -> None:
        super().__init__(f"dossier {code} {how}: {reason}")


async def _check_running(client: Client, codes: Sequence[str]) -> None:
    """Raise `DossierFailed` for a dossier whose workflow closed without a result."""
    for code in codes:
        described = await client.get_workflow_handle(code).describe()
        if described.status is not WorkflowExecutionStatus.RUNNING:
            status = described.status.name.lower() if described.status else "closed"
            raise DossierFailed(code, status, await _trouble(client, [code]))


async def _trouble(client: Client, codes: Sequence[str]) -> str:
    """The last failure recorded for the dossiers: a failing activity still retried, else the
    latest failure in a history (the workflow's, a workflow task's or an activity's)."""
    for code in codes:
        handle = client.get_workflow_handle(code)
        for pending in (await handle.describe()).raw_description.pending_activities:
            if pending.HasField("last_failure"):
                return _root_cause(pending.last_failure)
        for event in reversed((await handle.fetch_history()).events):
            kind = event.WhichOneof("attributes")
            if kind in FAILURES:
                return _root_cause(getattr(event, kind).failure)
    return "no failure recorded; its history shows where it waits"


def _root_cause(failure: Failure) -> str:
    """The first error raised by code in a failure's chain, past Temporal's wrappers ("Activity
    task failed", "Child Workflow execution failed")."""
    while not failure.HasField("application_failure_info") and failure.HasField("cause"):
        failure = failure.cause
    kind = failure.application_failure_info.type
    return f"{kind}: {failure.message}" if kind else failure.message
