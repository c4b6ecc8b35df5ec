"""How officers, citizens and clients act on a running dossier: updates, queries, a signal.

`DossierWorkflow` inherits these. Each update's validator runs a rule of `workflows.rules`; a
rejection leaves no event in Temporal's history, so it is logged here (who, what, why) for
auditors, and it reaches officers using any client, Temporal's own CLI included. The helpers
kept here (timeline, search attributes) are those the handlers share with the interpreter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procedures.calendar import OfficeHours, WorkCalendar
    from procedures.models import Agency, FormKind, Procedure, ResultType, TaskStep
    from workflows import rules
    from workflows import search_attributes as sa
    from workflows.api import (
        APOLOGY_STEP,
        APPROVE_APOLOGY,
        CLAIM,
        COMPLETE,
        DELIVER_EVENT,
        PENDING_TASKS,
        REASSIGN,
        REQUEST_SUPPLEMENT,
        STATE,
        SUPPLEMENT,
        TIMELINE,
        UPDATE_CALENDAR,
        WITHDRAW,
        ApproveApology,
        ClaimTask,
        ClockView,
        CompleteTask,
        DeliverEvent,
        DocumentView,
        DossierInput,
        DossierState,
        ReassignTask,
        RequestSupplement,
        SupplementDossier,
        TaskStatus,
        TaskView,
        TimelineEntry,
        WithdrawDossier,
    )
    from workflows.clock import DossierClock, deadline
    from workflows.forms import local
    from workflows.logs import log
    from workflows.state import Event, Runtime, Supplement, Task

HALT_ENDS_WALK = "halt-ends-walk"
"""Patch id (interpreter 1 only): before it, only `run`'s cancellation ended the path of a
withdrawn dossier. Interpreter 2 always behaves as patched, without the marker."""


class Halt:
    """A dossier ended from outside its path: withdrawn, or stopped for want of a supplement."""

    def __init__(self, result: ResultType, reason: str, form: FormKind | None) -> None:
        self.result, self.reason, self.form = result, reason, form


class DossierHandlers:
    """The dossier's updates, queries and signal, over the state `DossierWorkflow` keeps."""

    _inp: DossierInput
    _proc: Procedure
    _cal: WorkCalendar
    _hours: OfficeHours
    _rt: Runtime
    _halt: Halt | None
    _halt_ends_walk: bool
    _ended: bool
    _epoch: int
    _waiting: set[str]
    _published: tuple[Any, ...] | None
    _lean: bool
    _flush_queued: bool
    _dues: dict[int, tuple[DossierClock, WorkCalendar, datetime]]

    def _halting(self) -> bool:
        return self._halt is not None and self._halt_ends_walk

    def _end(self, halt: Halt) -> None:
        """End the dossier from outside its path (withdrawn, or stopped)."""
        self._halt = halt
        self._halt_ends_walk = self._lean or workflow.patched(HALT_ENDS_WALK)

    def _event(
        self,
        kind: str,
        step: str | None = None,
        actor: str | None = None,
        detail: str = "",
        on_time: str | None = None,
    ) -> None:
        self._rt.timeline.append(
            Event(
                at=workflow.now(), kind=kind, step=step, actor=actor, detail=detail, on_time=on_time
            )
        )

    def _publish(self) -> None:
        """Upsert the search attributes when they change: codes and instants, no personal data.

        Interpreter 2 upserts at most once per workflow activation, after every coroutine that
        was ready has run: intermediate values within one workflow task are never visible to
        visibility anyway, and each upsert is one more history event.
        """
        if not self._lean:
            self._sync_attributes()
        elif not self._flush_queued:
            self._flush_queued = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_queued = False
        self._sync_attributes()

    def _sync_attributes(self) -> None:
        """Upsert the search attributes now if they differ from the last upsert."""
        open_tasks = self._rt.open_tasks()
        roles = {sa.pending_role(t.agency, t.role) for t in open_tasks}
        apology = self._rt.apology
        if apology is not None and apology.approved_by is None and self._proc.apology:
            roles.add(sa.pending_role(self._receiving().code, self._proc.apology.role))
        if self._ended:
            roles = set()
            open_tasks = []
        due = min((self._due_of(t.clock) for t in open_tasks), default=self._due())
        overdue = not self._ended and (
            any(t.overdue for t in open_tasks) or workflow.now() > self._due()
        )
        values = (
            self._rt.status.value,
            tuple(sorted({r.split("/")[0] for r in roles})),
            tuple(sorted(roles)),
            due,
            overdue,
        )
        if values == self._published:
            return
        self._published = values
        workflow.upsert_search_attributes(
            [
                sa.PROCEDURE_CODE.value_set(self._proc.code),
                sa.PORTAL_STATUS.value_set(values[0]),
                sa.PENDING_AGENCIES.value_set(list(values[1])),
                sa.PENDING_ROLES.value_set(list(values[2])),
                sa.NEXT_DUE_AT.value_set(due),
                sa.OVERDUE.value_set(overdue),
            ]
        )

    def _due(self) -> datetime:
        return self._due_of(self._rt.clock)

    def _due_of(self, clock: DossierClock) -> datetime:
        """`clock.due(calendar, now)`, memoised while the clock runs (then `now` plays no part).

        Clocks and calendars are immutable and replaced on every change, so the objects
        themselves are the key; a few dozen per dossier at most.
        """
        if clock.suspended:
            return clock.due(self._cal, workflow.now())
        hit = self._dues.get(id(clock))
        if hit is not None and hit[0] is clock and hit[1] is self._cal:
            return hit[2]
        if len(self._dues) >= 64:
            self._dues.clear()
        due = clock.due(self._cal, workflow.now())
        self._dues[id(clock)] = (clock, self._cal, due)
        return due

    def _receiving(self) -> Agency:
        return self._proc.agencies[self._proc.receiving_agency]

    # ------------------------------------------------------------------ updates

    def _check(self, what: str, actor: str, check: Callable[[], None]) -> None:
        """Run a validator's rule; log a rejection, which Temporal's history will not keep."""
        try:
            rules.check_active(self._rt, self._ended or self._halt is not None)
            check()
        except rules.Rejected as err:
            log("update_rejected", dossier=self._inp.code, who=actor, what=what, why=str(err))
            raise

    async def _opened(self, step: str) -> Task:
        """The open task of `step`, once the walk has opened it.

        The validator saw it open, but on replay the SDK may run the handler before the
        activity result that opened it (when both fell into one workflow task, as after a
        worker crash), so the handler waits for the walk to catch up instead of asserting.
        """
        await workflow.wait_condition(lambda: self._rt.open_task(step) is not None)
        task = self._rt.open_task(step)
        assert task is not None
        return task

    @workflow.update(name=CLAIM)
    async def claim(self, req: ClaimTask) -> str:
        task = await self._opened(req.step)
        task.status, task.assignee = TaskStatus.CLAIMED, req.actor.user
        self._event("claimed", req.step, str(req.actor))
        return f"{req.step} claimed by {req.actor.user}"

    @claim.validator
    def _validate_claim(self, req: ClaimTask) -> None:
        self._check(f"claim {req.step}", str(req.actor), lambda: rules.check_claim(self._rt, req))

    @workflow.update(name=COMPLETE)
    async def complete(self, req: CompleteTask) -> str:
        task = await self._opened(req.step)
        task.status, task.assignee = TaskStatus.DONE, req.actor.user
        task.decision, task.fields = req.decision, dict(req.fields)
        task.closed_at, task.closed_by = workflow.now(), str(req.actor)
        self._rt.decisions[req.step] = req.decision
        self._rt.fields[req.step] = dict(req.fields)
        return f"{req.step}: {req.decision}"

    @complete.validator
    def _validate_complete(self, req: CompleteTask) -> None:
        self._check(
            f"complete {req.step} with {req.decision}",
            str(req.actor),
            lambda: rules.check_complete(self._proc, self._rt, req),
        )

    @workflow.update(name=REASSIGN)
    async def reassign(self, req: ReassignTask) -> str:
        task = await self._opened(req.step)
        task.role = req.to_role or task.role
        task.assignee = req.to_user
        task.status = TaskStatus.CLAIMED if req.to_user else TaskStatus.OPEN
        target = f"{req.to_user or ''}@{task.agency}/{task.role}"
        self._event("reassigned", req.step, str(req.actor), f"to {target}")
        self._publish()
        return f"{req.step} reassigned to {target}"

    @reassign.validator
    def _validate_reassign(self, req: ReassignTask) -> None:
        self._check(
            f"reassign {req.step}",
            str(req.actor),
            lambda: rules.check_reassign(self._proc, self._rt, req),
        )

    @workflow.update(name=REQUEST_SUPPLEMENT)
    def request_supplement(self, req: RequestSupplement) -> str:
        self._rt.supplement = Supplement(
            step=req.step,
            requested_at=workflow.now(),
            requested_by=str(req.actor),
            missing=req.missing,
            reason=req.reason,
        )
        self._event("supplement_requested", req.step, str(req.actor), "; ".join(req.missing))
        return f"supplement requested: {'; '.join(req.missing)}"

    @request_supplement.validator
    def _validate_request_supplement(self, req: RequestSupplement) -> None:
        self._check(
            f"request supplement at {req.step}",
            str(req.actor),
            lambda: rules.check_request_supplement(self._proc, self._rt, req),
        )

    @workflow.update(name=SUPPLEMENT)
    def supplement(self, req: SupplementDossier) -> str:
        sup = self._rt.supplement
        assert sup is not None
        sup.received = req.documents
        self._event("supplemented", sup.step, "applicant", "; ".join(req.documents))
        return "supplement received"

    @supplement.validator
    def _validate_supplement(self, req: SupplementDossier) -> None:
        def check() -> None:
            rules.check_applicant(self._inp.applicant.id_number, req.applicant_id)
            rules.check_supplement(self._rt, req)

        self._check("supplement", "applicant", check)

    @workflow.update(name=WITHDRAW)
    def withdraw(self, req: WithdrawDossier) -> str:
        self._end(Halt(ResultType.WITHDRAWN, req.reason or "Công dân rút hồ sơ", None))
        self._event("withdrawn", actor="applicant", detail=req.reason)
        return "dossier withdrawn"

    @withdraw.validator
    def _validate_withdraw(self, req: WithdrawDossier) -> None:
        self._check(
            "withdraw",
            "applicant",
            lambda: rules.check_applicant(self._inp.applicant.id_number, req.applicant_id),
        )

    @workflow.update(name=DELIVER_EVENT)
    def deliver_event(self, req: DeliverEvent) -> str:
        self._rt.events[req.event] = dict(req.data)
        self._event("event", actor=str(req.actor), detail=req.event)
        return f"{req.event} recorded"

    @deliver_event.validator
    def _validate_deliver_event(self, req: DeliverEvent) -> None:
        self._check(
            f"deliver {req.event}", str(req.actor), lambda: rules.check_event(self._waiting, req)
        )

    @workflow.update(name=APPROVE_APOLOGY)
    def approve_apology(self, req: ApproveApology) -> str:
        policy = self._proc.apology
        apology = self._rt.apology
        assert policy is not None and apology is not None
        apology.approved_by, apology.reason = str(req.actor), req.reason
        self._rt.clock = self._rt.clock.extend(workflow.now(), policy.extension, req.reason)
        self._epoch += 1
        self._event(
            "extended", actor=str(req.actor), detail=f"{req.reason}; due {local(self._due())}"
        )
        self._publish()
        return f"new appointment date {local(self._due())}"

    @approve_apology.validator
    def _validate_approve_apology(self, req: ApproveApology) -> None:
        self._check(
            "approve apology",
            str(req.actor),
            lambda: rules.check_apology(self._proc, self._rt, req),
        )

    @workflow.signal(name=UPDATE_CALENDAR)
    def update_calendar(self, calendar: WorkCalendar) -> None:
        """A newer calendar (an extra Tết day...): every due instant is derived again.

        One that cannot count this dossier (years not covered) is refused, not adopted: a
        clock error in a signal handler would fail every workflow task and wedge the dossier.
        """
        if calendar.version == self._cal.version:
            return
        now = workflow.now()
        try:
            for clock in (self._rt.clock, *(t.clock for t in self._rt.open_tasks())):
                clock.due(calendar, now)
            sup, policy = self._rt.supplement, self._proc.supplement
            if sup is not None and sup.received is None and policy is not None:
                deadline(calendar, sup.requested_at, policy.wait, self._hours)
        except ValueError as err:  # ClockError: the calendar does not cover the dossier
            self._event("calendar_refused", detail=f"{calendar.version}: {err}")
            log("calendar_refused", dossier=self._inp.code, version=calendar.version, why=str(err))
            return
        self._cal = calendar
        self._epoch += 1
        self._event("calendar_changed", detail=f"{calendar.version}; due {local(self._due())}")
        self._publish()

    # ------------------------------------------------------------------ query

    @workflow.query(name=STATE)
    def state(self) -> DossierState:
        now = workflow.now()
        clock = self._rt.clock
        return DossierState(
            code=self._inp.code,
            procedure_code=self._proc.code,
            procedure_name=self._proc.name,
            content_hash=self._inp.procedure.content_hash,
            status=self._rt.status,
            result=self._rt.result,
            tasks=tuple(self._task_view(t, now) for t in self._rt.tasks),
            timeline=self.timeline(),
            documents=tuple(DocumentView(**d.model_dump()) for d in self._rt.documents),
            clock=ClockView(
                received_at=self._inp.received_at,
                due_at=self._due(),
                used_minutes=clock.used(self._cal, now),
                remaining_minutes=clock.remaining(self._cal, now),
                suspended=clock.suspended,
                extensions=clock.extensions,
                status=clock.status(self._cal, now).value,
            ),
            calendar_version=self._cal.version,
            apology=self._apology_view(now),
        )

    def _apology_view(self, now: datetime) -> TaskView | None:
        """The pending apology letter as a task of the receiving agency's head."""
        apology, policy = self._rt.apology, self._proc.apology
        if apology is None or apology.approved_by is not None or policy is None:
            return None
        agency = self._receiving()
        due = self._due()
        return TaskView(
            step=APOLOGY_STEP,
            title=self._proc.forms[FormKind.APOLOGY].title,
            agency=agency.code,
            agency_name=agency.name,
            role=policy.role,
            status=TaskStatus.OPEN,
            opened_at=apology.opened_at,
            due_at=due,
            overdue=now > due,
            remaining_minutes=self._rt.clock.remaining(self._cal, now),
            decisions=("approve",),
        )

    @workflow.query(name=PENDING_TASKS)
    def pending_tasks(self) -> tuple[TaskView, ...]:
        """The open tasks only: what an inbox row needs, without the timeline."""
        now = workflow.now()
        return tuple(self._task_view(t, now) for t in self._rt.open_tasks())

    @workflow.query(name=TIMELINE)
    def timeline(self) -> tuple[TimelineEntry, ...]:
        return tuple(TimelineEntry(**e.model_dump()) for e in self._rt.timeline)

    def _task_view(self, task: Task, now: datetime) -> TaskView:
        step = self._proc.steps[task.step]
        assert isinstance(step, TaskStep)
        due = task.clock.due(self._cal, task.closed_at or now)
        return TaskView(
            step=task.step,
            title=task.title,
            agency=task.agency,
            agency_name=task.agency_name,
            role=task.role,
            status=task.status,
            assignee=task.assignee,
            opened_at=task.opened_at,
            due_at=due,
            overdue=task.overdue or (task.closed_at is None and now > due),
            remaining_minutes=task.clock.remaining(self._cal, now),
            decision=task.decision,
            decisions=tuple(step.decisions),
            supplement_allowed=step.supplement_allowed,
        )
