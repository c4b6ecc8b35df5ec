"""Procedure 1.001193 (birth + residence + health insurance) written by hand, without motcua.

What a Temporal expert would write for this one procedure: the steps are code, not a graph; the
same activities (`render_form`, `notify_applicant`, `sync_portal`) with the same payloads and
idempotency ids; the same `claim` / `complete` updates with the payload models of
`workflows.api` and their validators; one timer per open task (reminders, then overdue) and
one for the dossier (the apology letter a working day before the legal deadline, then
overdue); the same search attributes (upserted only when they change) so the inboxes work.
The working-time arithmetic comes from `procedures.legaltime.clock` (legal calendars are not
something one rewrites per procedure).

Left out on purpose: supplements, withdrawal, reassignment, apology approval, calendar updates
and the `state` query; the benchmark plays only the approved path, which uses none of them.
`bench/compare.py` runs it next to `DossierWorkflow` on the same load.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.payloads import Notification, PortalRecord, RenderedDocument, RenderForm
    from procedures.legaltime.calendar import TimeLimit, TimeUnit, WorkCalendar
    from procedures.legaltime.clock import DossierClock
    from procedures.legaltime.deadlines import instant_before_due, share_instant
    from procedures.models import Channel, Form, FormKind, ResultType
    from workflows import search_attributes as sa
    from workflows.api import (
        CLAIM,
        COMPLETE,
        Applicant,
        ClaimTask,
        CompleteTask,
        DossierOutcome,
        PortalStatus,
    )
    from workflows.forms import local

HANDWRITTEN_WORKFLOW = "HandwrittenBirth"
PROCEDURE_CODE = "1.001193"
ACTIVITY_TIMEOUT = timedelta(seconds=60)

# agency key -> (national code, name)
AGENCIES: dict[str, tuple[str, str]] = {
    "commune": ("000.00.19.H26", "UBND xã Quân Chu, tỉnh Thái Nguyên"),
    "police": ("000.00.09.H26", "Công an xã Quân Chu"),
    "insurance": ("000.00.31.H26", "Bảo hiểm xã hội tỉnh Thái Nguyên"),
}


@dataclass(frozen=True)
class _Step:
    title: str
    agency: str
    role: str
    share: float
    decisions: tuple[str, ...]
    required: tuple[str, ...] = ()
    remind_at: tuple[float, ...] = ()
    escalate_to: str | None = None


STEPS: dict[str, _Step] = {
    "receive": _Step(
        "Tiếp nhận, kiểm tra hồ sơ", "commune", "one_stop", 0.25, ("accept", "refuse")
    ),
    "register_birth": _Step(
        "Đăng ký khai sinh",
        "commune",
        "justice_officer",
        0.5,
        ("registered", "refuse"),
        ("birth_register_number", "personal_id"),
        (0.5,),
        "head",
    ),
    "register_residence": _Step(
        "Đăng ký thường trú",
        "police",
        "residence_officer",
        2,
        ("registered", "refuse"),
        (),
        (0.5, 0.75),
        "head",
    ),
    "issue_card": _Step(
        "Cấp thẻ BHYT",
        "insurance",
        "card_officer",
        2,
        ("issued", "refuse"),
        ("card_number",),
        (0.5, 0.75),
        "head",
    ),
    "return_result": _Step("Trả kết quả", "commune", "one_stop", 0.25, ("returned",)),
}


@dataclass(frozen=True)
class HandwrittenInput:
    """The dossier: who applies and how, plus the forms and the procedure data they print."""

    code: str
    received_at: datetime
    channel: Channel
    applicant: Applicant
    calendar: WorkCalendar
    forms: dict[FormKind, Form]
    procedure: dict[str, Any]
    documents: list[dict[str, Any]]


@dataclass
class _Task:
    step: str
    spec: _Step
    agency: str
    agency_name: str
    role: str
    opened_at: datetime
    clock: DossierClock
    due: datetime
    status: str = "open"
    assignee: str | None = None
    decision: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    overdue: bool = False
    on_time: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


@workflow.defn(name=HANDWRITTEN_WORKFLOW)
class HandwrittenBirthWorkflow:
    """Receive, register the birth, residence and card in parallel, return the result."""

    @workflow.init
    def __init__(self, inp: HandwrittenInput) -> None:
        self._inp = inp
        self._cal = inp.calendar
        self._hours = inp.calendar.hours_for(AGENCIES["commune"][0])
        self._clock = DossierClock(
            budget=TimeLimit(amount=3, unit=TimeUnit.WORKING_DAYS),
            max_extensions=1,
            hours=self._hours,
        ).start(inp.received_at)
        self._due = self._clock.due(self._cal)
        self._status = PortalStatus.RECEIVED
        self._tasks: list[_Task] = []
        self._open: dict[str, _Task] = {}
        self._seq = 0
        self._apology_pending = False
        self._overdue = False
        self._published: tuple[Any, ...] | None = None

    @workflow.run
    async def run(self, inp: HandwrittenInput) -> DossierOutcome:
        if inp.channel is Channel.ONLINE:
            await self._set_status(PortalStatus.REGISTERED, "Hồ sơ đăng ký trực tuyến")
        await self._set_status(PortalStatus.RECEIVED, "Tiếp nhận hồ sơ")
        receipt = await self._render(FormKind.RECEIPT, {"documents": inp.documents})
        await self._notify(
            f"Hồ sơ {inp.code} đã được tiếp nhận",
            f"Ngày hẹn trả kết quả: {local(self._due)}.",
            receipt,
        )
        self._watch = asyncio.create_task(self._watch_dossier())  # dies with the workflow
        if await self._task("receive") == "refuse":
            return await self._finish(ResultType.REFUSED, "refused")
        if await self._task("register_birth") == "refuse":
            return await self._finish(ResultType.REFUSED, "refused")
        branches = [
            asyncio.create_task(self._task("register_residence")),
            asyncio.create_task(self._task("issue_card")),
        ]
        pending: list[asyncio.Task[str]] = branches
        while pending:
            done, pending = await workflow.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(t.result() == "refuse" for t in done):
                for branch in pending:
                    branch.cancel()
                return await self._finish(ResultType.REFUSED, "refused")
        await self._task("return_result")
        return await self._finish(ResultType.APPROVED, "approved")

    # ------------------------------------------------------------------ tasks and timers

    async def _task(self, step_id: str) -> str:
        spec = STEPS[step_id]
        code, name = AGENCIES[spec.agency]
        now = workflow.now()
        clock = DossierClock(
            budget=TimeLimit(amount=spec.share, unit=TimeUnit.WORKING_DAYS),
            max_extensions=0,
            hours=self._cal.hours_for(code),
        ).start(now)
        task = _Task(step_id, spec, code, name, spec.role, now, clock, clock.due(self._cal))
        self._tasks.append(task)
        self._open[step_id] = task
        if step_id != "receive" and self._status is PortalStatus.RECEIVED:
            await self._set_status(PortalStatus.PROCESSING, "Đang xử lý")
        self._publish()
        timers = asyncio.create_task(self._escalate(task))
        try:
            await workflow.wait_condition(lambda: task.status == "done")
        finally:
            timers.cancel()
        del self._open[step_id]
        task.clock = task.clock.finish(task.closed_at or workflow.now())
        task.on_time = task.clock.status(self._cal).value
        self._publish()
        await self._portal(
            self._status,
            f"{spec.title}: {task.decision}",
            step=step_id,
            handler=task.closed_by,
            department=name,
            start=task.opened_at,
            due=task.due,
        )
        assert task.decision is not None
        return task.decision

    async def _escalate(self, task: _Task) -> None:
        """Sleep to each reminder, then to the due instant: mark overdue, hand to the head."""
        for share in task.spec.remind_at:
            at = share_instant(task.clock, self._cal, share, workflow.now())
            await asyncio.sleep(max((at - workflow.now()).total_seconds(), 0.001))
            workflow.logger.info("task %s of %s: reminder", task.step, self._inp.code)
        await asyncio.sleep(max((task.due - workflow.now()).total_seconds(), 0.001))
        task.overdue = True
        if task.spec.escalate_to is not None:
            task.role, task.assignee, task.status = task.spec.escalate_to, None, "open"
        self._publish()

    async def _watch_dossier(self) -> None:
        """One timer at a time for the whole dossier: the apology instant, then the due one.

        A working day before the legal deadline the commune's head is asked for an apology
        letter; at the deadline the dossier is flagged overdue for the inboxes. Never
        cancelled: a pending timer dies with the completed workflow.
        """
        before = TimeLimit(amount=1, unit=TimeUnit.WORKING_DAYS)
        at = instant_before_due(self._clock, self._cal, before, workflow.now())
        await asyncio.sleep(max((at - workflow.now()).total_seconds(), 0.001))
        self._apology_pending = True
        self._publish()
        await asyncio.sleep(max((self._due - workflow.now()).total_seconds(), 0.001))
        self._overdue = True
        self._publish()

    # ------------------------------------------------------------------ end

    async def _finish(self, result: ResultType, reason: str) -> DossierOutcome:
        now = workflow.now()
        self._clock = self._clock.finish(now)
        on_time = self._clock.status(self._cal).value
        self._open.clear()
        form = FormKind.RESULT if result is ResultType.APPROVED else FormKind.REFUSAL
        docs = [
            await self._render(
                form,
                {
                    "reason": reason,
                    "result": result.value,
                    "documents": [{"name": r["name"]} for r in self._inp.procedure["results"]],
                },
            ),
            await self._render(FormKind.CONTROL_SLIP, {"handovers": self._handovers()}),
        ]
        if result is ResultType.APPROVED:
            await self._set_status(PortalStatus.FINISHED, "Đã giải quyết xong")
            final = PortalStatus.RETURNED
        else:
            final = PortalStatus.REFUSED
        await self._set_status(final, reason)
        await self._notify(f"Hồ sơ {self._inp.code}: {result.value}", reason, *docs)
        return DossierOutcome(
            code=self._inp.code, result=result, status=final, finished_at=now, on_time=on_time
        )

    def _handovers(self) -> list[dict[str, Any]]:
        labels = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}
        rows, giver = [], "Bộ phận Một cửa"
        for t in self._tasks:
            receiver = f"{t.agency_name} ({t.role})"
            rows.append(
                {
                    "step": t.step,
                    "title": t.spec.title,
                    "giver": giver,
                    "receiver": receiver,
                    "at": local(t.opened_at),
                    "due_at": local(t.due),
                    "closed_at": local(t.closed_at),
                    "status": labels.get(t.on_time, "Đang xử lý"),
                }
            )
            giver = receiver
        return rows

    # ------------------------------------------------------------------ side effects

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    async def _render(self, kind: FormKind, details: dict[str, Any]) -> RenderedDocument:
        form = self._inp.forms[kind]
        commune, commune_name = AGENCIES["commune"]
        inp = self._inp
        context = {
            "procedure": inp.procedure,
            "form": {"number": form.number, "title": form.title},
            "dossier": {
                "code": inp.code,
                "channel": inp.channel.value,
                "received_at": local(inp.received_at),
                "due_at": local(self._due),
                "agency": {"code": commune, "name": commune_name},
                "applicant": inp.applicant.model_dump(),
                "status": self._status.name.lower(),
            },
            "issued_at": local(workflow.now()),
            "details": details,
        }
        return await workflow.execute_activity(
            "render_form",
            RenderForm(
                doc_id=f"{self._next():03d}",
                dossier_code=inp.code,
                kind=kind,
                form=form,
                context=context,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            result_type=RenderedDocument,
        )

    async def _notify(self, subject: str, body: str, *docs: RenderedDocument) -> None:
        channel = {"online": "email", "in_person": "sms", "post": "post"}[self._inp.channel]
        await workflow.execute_activity(
            "notify_applicant",
            Notification(
                notification_id=f"{self._inp.code}:n{self._next()}",
                dossier_code=self._inp.code,
                channel=channel,
                subject=subject,
                body=body,
                documents=tuple(d.path for d in docs),
                at=workflow.now(),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    async def _set_status(self, status: PortalStatus, content: str) -> None:
        self._status = status
        self._publish()
        await self._portal(status, content)

    async def _portal(self, status: PortalStatus, content: str, **step: Any) -> None:
        await workflow.execute_activity(
            "sync_portal",
            PortalRecord(
                record_id=f"{self._inp.code}:p{self._next()}",
                dossier_code=self._inp.code,
                procedure_code=PROCEDURE_CODE,
                status=status.value,
                at=workflow.now(),
                content=content,
                **step,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    def _publish(self) -> None:
        """Upsert the inbox's search attributes, only when they changed."""
        roles = {sa.pending_role(t.agency, t.role) for t in self._open.values()}
        if self._apology_pending and self._open:
            roles.add(sa.pending_role(AGENCIES["commune"][0], "head"))
        due = min((t.due for t in self._open.values()), default=self._due)
        overdue = self._overdue or any(t.overdue for t in self._open.values())
        values = (
            self._status.value,
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
                sa.PROCEDURE_CODE.value_set(PROCEDURE_CODE),
                sa.PORTAL_STATUS.value_set(values[0]),
                sa.PENDING_AGENCIES.value_set(list(values[1])),
                sa.PENDING_ROLES.value_set(list(values[2])),
                sa.NEXT_DUE_AT.value_set(due),
                sa.OVERDUE.value_set(overdue),
            ]
        )

    # ------------------------------------------------------------------ updates

    def _open_task(self, step: str, user: str, agency: str, role: str) -> _Task:
        task = self._open.get(step)
        if task is None or task.status == "done":
            raise ValueError(f"no open task {step!r} in this dossier")
        if agency != task.agency:
            raise ValueError(f"task {step!r} belongs to agency {task.agency}, not to {agency}")
        if role != task.role:
            raise ValueError(f"task {step!r} needs role {task.role!r}, not {role!r}")
        if task.status == "claimed" and task.assignee not in (None, user):
            raise ValueError(f"task {step!r} is claimed by {task.assignee}")
        return task

    @workflow.update(name=CLAIM)
    def claim(self, req: ClaimTask) -> str:
        """Take an open task."""
        task = self._open[req.step]
        task.status, task.assignee = "claimed", req.actor.user
        return f"{req.step} claimed by {req.actor.user}"

    @claim.validator
    def _validate_claim(self, req: ClaimTask) -> None:
        task = self._open_task(req.step, req.actor.user, req.actor.agency, req.actor.role)
        if task.assignee == req.actor.user:
            raise ValueError(f"task {req.step!r} is already claimed by you")

    @workflow.update(name=COMPLETE)
    def complete(self, req: CompleteTask) -> str:
        """Decide a task."""
        task = self._open[req.step]
        task.status, task.assignee, task.decision = "done", req.actor.user, req.decision
        task.fields, task.closed_at = dict(req.fields), workflow.now()
        task.closed_by = str(req.actor)
        return f"{req.step}: {req.decision}"

    @complete.validator
    def _validate_complete(self, req: CompleteTask) -> None:
        task = self._open_task(req.step, req.actor.user, req.actor.agency, req.actor.role)
        if req.decision not in task.spec.decisions:
            raise ValueError(f"decision {req.decision!r} is not one of {task.spec.decisions}")
        missing = [f for f in task.spec.required if f not in req.fields]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
