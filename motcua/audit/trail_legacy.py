"""How the audit trail reads the timers of interpreters 1 and 2, which tell officers nothing.

There a reminder, a step's time running out, an escalation and the apology request leave no
event of their own: this mixin of the trail builder infers them from the timer that fired, the
search attributes published right after, and the tasks' due instants from their portal progress
records. From interpreter 3 the `notify_officers` activity says it in words. Delete this module
with the last version that needs it (docs/auditing.md, "Retiring a version").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import decode_typed_search_attributes

from activities.payloads import PortalRecord
from motcua.audit.history import decode
from motcua.audit.records import Entry, TaskRecord
from procedures.models import Procedure, TaskStep
from workflows import search_attributes as sa

E = EventType
Span = tuple[str, datetime, datetime, datetime]
"""(step, opened, decided, due) of a decided task."""


class LegacyTimers:
    """The trail builder's reading of version 1 and 2 timers (`_explain_timer`)."""

    proc: Procedure
    entries: list[Entry]
    roles: set[str]

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.timed_out: set[Span] = set()
        self.explained: set[int | None] = set()

    _add: Callable[..., Entry]
    """Record an entry for an event (the builder's)."""
    _task: Callable[[str], TaskRecord]
    """The open visit of a step (the builder's)."""

    def _read_spans(self, runs: Sequence[WorkflowHistory]) -> None:
        self.spans = task_spans(runs)

    def _explain_timer(
        self, event: HistoryEvent, at: datetime, followups: list[HistoryEvent], batch: int | None
    ) -> None:
        """What a timer of interpreter 1 or 2 meant, by what the workflow did next.

        Reminders, a step's time running out, escalations and the apology task have no event of
        their own there: a reminder's task starts the next timer and nothing else; running out
        shows in the step's due instant (from its progress record) and the escalation in the
        pending roles published next; the apology task adds the head's role, or nothing at all
        when an escalated task already has it pending. Timers firing in the same workflow task
        share its commands: the first takes them.
        """
        shared = batch is not None and batch in self.explained
        self.explained.add(batch)
        if shared:
            followups = []
        added, removed = self._roles_change(followups)
        apology = self.proc.apology
        receiving = self.proc.agencies[self.proc.receiving_agency].code
        apology_role = sa.pending_role(receiving, apology.role) if apology else None
        if apology_role in added and not removed:
            self._add(event, "apology_requested", detail=str(apology_role))
            return
        if self._time_up(event, at) or self._escalated(event, added, removed):
            return
        apology_due = apology_role is not None and self._apologies() <= self._extensions()
        if not followups and not shared and apology_due:
            self._add(event, "apology_requested", detail=str(apology_role))
            return
        only_timers = all(f.event_type == E.EVENT_TYPE_TIMER_STARTED for f in followups)
        open_spans = [s for s in self.spans if s[1] <= at < s[2]]
        if only_timers and self._remind(event, open_spans):
            return
        if shared and apology_due:
            self._add(event, "apology_requested", detail=str(apology_role))
            return
        self._add(event, "deadline", detail="a timer fired")

    def _roles_change(self, followups: list[HistoryEvent]) -> tuple[set[str], set[str]]:
        """Pending roles added and removed by the commands that followed."""
        after = self.roles
        for follow in followups:
            if follow.event_type == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
                attrs = decode_typed_search_attributes(
                    follow.upsert_workflow_search_attributes_event_attributes.search_attributes
                )
                pending = attrs.get(sa.PENDING_ROLES)
                after = set(pending) if pending is not None else after
        return after - self.roles, self.roles - after

    def _time_up(self, event: HistoryEvent, at: datetime) -> bool:
        """Steps whose share ran out at `at` (once each), and their escalation as declared."""
        spans = [
            s for s in self.spans if s[1] <= at < s[2] and s[3] <= at and s not in self.timed_out
        ]
        self.timed_out.update(spans)
        for step, *_ in spans:
            self._add(event, "time_up", step=step, detail="the step's share of time ran out")
            definition = self.proc.steps[step]
            if isinstance(definition, TaskStep) and definition.escalation is not None:
                target = definition.escalation.escalate_to
                if target is not None:
                    agency = self.proc.agencies[definition.agency].code
                    detail = f"{agency}/{definition.role} → {agency}/{target}"
                    self._add(event, "escalated", step=step, detail=detail)
        return bool(spans)

    def _escalated(self, event: HistoryEvent, added: set[str], removed: set[str]) -> bool:
        """An escalation of a task never decided: a role replaced by another of its agency."""
        found = False
        for role in sorted(added):
            gone = sorted(r for r in removed if r.split("/")[0] == role.split("/")[0])
            if gone:
                self._add(event, "escalated", detail=f"{', '.join(gone)} → {role}")
                found = True
        return found

    def _apologies(self) -> int:
        return sum(e.kind == "apology_requested" for e in self.entries)

    def _extensions(self) -> int:
        return sum(e.kind == "extended" for e in self.entries)

    def _remind(
        self, event: HistoryEvent, spans: list[tuple[str, datetime, datetime, datetime]]
    ) -> bool:
        """A reminder to the open task with the fewest reminders so far that has one left."""
        candidates = []
        for step, start, _end, _due in spans:
            definition = self.proc.steps.get(step)
            if not isinstance(definition, TaskStep) or definition.escalation is None:
                continue
            shares = sorted(definition.escalation.remind_at)
            task = self._task_at(step, start)
            if task.reminders < len(shares):
                candidates.append((task.reminders, step, task, shares))
        if not candidates:
            return False
        sent, step, task, shares = min(candidates, key=lambda c: c[0])
        task.reminders += 1
        self._add(
            event,
            "reminder",
            step=step,
            detail=f"{int(shares[sent] * 100)}% of the step's time used",
        )
        return True

    def _task_at(self, step: str, start: datetime) -> TaskRecord:
        task = self._task(step)
        task.opened_at = task.opened_at or start
        return task

    def _noted_time_up(self, step: str, at: datetime) -> None:
        """A notice said `step`'s time ran out at `at`: no timer reading may say it again."""
        self.timed_out.update(s for s in self.spans if s[0] == step and s[1] <= at < s[2])


def task_spans(runs: Sequence[WorkflowHistory]) -> list[Span]:
    """(step, opened, decided, due) of every decided task, from the portal progress records."""
    spans = []
    for history in runs:
        for event in history.events:
            if event.event_type != E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                continue
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name != "sync_portal":
                continue
            record = decode(attrs.input, PortalRecord)
            if record.step and record.start and record.due:
                spans.append((record.step, record.start, record.at, record.due))
    return spans
