"""The dossier workflow: one generic interpreter that runs every procedure of the catalogue.

It walks the frozen procedure's graph from `start` to an end step; the legal clock
(`procedures.legaltime.clock`) runs over the whole dossier and over each task's share, and the
deadlines it derives wake the dossier for reminders, escalations and the apology letter
(`workflows.watchers`). Everything with a side effect (forms, notifications, the portal feed)
is an activity (`workflows.effects`). How officers and citizens act on it (updates, queries,
the calendar signal) is in `workflows.handlers`; the state all of them share is
`workflows.core`'s. What a dossier's interpreter version does is read by name from
`workflows.behaviours`.
"""

# No `from __future__ import annotations` here: the SDK reads the handlers' type hints each time
# the sandbox imports this module (every run, every replay), and would compile and evaluate
# string annotations again each time.
import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from workflows.clockrules import DossierClockRules
from workflows.handlers import DossierHandlers
from workflows.prepayment import DossierPrepayment
from workflows.repeats import DossierRepeats
from workflows.watchers import HOLD_STATUS

with workflow.unsafe.imports_passed_through():
    # full name: passed through, not imported again for every run (see workflows/core.py)
    import workflows.legacy_v1 as legacy_v1
    import workflows.metrics as metrics
    from activities.payloads import AutoStepInput, AutoStepResult, PublishedQuery
    from procedures.integrity import genuine
    from procedures.legaltime.calendar import TimeLimit, WorkCalendar
    from procedures.legaltime.clock import DossierClock, SuspendReason, deadline
    from procedures.models import (
        AutoStep,
        ChoiceStep,
        CitizenStep,
        EndStep,
        FormKind,
        ParallelStep,
        RepeatStep,
        ResultType,
        Step,
        SubprocedureStep,
        TaskStep,
        WaitStep,
    )
    from procedures.templates import Refused, amount_of, evaluate
    from workflows.api import (
        APPROVE_APOLOGY,
        CITIZEN_ACT,
        CLAIM,
        COMPLETE,
        DELIVER_EVENT,
        DOSSIER_WORKFLOW,
        PENDING_TASKS,
        REASSIGN,
        REQUEST_SUPPLEMENT,
        STATE,
        SUPPLEMENT,
        TIMELINE,
        UPDATE_CALENDAR,
        WITHDRAW,
        DossierInput,
        DossierOutcome,
        DossierState,
        PortalStatus,
        TaskStatus,
        TaskView,
        TimelineEntry,
    )
    from workflows.core import Halt
    from workflows.effects import ACTIVITY_TIMEOUT
    from workflows.forms import VIETNAM, handovers, limit_words, local, vnd
    from workflows.logs import log
    from workflows.state import Task

RESULT_WORDS = {
    ResultType.APPROVED: "đã giải quyết xong",
    ResultType.REFUSED: "từ chối giải quyết",
    ResultType.WITHDRAWN: "đã rút hồ sơ",
    ResultType.STOPPED: "dừng xử lý",
}
"""A result as the applicant's notice says it (`vietnamese_end_notice`)."""
_END_STATUS = {
    ResultType.APPROVED: PortalStatus.RETURNED,
    ResultType.REFUSED: PortalStatus.REFUSED,
    ResultType.WITHDRAWN: PortalStatus.WITHDRAWN,
    ResultType.STOPPED: PortalStatus.STOPPED,
}


class _ContinueAsNew:
    def __init__(self, step: str) -> None:
        self.step = step


_Reached = tuple[str, EndStep] | _ContinueAsNew | None

UNATTENDED_VISITS = 50
"""Steps a dossier may visit in a row with no human task, wait or sub-procedure between them,
beyond twice its procedure's step count (`stops_runaway`): a walk without a loop visits each
step at most once between two stops, so only a loop nothing can stop goes past it."""


def _stopped(reason: str) -> EndStep:
    """The end of a runaway dossier: stopped, with why and where (`stops_runaway`)."""
    return EndStep(kind="end", result=ResultType.STOPPED, title=reason, form=FormKind.STOP_NOTICE)


class DossierInterpreter(DossierPrepayment, DossierRepeats, DossierClockRules, DossierHandlers):
    """One run of a dossier: what `DossierWorkflow` hands its run, updates, queries and signal."""

    # ------------------------------------------------------------------ run

    async def run(self, inp: DossierInput) -> DossierOutcome:
        if inp.carried is None and self._has("published_only") and not await self._is_published():
            return self._unpublished()
        if inp.carried is None and not self._awaits_payment(self._proc.start):
            await self._receive()  # else once paid (`pays_before_receipt`)
        watchers = []
        if self._has("one_dossier_timer"):  # never cancelled: its timer dies with the workflow
            self._watcher = asyncio.create_task(self._watch_dossier())
            self._watch_phases()  # a phase carried over continue-as-new
        else:
            watchers = legacy_v1.start_watchers(self)
        walk = asyncio.create_task(self._walk(self._rt.resume_at or self._first_step()))
        await workflow.wait_condition(lambda: walk.done() or self._halt is not None)
        for watcher in watchers:
            watcher.cancel()
        if not walk.done():
            walk.cancel()
            await workflow.wait([walk])
        if self._halt is not None and not walk.cancelled():
            # The path ended by cancellation: an activity it was awaiting reports
            # "Activity cancelled", which is expected here and must not surface as unhandled.
            walk.exception()
        reached = walk.result() if self._halt is None else None
        if isinstance(reached, _ContinueAsNew):
            await workflow.wait_condition(workflow.all_handlers_finished)
            self._rt.resume_at = reached.step
            if self._has("coalesced_upserts"):
                self._sync_attributes()  # a queued upsert may not follow continue-as-new
            update = {
                "calendar": self._cal,
                "carried": self._rt.model_dump(mode="json"),
                "interpreter": inp.interpreter_version(),  # kept for the dossier's whole life
            }
            workflow.continue_as_new(inp.model_copy(update=update))
        if self._halt is not None:
            return await self._finish(self._halt.result, self._halt.reason, self._halt.form)
        assert reached is not None
        step_id, end = reached
        return await self._finish(end.result, self._reason(step_id, end), end.form)

    async def _walk(self, step_id: str, until: str | None = None) -> _Reached:
        """Follow the graph from `step_id` until `until` (a parallel's join) or an end."""
        while step_id != until:
            self._check_halt()
            if until is None and self._should_continue_as_new():
                return _ContinueAsNew(step_id)
            step = self._proc.steps[step_id]
            self._rt.visits[step_id] = self._rt.visits.get(step_id, 0) + 1
            self._enter_phase(step_id)
            if self._has("stops_runaway"):
                runaway = self._runaway(step_id, step)
                if runaway is not None:
                    return step_id, runaway
            try:
                following = await self._step(step_id, step)
            except Refused as err:
                if not self._has("stops_runaway"):
                    raise
                return step_id, _stopped(str(err))
            if isinstance(following, tuple):
                return following
            step_id = following
        return None

    async def _step(self, step_id: str, step: Step) -> str | tuple[str, EndStep]:
        """Run one step: the next step's id, or the end reached."""
        match step:
            case EndStep():
                return step_id, step
            case TaskStep():
                return step.decisions[await self._task(step_id, step)]
            case AutoStep():
                await self._auto(step_id, step)
                return step.next
            case ChoiceStep():
                return self._choose(step_id, step)
            case ParallelStep():
                ended = await self._parallel(step_id, step)
                return ended if isinstance(ended, tuple) else step.next  # branches never CAN
            case SubprocedureStep():
                return await self._subprocedure(step_id, step)
            case WaitStep():
                return await self._wait(step_id, step)
            case CitizenStep() if self._awaits_payment(step_id):
                amounts = self._amounts(step_id, step) if step.amounts else self._fees_due()
                if not await self._prepay(step_id, step, amounts):
                    return step.on_timeout
                await self._receive()
                return step.next
            case CitizenStep():
                return await self._citizen(step_id, step)
            case RepeatStep():
                return await self._repeat(step_id, step)
        raise TypeError(f"step {step_id!r} of unknown kind {step.kind!r}")

    def _runaway(self, step_id: str, step: Step) -> EndStep | None:
        """The stop of a dossier going round a loop nothing stops (`stops_runaway`), else None.

        Counts the visits since the last human task, wait or sub-procedure, for the whole
        dossier (its parallel branches together); not carried over continue-as-new, which
        only shortens how far a runaway goes.
        """
        if isinstance(step, TaskStep | WaitStep | CitizenStep | RepeatStep | SubprocedureStep):
            self._unattended = 0
            return None
        self._unattended += 1
        budget = UNATTENDED_VISITS + 2 * len(self._proc.steps)
        if self._unattended <= budget:
            return None
        return _stopped(
            f"steps.{step_id}: {budget} steps in a row with no human task or wait; "
            "the procedure loops without end"
        )

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._inp.history_limit
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() > limit
        )

    # ------------------------------------------------------------------ receipt and end

    async def _is_published(self) -> bool:
        """Whether the worker's published catalogue lists this procedure version on the day of
        receipt: asked once, first, and recorded in history, so replay reads the answer. A
        procedure whose content does not give the hash it carries is not asked about."""
        frozen = self._inp.procedure
        if not genuine(frozen):
            return False
        query = PublishedQuery(
            code=self._proc.code,
            content_hash=frozen.content_hash,
            day=self._inp.received_at.astimezone(VIETNAM).date(),
        )
        published: bool = await workflow.execute_local_activity(
            "is_published", query, start_to_close_timeout=ACTIVITY_TIMEOUT, result_type=bool
        )
        return published

    def _unpublished(self) -> DossierOutcome:
        """End a dossier of an unpublished procedure as stopped, before any side effect: no
        receipt, notification, document or portal record."""
        now = workflow.now()
        content_hash = self._inp.procedure.content_hash
        reason = f"procedure {self._proc.code} version {content_hash[:12]} is not published"
        self._ended = True
        self._rt.clock = self._rt.clock.finish(now)
        self._rt.status, self._rt.result = PortalStatus.STOPPED, ResultType.STOPPED
        self._event("unpublished", detail=reason)
        log(
            "procedure_unpublished",
            dossier=self._inp.code,
            procedure=self._proc.code,
            content_hash=content_hash,
        )
        self._sync_attributes()
        return DossierOutcome(
            code=self._inp.code,
            result=ResultType.STOPPED,
            status=PortalStatus.STOPPED,
            finished_at=now,
            on_time=self._rt.clock.status(self._cal).value,
        )

    async def _receive(self) -> None:
        if self._inp.channel.value == "online" and self._rt.received_at is None:
            await self._set_status(PortalStatus.REGISTERED, "Hồ sơ đăng ký trực tuyến")
        self._event("received", detail=f"channel {self._inp.channel.value}")
        metrics.dossier_started(self._proc.code)
        await self._set_status(PortalStatus.RECEIVED, "Tiếp nhận hồ sơ")
        documents = [
            {"name": d.name, "copies": d.copies}
            for d in self._proc.documents
            if d.id in self._inp.documents
        ]
        doc = await self._render(FormKind.RECEIPT, {"documents": documents})
        await self._notify(
            f"Hồ sơ {self._inp.code} đã được tiếp nhận",
            f"Ngày hẹn trả kết quả: {local(self._due())}.",
            doc,
        )

    def _reason(self, step_id: str, end: EndStep) -> str:
        """Why the dossier ends, for the applicant: the end step's `reason` (a template: what an
        officer entered), else its title, else the result in words (the step id before
        `vietnamese_end_notice`)."""
        if end.reason is not None:
            reason = str(self._template(end.reason, f"step `{step_id}` reason")).strip()
            if reason:
                return reason
        if end.title:
            return end.title
        return RESULT_WORDS[end.result] if self._has("vietnamese_end_notice") else step_id

    async def _finish(
        self, result: ResultType, reason: str, form: FormKind | None
    ) -> DossierOutcome:
        now = workflow.now()
        self._ended = True
        self._rt.clock = self._rt.clock.finish(now)
        self._end_phases()
        on_time = self._rt.clock.status(self._cal).value
        self._event("ended", detail=f"{result.value}: {reason}", on_time=on_time)
        metrics.dossier_finished(self._proc.code, result.value, on_time)
        documents = []
        if form is not None and form in self._proc.forms:
            details: dict[str, Any] = {"reason": reason, "result": result.value}
            details["documents"] = [{"name": r.name} for r in self._proc.results]
            documents.append(await self._render(form, details))
        if FormKind.CONTROL_SLIP in self._proc.forms:
            rows = handovers(self._rt, self._cal)
            documents.append(await self._render(FormKind.CONTROL_SLIP, {"handovers": rows}))
        if result is ResultType.APPROVED:
            await self._set_status(PortalStatus.FINISHED, "Đã giải quyết xong")
        await self._set_status(_END_STATUS[result], reason)
        said = RESULT_WORDS[result] if self._has("vietnamese_end_notice") else result.value
        await self._notify(f"Hồ sơ {self._inp.code}: {said}", reason, *documents)
        self._rt.result = result  # last, so a query never shows a result without its documents
        self._sync_attributes()  # now: nothing may follow the completion command
        return DossierOutcome(
            code=self._inp.code,
            result=result,
            status=self._rt.status,
            finished_at=now,
            on_time=on_time,
        )

    # ------------------------------------------------------------------ step kinds

    async def _task(self, step_id: str, step: TaskStep) -> str:
        agency = self._proc.agencies[step.agency]
        now = workflow.now()
        share = TimeLimit(amount=step.share, unit=self._proc.time_limit.unit)
        hours = agency.office_hours(self._cal)
        whole = self._has("whole_minute_clock")
        clock = DossierClock(budget=share, max_extensions=0, hours=hours, whole_minutes=whole)
        clock = clock.start(now)
        if self._holds:
            clock = clock.suspend(now, self._holds[-1])
        task = Task(
            step=step_id,
            visit=self._rt.visits[step_id],
            title=step.title or step_id,
            agency_key=step.agency,
            agency=agency.code,
            agency_name=agency.name,
            role=step.role,
            opened_at=now,
            clock=clock,
        )
        self._rt.tasks.append(task)
        self._event("task_opened", step_id, detail=f"{agency.code}/{step.role}")
        metrics.task_opened(agency.code, step.role)
        if step_id != self._proc.start and self._rt.status is PortalStatus.RECEIVED:
            await self._set_status(PortalStatus.PROCESSING, "Đang xử lý")
        self._publish()
        escalation = asyncio.create_task(self._escalate(task, step))
        try:
            while task.status is not TaskStatus.DONE:
                await workflow.wait_condition(
                    lambda: (
                        task.status is TaskStatus.DONE
                        or self._supplement_due(step_id)
                        or self._halting()
                    )
                )
                self._check_halt()
                if self._supplement_due(step_id):
                    await self._await_supplement()
        except asyncio.CancelledError:
            task.status = TaskStatus.CANCELLED
            task.closed_at = workflow.now()
            self._event("task_cancelled", step_id)
            self._publish()
            raise
        finally:
            escalation.cancel()
        task.clock = task.clock.finish(task.closed_at or workflow.now())
        task.on_time = task.clock.status(self._cal).value
        self._event("decided", step_id, task.closed_by, task.decision or "", task.on_time)
        self._publish()
        await self._portal(
            self._rt.status,
            f"{task.title}: {task.decision}",
            step=step_id,
            handler=task.closed_by,
            department=task.agency_name,
            start=task.opened_at,
            due=task.clock.due(self._cal),
        )
        assert task.decision is not None
        if self._has("variable_time_limits") and self._proc.time_limits:
            await self._retime()
        return task.decision

    async def _retime(self) -> None:
        """Count the dossier against the limit of the case that holds now
        (`variable_time_limits`); a change moves the appointment and the applicant is told."""
        context = self._expression_context()
        limit, case = self._proc.limit_for(
            context["form"],
            context["decisions"],
            context["fields"],
            context["received"],
            context["channel"],
        )
        if limit == self._rt.clock.budget:
            return
        self._rt.clock = self._rt.clock.with_budget(limit)
        self._epoch += 1
        words = limit_words(limit)
        self._event("time_limit_changed", detail=f"{words}; due {local(self._due())}")
        self._publish()
        why = f" ({case.title})" if case is not None and case.title else ""
        await self._notify(
            f"Hồ sơ {self._inp.code}: hẹn lại ngày trả kết quả",
            f"Thời hạn giải quyết: {words}{why}. Ngày hẹn trả kết quả mới: {local(self._due())}.",
        )

    async def _auto(self, step_id: str, step: AutoStep) -> None:
        args = {}
        for key, value in step.args.items():
            try:
                args[key] = self._template(value, f"step `{step_id}` argument `{key}`")
            except Refused as err:
                raise Refused(f"steps.{step_id}.args.{key}: {err}") from None
        if step.activity == "render_form":
            own = self._has("procedure_forms") and args["form"] not in set(FormKind)
            await self._render(str(args["form"]) if own else FormKind(args["form"]), args)
        elif step.activity == "notify_applicant":
            await self._notify(str(args.get("subject", "")), str(args.get("body", "")))
        else:
            queue = self._proc.agencies[step.agency].task_queue if step.agency else None
            result = await workflow.execute_activity(
                step.activity,
                AutoStepInput(
                    call_id=f"{self._inp.code}:{self._rt.next_seq()}",
                    dossier_code=self._inp.code,
                    procedure_code=self._proc.code,
                    step=step_id,
                    args=args,
                ),
                task_queue=queue,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                result_type=AutoStepResult,
            )
            self._rt.outcomes[step_id] = result.model_dump(mode="json")
        self._event("automatic", step_id, detail=step.activity)

    def _choose(self, step_id: str, step: ChoiceStep) -> str:
        context = self._expression_context()
        chosen = step.otherwise
        for i, rule in enumerate(step.when):
            try:
                true = evaluate(rule.if_, context)
            except Refused as err:
                if not self._has("stops_runaway"):
                    continue  # as before version 4: a refused expression read as false
                raise Refused(f"steps.{step_id}.when[{i}].if: {err}") from None
            if true:
                chosen = rule.then
                break
        self._event("chose", step_id, detail=chosen)
        return chosen

    async def _parallel(self, step_id: str, step: ParallelStep) -> _Reached:
        self._event("forked", step_id, detail=", ".join(step.branches))
        # A list, not a set: the order of branches must be the same on every replay.
        pending = [
            asyncio.create_task(self._walk(first, until=step.next))
            for first in step.branches.values()
        ]
        try:
            while pending:
                done, pending = await workflow.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for branch in done:
                    reached = branch.result()
                    if reached is not None:
                        for sibling in pending:
                            sibling.cancel()
                        if pending:
                            await workflow.wait(pending)
                        return reached
        except asyncio.CancelledError:
            for branch in pending:
                branch.cancel()
            raise
        self._event("joined", step_id)
        return None

    async def _subprocedure(self, step_id: str, step: SubprocedureStep) -> str:
        frozen = self._inp.procedure.subprocedures[step.procedure]
        agency = self._proc.agencies[step.agency]
        visit = self._rt.visits[step_id]
        code = f"{self._inp.code}.{step_id}" + (f".{visit}" if visit > 1 else "")
        self._event("handed_over", step_id, detail=f"{frozen.procedure.code} → {agency.code}")
        child = self._inp.model_copy(
            update={
                "code": code,
                "procedure": frozen,
                "calendar": self._cal,
                "received_at": workflow.now(),
                "request_id": code,
                "parent_code": self._inp.code,
                "carried": None,
                "interpreter": self._inp.interpreter_version(),
            }
        )
        outcome = await workflow.execute_child_workflow(
            DossierWorkflow.run,
            child,
            id=code,
            task_queue=agency.task_queue,
            search_attributes=workflow.info().typed_search_attributes,
        )
        self._rt.outcomes[step_id] = outcome.model_dump(mode="json")
        self._event("returned", step_id, detail=outcome.result.value, on_time=outcome.on_time)
        following = step.results.get(outcome.result)
        if following is None:
            raise ApplicationError(
                f"sub-procedure {frozen.procedure.code} ended {outcome.result.value}, "
                f"which step {step_id!r} does not handle",
                non_retryable=True,
            )
        return following

    async def _wait(self, step_id: str, step: WaitStep) -> str:
        self._waiting.add(step.event)
        self._rt.events.pop(step.event, None)
        started = workflow.now()
        self._event("waiting", step_id, detail=step.event)
        reason = step.suspension
        if reason is not None:
            self._suspend(reason)
            await self._set_status(HOLD_STATUS[reason], step.title or step.event)
        try:
            arrived = await self._until(
                lambda: step.event in self._rt.events,
                lambda: deadline(self._cal, started, step.timeout, self._hours),
            )
        finally:
            self._waiting.discard(step.event)
        if reason is not None:
            status = self._resume(reason)
            await self._set_status(status, "Tiếp tục xử lý")
        self._event("arrived" if arrived else "timed_out", step_id, detail=step.event)
        return step.next if arrived else step.on_timeout

    async def _citizen(self, step_id: str, step: CitizenStep) -> str:
        """The applicant's turn (`citizen_steps`): told what to do and by when, the clock
        standing meanwhile (by default), until they act (`citizen_act`) or the deadline."""
        if not self._has("citizen_steps"):
            raise ApplicationError(
                f"step {step_id!r} is a citizen step, which interpreter "
                f"{self._inp.interpreter_version()} does not run",
                non_retryable=True,
            )
        started = workflow.now()

        def due() -> datetime:
            return deadline(self._cal, started, step.deadline, self._hours)

        what = step.title or step_id
        if step.amounts:
            what += ". " + self._amounts(step_id, step)
        self._awaiting.add(step_id)
        if step.event is not None:  # also completed from outside (payment confirmed)
            self._waiting.add(step.event)
            self._rt.events.pop(step.event, None)
        self._event("citizen_waiting", step_id, detail=f"{what}; hạn {local(due())}")
        reason = step.suspension
        if reason is not None:
            self._suspend(reason)
            await self._set_status(HOLD_STATUS[reason], step.title or step_id)
        await self._notify(
            f"Hồ sơ {self._inp.code}: đề nghị ông/bà thực hiện",
            f"{what}. Hạn thực hiện: {local(due())}.",
        )

        def done() -> bool:
            return step_id in self._acted or (
                step.event is not None and step.event in self._rt.events
            )

        try:
            acted = await self._until(done, due)
        finally:
            self._awaiting.discard(step_id)
            self._acted.discard(step_id)
            if step.event is not None:
                self._waiting.discard(step.event)
        if reason is not None:
            status = self._resume(reason)
            await self._set_status(status, "Tiếp tục xử lý")
        self._event("arrived" if acted else "timed_out", step_id, detail="applicant")
        return step.next if acted else step.on_timeout

    def _amounts(self, step_id: str, step: CitizenStep) -> str:
        """The sums a payment step asks for, and their total, in the applicant's words:
        `Lệ phí trước bạ: 10.000.000 đồng; Tổng cộng: 10.000.000 đồng`."""
        context = self._expression_context()
        said: list[str] = []
        total: int | None = 0
        for i, item in enumerate(step.amounts):
            try:
                amount = amount_of(item.amount, context)
            except Refused as err:
                raise Refused(f"steps.{step_id}.amounts[{i}].amount: {err}") from None
            said.append(f"{item.name}: {vnd(amount)}")
            total = total + amount if total is not None and amount is not None else None
        return "; ".join([*said, f"Tổng cộng: {vnd(total)}"])

    # ------------------------------------------------------------------ supplements

    def _supplement_due(self, step_id: str) -> bool:
        sup = self._rt.supplement
        return sup is not None and sup.step == step_id and sup.received is None

    async def _await_supplement(self) -> None:
        sup = self._rt.supplement
        policy = self._proc.supplement
        assert sup is not None and policy is not None
        self._suspend(SuspendReason.SUPPLEMENT)
        limit = deadline(self._cal, sup.requested_at, policy.wait, self._hours)
        await self._set_status(PortalStatus.SUPPLEMENT_REQUESTED, "Yêu cầu bổ sung hồ sơ")
        details = {"missing": list(sup.missing), "reason": sup.reason, "deadline": local(limit)}
        doc = await self._render(FormKind.SUPPLEMENT_REQUEST, details)
        await self._notify(
            f"Hồ sơ {self._inp.code} cần bổ sung",
            "Cần bổ sung: " + "; ".join(sup.missing) + f". Hạn bổ sung: {local(limit)}.",
            doc,
        )
        arrived = await self._until(
            lambda: sup.received is not None,
            lambda: deadline(self._cal, sup.requested_at, policy.wait, self._hours),
        )
        if not arrived:
            self._end(
                Halt(
                    ResultType.STOPPED,
                    "Không nhận được hồ sơ bổ sung đúng hạn",
                    FormKind.STOP_NOTICE,
                )
            )
            self._check_halt()
            await workflow.wait_condition(lambda: False)  # until `run` cancels (before the patch)
        if self._restarts_clock():
            status = self._restart_clock()
            await self._set_status(status, self._restart_said())
            await self._tell_restart()
            return
        status = self._resume(SuspendReason.SUPPLEMENT)
        await self._set_status(status, "Đã nhận hồ sơ bổ sung")


@workflow.defn(name=DOSSIER_WORKFLOW)
class DossierWorkflow:
    """What Temporal sees of a dossier: its run, updates (with their validators), queries and
    signal, each handed to the run's `DossierInterpreter` unchanged (sync stays sync, async
    stays async), so the commands are exactly those of the interpreter.

    Why a class apart: the sandbox imports this module afresh for every run, each replay too,
    and `@workflow.defn` then inspects every member of the class and of its bases (an
    `isinstance` against a runtime-checkable Protocol and a module look-up for each, through
    the sandbox's wrapped builtins); on the interpreter and its mixins that was ~100 members,
    here it is the handlers alone (bench/replay.py --compare, BENCHMARKS.md).
    """

    @workflow.init
    def __init__(self, inp: DossierInput) -> None:
        self._d = DossierInterpreter(inp)

    @workflow.run
    async def run(self, inp: DossierInput) -> DossierOutcome:
        return await self._d.run(inp)

    @workflow.update(name=CLAIM)
    async def claim(self, *raw: Any) -> str:
        return await self._d.claim(*raw)

    @claim.validator
    def _validate_claim(self, *raw: Any) -> None:
        self._d.validate_claim(*raw)

    @workflow.update(name=COMPLETE)
    async def complete(self, *raw: Any) -> str:
        return await self._d.complete(*raw)

    @complete.validator
    def _validate_complete(self, *raw: Any) -> None:
        self._d.validate_complete(*raw)

    @workflow.update(name=REASSIGN)
    async def reassign(self, *raw: Any) -> str:
        return await self._d.reassign(*raw)

    @reassign.validator
    def _validate_reassign(self, *raw: Any) -> None:
        self._d.validate_reassign(*raw)

    @workflow.update(name=REQUEST_SUPPLEMENT)
    def request_supplement(self, *raw: Any) -> str:
        return self._d.request_supplement(*raw)

    @request_supplement.validator
    def _validate_request_supplement(self, *raw: Any) -> None:
        self._d.validate_request_supplement(*raw)

    @workflow.update(name=SUPPLEMENT)
    def supplement(self, *raw: Any) -> str:
        return self._d.supplement(*raw)

    @supplement.validator
    def _validate_supplement(self, *raw: Any) -> None:
        self._d.validate_supplement(*raw)

    @workflow.update(name=WITHDRAW)
    def withdraw(self, *raw: Any) -> str:
        return self._d.withdraw(*raw)

    @withdraw.validator
    def _validate_withdraw(self, *raw: Any) -> None:
        self._d.validate_withdraw(*raw)

    @workflow.update(name=DELIVER_EVENT)
    def deliver_event(self, *raw: Any) -> str:
        return self._d.deliver_event(*raw)

    @deliver_event.validator
    def _validate_deliver_event(self, *raw: Any) -> None:
        self._d.validate_deliver_event(*raw)

    @workflow.update(name=CITIZEN_ACT)
    def citizen_act(self, *raw: Any) -> str:
        return self._d.citizen_act(*raw)

    @citizen_act.validator
    def _validate_citizen_act(self, *raw: Any) -> None:
        self._d.validate_citizen_act(*raw)

    @workflow.update(name=APPROVE_APOLOGY)
    def approve_apology(self, *raw: Any) -> str:
        return self._d.approve_apology(*raw)

    @approve_apology.validator
    def _validate_approve_apology(self, *raw: Any) -> None:
        self._d.validate_approve_apology(*raw)

    @workflow.update(dynamic=True)
    def unknown_update(self, name: str, args: Sequence[RawValue]) -> str:
        return self._d.unknown_update(name, args)

    @unknown_update.validator
    def _validate_unknown_update(self, name: str, args: Sequence[RawValue]) -> None:
        self._d.validate_unknown_update(name, args)

    @workflow.signal(name=UPDATE_CALENDAR)
    def update_calendar(self, calendar: WorkCalendar) -> None:
        self._d.update_calendar(calendar)

    @workflow.query(name=STATE)
    def state(self) -> DossierState:
        return self._d.state()

    @workflow.query(name=PENDING_TASKS)
    def pending_tasks(self) -> tuple[TaskView, ...]:
        return self._d.pending_tasks()

    @workflow.query(name=TIMELINE)
    def timeline(self) -> tuple[TimelineEntry, ...]:
        return self._d.timeline()
