"""The signed-in officer's inbox, one home for the page and the JSON API.

Rows come from visibility through the process's `InboxCache` (eventually consistent, and a
listing kept a few seconds); the dossiers this officer acted on in the last two minutes (the
session cookie remembers which) are re-read from their `state` query and overlaid, so their
own claim or decision shows at once on either path (docs/web.md, "Inbox").
"""

from __future__ import annotations

import asyncio

from motcua import client
from motcua.web.auth import Officer
from motcua.web.context import Web
from motcua.web.sessions import Session
from workflows.api import DossierState, PortalStatus, TaskStatus, TaskView


async def officer_inbox(
    web: Web,
    sess: Session,
    officer: Officer,
    *,
    by_role: bool,
    overdue_only: bool,
    page_size: int,
    page: str | None,
    procedure: str | None,
    status: PortalStatus | None,
) -> client.InboxPage:
    """One page of the officer's inbox (their role's, or their agency's), with their own
    recent actions already applied."""
    found = await web.inbox(
        web.client(),
        officer.agency,
        officer.role if by_role else None,
        overdue_only,
        page_size=page_size,
        page=page,
        procedure=procedure,
        status=status,
        cache=web.inbox_cache,
    )
    rows = await with_own_actions(web, sess, officer, list(found.rows), by_role)
    return found.model_copy(update={"rows": tuple(rows)})


async def with_own_actions(
    web: Web, sess: Session, officer: Officer, rows: list[client.InboxRow], by_role: bool
) -> list[client.InboxRow]:
    """The rows with the dossiers this officer just acted on re-read from their state: a
    dossier no longer waiting on them is dropped, the others show their status now."""
    recent = sess.recent_codes()
    if not recent or not any(row.dossier in recent for row in rows):
        return rows
    states = await asyncio.gather(
        *(client.show(web.client(), row.dossier) for row in rows if row.dossier in recent),
        return_exceptions=True,
    )
    fresh = {s.code: s for s in states if isinstance(s, DossierState)}
    kept = []
    for row in rows:
        state = fresh.get(row.dossier)
        waiting = () if state is None else waiting_roles(state, officer, by_role)
        if state is None:
            kept.append(row)
        elif waiting:
            kept.append(row.model_copy(update={"status": state.status, "waiting_on": waiting}))
    return kept


def waiting_roles(state: DossierState, officer: Officer, by_role: bool) -> tuple[str, ...]:
    """The officer's agency's roles (only theirs, `by_role`) the dossier waits on now."""
    if state.result is not None:
        return ()
    return tuple(
        sorted(
            {
                t.role
                for t in open_tasks(state)
                if t.agency == officer.agency and (not by_role or t.role == officer.role)
            }
        )
    )


def open_tasks(state: DossierState) -> list[TaskView]:
    """The dossier's tasks still to be done (the apology's too)."""
    tasks = [*state.tasks, *((state.apology,) if state.apology else ())]
    return [t for t in tasks if t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)]
