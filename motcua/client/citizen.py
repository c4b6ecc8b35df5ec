"""The applicant's side: where the dossier is (in Vietnamese and English), the supplement
asked for, and withdrawal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from temporalio.client import Client

from motcua.client.dossier import act, show, update_input
from motcua.client.views import STATUS_LABELS, Acted, CitizenStatus, IssuedDocument
from procedures.models import ResultType
from workflows.api import (
    SUPPLEMENT,
    WITHDRAW,
    DossierState,
    PortalStatus,
    SupplementDossier,
    TaskStatus,
    WithdrawDossier,
)


async def status(client: Client, code: str) -> CitizenStatus:
    """What the applicant wants to know: where the dossier is, and when to come back."""
    state = await show(client, code)
    status_vi, status_en = STATUS_LABELS[state.status]
    now_vi, now_en = _happening(state)
    return CitizenStatus(
        code=state.code,
        procedure=state.procedure_name,
        status=state.status.value,
        status_vi=status_vi,
        status_en=status_en,
        received_at=state.clock.received_at,
        appointment=state.clock.due_at,
        now_vi=now_vi,
        now_en=now_en,
        documents=tuple(
            IssuedDocument(title=d.title, issued_at=d.issued_at) for d in state.documents
        ),
    )


_RESULT_WORDS: Mapping[ResultType, tuple[str, str]] = {
    ResultType.APPROVED: ("Hồ sơ đã được giải quyết", "Your application was granted"),
    ResultType.REFUSED: ("Hồ sơ bị từ chối", "Your application was refused"),
    ResultType.WITHDRAWN: ("Hồ sơ đã được rút", "You withdrew the application"),
    ResultType.STOPPED: ("Hồ sơ đã dừng xử lý", "Processing was stopped"),
}


def _happening(state: DossierState) -> tuple[str, str]:
    """What is happening now, in Vietnamese and English, from the state alone."""
    if state.result is not None:
        return _RESULT_WORDS[state.result]
    if state.status is PortalStatus.SUPPLEMENT_REQUESTED:
        asked = [e.detail for e in state.timeline if e.kind == "supplement_requested"]
        missing = asked[-1] if asked else ""
        return f"Cần bổ sung: {missing}", f"Please supplement: {missing}"
    if state.status is PortalStatus.FINANCIAL_OBLIGATION:
        return STATUS_LABELS[state.status]
    open_tasks = [t for t in state.tasks if t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)]
    where = sorted({(t.agency_name, t.title) for t in open_tasks})
    if not where:
        return STATUS_LABELS[state.status]
    places = "; ".join(f"{name}: {title}" for name, title in where)
    return f"Đang xử lý tại {places}", f"Being handled by {places}"


async def supplement(
    client: Client, code: str, documents: Iterable[str], note: str = "", *, applicant_id: str
) -> Acted:
    """The applicant's supplement: the clock runs again. `applicant_id` proves who sends it."""
    request = update_input(
        SupplementDossier, documents=tuple(documents), note=note, applicant_id=applicant_id
    )
    return await act(client, code, SUPPLEMENT, request)


async def withdraw(client: Client, code: str, reason: str = "", *, applicant_id: str) -> Acted:
    """The applicant withdraws the dossier; it ends as withdrawn (portal status 7)."""
    request = update_input(WithdrawDossier, reason=reason, applicant_id=applicant_id)
    return await act(client, code, WITHDRAW, request)
