"""A dossier's audit trail, built from its Temporal history alone.

Never from the workflow's own queries: the history is the record Temporal keeps whatever the
workflow code says about itself, so a trail drawn from it proves what happened even when the
code that ran is gone. Payloads are decoded with the same pydantic data converter as the
worker: the dossier input (procedure version, receipt, channel, calendar), every update the
workflow accepted (claims, decisions, supplements, extensions...), the activities it scheduled
(documents issued, notifications, portal status and progress records), timers, sub-procedures,
signals and the search attributes it published; rejected attempts, which leave no event, come
from the structured log when one is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import decode_typed_search_attributes

from activities.payloads import (
    AutoStepInput,
    Notification,
    OfficerNoticeKind,
    OfficerNotices,
    PortalRecord,
    RenderedDocument,
    RenderForm,
)
from motcua.audit.history import HistoryError, decode
from motcua.audit.masking import Mask
from motcua.audit.records import (
    VIETNAM,
    DocumentRecord,
    Entry,
    Outcome,
    TaskRecord,
    Trail,
    rate,
)
from motcua.audit.rejections import read_rejections
from motcua.audit.trail_legacy import LegacyTimers
from procedures.legaltime.calendar import WorkCalendar
from procedures.models import Procedure, TaskStep
from workflows import api
from workflows import search_attributes as sa
from workflows.api import PROOF_FAILED, DossierInput, DossierOutcome, PortalStatus
from workflows.clockrules import RESTARTED

_CONVERT = pydantic_data_converter.payload_converter
E = EventType

UPDATE_INPUTS: dict[str, type[BaseModel]] = {
    api.CLAIM: api.ClaimTask,
    api.COMPLETE: api.CompleteTask,
    api.REASSIGN: api.ReassignTask,
    api.REQUEST_SUPPLEMENT: api.RequestSupplement,
    api.SUPPLEMENT: api.SupplementDossier,
    api.WITHDRAW: api.WithdrawDossier,
    api.DELIVER_EVENT: api.DeliverEvent,
    api.APPROVE_APOLOGY: api.ApproveApology,
}
"""The input model of each update, by its Temporal name."""

_COMMANDS = {
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    E.EVENT_TYPE_TIMER_STARTED,
    E.EVENT_TYPE_TIMER_CANCELED,
    E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    E.EVENT_TYPE_MARKER_RECORDED,
}


def build_trail(
    runs: Sequence[WorkflowHistory], *, reveal: bool = False, log: Path | None = None
) -> Trail:
    """The trail of a dossier from its runs' histories (first to last), and its log if given."""
    if not runs:
        raise HistoryError("trail", "no history to build a trail from")
    trail = _Builder(runs[0], reveal).build(runs)
    if log is not None:
        trail.rejected = read_rejections(log, trail.code, Mask(_applicant(runs[0]), reveal))
    return trail


def _applicant(history: WorkflowHistory) -> api.Applicant | None:
    attrs = history.events[0].workflow_execution_started_event_attributes
    try:
        return decode(attrs.input, DossierInput).applicant
    except Exception:
        return None


def _started_input(history: WorkflowHistory) -> DossierInput:
    attrs = history.events[0].workflow_execution_started_event_attributes
    if attrs.workflow_type.name != api.DOSSIER_WORKFLOW:
        raise HistoryError(
            history.workflow_id, f"a {attrs.workflow_type.name} workflow, not a dossier"
        )
    try:
        return decode(attrs.input, DossierInput)
    except Exception as err:
        raise HistoryError(history.workflow_id, f"unreadable dossier input: {err}") from err


class _Builder(LegacyTimers):
    """Walks the events once, keeping what later events refer back to."""

    def __init__(self, first: WorkflowHistory, reveal: bool) -> None:
        super().__init__()
        self.inp = _started_input(first)
        self.proc: Procedure = self.inp.procedure.procedure
        self.mask = Mask(self.inp.applicant, reveal)
        self.entries: list[Entry] = []
        self.tasks: list[TaskRecord] = []
        self.documents: list[DocumentRecord] = []
        self.activities: dict[int, tuple[str, Any]] = {}
        self.updates: dict[str, Entry] = {}
        """Accepted updates' entries by update id (the time-skipping server leaves the completion's
        `accepted_event_id` at 0; the update id is in both events)."""
        self.children: dict[int, DossierInput] = {}
        self.roles: set[str] = set()
        self.overdue = False
        self.outcome: Outcome | None = None
        self.state = "running"
        self.run = 0
        self.events: Sequence[HistoryEvent] = ()
        self.index = 0
        self.told: set[int] = set()
        self.timer_summaries: dict[str, str] = {}
        self.handlers: dict[int, Callable[[HistoryEvent], None]] = {
            E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: self._started,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: self._update_accepted,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: self._update_completed,
            E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: self._activity_scheduled,
            E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: self._activity_completed,
            E.EVENT_TYPE_ACTIVITY_TASK_FAILED: self._activity_failed,
            E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: self._activity_failed,
            E.EVENT_TYPE_TIMER_STARTED: self._timer_started,
            E.EVENT_TYPE_TIMER_FIRED: self._timer_fired,
            E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: self._upsert,
            E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: self._child_started,
            E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: self._child_completed,
            E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: self._child_ended,
            E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: self._child_ended,
            E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: self._child_ended,
            E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: self._child_ended,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: self._signaled,
            E.EVENT_TYPE_WORKFLOW_TASK_FAILED: self._workflow_task_failed,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: self._completed,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: self._continued,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: self._closed,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: self._closed,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: self._closed,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: self._closed,
        }

    def build(self, runs: Sequence[WorkflowHistory]) -> Trail:
        self._read_spans(runs)
        for run, history in enumerate(runs, start=1):
            self.run, self.events = run, history.events
            for index, event in enumerate(self.events):
                self.index = index
                handler = self.handlers.get(event.event_type)
                if handler is not None:
                    handler(event)
        inp, proc = self.inp, self.proc
        receiving = proc.agencies[proc.receiving_agency]
        return Trail(
            code=inp.code,
            state=self.state,
            procedure_code=proc.code,
            procedure_name=proc.name,
            procedure_version=proc.version,
            content_hash=inp.procedure.content_hash,
            procedure_source=inp.procedure.source,
            calendar_version=inp.calendar.version,
            received_at=inp.received_at,
            channel=inp.channel.value,
            receiving_agency=f"{receiving.code} {receiving.name}",
            parent_code=inp.parent_code,
            applicant=self.mask.fields(inp.applicant.model_dump()),
            form=self.mask.fields(inp.form),
            documents_submitted=list(inp.documents),
            runs=[h.run_id for h in runs],
            outcome=self.outcome,
            tasks=self.tasks,
            documents=self.documents,
            entries=self.entries,
            revealed=self.mask.reveal,
        )

    # ---------------------------------------------------------------- helpers

    def _add(self, event: HistoryEvent, kind: str, **fields: Any) -> Entry:
        entry = Entry(
            at=fields.pop("at", None) or event.event_time.ToDatetime(UTC),
            event_id=event.event_id,
            run=self.run,
            kind=kind,
            **fields,
        )
        self.entries.append(entry)
        return entry

    def _task(self, step: str) -> TaskRecord:
        """The open visit of `step`, opened now if the history showed none yet."""
        for task in reversed(self.tasks):
            if task.step == step:
                if task.decided_at is None:
                    return task
                break
        definition = self.proc.steps.get(step)
        agency, role, title = "", "", step
        if isinstance(definition, TaskStep):
            agency = self.proc.agencies[definition.agency].code
            role, title = definition.role, definition.title or step
        task = TaskRecord(step=step, title=title, agency=agency, role=role)
        self.tasks.append(task)
        return task

    def _followups(self) -> list[HistoryEvent]:
        """The commands the workflow answered the current event with (its next task's)."""
        rest = self.events[self.index + 1 :]
        start = next(
            (i for i, e in enumerate(rest) if e.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
            None,
        )
        if start is None:
            return []
        out = []
        for event in rest[start + 1 :]:
            if event.event_type not in _COMMANDS:
                break
            out.append(event)
        return out

    # ---------------------------------------------------------------- the dossier

    def _started(self, event: HistoryEvent) -> None:
        inp = decode(event.workflow_execution_started_event_attributes.input, DossierInput)
        if self.run == 1:
            self._add(
                event,
                "received",
                at=inp.received_at,
                detail=f"channel {inp.channel.value}; procedure {self.proc.code} "
                f"version {self.proc.version} ({inp.procedure.content_hash[:12]}); "
                f"calendar {inp.calendar.version}",
            )
        else:
            self._add(event, "run_started", detail=f"run {self.run} carries on the dossier")

    def _completed(self, event: HistoryEvent) -> None:
        out = decode(event.workflow_execution_completed_event_attributes.result, DossierOutcome)
        self.outcome = Outcome(
            result=out.result.value,
            status=int(out.status),
            finished_at=out.finished_at,
            on_time=out.on_time,
        )
        self.state = "completed"
        self._add(
            event,
            "ended",
            detail=f"{out.result.value}, status {int(out.status)} {out.status.name.lower()}",
            on_time=out.on_time,
        )

    def _continued(self, event: HistoryEvent) -> None:
        self._add(event, "continued_as_new", detail="history continued in a new run")

    def _closed(self, event: HistoryEvent) -> None:
        kind = E.Name(event.event_type).removeprefix("EVENT_TYPE_WORKFLOW_EXECUTION_").lower()
        self.state = kind
        attrs = _attributes(event)
        failure = getattr(attrs, "failure", None)
        reason = getattr(attrs, "reason", "") or (failure.message if failure is not None else "")
        self._add(event, f"workflow_{kind}", detail=reason)

    def _workflow_task_failed(self, event: HistoryEvent) -> None:
        failure = event.workflow_task_failed_event_attributes.failure
        self._add(event, "workflow_task_failed", detail=failure.message.splitlines()[0][:300])

    def _signaled(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_signaled_event_attributes
        if attrs.signal_name == api.UPDATE_CALENDAR:
            calendar = decode(attrs.input, WorkCalendar)
            self._add(event, "calendar_changed", detail=f"calendar {calendar.version}")
        else:
            self._add(event, "signal", detail=attrs.signal_name)

    # ---------------------------------------------------------------- officers and citizen

    def _update_accepted(self, event: HistoryEvent) -> None:
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        name = request.input.name
        model = UPDATE_INPUTS.get(name)
        if model is None:
            self._add(event, "update", detail=name)
            return
        req = decode(request.input.args, model)
        actor = str(req.actor) if hasattr(req, "actor") else "applicant"
        entry = self._apply(event, name, req, actor)
        self.updates[request.meta.update_id] = entry

    def _apply(self, event: HistoryEvent, name: str, req: Any, actor: str) -> Entry:
        at = event.event_time.ToDatetime(UTC)
        mask = self.mask
        if name == api.CLAIM:
            task = self._task(req.step)
            task.claimed_by, task.claimed_at = actor, at
            return self._add(event, "claimed", step=req.step, actor=actor)
        if name == api.COMPLETE:
            task = self._task(req.step)
            task.decided_by, task.decided_at, task.decision = actor, at, req.decision
            task.fields = mask.fields(req.fields)
            return self._add(
                event,
                "decided",
                step=req.step,
                actor=actor,
                detail=req.decision,
                data=task.fields,
            )
        if name == api.REASSIGN:
            target = f"{req.to_user or ''}/{req.to_role or ''}".strip("/")
            why = f": {mask.text(req.reason)}" if req.reason else ""
            return self._add(
                event, "reassigned", step=req.step, actor=actor, detail=f"to {target}{why}"
            )
        if name == api.REQUEST_SUPPLEMENT:
            return self._add(
                event,
                "supplement_requested",
                step=req.step,
                actor=actor,
                detail="missing: "
                + "; ".join(req.missing)
                + (f" ({req.reason})" if req.reason else ""),
            )
        if name == api.SUPPLEMENT:
            note = mask.value(req.note)
            return self._add(
                event,
                "supplemented",
                actor=actor,
                detail="documents: " + "; ".join(req.documents) + (f" ({note})" if note else ""),
            )
        if name == api.WITHDRAW:
            return self._add(event, "withdrawn", actor=actor, detail=mask.value(req.reason) or "")
        if name == api.DELIVER_EVENT:
            return self._add(
                event, "event_delivered", actor=actor, detail=req.event, data=mask.fields(req.data)
            )
        return self._add(event, "extended", actor=actor, detail=mask.text(req.reason))

    def _update_completed(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_update_completed_event_attributes
        entry = self.updates.get(attrs.meta.update_id)
        failure = attrs.outcome.failure if attrs.outcome.HasField("failure") else None
        if failure is not None and entry is not None and _proof_failed(failure):
            # interpreter 5: a wrong identity number, counted (and maybe locking the dossier)
            entry.kind = "proof_locked" if "locked until" in failure.message else "proof_failed"
            entry.detail = failure.message
        elif failure is not None:
            self._add(event, "update_failed", detail=failure.message)
        elif entry is not None and entry.kind == "extended":
            result = decode(attrs.outcome.success, str)
            entry.detail = f"{entry.detail}; {result}"

    # ---------------------------------------------------------------- activities

    def _activity_scheduled(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_scheduled_event_attributes
        name = attrs.activity_type.name
        kinds: dict[str, type[BaseModel]] = {
            "render_form": RenderForm,
            "notify_applicant": Notification,
            "notify_officers": OfficerNotices,
            "sync_portal": PortalRecord,
        }
        payload = decode(attrs.input, kinds.get(name, AutoStepInput))
        self.activities[event.event_id] = (name, payload)
        if name == "sync_portal":
            self._portal(event, payload)
        elif name == "notify_applicant":
            self._add(
                event,
                "notified",
                at=payload.at,
                detail=f"{payload.channel}: {self.mask.text(payload.subject)}",
                data={
                    "body": self.mask.text(payload.body),
                    "documents": list(payload.documents),
                },
            )
        elif name == "notify_officers":
            self._officers_told(event, payload)
        elif name not in kinds:
            self._add(
                event,
                "automatic",
                step=payload.step,
                detail=name,
                data={"args": self.mask.fields(payload.args)},
            )

    def _officers_told(self, event: HistoryEvent, batch: OfficerNotices) -> None:
        """Interpreter 3's notices to officers: what the timer before them meant, in words."""
        for notice in batch.notices:
            who = f"{notice.agency}/{notice.role}"
            due = f"due {notice.due.astimezone(VIETNAM):%d/%m/%Y %H:%M}"
            task = self._task(notice.step)
            if notice.kind is OfficerNoticeKind.REMINDER:
                task.reminders += 1
                kind, detail = "reminder", f"reminded {who} at {round((notice.share or 0) * 100)}%"
            elif notice.kind is OfficerNoticeKind.OVERDUE:
                at = notice.at
                self._noted_time_up(notice.step, at)
                kind, detail = "time_up", f"told {who} of overdue ({due})"
            else:
                task.escalated_to = notice.role
                source = f"{notice.agency}/{notice.escalated_from}"
                kind, detail = "escalated", f"{source} → {who}; told {who}"
            self._add(
                event,
                kind,
                at=notice.at,
                step=notice.step,
                detail=detail,
                data={"notice_id": notice.notice_id, "due": notice.due.isoformat()},
            )

    def _portal(self, event: HistoryEvent, record: PortalRecord) -> None:
        status = PortalStatus(record.status)
        if record.step is None:
            kind = {
                PortalStatus.SUPPLEMENT_REQUESTED: "suspended",
                PortalStatus.FINANCIAL_OBLIGATION: "suspended",
            }.get(status, "status")
            if status is PortalStatus.PROCESSING and self._last_status() in (5, 6):
                kind = "resumed"
            if RESTARTED in record.content:  # a supplement restarted the limit (interpreter 6)
                kind = "restarted"
            self._add(
                event,
                kind,
                at=record.at,
                detail=f"{status.value} {status.name.lower()}: {self.mask.text(record.content)}",
                data={"status": status.value},
            )
            return
        task = next(
            (t for t in reversed(self.tasks) if t.step == record.step and t.decided_at), None
        )
        on_time = rate(record.at, record.due) if record.due is not None else None
        if task is not None:
            task.opened_at, task.due_at, task.on_time = record.start, record.due, on_time
            task.department = record.department
        self._add(
            event,
            "step_progress",
            at=record.at,
            step=record.step,
            actor=record.handler,
            detail=self.mask.text(record.content),
            data={
                "department": record.department,
                "start": record.start.isoformat() if record.start else None,
                "due": record.due.isoformat() if record.due else None,
                "status": status.value,
            },
            on_time=on_time,
        )

    def _last_status(self) -> int | None:
        for entry in reversed(self.entries):
            if "status" in entry.data and entry.kind != "step_progress":
                return int(entry.data["status"])
        return None

    def _activity_completed(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_completed_event_attributes
        name, payload = self.activities.get(attrs.scheduled_event_id, ("", None))
        if name == "render_form":
            doc = decode(attrs.result, RenderedDocument)
            self.documents.append(
                DocumentRecord(
                    kind=str(doc.kind),
                    number=payload.form.number,
                    title=doc.title,
                    path=doc.path,
                    sha256=doc.sha256,
                    issued_at=event.event_time.ToDatetime(UTC),
                    event_id=event.event_id,
                )
            )
            self._add(
                event,
                "document",
                detail=f"form {payload.form.number} {doc.title}",
                data={"path": doc.path, "sha256": doc.sha256},
            )
        elif isinstance(payload, AutoStepInput):
            result = _CONVERT.from_payloads(list(attrs.result.payloads), None)
            self._add(
                event,
                "automatic_done",
                step=payload.step,
                detail=name,
                data={"result": self.mask.value(result[0]) if result else None},
            )

    def _activity_failed(self, event: HistoryEvent) -> None:
        attrs = _attributes(event)
        name, _ = self.activities.get(attrs.scheduled_event_id, ("?", None))
        self._add(event, "activity_failed", detail=f"{name}: {attrs.failure.message}")

    # ---------------------------------------------------------------- clocks and inboxes

    def _timer_started(self, event: HistoryEvent) -> None:
        """Remember timers that name their purpose (a summary), to read them when they fire."""
        summary = event.user_metadata.summary
        if summary.data:
            text = (
                json.loads(summary.data)
                if b"json" in summary.metadata.get("encoding", b"")
                else summary.data.decode()
            )
            attrs = event.timer_started_event_attributes
            self.timer_summaries[f"{self.run}:{attrs.timer_id}"] = str(text)

    def _timer_fired(self, event: HistoryEvent) -> None:
        """Name what a deadline meant: by its summary, by the notices to officers that follow
        (interpreter 3), or else as `LegacyTimers` reads interpreters 1 and 2."""
        at = event.event_time.ToDatetime(UTC)
        summary = self.timer_summaries.get(
            f"{self.run}:{event.timer_fired_event_attributes.timer_id}"
        )
        if summary == api.DOSSIER_DUE:
            self._add(event, "dossier_overdue", detail="the legal time limit ran out")
            return
        if summary == api.APOLOGY_DUE and self.proc.apology is not None:
            receiving = self.proc.agencies[self.proc.receiving_agency].code
            role = sa.pending_role(receiving, self.proc.apology.role)
            self._add(event, "apology_requested", detail=role)
            return
        if summary is not None:  # interpreter 6: a repeat step's period, a payment's deadline
            self._add(event, "deadline", detail=summary)
            return
        followups = self._followups()
        batch = followups[0].event_id if followups else None
        if batch is not None and (batch in self.told or any(map(_tells_officers, followups))):
            self.told.add(batch)  # interpreter 3: the notices that follow say what it meant
            return
        self._explain_timer(event, at, followups, batch)

    def _upsert(self, event: HistoryEvent) -> None:
        attrs = decode_typed_search_attributes(
            event.upsert_workflow_search_attributes_event_attributes.search_attributes
        )
        roles = attrs.get(sa.PENDING_ROLES)
        if roles is not None and set(roles) != self.roles:
            added, removed = set(roles) - self.roles, self.roles - set(roles)
            self.roles = set(roles)
            parts = [f"+{r}" for r in sorted(added)] + [f"-{r}" for r in sorted(removed)]
            self._add(event, "inbox", detail=" ".join(parts), data={"pending": sorted(roles)})
        overdue = attrs.get(sa.OVERDUE)
        if overdue is not None and overdue != self.overdue:
            self.overdue = overdue
            self._add(event, "overdue" if overdue else "back_in_time")

    # ---------------------------------------------------------------- sub-procedures

    def _child_started(self, event: HistoryEvent) -> None:
        attrs = event.start_child_workflow_execution_initiated_event_attributes
        child = decode(attrs.input, DossierInput)
        self.children[event.event_id] = child
        proc = child.procedure.procedure
        self._add(
            event,
            "subprocedure_started",
            detail=f"{child.code}: {proc.code} {proc.name} on queue {attrs.task_queue.name}",
            data={"child": child.code, "content_hash": child.procedure.content_hash},
        )

    def _child_completed(self, event: HistoryEvent) -> None:
        attrs = event.child_workflow_execution_completed_event_attributes
        out = decode(attrs.result, DossierOutcome)
        self._add(
            event,
            "subprocedure_ended",
            detail=f"{out.code}: {out.result.value}",
            on_time=out.on_time,
        )

    def _child_ended(self, event: HistoryEvent) -> None:
        attrs = _attributes(event)
        kind = E.Name(event.event_type).removeprefix("EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_")
        self._add(
            event,
            "subprocedure_ended",
            detail=f"{attrs.workflow_execution.workflow_id}: {kind.lower()}",
        )


def _tells_officers(event: HistoryEvent) -> bool:
    """Whether a command is interpreter 3's `notify_officers` activity."""
    return (
        event.event_type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "notify_officers"
    )


def _attributes(event: HistoryEvent) -> Any:
    """The `*_event_attributes` message the event carries."""
    which = event.WhichOneof("attributes")
    attrs: Message = getattr(event, which) if which else event
    return attrs


def _proof_failed(failure: Failure) -> bool:
    """Whether an update failed for a wrong identity number (`workflows.handlers._prove`)."""
    return failure.application_failure_info.type == PROOF_FAILED
