"""What the client's operations answer: frozen pydantic views, ready to print or serialise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from workflows.api import PortalStatus, TaskStatus


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Submitted(_View):
    """A submission's answer: the dossier code and the appointment date (ngày hẹn trả)."""

    code: str
    due_at: datetime
    existing: bool = False
    awaiting_payment: bool = Field(
        False,
        description="Received only once its fees are paid (a payment before receipt): "
        "`due_at` is then the appointment if paid now; the receipt at payment has the real one.",
    )


class Acted(_View):
    """An accepted action, with the workflow's answer."""

    code: str
    action: str
    message: str


class Redistributed(_View):
    """One task of a bulk redistribution and what became of it: `done`, or refused with the
    workflow validator's reason (`message`)."""

    dossier: str
    step: str
    done: bool
    message: str


class InboxItem(_View):
    """One open task of a dossier in an officer's inbox (`inbox(..., details=True)`)."""

    dossier: str
    procedure_code: str
    procedure_name: str
    step: str
    title: str
    agency: str
    role: str
    status: TaskStatus
    assignee: str | None
    due_at: datetime
    hours_left: float
    overdue: bool
    phase: str | None = Field(
        None, description="The procedure's phase running now, if it has `phases`."
    )
    phase_due_at: datetime | None = Field(None, description="When that phase is due.")


class InboxRow(_View):
    """One dossier waiting on an agency, read from its search attributes alone.

    `due_at` is when this agency's work is due: the earliest due instant of its open tasks. From
    the search attributes alone it is known only while no other agency has a task open
    (`NextDueAt` is the dossier's earliest over every agency's tasks), so it is None when another
    agency's might be earlier; with details it comes from the agency's own tasks. `overdue` is
    set by the dossier when a task or the dossier runs late. `procedure_name` and `tasks` come
    only with details.
    """

    dossier: str
    procedure_code: str
    waiting_on: tuple[str, ...] = Field(description="The agency's roles with an open task.")
    status: PortalStatus
    received_at: datetime
    due_at: datetime | None
    overdue: bool
    procedure_name: str | None = None
    tasks: tuple[InboxItem, ...] | None = None


class InboxPage(_View):
    """A page of an inbox: its rows, the inbox's size, and the token of the next page."""

    agency: str
    role: str | None
    overdue_only: bool
    total: int = Field(description="Dossiers in the whole inbox (visibility count).")
    overdue: int = Field(description="Of which overdue.")
    first: int = Field(description="Position of the page's first row in the inbox, from 1.")
    rows: tuple[InboxRow, ...]
    next_page: str | None = Field(description="Pass as `page` for the next page; none at the end.")


class IssuedDocument(_View):
    title: str
    issued_at: datetime


class CitizenStatus(_View):
    """A dossier as its applicant reads it: Vietnamese with English, no internal ids."""

    code: str
    procedure: str
    status: int
    status_vi: str
    status_en: str
    received_at: datetime
    appointment: datetime
    counted_from: datetime | None = Field(
        None,
        description="When the time limit was counted anew (a supplement that completed the "
        "dossier, where the law counts from the complete dossier): the appointment runs from it.",
    )
    now_vi: str
    now_en: str
    documents: tuple[IssuedDocument, ...]
    your_step: str | None = Field(
        None, description="The step asking something of the applicant now (`citizen act`)."
    )
    reason: str | None = Field(
        None,
        description="Why the dossier ended, as the applicant's last notice says: for a "
        "feedback (phản ánh, kiến nghị), the agency's answer.",
    )


STATUS_LABELS: Mapping[PortalStatus, tuple[str, str]] = {
    PortalStatus.REGISTERED: ("Mới đăng ký", "Newly registered"),
    PortalStatus.RECEIVED: ("Đã tiếp nhận", "Received"),
    PortalStatus.REFUSED: ("Từ chối giải quyết", "Refused"),
    PortalStatus.PROCESSING: ("Đang xử lý", "Being processed"),
    PortalStatus.SUPPLEMENT_REQUESTED: ("Yêu cầu bổ sung hồ sơ", "Supplement requested"),
    PortalStatus.FINANCIAL_OBLIGATION: (
        "Chờ thực hiện nghĩa vụ tài chính",
        "Waiting for financial obligations",
    ),
    PortalStatus.WITHDRAWN: ("Công dân đã rút hồ sơ", "Withdrawn by the applicant"),
    PortalStatus.STOPPED: ("Dừng xử lý", "Processing stopped"),
    PortalStatus.FINISHED: ("Đã giải quyết xong", "Finished"),
    PortalStatus.RETURNED: ("Đã trả kết quả", "Result returned"),
}
"""The portal's status codes 1-10 in the applicant's words."""
