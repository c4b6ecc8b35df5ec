"""The officers' actions on a task: claim, complete, reassign, ask for a supplement, approve
the apology letter. The workflow's update validators decide who may do what."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from temporalio.client import Client

from motcua.client.dossier import act, update_input
from motcua.client.views import Acted
from workflows.api import (
    APPROVE_APOLOGY,
    CLAIM,
    COMPLETE,
    REASSIGN,
    REQUEST_SUPPLEMENT,
    Actor,
    ApproveApology,
    ClaimTask,
    CompleteTask,
    ReassignTask,
    RequestSupplement,
)


async def claim(client: Client, code: str, step: str, actor: Actor) -> Acted:
    """Take an open task, so colleagues see it is being handled."""
    return await act(client, code, CLAIM, update_input(ClaimTask, step=step, actor=actor))


async def complete(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    decision: str,
    fields: Mapping[str, Any] | None = None,
) -> Acted:
    """Decide a task; the dossier moves to the step the decision leads to."""
    request = update_input(
        CompleteTask, step=step, actor=actor, decision=decision, fields=dict(fields or {})
    )
    return await act(client, code, COMPLETE, request)


async def reassign(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    to_user: str | None = None,
    to_role: str | None = None,
) -> Acted:
    """A head hands an open task to another officer or role of the same agency."""
    request = update_input(ReassignTask, step=step, actor=actor, to_user=to_user, to_role=to_role)
    return await act(client, code, REASSIGN, request)


async def request_supplement(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    missing: Iterable[str],
    reason: str = "",
) -> Acted:
    """Ask the applicant, once, for everything missing; the legal clock stops meanwhile."""
    request = update_input(
        RequestSupplement, step=step, actor=actor, missing=tuple(missing), reason=reason
    )
    return await act(client, code, REQUEST_SUPPLEMENT, request)


async def approve_apology(client: Client, code: str, actor: Actor, reason: str) -> Acted:
    """The head approves the apology-and-new-date letter (form 04): the date moves once more."""
    request = update_input(ApproveApology, actor=actor, reason=reason)
    return await act(client, code, APPROVE_APOLOGY, request)
