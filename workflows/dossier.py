"""The dossier workflow: one generic interpreter that runs every procedure of the catalogue.

It walks the frozen procedure's graph from `start` to an end step; the legal clock
(`workflows.clock`) runs over the whole dossier and over each task's share, and the deadlines
it derives wake the dossier for reminders, escalations and the apology letter. Everything with
a side effect (forms, notifications, the portal feed) is an activity. How officers and
citizens act on it (updates, queries, the calendar signal) is in `workflows.handlers`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.handlers import DossierHandlers, Halt

with workflow.unsafe.imports_passed_through():
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from activities.payloads import (
        AutoStepInput,
        AutoStepResult,
        Notification,
        OfficerNotices,
        PortalRecord,
        RenderedDocument,
        RenderForm,
    )
    from procedures.calendar import TimeLimit, WorkCalendar
    from procedures.expressions import evaluate
    from procedures.models import (
        AutoStep,
        ChoiceStep,
        EndStep,
        FormKind,
        ParallelStep,
        ResultType,
        SubprocedureStep,
        TaskStep,
        WaitStep,
    )
    from workflows import officers
    from workflows.api import (
        APOLOGY_DUE,
        DOSSIER_DUE,
        DOSSIER_WORKFLOW,
        DossierInput,
        DossierOutcome,
        PortalStatus,
        TaskStatus,
    )
    from workflows.clock import DossierClock, SuspendReason, deadline
    from workflows.deadlines import instant_before_due, share_instant
    from workflows.forms import dossier_context, handovers, local, procedure_context
    from workflows.logs import log
    from workflows.state import Apology, Doc, Runtime, Task

ACTIVITY_TIMEOUT = timedelta(seconds=15)
"""Forms and outbox lines take milliseconds; a worker killed mid-activity delays the dossier
by at most this long before the activity is retried elsewhere."""
OVERDUE_WATCH = "dossier-overdue-watch"
"""Patch id (interpreter 1 only): dossiers started before it have no timer at their legal due
instant. Interpreter 2 always has one, without the marker (see `_watch_dossier`)."""
_HOLD_STATUS = {
    SuspendReason.SUPPLEMENT: PortalStatus.SUPPLEMENT_REQUESTED,
    SuspendReason.FINANCIAL_OBLIGATION: PortalStatus.FINANCIAL_OBLIGATION,
    SuspendReason.OTHER: PortalStatus.PROCESSING,
}
_TEMPLATES = ImmutableSandboxedEnvironment()
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


@workflow.defn(name=DOSSIER_WORKFLOW)
class DossierWorkflow(DossierHandlers):
    @workflow.init
    def __init__(self, inp: DossierInput) -> None:
        self._inp = inp
        self._proc = inp.procedure.procedure
        self._cal: WorkCalendar = inp.calendar
        receiving = self._proc.agencies[self._proc.receiving_agency]
        self._hours = receiving.office_hours(self._cal)
        if inp.carried is not None:
            self._rt = Runtime.model_validate(inp.carried)
        else:
            clock = DossierClock(
                budget=self._proc.time_limit,
                max_extensions=self._proc.max_extensions,
                hours=self._hours,
            ).start(inp.received_at)
            self._rt = Runtime(clock=clock)
        self._halt: Halt | None = None
        self._halt_ends_walk = False
        self._ended = False
        self._epoch = 0
        self._waiting: set[str] = set()
        self._published: tuple[Any, ...] | None = None
        # Interpreter 2 on (docs/auditing.md): one dossier timer, coalesced upserts, no patches.
        self._lean = inp.interpreter_version() >= 2
        # Interpreter 3: officers are told of reminders, overdue tasks and escalations.
        self._tells_officers = inp.interpreter_version() >= 3
        self._flush_queued = False
        self._dues: dict[int, tuple[DossierClock, WorkCalendar, datetime]] = {}
        # The waits holding the clock (a payment in one branch, a supplement in another); it
        # runs again when the last one ends. Empty at every continue-as-new, which happens
        # only between top-level steps, so it need not be carried.
        self._holds: list[SuspendReason] = []

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: DossierInput) -> DossierOutcome:
        if inp.carried is None:
            await self._receive()
        watchers = []
        if self._lean:  # never cancelled: its pending timer dies with the finished workflow
            self._watcher = asyncio.create_task(self._watch_dossier())
        else:
            if self._proc.apology:
                watchers.append(asyncio.create_task(self._watch_apology()))
            if workflow.patched(OVERDUE_WATCH):
                watchers.append(asyncio.create_task(self._watch_overdue()))
        walk = asyncio.create_task(self._walk(self._rt.resume_at or self._proc.start))
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
            if self._lean:
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
        return await self._finish(end.result, end.title or step_id, end.form)

    async def _walk(self, step_id: str, until: str | None = None) -> _Reached:
        """Follow the graph from `step_id` until `until` (a parallel's join) or an end."""
        while step_id != until:
            self._check_halt()
            if until is None and self._should_continue_as_new():
                return _ContinueAsNew(step_id)
            step = self._proc.steps[step_id]
            self._rt.visits[step_id] = self._rt.visits.get(step_id, 0) + 1
            match step:
                case EndStep():
                    return step_id, step
                case TaskStep():
                    step_id = step.decisions[await self._task(step_id, step)]
                case AutoStep():
                    await self._auto(step_id, step)
                    step_id = step.next
                case ChoiceStep():
                    step_id = self._choose(step_id, step)
                case ParallelStep():
                    ended = await self._parallel(step_id, step)
                    if ended is not None:
                        return ended
                    step_id = step.next
                case SubprocedureStep():
                    step_id = await self._subprocedure(step_id, step)
                case WaitStep():
                    step_id = await self._wait(step_id, step)
        return None

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._inp.history_limit
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() > limit
        )

    # ------------------------------------------------------------------ receipt and end

    async def _receive(self) -> None:
        if self._inp.channel.value == "online":
            await self._set_status(PortalStatus.REGISTERED, "Hồ sơ đăng ký trực tuyến")
        self._event("received", detail=f"channel {self._inp.channel.value}")
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

    async def _finish(
        self, result: ResultType, reason: str, form: FormKind | None
    ) -> DossierOutcome:
        now = workflow.now()
        self._ended = True
        self._rt.clock = self._rt.clock.finish(now)
        on_time = self._rt.clock.status(self._cal).value
        self._event("ended", detail=f"{result.value}: {reason}", on_time=on_time)
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
        await self._notify(f"Hồ sơ {self._inp.code}: {result.value}", reason, *documents)
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
        clock = DossierClock(budget=share, max_extensions=0, hours=hours).start(now)
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
        return task.decision

    async def _auto(self, step_id: str, step: AutoStep) -> None:
        args = {k: self._template(v) for k, v in step.args.items()}
        if step.activity == "render_form":
            await self._render(FormKind(args["form"]), args)
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
        context = {
            "form": self._inp.form,
            "decisions": self._rt.decisions,
            "fields": self._rt.fields,
        }
        chosen = next((r.then for r in step.when if evaluate(r.if_, context)), step.otherwise)
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
        if step.suspends_clock:
            self._suspend(SuspendReason.FINANCIAL_OBLIGATION)
            await self._set_status(PortalStatus.FINANCIAL_OBLIGATION, step.title or step.event)
        try:
            arrived = await self._until(
                lambda: step.event in self._rt.events,
                lambda: deadline(self._cal, started, step.timeout, self._hours),
            )
        finally:
            self._waiting.discard(step.event)
        if step.suspends_clock:
            status = self._resume(SuspendReason.FINANCIAL_OBLIGATION)
            await self._set_status(status, "Tiếp tục xử lý")
        self._event("arrived" if arrived else "timed_out", step_id, detail=step.event)
        return step.next if arrived else step.on_timeout

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
        status = self._resume(SuspendReason.SUPPLEMENT)
        await self._set_status(status, "Đã nhận hồ sơ bổ sung")

    def _suspend(self, reason: SuspendReason) -> None:
        self._holds.append(reason)
        if self._rt.clock.suspended:  # already stopped by another wait: the ledger has it
            self._event("suspension_joined", detail=f"{reason.value}; clock already stopped")
            return
        now = workflow.now()
        self._rt.clock = self._rt.clock.suspend(now, reason)
        for task in self._rt.open_tasks():
            if not task.clock.suspended:
                task.clock = task.clock.suspend(now, reason)
        self._epoch += 1
        self._event("suspended", detail=reason.value)
        self._publish()

    def _resume(self, reason: SuspendReason) -> PortalStatus:
        """End one hold; the clock runs again with the last. Returns the status to show."""
        self._holds.remove(reason)
        if self._holds:
            return _HOLD_STATUS[self._holds[-1]]
        if not self._rt.clock.suspended:
            return PortalStatus.PROCESSING
        now = workflow.now()
        self._rt.clock = self._rt.clock.resume(now)
        for task in self._rt.open_tasks():
            if task.clock.suspended:
                task.clock = task.clock.resume(now)
        self._epoch += 1
        self._event("resumed", detail=f"due {local(self._due())}")
        self._publish()
        return PortalStatus.PROCESSING

    # ------------------------------------------------------------------ deadlines

    async def _until(
        self,
        done: Callable[[], bool],
        deadline: Callable[[], datetime | None],
        summary: str | None = None,
        halts: bool = True,
    ) -> bool:
        """Wait until `done()` (True) or the deadline (False).

        The deadline is derived again whenever `self._epoch` changes (new calendar, suspension,
        resume, extension). `None` means "no deadline for now": a suspended clock's instants
        recede as long as it stands still, so waiting on them would only wake the dossier
        again and again; the resume changes the epoch and the deadline returns. With `halts`,
        a withdrawal or stop ends the wait (CancelledError); without, the wait goes on.
        """
        while not done():
            epoch = self._epoch
            due = deadline()
            delay = None if due is None else (due - workflow.now()).total_seconds()
            if delay is not None and delay <= 0:
                return False

            def woken(since: int = epoch) -> bool:
                return done() or self._epoch != since or (halts and self._halting())

            try:
                await workflow.wait_condition(woken, timeout=delay, timeout_summary=summary)
            except TimeoutError:
                continue
            finally:
                if halts:
                    self._check_halt()
        return True

    def _check_halt(self) -> None:
        """Leave the path once the dossier is withdrawn or stopped.

        `run` cancels the walk, but a cancellation that meets an activity completing in the
        same workflow task is absorbed by the activity's handle; the walk then goes on to its
        next wait, and this check ends it there.
        """
        if self._halting():
            raise asyncio.CancelledError("the dossier has ended")

    async def _escalate(self, task: Task, step: TaskStep) -> None:
        """Remind at shares of the step's time; when it runs out, mark overdue and escalate."""
        escalation = step.escalation

        def at_share(share: float) -> Callable[[], datetime | None]:
            def instant() -> datetime | None:
                if task.clock.suspended:
                    return None
                return share_instant(task.clock, self._cal, share, workflow.now())

            return instant

        def due() -> datetime | None:
            return None if task.clock.suspended else task.clock.due(self._cal, workflow.now())

        for i, share in enumerate(sorted(escalation.remind_at) if escalation else []):
            await self._until(lambda: False, at_share(share))
            if task.reminders_sent <= i:
                task.reminders_sent = i + 1
                used = f"{round(share * 100)}%"
                self._event("reminded", task.step, detail=f"{used} of the time used")
                due_at = task.clock.due(self._cal, workflow.now())
                log(
                    "task_reminded",
                    dossier=self._inp.code,
                    step=task.step,
                    agency=task.agency,
                    role=task.role,
                    used=used,
                    due=due_at.isoformat(),
                )
                if self._tells_officers:
                    seq = self._rt.next_seq()
                    await self._notify_officers(
                        officers.reminder(self._inp, seq, task, share, due_at, workflow.now())
                    )
        await self._until(lambda: False, due)
        task.overdue = True
        self._event("overdue", task.step, detail=f"{task.agency}/{task.role}")
        overdue_role = task.role
        if escalation is not None and escalation.escalate_to is not None:
            task.role, task.assignee, task.status = escalation.escalate_to, None, TaskStatus.OPEN
            self._event("escalated", task.step, detail=f"to {task.agency}/{task.role}")
        log(
            "task_overdue",
            dossier=self._inp.code,
            step=task.step,
            agency=task.agency,
            role=overdue_role,
            escalated_to=task.role if task.role != overdue_role else None,
        )
        self._publish()
        if self._tells_officers:
            seq, now = self._rt.next_seq(), workflow.now()
            due_at = task.clock.due(self._cal, now)
            await self._notify_officers(
                officers.overdue(self._inp, seq, task, overdue_role, due_at, now)
            )

    async def _watch_overdue(self) -> None:
        """Nothing else wakes a dossier at its legal due instant: flag it overdue for inboxes.

        An extension or a new calendar can move the due instant past now again; the flag
        follows (see `_publish`), and this watch waits for the next due instant.
        """
        flagged: datetime | None = None
        while True:
            await self._until(lambda: False, self._running_due, DOSSIER_DUE)
            flagged = self._flag_overdue(flagged)
            epoch = self._epoch
            await workflow.wait_condition(lambda since=epoch: self._epoch != since)  # type: ignore[misc]

    async def _watch_apology(self) -> None:
        """One working day (as set) before the deadline, ask the head for an apology letter."""
        while self._rt.clock.extensions < self._proc.max_extensions:
            if self._rt.apology is None or self._rt.apology.approved_by is not None:
                await self._until(lambda: False, self._apology_instant)
                self._request_apology()
            apology = self._rt.apology
            assert apology is not None
            await workflow.wait_condition(lambda a=apology: a.approved_by is not None)  # type: ignore[misc]
            await self._send_apology_letter(apology)

    async def _watch_dossier(self) -> None:
        """Interpreter 2: the dossier's own deadlines on one timer at a time, as one would write
        them by hand: the apology instant (while an extension is left), then the due instant.

        An approved apology's letter goes out at once; the due instant flags the dossier
        overdue for inboxes, and moves with suspensions, extensions and calendars like the
        legacy watchers' did. `run` never cancels it, and a withdrawal does not wake it: its
        pending timer dies with the finished workflow, so ending costs no event.
        """
        policy = self._proc.apology
        flagged: datetime | None = None
        carried = self._rt.apology
        sent = carried if carried is not None and carried.approved_by is not None else None
        while not self._ended:
            apology = self._rt.apology
            if apology is not None and apology.approved_by is not None and apology is not sent:
                sent = apology
                await self._send_apology_letter(apology)
                continue
            extensible = self._rt.clock.extensions < self._proc.max_extensions
            if policy is not None and extensible and apology is sent:
                await self._until(lambda: False, self._apology_instant, APOLOGY_DUE, halts=False)
                if not self._ended:
                    self._request_apology()
                continue

            pending = apology if apology is not None and apology.approved_by is None else None

            def approved(pending: Apology | None = pending) -> bool:
                return pending is not None and pending.approved_by is not None

            if await self._until(approved, self._running_due, DOSSIER_DUE, halts=False):
                continue
            if self._ended:
                return
            flagged = self._flag_overdue(flagged)
            epoch = self._epoch
            await workflow.wait_condition(lambda since=epoch: self._epoch != since)  # type: ignore[misc]

    def _apology_instant(self) -> datetime | None:
        """When to ask for the apology letter; none while the clock stands still."""
        policy, clock = self._proc.apology, self._rt.clock
        assert policy is not None
        if clock.suspended:
            return None
        return instant_before_due(clock, self._cal, policy.before, workflow.now())

    def _running_due(self) -> datetime | None:
        """The legal due instant; none while the clock stands still (it recedes meanwhile)."""
        return None if self._rt.clock.suspended else self._due()

    def _request_apology(self) -> None:
        policy = self._proc.apology
        assert policy is not None
        self._rt.apology = Apology(opened_at=workflow.now())
        self._event("apology_requested", detail=f"{self._receiving().code}/{policy.role}")
        log(
            "apology_requested",
            dossier=self._inp.code,
            agency=self._receiving().code,
            role=policy.role,
            due=self._due().isoformat(),
        )
        self._publish()

    async def _send_apology_letter(self, apology: Apology) -> None:
        details = {"reason": apology.reason, "new_due_at": local(self._due())}
        doc = await self._render(FormKind.APOLOGY, details)
        await self._notify(
            f"Hồ sơ {self._inp.code}: xin lỗi và hẹn lại ngày trả kết quả",
            f"{apology.reason}. Ngày hẹn mới: {local(self._due())}.",
            doc,
        )

    def _flag_overdue(self, flagged: datetime | None) -> datetime | None:
        """Flag the dossier overdue (once per due instant); returns the instant flagged."""
        if self._due() != flagged:
            flagged = self._due()
            self._event("dossier_overdue", detail=f"due {local(flagged)}")
            log("dossier_overdue", dossier=self._inp.code, due=flagged.isoformat())
        self._publish()
        return flagged

    # ------------------------------------------------------------------ side effects

    async def _render(self, kind: FormKind, details: dict[str, Any]) -> RenderedDocument:
        form = self._proc.forms[kind]
        seq = self._rt.next_seq()
        context = {
            "procedure": procedure_context(self._proc),
            "form": {"number": form.number, "title": form.title},
            "dossier": dossier_context(self._inp, self._rt, self._due()),
            "issued_at": local(workflow.now()),
            "details": details,
        }
        doc = await workflow.execute_activity(
            "render_form",
            RenderForm(
                doc_id=f"{seq:03d}",
                dossier_code=self._inp.code,
                kind=kind,
                form=form,
                context=context,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            result_type=RenderedDocument,
        )
        self._rt.documents.append(
            Doc(kind=kind.value, title=doc.title, path=doc.path, issued_at=workflow.now())
        )
        self._event("document_issued", detail=f"{form.number} {form.title}")
        return doc

    async def _notify(self, subject: str, body: str, *documents: RenderedDocument) -> None:
        channel = {"online": "email", "in_person": "sms", "post": "post"}[self._inp.channel.value]
        await workflow.execute_activity(
            "notify_applicant",
            Notification(
                notification_id=f"{self._inp.code}:n{self._rt.next_seq()}",
                dossier_code=self._inp.code,
                channel=channel,
                subject=subject,
                body=body,
                documents=tuple(d.path for d in documents),
                at=workflow.now(),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    async def _notify_officers(self, notices: OfficerNotices) -> None:
        """Queue notices to officers. Abandoned, not cancelled, if the task is decided or the
        dossier ends meanwhile: a notice sent stays sent, and cancelling would cost an event."""
        await workflow.execute_activity(
            "notify_officers",
            notices,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            cancellation_type=workflow.ActivityCancellationType.ABANDON,
        )

    async def _set_status(self, status: PortalStatus, content: str) -> None:
        self._rt.status = status
        self._event("status", detail=f"{status.value} {status.name.lower()}")
        self._publish()
        await self._portal(status, content)

    async def _portal(self, status: PortalStatus, content: str, **step: Any) -> None:
        await workflow.execute_activity(
            "sync_portal",
            PortalRecord(
                record_id=f"{self._inp.code}:p{self._rt.next_seq()}",
                dossier_code=self._inp.code,
                procedure_code=self._proc.code,
                status=status.value,
                at=workflow.now(),
                content=content,
                **step,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    def _template(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return _TEMPLATES.from_string(value).render(
            form=self._inp.form, decisions=self._rt.decisions, code=self._inp.code
        )
