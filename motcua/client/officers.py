"""The officers' actions on a task: claim, complete, reassign, ask for a supplement, approve
the apology letter, deliver an awaited event. The workflow's update validators decide who may
do what, from the front door's signed assertion each action carries: `assertion` (the token
`motcua login` cached), else one the process signs itself (`motcua.client.credentials`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client

from motcua.client.credentials import assertion_for
from motcua.client.dossier import act, update_input
from motcua.client.errors import DossierNotFound, InvalidRequest, UpdateRejected
from motcua.client.inbox import MAX_PAGE_SIZE, inbox
from motcua.client.views import Acted, InboxItem, Redistributed
from procedures.text import MAX_TEXT as MAX_REASON_LENGTH
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
    TaskStatus,
)


async def _officer_update(
    client: Client,
    code: str,
    update: str,
    model: type[BaseModel],
    actor: Actor,
    assertion: str | None,
    **values: Any,
) -> Acted:
    """Every officer's action: its input with the officer's signed assertion, then the update
    (a malformed input or the workflow's refusal as a one-line user error)."""
    request = update_input(
        model, actor=actor, assertion=await assertion_for(actor, assertion), **values
    )
    return await act(client, code, update, request)


async def claim(
    client: Client, code: str, step: str, actor: Actor, *, assertion: str | None = None
) -> Acted:
    """Take an open task, so colleagues see it is being handled."""
    return await _officer_update(client, code, CLAIM, ClaimTask, actor, assertion, step=step)


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
    return await _officer_update(
        client,
        code,
        COMPLETE,
        CompleteTask,
        actor,
        assertion,
        step=step,
        decision=decision,
        fields=dict(fields or {}),
    )


async def reassign(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    to_user: str | None = None,
    to_role: str | None = None,
    *,
    reason: str = "",
    assertion: str | None = None,
) -> Acted:
    """A head hands an open task to another officer or role of the same agency; the reason
    goes into the dossier's history."""
    return await _officer_update(
        client,
        code,
        REASSIGN,
        ReassignTask,
        actor,
        assertion,
        step=step,
        to_user=to_user,
        to_role=to_role,
        reason=reason,
    )


async def assigned_to(client: Client, agency: str, user: str) -> list[InboxItem]:
    """The open tasks of `agency` claimed by `user`: the agency's inbox, every page, with
    each dossier's tasks (visibility, then one `state` query per dossier)."""
    found: list[InboxItem] = []
    page: str | None = None
    while True:
        listed = await inbox(client, agency, page_size=MAX_PAGE_SIZE, page=page, details=True)
        found += (
            item
            for row in listed.rows
            for item in row.tasks or ()
            if item.assignee == user and item.status is TaskStatus.CLAIMED
        )
        page = listed.next_page
        if page is None:
            return found


async def redistribute(
    client: Client,
    actor: Actor,
    from_user: str,
    *,
    reason: str,
    to_user: str | None = None,
    to_role: str | None = None,
    agency: str | None = None,
    assertion: str | None = None,
) -> list[Redistributed]:
    """A head hands every task `from_user` has claimed in `agency` (default: the head's) to
    `to_user` and/or `to_role`, one reassignment per task with `reason` in each dossier's
    history; the result says, per task, whether it was done or why the workflow refused."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("say why the work is redistributed (--reason): it goes into history")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidRequest(f"the reason has at most {MAX_REASON_LENGTH} characters")
    if to_user is None and to_role is None:
        raise InvalidRequest("say whom to hand the work to: a user, a role or both")
    if to_user == from_user:
        raise InvalidRequest(f"the work of {from_user} cannot be handed to {from_user}")
    token = await assertion_for(actor, assertion)
    results = []
    for item in await assigned_to(client, agency or actor.agency, from_user):
        try:
            acted = await reassign(
                client,
                item.dossier,
                item.step,
                actor,
                to_user,
                to_role,
                reason=reason,
                assertion=token,
            )
        except UpdateRejected as err:
            results.append(
                Redistributed(dossier=item.dossier, step=item.step, done=False, message=err.reason)
            )
        except DossierNotFound as err:
            results.append(
                Redistributed(dossier=item.dossier, step=item.step, done=False, message=str(err))
            )
        else:
            results.append(
                Redistributed(
                    dossier=item.dossier, step=item.step, done=True, message=acted.message
                )
            )
    return results


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
    return await _officer_update(
        client,
        code,
        REQUEST_SUPPLEMENT,
        RequestSupplement,
        actor,
        assertion,
        step=step,
        missing=tuple(missing),
        reason=reason,
    )


async def approve_apology(
    client: Client, code: str, actor: Actor, reason: str, *, assertion: str | None = None
) -> Acted:
    """The head approves the apology-and-new-date letter (form 04): the date moves once more."""
    return await _officer_update(
        client, code, APPROVE_APOLOGY, ApproveApology, actor, assertion, reason=reason
    )


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
    return await _officer_update(
        client,
        code,
        DELIVER_EVENT,
        DeliverEvent,
        actor,
        assertion,
        event=event,
        data=dict(data or {}),
    )
