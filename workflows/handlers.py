"""How officers, citizens and clients act on a running dossier: updates, queries, a signal.

`workflows.dossier.DossierWorkflow` declares them to Temporal and hands each to these methods
(each update's validator to its `validate_` method); the state they act on is
`workflows.core.DossierCore`'s.
Each update's validator runs a rule of `workflows.rules`; a rejection leaves no event in
Temporal's history, so it is logged (`DossierCore._check`: who, what, why) for auditors, and it
reaches officers using any client, Temporal's own CLI included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from workflows.core import DossierCore, Halt, recorded

with workflow.unsafe.imports_passed_through():
    # full name: passed through, not imported again for every run (see workflows/core.py)
    import workflows.rules as rules
    import workflows.views as views
    from procedures.legaltime.calendar import WorkCalendar
    from procedures.legaltime.clock import deadline
    from procedures.models import ResultType
    from procedures.text import escape
    from workflows.api import (
        APOLOGY_STEP,
        APPROVE_APOLOGY,
        CITIZEN_ACT,
        CLAIM,
        COMPLETE,
        DELIVER_EVENT,
        PROOF_FAILED,
        REASSIGN,
        REQUEST_SUPPLEMENT,
        SUPPLEMENT,
        WITHDRAW,
        ApproveApology,
        CitizenAct,
        ClaimTask,
        ClockView,
        CompleteTask,
        DeliverEvent,
        DossierState,
        ReassignTask,
        RequestSupplement,
        SupplementDossier,
        TaskStatus,
        TaskView,
        TimelineEntry,
        WithdrawDossier,
    )
    from workflows.forms import local
    from workflows.logs import log
    from workflows.proof import MAX_FAILURES
    from workflows.state import Supplement


class DossierHandlers(DossierCore):
    """The dossier's updates (and their validators), queries and signal."""

    async def claim(self, *raw: Any) -> str:
        req = recorded(ClaimTask, raw)
        task = await self._opened(req.step)
        task.status, task.assignee = TaskStatus.CLAIMED, req.actor.acting_for or req.actor.user
        self._event("claimed", req.step, str(req.actor))
        return f"{req.step} claimed by {req.actor.user}"

    def validate_claim(self, *raw: Any) -> None:
        req = self._take(ClaimTask, raw, CLAIM)
        self._check_officer(
            f"claim {req.step}",
            req.actor,
            req.assertion,
            req.step,
            lambda: rules.check_claim(self._rt, req),
        )

    async def complete(self, *raw: Any) -> str:
        req = recorded(CompleteTask, raw)
        task = await self._opened(req.step)
        task.status, task.assignee = TaskStatus.DONE, req.actor.acting_for or req.actor.user
        task.decision, task.fields = req.decision, dict(req.fields)
        task.closed_at, task.closed_by = workflow.now(), str(req.actor)
        self._rt.decisions[req.step] = req.decision
        self._rt.fields[req.step] = dict(req.fields)
        return f"{req.step}: {req.decision}"

    def validate_complete(self, *raw: Any) -> None:
        req = self._take(CompleteTask, raw, COMPLETE)
        self._check_officer(
            f"complete {req.step} with {req.decision}",
            req.actor,
            req.assertion,
            req.step,
            lambda: rules.check_complete(self._proc, self._rt, req),
        )

    async def reassign(self, *raw: Any) -> str:
        req = recorded(ReassignTask, raw)
        task = await self._opened(req.step)
        task.role = req.to_role or task.role
        task.assignee = req.to_user
        task.status = TaskStatus.CLAIMED if req.to_user else TaskStatus.OPEN
        target = f"{req.to_user or ''}@{task.agency}/{task.role}"
        why = f": {req.reason}" if req.reason and self._has("reasoned_reassignment") else ""
        self._event("reassigned", req.step, str(req.actor), f"to {target}{why}")
        self._publish()
        return f"{req.step} reassigned to {target}"

    def validate_reassign(self, *raw: Any) -> None:
        req = self._take(ReassignTask, raw, REASSIGN)
        self._check_officer(
            f"reassign {req.step}",
            req.actor,
            req.assertion,
            req.step,
            lambda: rules.check_reassign(self._proc, self._rt, req),
        )

    def request_supplement(self, *raw: Any) -> str:
        req = recorded(RequestSupplement, raw)
        self._rt.supplement = Supplement(
            step=req.step,
            requested_at=workflow.now(),
            requested_by=str(req.actor),
            missing=req.missing,
            reason=req.reason,
        )
        self._event("supplement_requested", req.step, str(req.actor), "; ".join(req.missing))
        return f"supplement requested: {'; '.join(req.missing)}"

    def validate_request_supplement(self, *raw: Any) -> None:
        req = self._take(RequestSupplement, raw, REQUEST_SUPPLEMENT)
        self._check_officer(
            f"request supplement at {req.step}",
            req.actor,
            req.assertion,
            req.step,
            lambda: rules.check_request_supplement(self._proc, self._rt, req),
        )

    def supplement(self, *raw: Any) -> str:
        req = recorded(SupplementDossier, raw)
        self._prove(req.applicant_id, "supplement")
        sup = self._rt.supplement
        assert sup is not None
        sup.received = req.documents
        self._event("supplemented", sup.step, "applicant", "; ".join(req.documents))
        return "supplement received"

    def validate_supplement(self, *raw: Any) -> None:
        req = self._take(SupplementDossier, raw, SUPPLEMENT)

        def check() -> None:
            self._check_proof(req.applicant_id)
            rules.check_supplement(self._rt, req)

        self._check("supplement", "applicant", check)

    def withdraw(self, *raw: Any) -> str:
        req = recorded(WithdrawDossier, raw)
        self._prove(req.applicant_id, "withdraw")
        self._end(Halt(ResultType.WITHDRAWN, req.reason or "Công dân rút hồ sơ", None))
        self._event("withdrawn", actor="applicant", detail=req.reason)
        return "dossier withdrawn"

    def validate_withdraw(self, *raw: Any) -> None:
        req = self._take(WithdrawDossier, raw, WITHDRAW)
        self._check("withdraw", "applicant", lambda: self._check_proof(req.applicant_id))

    def deliver_event(self, *raw: Any) -> str:
        req = recorded(DeliverEvent, raw)
        self._rt.events[req.event] = dict(req.data)
        self._event("event", actor=str(req.actor), detail=req.event)
        return f"{req.event} recorded"

    def validate_deliver_event(self, *raw: Any) -> None:
        req = self._take(DeliverEvent, raw, DELIVER_EVENT)
        self._check_officer(
            f"deliver {req.event}",
            req.actor,
            req.assertion,
            None,
            lambda: rules.check_event(self._waiting, req, self._proc, self._repetitions),
        )

    def citizen_act(self, *raw: Any) -> str:
        req = recorded(CitizenAct, raw)
        self._rt.fields[req.step] = dict(req.fields)
        self._acted.add(req.step)
        self._event("citizen_acted", req.step, "applicant")
        return f"{req.step}: done"

    def validate_citizen_act(self, *raw: Any) -> None:
        req = self._take(CitizenAct, raw, CITIZEN_ACT)
        self._check(
            f"act at {req.step}",
            "applicant",
            lambda: rules.check_citizen_act(
                self._proc, self._awaiting, self._inp.applicant.id_number, req, self._repetitions
            ),
        )

    def approve_apology(self, *raw: Any) -> str:
        req = recorded(ApproveApology, raw)
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

    def validate_approve_apology(self, *raw: Any) -> None:
        req = self._take(ApproveApology, raw, APPROVE_APOLOGY)
        self._check_officer(
            "approve apology",
            req.actor,
            req.assertion,
            APOLOGY_STEP,
            lambda: rules.check_apology(self._proc, self._rt, req),
        )

    def _check_proof(self, given: str | None) -> None:
        """The validator's part of the applicant's proof: before `proof_attempts`, the number
        itself; from it, only the lock (the number is checked by the handler, which history
        records, so that wrong ones can be counted)."""
        if self._has("proof_attempts"):
            rules.check_unlocked(self._rt.proof, workflow.now())
        else:
            rules.check_applicant(self._inp.applicant.id_number, given)

    def _prove(self, given: str | None, what: str) -> None:
        """With `proof_attempts`, the applicant's number, counted: a wrong one is recorded in
        the timeline (and the fifth in a row locks) and fails the update."""
        if not self._has("proof_attempts"):
            return
        try:
            rules.check_applicant(self._inp.applicant.id_number, given)
        except rules.Rejected as err:
            proof, now = self._rt.proof, workflow.now()
            if proof.fail(now):
                kind, detail = "proof_locked", f"locked until {local(proof.locked_until)}"
            else:
                kind, detail = "proof_failed", f"attempt {proof.failures} of {MAX_FAILURES}"
            self._event(kind, actor="applicant", detail=f"{what}: {detail}")
            log(kind, dossier=self._inp.code, what=what, why=f"{err}; {detail}")
            raise ApplicationError(
                f"{err} ({detail})", type=PROOF_FAILED, non_retryable=True
            ) from None
        self._rt.proof.succeed()

    def unknown_update(self, name: str, args: Sequence[RawValue]) -> str:
        """Never runs: its validator refuses every update name the dossier does not have."""
        raise rules.Rejected(f"no update named {name!r}")

    def validate_unknown_update(self, name: str, args: Sequence[RawValue]) -> None:
        self._refuse(name, "unknown", f"no update named {escape(name, 64)!r}")

    def update_calendar(self, calendar: WorkCalendar) -> None:
        """A newer calendar (an extra Tết day...): every due instant is derived again.

        One that cannot count this dossier (years not covered) is refused, not adopted: a
        clock error in a signal handler would fail every workflow task and wedge the dossier.
        """
        if calendar.version == self._cal.version:
            return
        now = workflow.now()
        try:
            running = (r.clock for r in self._rt.phases if r.running)
            for clock in (self._rt.clock, *(t.clock for t in self._rt.open_tasks()), *running):
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

    def state(self) -> DossierState:
        now = workflow.now()
        clock = self._rt.clock
        restarted = clock.restarted
        return DossierState(
            code=self._inp.code,
            procedure_code=self._proc.code,
            procedure_name=self._proc.name,
            content_hash=self._inp.procedure.content_hash,
            status=self._rt.status,
            result=self._rt.result,
            tasks=tuple(views.task(self._proc, self._cal, t, now) for t in self._rt.tasks),
            timeline=self.timeline(),
            documents=tuple(self._rt.documents),
            clock=ClockView(
                received_at=self._received_at(),
                due_at=self._due(),
                used_minutes=clock.used(self._cal, now),
                remaining_minutes=clock.remaining(self._cal, now),
                suspended=clock.suspended,
                extensions=clock.extensions,
                status=clock.status(self._cal, now).value,
                limit=clock.budget,
                restarted_at=restarted.at if restarted else None,
                restart_reason=restarted.reason if restarted else None,
                counted_from=clock.counting_start(self._cal) if restarted else None,
            ),
            calendar_version=self._cal.version,
            phases=tuple(views.phase(self._proc, self._cal, r, now) for r in self._rt.phases),
            apology=views.apology(
                self._proc, self._rt, self._cal, self._receiving(), self._due(), now
            ),
            repetitions=tuple(r.view() for r in self._repetitions.values()),
        )

    def pending_tasks(self) -> tuple[TaskView, ...]:
        """The open tasks only: what an inbox row needs, without the timeline."""
        now = workflow.now()
        return tuple(views.task(self._proc, self._cal, t, now) for t in self._rt.open_tasks())

    def timeline(self) -> tuple[TimelineEntry, ...]:
        return tuple(self._rt.timeline)
