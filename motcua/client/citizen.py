"""The applicant's side: where the dossier is (in Vietnamese and English), the supplement
asked for, what a citizen step asks of them, and withdrawal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from temporalio.client import Client

from motcua.client.dossier import act, show, update_input
from motcua.client.views import STATUS_LABELS, Acted, CitizenStatus, IssuedDocument
from procedures.legaltime.clock import SUSPENSION_WORDS, SuspendReason
from procedures.models import ResultType
from workflows.api import (
    CITIZEN_ACT,
    SUPPLEMENT,
    WITHDRAW,
    CitizenAct,
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
    turn = _turn(state)
    return CitizenStatus(
        code=state.code,
        procedure=state.procedure_name,
        status=state.status.value,
        status_vi=status_vi,
        status_en=status_en,
        received_at=state.clock.received_at,
        appointment=state.clock.due_at,
        counted_from=state.clock.counted_from,
        now_vi=now_vi,
        now_en=now_en,
        documents=tuple(
            IssuedDocument(title=d.title, issued_at=d.issued_at) for d in state.documents
        ),
        your_step=turn[0] if turn else None,
        reason=_reason(state),
    )


def _reason(state: DossierState) -> str | None:
    """The end's reason (the timeline's `ended` entry reads `<result>: <reason>`)."""
    ended = [e.detail for e in state.timeline if e.kind == "ended"]
    if state.result is None or not ended:
        return None
    return ended[-1].partition(": ")[2] or None


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
    turn = _turn(state)
    if turn is not None:
        return f"Đề nghị ông/bà thực hiện: {turn[1]}", f"Your turn: {turn[1]}"
    held = [e.detail for e in state.timeline if e.kind == "suspended"]
    if state.clock.suspended and held and held[-1] in set(SuspendReason):
        vi, en = SUSPENSION_WORDS[SuspendReason(held[-1])]
        return f"Tạm dừng tính thời hạn: {vi}", f"Clock stopped: {en}"
    open_tasks = [t for t in state.tasks if t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)]
    where = sorted({(t.agency_name, t.title) for t in open_tasks})
    if not where:
        return STATUS_LABELS[state.status]
    places = "; ".join(f"{name}: {title}" for name, title in where)
    return f"Đang xử lý tại {places}", f"Being handled by {places}"


def _turn(state: DossierState) -> tuple[str, str] | None:
    """The open citizen step and what it asks of the applicant, by when (from the timeline)."""
    open_steps: dict[str, str] = {}
    for entry in state.timeline:
        if entry.kind == "citizen_waiting" and entry.step is not None:
            open_steps[entry.step] = entry.detail
        elif entry.kind in ("arrived", "timed_out") and entry.step is not None:
            open_steps.pop(entry.step, None)
    return next(iter(open_steps.items()), None)


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


async def act_as_applicant(
    client: Client,
    code: str,
    step: str,
    fields: Mapping[str, Any] | None = None,
    *,
    applicant_id: str,
) -> Acted:
    """The applicant has done what citizen step `step` asks (came and signed, paid,
    confirmed), with the values it asks for; `applicant_id` proves who acts."""
    request = update_input(
        CitizenAct, step=step, fields=dict(fields or {}), applicant_id=applicant_id
    )
    return await act(client, code, CITIZEN_ACT, request)
