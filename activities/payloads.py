"""Inputs and outputs of the activities, shared with the workflow that calls them.

Every input carries an id the workflow derives deterministically (`workflow.uuid4()` or the
dossier code and a sequence number), so a retried activity recognises work it already did and
writes nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from procedures.models import Form, FormKind, Identifier


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RenderForm(_Payload):
    """Render one legal form to `<results>/<dossier code>/<doc_id>-<kind>.html`."""

    doc_id: str = Field(description="Sequence within the dossier, e.g. `03`; names the file.")
    dossier_code: str
    kind: FormKind | Identifier = Field(description="A fixed kind, or a procedure's own form.")
    form: Form = Field(description="Number, title and the frozen template source.")
    context: dict[str, Any] = Field(description="procedure, dossier, issued_at, details.")


class RenderedDocument(_Payload):
    kind: FormKind | Identifier
    title: str
    path: str
    sha256: str
    pdf: str | None = Field(
        None, description="The signed PDF beside the HTML (receipt, result); absent before."
    )


class Notification(_Payload):
    """A message to the applicant, appended once to the notification outbox and delivered
    once (`activities.delivery`) when it has a recipient."""

    notification_id: str
    dossier_code: str
    channel: str = Field(description="email, sms or post, from the dossier's channel.")
    subject: str
    body: str
    documents: tuple[str, ...] = ()
    at: datetime
    to: str | None = Field(
        None,
        description="The applicant's e-mail address or phone number, per `channel` (interpreter "
        "`delivers_notifications`); personal data, encrypted in history, never logged.",
        exclude_if=lambda to: to is None,  # earlier interpreters' inputs keep their bytes
    )


class PortalRecord(_Payload):
    """One status change or progress step for the National Public Service Portal."""

    record_id: str
    dossier_code: str
    procedure_code: str
    status: int = Field(ge=1, le=10)
    at: datetime
    step: str | None = None
    handler: str | None = None
    department: str | None = None
    content: str = ""
    start: datetime | None = None
    due: datetime | None = None


class OfficerNoticeKind(StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"
    ESCALATED = "escalated"


class OfficerNotice(_Payload):
    """One message to the officers of a role about a task, appended once to their outbox.

    Codes, roles and instants only: officers look the dossier up by its code, so nothing of
    the applicant (name, identity number, form values) is copied into the officers' outbox.
    """

    notice_id: str
    dossier_code: str
    procedure_code: str
    step: str
    agency: str = Field(description="National agency code of the task.")
    role: str = Field(description="The role addressed.")
    kind: OfficerNoticeKind
    share: float | None = Field(None, description="Share of the step's time used (reminders).")
    escalated_from: str | None = Field(
        None, description="The role whose time ran out (escalations)."
    )
    due: datetime = Field(description="The task's due instant.")
    at: datetime


class OfficerNotices(_Payload):
    """The notices of one moment (an escalation tells two roles), written in one activity."""

    notices: tuple[OfficerNotice, ...] = Field(min_length=1)


class AutoStepInput(_Payload):
    """An automatic step's call: its arguments already rendered by the workflow."""

    call_id: str
    dossier_code: str
    procedure_code: str
    step: str
    args: dict[str, Any] = {}
    applicant_channel: str = "email"


class AutoStepResult(_Payload):
    """What an automatic step reports back; `outcome` is offered to later choices."""

    outcome: str = "done"
    data: dict[str, Any] = {}


class PublishedQuery(_Payload):
    """Is this procedure version published on `day`? (`activities.publication`)."""

    code: str
    content_hash: str
    day: date
