"""What a legal form's template sees: the context the dossier builds for `render_form`.

Pure functions of the frozen input and the runtime state; the templates in `procedures/forms`
document the same names.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from procedures.legaltime.calendar import TimeLimit, WorkCalendar
from procedures.models import Procedure
from workflows.api import DossierInput, PortalStatus
from workflows.state import Runtime

VIETNAM = timezone(timedelta(hours=7))

ON_TIME_VI = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}

_PROCEDURE_FIELDS = {
    "code",
    "name",
    "version",
    "legal_basis",
    "sector",
    "level",
    "time_limit",
    "documents",
    "fees",
    "results",
}


def local(at: datetime | None) -> str:
    """`HH:MM ngày dd/mm/yyyy` in Vietnam's time, as the forms print instants.

    Formatted field by field rather than with `strftime`, which imports `time` on every call:
    inside the workflow sandbox each such import goes through its restricted importer (a
    tenth of a millisecond per instant printed, in every run and every replay)."""
    if at is None:
        return ""
    v = at.astimezone(VIETNAM)
    return f"{v.hour:02d}:{v.minute:02d} ngày {v.day:02d}/{v.month:02d}/{v.year}"


UNIT_WORDS = {
    "working_days": "ngày làm việc",
    "working_hours": "giờ làm việc",
    "calendar_days": "ngày",
}
"""Time units as the forms and notices say them."""


def limit_words(limit: TimeLimit) -> str:
    """`5 ngày làm việc`: a time limit in the applicant's words."""
    return f"{limit.amount:g} {UNIT_WORDS[limit.unit.value]}"


def vnd(amount: int | None) -> str:
    """`10.000.000 đồng`, as Vietnamese notices write sums; `chưa xác định` for none."""
    if amount is None:
        return "chưa xác định"
    return f"{amount:,}".replace(",", ".") + " đồng"


def procedure_context(procedure: Procedure) -> dict[str, Any]:
    """The procedure's identity, documents and fees: not its steps, which no form prints."""
    return procedure.model_dump(mode="json", include=_PROCEDURE_FIELDS)


def dossier_context(
    inp: DossierInput, state: Runtime, due_at: datetime, with_fields: bool = False
) -> dict[str, Any]:
    """What a form knows of the dossier; `with_fields` adds the officers' values by step and
    field (`dossier.fields.STEP.FIELD`, interpreter 5's `templates_read_fields`)."""
    procedure = inp.procedure.procedure
    agency = procedure.agencies[procedure.receiving_agency]
    context = {
        "code": inp.code,
        "channel": inp.channel.value,
        "received_at": local(state.received_at or inp.received_at),
        "due_at": local(due_at),
        "agency": {"code": agency.code, "name": agency.name},
        "applicant": inp.applicant.model_dump(),
        "status": PortalStatus(state.status).name.lower(),
    }
    if with_fields:
        context["fields"] = state.fields
    return context


def handovers(state: Runtime, calendar: WorkCalendar) -> list[dict[str, Any]]:
    """The control slip's rows: one per task, giver to receiver, with times and status."""
    rows: list[dict[str, Any]] = []
    giver = "Bộ phận Một cửa"
    for task in state.tasks:
        receiver = f"{task.agency_name} ({task.role})"
        rows.append(
            {
                "step": task.step,
                "title": task.title,
                "giver": giver,
                "receiver": receiver,
                "at": local(task.opened_at),
                "due_at": local(task.clock.due(calendar, task.closed_at)),
                "closed_at": local(task.closed_at),
                "status": ON_TIME_VI.get(task.on_time or "", "Đang xử lý"),
            }
        )
        giver = receiver
    return rows
