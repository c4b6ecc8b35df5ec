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
from procedures.legaltime.calendar import TimeUnit, WorkCalendar
from procedures.legaltime.clock import deadline
from procedures.models import (
    CitizenStep,
    EndStep,
    FieldType,
    FormField,
    FrozenProcedure,
    RepeatStep,
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
STEP_TAKEN = frozenset(
    ("decided", "automatic", "chose", "handed_over", "waiting", "citizen_waiting")
)
"""Timeline entries that each mean one visit of a step (a wait is counted when it starts)."""
APPROVE = "approve"
"""The one decision on the apology letter (`TaskView.decisions` of step `apology`)."""
PAST = timedelta(minutes=1)
"""How far past a deadline time is skipped, so that the dossier's own timer has fired and an
action then is late: clocks count whole minutes (interpreter 5's `whole_minute_clock`)."""
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

    `decisions` picks a task's decision per visit, by step: the first for the first visit, the
    second for the second..., the last for every later visit (default: the first that does not
    end the dossier badly); `apology: (approve,)` has the head approve the apology letter, which
    is otherwise left unapproved so that lateness stays visible. Officers act on a `late` step
    only once its deadline has passed; with `no_event`, awaited events never come and the
    applicant never acts at a citizen step (else at once, with `fields` for that step). `fields`
    are the values officers enter at a step (by step, then field), over sample values for the
    required ones. At a `supplement` step the officer first asks for a supplement (once per
    dossier, as the law allows), and the applicant (`applicant_id`) brings it. With
    `max_visits`, a step taken more often than that ends the play (`TooManyVisits`): decisions
    that send a dossier round a loop for ever would otherwise run for ever.
    """

    decisions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    late: frozenset[str] = frozenset()
    no_event: bool = False
    max_visits: int | None = None
    supplement: frozenset[str] = frozenset()
    applicant_id: str = ""


DEFAULT_PLAN = Plan()


@dataclass(frozen=True)
class TimeSkip:
    """Moves a time-skipping server's clock to an instant, firing every timer on the way;
    `calendar` is the dossiers' own, to know when a wait times out."""

    calendar: WorkCalendar
    skip_to: Callable[[datetime], Awaitable[None]]


def _sample(spec: FormField, today: date | None = None) -> Any:
    """A plausible value an officer would type for a required field; a date is `today` (the
    dossier's day, default the real one)."""
    match spec.type:
        case FieldType.INTEGER:
            return 1
        case FieldType.NUMBER:
            return 1.0
        case FieldType.BOOLEAN:
            return True
        case FieldType.DATE:
            return (today or date.today()).isoformat()
        case FieldType.CHOICE:
            return spec.choices[0]
    return "DEMO-001"


def sample_fields(fields: Mapping[str, FormField], today: date | None = None) -> dict[str, Any]:
    """Plausible values for the required ones of `fields`, as a person would fill them in on
    `today` (default the real day)."""
    return {name: _sample(spec, today) for name, spec in fields.items() if spec.required}


def _decision(frozen: FrozenProcedure, state: DossierState, step_id: str, plan: Plan) -> str:
    """The decision planned for this visit of the step, else the first one that does not end
    the dossier badly."""
    step = frozen.procedure.steps[step_id]
    assert isinstance(step, TaskStep)
    planned = plan.decisions.get(step_id, ())
    if planned:
        decided = sum(1 for e in state.timeline if e.kind == "decided" and e.step == step_id)
        chosen = planned[min(decided, len(planned) - 1)]
        if chosen in step.decisions:
            return chosen
    for decision, target in step.decisions.items():
        end = frozen.procedure.steps[target]
        if not isinstance(end, EndStep) or end.result.value == "approved":
            return decision
    return next(iter(step.decisions))


async def _act_on(
    client: Client, frozen: FrozenProcedure, state: DossierState, plan: Plan, delivered: set[str]
) -> bool:
    """Take the first action the plan calls for now on one dossier; False if there is none.

    One action at a time: it may end the dossier or cancel a sibling branch's task, so the
    state is read again before the next. `delivered` holds the waits an event was delivered
    to: the timeline shows a wait until the dossier has moved on, which takes an activity (the
    portal status), and an event delivered twice is refused.
    """
    asked = {e.step for e in state.timeline if e.kind == "supplement_requested"}
    brought = {e.step for e in state.timeline if e.kind == "supplemented"}
    if asked - brought and not plan.no_event:  # the applicant brings what was asked for
        await ops.supplement(client, state.code, ["supplement"], applicant_id=plan.applicant_id)
        return True
    for task in state.tasks:
        if asked - brought:  # `no_event`: it never comes, and no task may be decided meanwhile
            break
        if task.status not in (TaskStatus.OPEN, TaskStatus.CLAIMED):
            continue
        if task.step in plan.late and not task.overdue:
            continue
        step = frozen.procedure.steps[task.step]
        assert isinstance(step, TaskStep)
        actor = Actor(user=f"demo.{task.role}", agency=task.agency, role=task.role)
        fields = sample_fields(step.fields) | dict(plan.fields.get(task.step, {}))
        if task.status is TaskStatus.OPEN:
            await ops.claim(client, state.code, task.step, actor)
        if task.step in plan.supplement and not asked:
            missing = ["Giấy tờ còn thiếu (chạy thử)"]
            await ops.request_supplement(client, state.code, task.step, actor, missing, "chạy thử")
            return True
        decision = _decision(frozen, state, task.step, plan)
        await ops.complete(client, state.code, task.step, actor, decision, fields)
        return True
    apology = state.apology
    if apology is not None and APPROVE in plan.decisions.get(APOLOGY_STEP, ()):
        actor = Actor(user=f"demo.{apology.role}", agency=apology.agency, role=apology.role)
        await ops.approve_apology(client, state.code, actor, "Hồ sơ giải quyết quá hạn")
        return True
    turn = _waiting(state, "citizen_waiting")
    visit = f"{state.code} {state.timeline.index(turn)}" if turn else ""
    if turn and turn.step is not None and visit not in delivered and not plan.no_event:
        step = frozen.procedure.steps[turn.step]
        assert isinstance(step, CitizenStep | RepeatStep)
        given = sample_fields(step.fields) | dict(plan.fields.get(turn.step, {}))
        await ops.act_as_applicant(
            client, state.code, turn.step, given, applicant_id=plan.applicant_id
        )
        delivered.add(visit)
        return True
    waiting = _waiting(state)
    visit = f"{state.code} {state.timeline.index(waiting)}" if waiting else ""
    if waiting and visit not in delivered and not plan.no_event:
        agency = frozen.procedure.agencies[frozen.procedure.receiving_agency]
        actor = Actor(user="demo.cashier", agency=agency.code, role="one_stop")
        await ops.deliver_event(client, state.code, waiting.detail, actor)
        delivered.add(visit)
        return True
    return False


def _waiting(state: DossierState, kind: str = "waiting") -> TimelineEntry | None:
    """The timeline entry of the wait the dossier is in, if it is waiting for an event (or,
    with `kind="citizen_waiting"`, for the applicant at a citizen step)."""
    pending: dict[str | None, TimelineEntry] = {}
    for entry in state.timeline:
        if entry.kind == kind:
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


def _wake_at(
    dossiers: Dossiers, plan: Plan, calendar: WorkCalendar, after: datetime | None = None
) -> datetime | None:
    """When skipping time moves the dossiers on: a late task's deadline, the timeout of a
    wait whose event never comes; and then, when the head is to approve the apology letter,
    no later than the instant it is asked for (a skip past it would leave the letter until
    the dossier is already overdue). Only instants later than `after`, the last skip's,
    count."""
    instants: list[datetime] = []
    apologies: list[datetime] = []
    for frozen, state in dossiers:
        if APPROVE in plan.decisions.get(APOLOGY_STEP, ()):
            apologies += filter(None, [_apology_at(frozen, state, calendar)])
        instants += [
            task.due_at + PAST
            for task in state.tasks
            if task.step in plan.late
            and task.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)
            and not task.overdue
            and not state.clock.suspended  # its due instant recedes while the clock stands
        ]
        # a repeat step between two periods: the next one opens then, whatever the plan
        instants += [r.opens_at for r in state.repetitions if r.opens_at and not r.awaiting]
        for kind in ("waiting", "citizen_waiting"):
            waiting = _waiting(state, kind) if plan.no_event else None
            if waiting is None or waiting.step is None:
                continue
            proc = frozen.procedure
            step = proc.steps[waiting.step]
            if isinstance(step, RepeatStep):  # the open period's end
                ends = state.repetitions
                instants += [r.due_at + PAST for r in ends if r.step == waiting.step and r.due_at]
                continue
            assert isinstance(step, WaitStep | CitizenStep)
            limit = step.timeout if isinstance(step, WaitStep) else step.deadline
            receiving = proc.agencies[proc.receiving_agency]
            hours = receiving.office_hours(calendar)
            instants.append(deadline(calendar, waiting.at, limit, hours) + PAST)
        asked = _supplement_asked(state) if plan.no_event else None
        policy = frozen.procedure.supplement
        if asked is not None and policy is not None:
            proc = frozen.procedure
            hours = proc.agencies[proc.receiving_agency].office_hours(calendar)
            instants.append(deadline(calendar, asked, policy.wait, hours) + PAST)
    if not instants:  # the apology only caps a skip something else calls for
        return None
    return min((at for at in instants + apologies if after is None or at > after), default=None)


def _supplement_asked(state: DossierState) -> datetime | None:
    """When the pending supplement was asked for; None when none is pending."""
    asked = [e for e in state.timeline if e.kind in ("supplement_requested", "supplemented")]
    last = asked[-1] if asked else None
    return last.at if last is not None and last.kind == "supplement_requested" else None


def _apology_at(
    frozen: FrozenProcedure, state: DossierState, calendar: WorkCalendar
) -> datetime | None:
    """When the dossier will ask its head for the apology letter: `before` ahead of the due
    instant, in the receiving agency's working time; None when it will not (no policy, no
    extension left, asked already, or the clock stands still)."""
    proc = frozen.procedure
    policy, clock = proc.apology, state.clock
    if policy is None or state.apology is not None or state.result is not None:
        return None
    if clock.suspended or clock.extensions >= proc.max_extensions:
        return None
    if policy.before.unit is TimeUnit.CALENDAR_DAYS:
        return clock.due_at - timedelta(days=policy.before.amount) + PAST
    hours = proc.agencies[proc.receiving_agency].office_hours(calendar)
    early, late = clock.due_at - timedelta(days=366), clock.due_at
    while late - early > PAST:  # the first start whose `before` reaches the due instant
        middle = early + (late - early) / 2
        if deadline(calendar, middle, policy.before, hours) < clock.due_at:
            early = middle
        else:
            late = middle
    return late + PAST


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


async def _act_on_any(client: Client, dossiers: Dossiers, plan: Plan, delivered: set[str]) -> bool:
    """The first action the plan calls for now, on the dossier or a sub-procedure's."""
    for frozen, state in dossiers:
        if await _act_on(client, frozen, state, plan, delivered):
            return True
    return False


def _check_visits(dossiers: Dossiers, budget: int | None) -> None:
    """Raise `TooManyVisits` when a step was taken more often than the budget allows."""
    if budget is None:
        return
    for frozen, state in dossiers:
        visits: dict[str, int] = {}
        for entry in state.timeline:
            if entry.kind in STEP_TAKEN and entry.step is not None:
                if isinstance(frozen.procedure.steps.get(entry.step), RepeatStep):
                    continue  # its periods are counted, and bounded, by the step itself
                visits[entry.step] = visits.get(entry.step, 0) + 1
                if visits[entry.step] > budget:
                    raise TooManyVisits(state.code, entry.step, budget)


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
    it), and so is one that takes no officer's action for that long (an update waits for a
    workflow task that keeps failing, e.g. on a template error in another branch); without,
    the demo and benchmarks spend no extra call per look on watching for it.
    """
    last_seen: list[int] | None = None
    skipped: datetime | None = None
    still_since = monotonic()
    codes = [code]
    delivered: set[str] = set()
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
        _check_visits(dossiers, plan.max_visits)
        acting = _act_on_any(client, dossiers, plan, delivered)
        try:
            acted = await (asyncio.wait_for(acting, patience) if patience else acting)
        except TimeoutError:  # an update no workflow task takes: one keeps failing
            raise DossierFailed(code, "stalled", await _trouble(client, codes)) from None
        if acted:
            last_seen = None
            continue
        seen: list[int] | None = [len(current.timeline) for _, current in dossiers]
        wake = _wake_at(dossiers, plan, time.calendar, skipped) if time else None
        if time and wake and seen == last_seen and await _idle(client, codes):
            await time.skip_to(wake)
            skipped = wake
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


class TooManyVisits(UserError):
    """A played dossier that goes round a loop: a step taken more often than the budget."""

    def __init__(self, code: str, step: str, budget: int) -> None:
        super().__init__(
            f"dossier {code}: step `{step}` taken more than {budget} times, so the run was "
            f"stopped; decisions per visit end a loop (--decide {step}=FIRST,SECOND,...)"
        )


async def _check_running(client: Client, codes: Sequence[str]) -> None:
    """Raise `DossierFailed` for a dossier whose workflow closed without a result.

    A completed one has its result: it finished between the look at its state and this
    check (an applicant's last report ends it at once), and the next look reads it."""
    for code in codes:
        described = await client.get_workflow_handle(code).describe()
        if described.status not in (
            WorkflowExecutionStatus.RUNNING,
            WorkflowExecutionStatus.COMPLETED,
        ):
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
