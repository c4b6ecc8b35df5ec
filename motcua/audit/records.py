"""What an audit trail holds: its entries, task visits, documents, rejections and outcome.

Plain pydantic records (rendered by `motcua.audit.render`, exported as JSON), apart from how
`motcua.audit.trail` draws them from a history.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict

VIETNAM = timezone(timedelta(hours=7))


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entry(_Record):
    """One thing that happened, with the history event that proves it."""

    at: datetime
    event_id: int
    run: int
    kind: str
    step: str | None = None
    actor: str | None = None
    detail: str = ""
    data: dict[str, Any] = {}
    on_time: str | None = None


class TaskRecord(_Record):
    """One visit of a human task: who claimed it, who decided what, and whether in time.

    Built from history events alone, never from the workflow's state: every field is optional
    until an event shows it (a claim, a decision, a progress record), and it carries what only
    the history tells (the department of the progress record, reminders counted from timers).
    """

    step: str
    title: str
    agency: str
    role: str
    opened_at: datetime | None = None
    due_at: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision: str | None = None
    fields: dict[str, Any] = {}
    department: str | None = None
    reminders: int = 0
    escalated_to: str | None = None
    on_time: str | None = None


class DocumentRecord(_Record):
    kind: str
    number: str
    title: str
    path: str | None = None
    sha256: str | None = None
    issued_at: datetime
    event_id: int


class Rejection(_Record):
    """An update the workflow refused: no event in history, one line in the structured log."""

    at: str | None = None
    who: str
    what: str
    why: str


class Outcome(_Record):
    result: str
    status: int
    finished_at: datetime
    on_time: str


class Trail(_Record):
    """Everything an auditor needs about one dossier, from its history."""

    code: str
    state: str
    procedure_code: str
    procedure_name: str
    procedure_version: str
    content_hash: str
    procedure_source: str
    calendar_version: str
    received_at: datetime
    channel: str
    receiving_agency: str
    parent_code: str | None = None
    applicant: dict[str, Any]
    form: dict[str, Any] = {}
    documents_submitted: list[str] = []
    runs: list[str]
    outcome: Outcome | None = None
    tasks: list[TaskRecord] = []
    documents: list[DocumentRecord] = []
    entries: list[Entry] = []
    rejected: list[Rejection] = []
    revealed: bool = False


def rate(at: datetime, due: datetime) -> str:
    """early / on_time / late as the portal counts: on the due day at or before due is on time."""
    if at > due:
        return "late"
    same_day = at.astimezone(VIETNAM).date() == due.astimezone(VIETNAM).date()
    return "on_time" if same_day else "early"
