"""The officers' actions on a task: claim, complete, reassign, ask for a supplement, approve
the apology letter, deliver an awaited event. The workflow's update validators decide who may
do what, from the front door's signed assertion each action carries: `assertion` (the token
`motcua login` cached), else one the process signs itself (`motcua.client.credentials`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from temporalio.client import Client

from motcua.client.credentials import assertion_for
from motcua.client.dossier import act, update_input
from motcua.client.views import Acted
from workflows.api import (
    APPROVE_APOLOGY,
    CLAIM,
    COMPLETE,
    DELIVER_EVENT,
    REASSIGN,
    REQUEST_SUPPLEMENT,
    Actor,
    ApproveApology,
    ClaimTask,
    CompleteTask,
    DeliverEvent,
    ReassignTask,
    RequestSupplement,
)


async def claim(
    client: Client, code: str, step: str, actor: Actor, *, assertion: str | None = None
) -> Acted:
    """Take an open task, so colleagues see it is being handled."""
    request = update_input(
        ClaimTask, step=step, actor=actor, assertion=await assertion_for(actor, assertion)
    )
    return await act(client, code, CLAIM, request)


async def complete(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    decision: str,
    fields: Mapping[str, Any] | None = None,
    *,
    assertion: str | None = None,
) -> Acted:
    """Decide a task; the dossier moves to the step the decision leads to."""
    request = update_input(
        CompleteTask,
        step=step,
        actor=actor,
        decision=decision,
        fields=dict(fields or {}),
        assertion=await assertion_for(actor, assertion),
    )
    return await act(client, code, COMPLETE, request)


async def reassign(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    to_user: str | None = None,
    to_role: str | None = None,
    *,
    assertion: str | None = None,
) -> Acted:
    """A head hands an open task to another officer or role of the same agency."""
    request = update_input(
        ReassignTask,
        step=step,
        actor=actor,
        to_user=to_user,
        to_role=to_role,
        assertion=await assertion_for(actor, assertion),
    )
    return await act(client, code, REASSIGN, request)


async def request_supplement(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    missing: Iterable[str],
    reason: str = "",
    *,
    assertion: str | None = None,
) -> Acted:
    """Ask the applicant, once, for everything missing; the legal clock stops meanwhile."""
    request = update_input(
        RequestSupplement,
        step=step,
        actor=actor,
        missing=tuple(missing),
        reason=reason,
        assertion=await assertion_for(actor, assertion),
    )
    return await act(client, code, REQUEST_SUPPLEMENT, request)


async def approve_apology(
    client: Client, code: str, actor: Actor, reason: str, *, assertion: str | None = None
) -> Acted:
    """The head approves the apology-and-new-date letter (form 04): the date moves once more."""
    request = update_input(
        ApproveApology, actor=actor, reason=reason, assertion=await assertion_for(actor, assertion)
    )
    return await act(client, code, APPROVE_APOLOGY, request)


async def deliver_event(
    client: Client,
    code: str,
    event: str,
    actor: Actor,
    data: Mapping[str, Any] | None = None,
    *,
    assertion: str | None = None,
) -> Acted:
    """An awaited event happened (a payment received...), reported by an officer or a
    service acting as one."""
    request = update_input(
        DeliverEvent,
        event=event,
        actor=actor,
        data=dict(data or {}),
        assertion=await assertion_for(actor, assertion),
    )
    return await act(client, code, DELIVER_EVENT, request)
