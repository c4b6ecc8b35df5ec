"""The dossier's runtime state: tasks, timeline, documents and clocks.

Plain pydantic data with no Temporal in it, so that it can be carried across continue-as-new,
answered from the `state` query and checked by the update validators in `workflows.rules`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from procedures.legaltime.clock import DossierClock
from procedures.models import ResultType
from workflows.api import DocumentView, PortalStatus, RepetitionView, TaskStatus, TimelineEntry
from workflows.proof import ProofAttempts


class Task(BaseModel):
    """One open or closed human task; a step visited again opens a new Task.

    The interpreter's own record, mutable and carried over continue-as-new: it keeps what
    views derive from (its clock, the agency key, reminders sent). Officers see a
    `workflows.api.TaskView` drawn from it at query time (`workflows.views`).
    """

    model_config = ConfigDict(extra="forbid")

    step: str
    visit: int
    title: str
    agency_key: str
    agency: str
    agency_name: str
    role: str
    status: TaskStatus = TaskStatus.OPEN
    assignee: str | None = None
    opened_at: datetime
    clock: DossierClock
    overdue: bool = False
    reminders_sent: int = 0
    decision: str | None = None
    fields: dict[str, Any] = {}
    closed_at: datetime | None = None
    closed_by: str | None = None
    on_time: str | None = None


class Supplement(BaseModel):
    """A pending request to supplement: at most one at a time."""

    model_config = ConfigDict(extra="forbid")

    step: str
    requested_at: datetime
    requested_by: str
    missing: tuple[str, ...]
    reason: str = ""
    received: tuple[str, ...] | None = None


class Apology(BaseModel):
    """The apology-and-new-date task of the receiving agency's head."""

    model_config = ConfigDict(extra="forbid")

    opened_at: datetime
    approved_by: str | None = None
    reason: str = ""


class Repetition(BaseModel):
    """A `repeat` step's count (`workflows.repeats`), mutable; not carried over continue-as-new,
    which happens only between top-level steps."""

    model_config = ConfigDict(extra="forbid")

    step: str
    title: str
    times: int
    number: int = 0
    reported: int = 0
    missed: int = 0
    missed_in_row: int = 0
    awaiting: bool = False
    due_at: datetime | None = None
    opens_at: datetime | None = None
    finished: bool = False

    def opening(self) -> datetime | None:
        """When the next period opens (a deadline for `DossierCore._until`)."""
        return self.opens_at

    def view(self) -> RepetitionView:
        return RepetitionView(**self.model_dump())


class PhaseRun(BaseModel):
    """One run of a procedure's phase (`phase_limits`): its own clock from the instant the
    dossier reached one of its steps; a phase reached again after it ended runs again."""

    model_config = ConfigDict(extra="forbid")

    phase: str
    visit: int
    step: str
    started_at: datetime
    clock: DossierClock
    overdue: bool = False
    on_time: str | None = None

    @property
    def running(self) -> bool:
        return self.clock.finished_at is None


class Runtime(BaseModel):
    """Everything the interpreter knows about one dossier between two steps."""

    model_config = ConfigDict(extra="forbid")

    status: PortalStatus = PortalStatus.RECEIVED
    result: ResultType | None = None
    clock: DossierClock
    tasks: list[Task] = []
    timeline: list[TimelineEntry] = []
    documents: list[DocumentView] = []
    decisions: dict[str, str] = {}
    fields: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, dict[str, Any]] = {}
    visits: dict[str, int] = {}
    events: dict[str, dict[str, Any]] = {}
    supplement: Supplement | None = None
    apology: Apology | None = None
    seq: int = 0
    resume_at: str | None = None
    proof: ProofAttempts = Field(default_factory=ProofAttempts)
    received_at: datetime | None = Field(
        None,
        exclude_if=lambda at: at is None,  # carried state of older dossiers is unchanged
        description="The receipt instant when it came after the submission: a dossier paid "
        "before receipt (`pays_before_receipt`).",
    )
    phases: list[PhaseRun] = []

    def next_seq(self) -> int:
        """A number unique within the dossier, for idempotency keys and document names."""
        self.seq += 1
        return self.seq

    def open_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)]

    def open_phase(self) -> PhaseRun | None:
        """The phase running now, if any (one at a time: `validate` keeps a parallel block
        inside one phase)."""
        return next((run for run in reversed(self.phases) if run.running), None)

    def open_task(self, step: str) -> Task | None:
        return next((t for t in self.open_tasks() if t.step == step), None)
