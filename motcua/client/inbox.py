"""Officers' inboxes: the dossiers waiting on an agency or a role, page by page, from
visibility (search attributes) alone, optionally with each dossier's open tasks."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio.client import Client, WorkflowExecution

from motcua.client.dossier import show
from motcua.client.errors import DossierNotFound, InvalidRequest, visibility_errors
from motcua.client.views import InboxItem, InboxPage, InboxRow
from workflows import search_attributes as sa
from workflows.api import PortalStatus, TaskStatus

T = TypeVar("T")
QUERY_CONCURRENCY = 16
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
"""Visibility's own limit on one list call's page."""


def inbox_query(
    agency_code: str,
    role: str | None = None,
    overdue_only: bool = False,
    *,
    procedure: str | None = None,
    status: PortalStatus | None = None,
) -> str:
    """The visibility query behind an inbox: search attributes only, never history scans.

    A role's clause alone selects its agency too; adding the agency's clause would only make
    SQLite's visibility check one more list per row (a third slower, measured). `procedure`
    and `status` narrow it to one procedure code or one portal status."""
    for value in (agency_code, role or ""):
        if "'" in value or "\\" in value:
            raise InvalidRequest(f"invalid agency or role {value!r}")
    if procedure and ("'" in procedure or "\\" in procedure):
        raise InvalidRequest(f"invalid procedure code {procedure!r}")
    clauses = ["ExecutionStatus = 'Running'"]
    if role:
        clauses.append(f"PendingRoles = '{sa.pending_role(agency_code, role)}'")
    else:
        clauses.append(f"PendingAgencies = '{agency_code}'")
    if procedure:
        clauses.append(f"ProcedureCode = '{procedure}'")
    if status is not None:
        clauses.append(f"PortalStatus = {int(status)}")
    if overdue_only:
        clauses.append("Overdue = true")
    return " AND ".join(clauses)


async def inbox(
    client: Client,
    agency_code: str,
    role: str | None = None,
    overdue_only: bool = False,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    page: str | None = None,
    details: bool = False,
    procedure: str | None = None,
    status: PortalStatus | None = None,
    cache: InboxCache | None = None,
) -> InboxPage:
    """One page of the dossiers waiting on an agency (or one of its roles), overdue first.

    Rows come from visibility alone (the search attributes each dossier upserts): the same
    few visibility calls, run together, whatever the inbox's size, and no workflow query;
    `details` adds the open tasks of the page's dossiers (one `state` query each, often a
    replay). SQLite's visibility still counts by scanning, so the first page's time grows
    slowly with the number of open dossiers (BENCHMARKS.md, "Many open dossiers"); later
    pages show the counts the first page took, without counting again. The embedded
    server's SQL visibility has no ORDER BY: pages list the overdue dossiers, then the others,
    each group in visibility's order (latest received first), and rows are sorted by due
    instant within a page. Visibility is eventually consistent: a dossier changed a moment
    ago may be missing, listed with its previous roles, or (when it just fell overdue) listed
    on two pages. With a `cache`, counts and pages are visibility's answers of the last few
    seconds, shared by every caller of the process (`InboxCache`).
    """
    cache = cache or _NO_CACHE
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    base = inbox_query(agency_code, role, procedure=procedure, status=status)
    groups = [f"{base} AND Overdue = true"]
    if not overdue_only:
        groups.append(f"{base} AND Overdue = false")
    cursor = _Cursor.decode(page) if page else _Cursor()
    if not 0 <= cursor.group < len(groups):
        raise InvalidRequest("this page token belongs to another inbox (was --overdue changed?)")
    if cursor.counts is None:
        counted = [groups[0]] if overdue_only else [base, groups[0]]
        counts, (found, group, token) = await visibility_errors(
            client,
            asyncio.gather(
                asyncio.gather(*(cache.count(client, query) for query in counted)),
                _listing(client, groups, cursor, page_size, cache),
            ),
        )
        total, late = counts[0], counts[-1]
    else:  # later pages repeat the first page's counts: each count scans the whole inbox
        total, late = cursor.counts
        found, group, token = await visibility_errors(
            client, _listing(client, groups, cursor, page_size, cache)
        )
    rows = [_row(wf, agency_code) for wf in found]
    if details:
        rows = await _with_tasks(client, rows, agency_code, role, overdue_only)
    rows.sort(
        key=lambda r: (not r.overdue, r.due_at or datetime.max.replace(tzinfo=UTC), r.dossier)
    )
    more = group < len(groups)
    return InboxPage(
        agency=agency_code,
        role=role,
        overdue_only=overdue_only,
        total=total,
        overdue=late,
        first=cursor.shown + 1,
        rows=tuple(rows),
        next_page=(
            _Cursor(
                group=group, token=token, shown=cursor.shown + len(rows), counts=(total, late)
            ).encode()
            if more
            else None
        ),
    )


class InboxSource(Protocol):
    """What answers an inbox page: `inbox` (visibility) unless a read model stands in for it
    (`create_app(inbox=...)`; bench/web.py measures a projection that way)."""

    def __call__(
        self,
        client: Client,
        agency_code: str,
        role: str | None = None,
        overdue_only: bool = False,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        page: str | None = None,
        details: bool = False,
        procedure: str | None = None,
        status: PortalStatus | None = None,
        cache: InboxCache | None = None,
    ) -> Awaitable[InboxPage]: ...


async def _listing(
    client: Client, groups: list[str], cursor: _Cursor, size: int, cache: InboxCache
) -> tuple[list[WorkflowExecution], int, bytes | None]:
    """Up to `size` dossiers from `cursor` on, group after group; where the next page starts."""
    found: list[WorkflowExecution] = []
    group, token = cursor.group, cursor.token
    while len(found) < size and group < len(groups):
        listed, token = await cache.page(client, groups[group], size - len(found), token)
        found += listed
        if token is None:
            group += 1
    return found, group, token


class InboxCache:
    """Visibility's answers behind inboxes, kept a few seconds and shared by every officer a
    process serves: fifty officers of one desk opening their inbox cost one count of it per
    `count_seconds` and one listing per `page_seconds`, not fifty (BENCHMARKS.md, "The web
    app"). Concurrent identical calls share one answer in flight. Failures are not kept.

    Per process and only a short delay added to visibility's own: several processes behind a
    load balancer each ask visibility at most that often, and none shows an answer older than
    its TTL. A TTL of 0 asks visibility every time (`motcua inbox` does)."""

    def __init__(
        self, count_seconds: float = 10.0, page_seconds: float = 2.0, max_entries: int = 1024
    ) -> None:
        self.count_seconds = count_seconds
        self.page_seconds = page_seconds
        self.max_entries = max_entries
        self._kept: dict[tuple[Any, ...], tuple[float, asyncio.Future[Any]]] = {}

    async def count(self, client: Client, query: str) -> int:
        """How many workflows `query` selects."""

        async def ask() -> int:
            return (await client.count_workflows(query)).count

        key = ("count", client.namespace, query)
        return await self._shared(key, self.count_seconds, ask)

    async def page(
        self, client: Client, query: str, size: int, token: bytes | None
    ) -> tuple[list[WorkflowExecution], bytes | None]:
        """One visibility page of `query` from `token`; the next page's token (None: the end)."""

        async def ask() -> tuple[list[WorkflowExecution], bytes | None]:
            listing = client.list_workflows(query, page_size=size, next_page_token=token)
            await listing.fetch_next_page()
            return list(listing.current_page or ()), listing.next_page_token or None

        key = ("page", client.namespace, query, size, token)
        return await self._shared(key, self.page_seconds, ask)

    async def _shared(
        self, key: tuple[Any, ...], seconds: float, ask: Callable[[], Awaitable[T]]
    ) -> T:
        if seconds <= 0:
            return await ask()
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is None or kept[0] <= now:
            if len(self._kept) >= self.max_entries // 4:  # a page of rows is ~50 kB
                self._prune(now)
            future: asyncio.Future[T] = asyncio.ensure_future(ask())
            future.add_done_callback(lambda done: self._forget_failed(key, done))
            kept = self._kept[key] = (now + seconds, future)
        result: T = await asyncio.shield(kept[1])
        return result

    def _forget_failed(self, key: tuple[Any, ...], done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            kept = self._kept.get(key)
            if kept is not None and kept[1] is done:
                del self._kept[key]

    def _prune(self, now: float) -> None:
        """Drop the expired answers, then the oldest ones, to stay under `max_entries`."""
        for key in [k for k, (until, _) in self._kept.items() if until <= now]:
            del self._kept[key]
        while len(self._kept) >= self.max_entries:
            del self._kept[next(iter(self._kept))]


_NO_CACHE = InboxCache(0, 0)


class _Cursor(BaseModel):
    """Where the next inbox page starts: the group (overdue or not), visibility's own page
    token within it, how many rows earlier pages showed, and the first page's counts (total,
    overdue). Opaque to callers."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
    group: int = 0
    token: bytes | None = None
    shown: int = 0
    counts: tuple[int, int] | None = None

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode()

    @classmethod
    def decode(cls, text: str) -> _Cursor:
        try:
            return cls.model_validate_json(base64.urlsafe_b64decode(text.encode()))
        except (ValueError, ValidationError):
            raise InvalidRequest("unreadable page token: pass `next_page` as printed") from None


def _row(wf: WorkflowExecution, agency_code: str) -> InboxRow:
    """An inbox row from a listed dossier's search attributes."""
    found = wf.typed_search_attributes
    prefix = sa.pending_role(agency_code, "")
    roles = found.get(sa.PENDING_ROLES) or ()
    status = found.get(sa.PORTAL_STATUS)
    others = any(not r.startswith(prefix) for r in roles)  # NextDueAt may be another's task
    return InboxRow(
        dossier=wf.id,
        procedure_code=found.get(sa.PROCEDURE_CODE) or "",
        waiting_on=tuple(r.removeprefix(prefix) for r in roles if r.startswith(prefix)),
        status=PortalStatus(status) if status else PortalStatus.RECEIVED,
        received_at=found.get(sa.RECEIVED_AT) or wf.start_time,  # a pay-first: at payment
        due_at=None if others else found.get(sa.NEXT_DUE_AT),
        overdue=bool(found.get(sa.OVERDUE)),
    )


async def _with_tasks(
    client: Client, rows: list[InboxRow], agency_code: str, role: str | None, overdue_only: bool
) -> list[InboxRow]:
    """The rows with their dossiers' open tasks for this agency (and role), from `state`."""
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def detailed(row: InboxRow) -> InboxRow:
        async with gate:
            try:
                state = await show(client, row.dossier)
            except DossierNotFound:
                return row.model_copy(update={"tasks": ()})
        running = next((p for p in state.phases if p.finished_at is None), None)
        tasks = tuple(
            InboxItem(
                dossier=state.code,
                procedure_code=state.procedure_code,
                procedure_name=state.procedure_name,
                step=t.step,
                title=t.title,
                agency=t.agency,
                role=t.role,
                status=t.status,
                assignee=t.assignee,
                due_at=t.due_at,
                hours_left=round(t.remaining_minutes / 60, 2),
                overdue=t.overdue,
                phase=running.phase if running else None,
                phase_due_at=running.due_at if running else None,
            )
            for t in (*state.tasks, *((state.apology,) if state.apology else ()))
            if state.result is None
            and t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)
            and t.agency == agency_code
            and role in (None, t.role)
            and (t.overdue or not overdue_only)
        )
        own = min((t.due_at for t in tasks), default=row.due_at)
        update = {"procedure_name": state.procedure_name, "tasks": tasks, "due_at": own}
        return row.model_copy(update=update)

    return list(await asyncio.gather(*(detailed(r) for r in rows)))
