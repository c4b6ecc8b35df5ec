"""Officers' and citizens' operations on dossiers: one typed async API.

The command line is one caller; a web front end is meant to be another, reusing these functions
instead of repeating their logic. Everything goes through Temporal: dossier codes come from the
receiving agency's counter workflow, a dossier is a workflow, inboxes are visibility queries on
the search attributes, and every action is a workflow update. The client adds no rule of its
own about who may do what: the workflow's update validators decide, so a caller cannot
complete another agency's task, whatever client it uses. A rejection reaches the caller as
`UpdateRejected` with the validator's reason; the worker has already logged it (who, what, why).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecution,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from motcua.errors import UserError
from procedures import fields
from procedures.calendar import WorkCalendar, load_calendar
from procedures.errors import ProcedureError
from procedures.loader import load_catalog, load_procedure
from procedures.models import Channel, FrozenProcedure, Procedure, ResultType
from workflows import search_attributes as sa
from workflows.api import (
    ALLOCATE,
    APPROVE_APOLOGY,
    CLAIM,
    COMPLETE,
    COUNTER_WORKFLOW,
    DOSSIER_WORKFLOW,
    REASSIGN,
    REQUEST_SUPPLEMENT,
    STATE,
    SUPPLEMENT,
    WITHDRAW,
    Actor,
    Allocate,
    Allocation,
    Applicant,
    ApproveApology,
    ClaimTask,
    CompleteTask,
    CounterInput,
    DossierInput,
    DossierState,
    PortalStatus,
    ReassignTask,
    RequestSupplement,
    SupplementDossier,
    TaskStatus,
    WithdrawDossier,
)

DEFAULT_ADDRESS = "localhost:7233"
CALL_TIMEOUT = timedelta(seconds=20)
"""How long a query or update waits for a worker before the caller is told none answers."""
QUERY_CONCURRENCY = 16
BUSY_RETRIES = 10
BUSY_BACKOFF = 0.05
"""Seconds before the first retry of a refused counter call; doubled each time, up to 2 s."""
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
"""Visibility's own limit on one list call's page."""
EXIT_GRACE = 0.1
"""Seconds a short-lived process waits after its last call before the interpreter finalises.

temporalio's native (Rust) threads may still be releasing Python objects just after a call
returns or a connection fails; finalising under them aborts the process ("PyGILState_Release:
thread state must be current", temporalio/sdk-python#300), about one exit in ten without it.
A client offers no close() to wait for instead."""

T = TypeVar("T")


# ------------------------------------------------------------------------------ errors


class DossierNotFound(UserError):
    """No dossier has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"no dossier {code!r}")
        self.code = code


class UpdateRejected(UserError):
    """The workflow refused an action; `reason` is the validator's message, meant for people."""

    def __init__(self, code: str, action: str, reason: str) -> None:
        super().__init__(f"{action} on {code} rejected: {reason}")
        self.code, self.action, self.reason = code, action, reason


class ServerUnreachable(UserError):
    """The Temporal server at `address` does not answer."""

    def __init__(self, address: str, detail: str = "") -> None:
        super().__init__(f"cannot reach the Temporal server at {address}{detail}")
        self.address = address


class NoWorker(UserError):
    """The server answers but no worker picks the dossier's work up in time."""

    def __init__(self, code: str) -> None:
        super().__init__(
            f"no worker answered for {code} within {int(CALL_TIMEOUT.total_seconds())}s "
            "(is `motcua dev` or worker.py running?)"
        )


class NotReady(UserError):
    """The dossier's workflow cannot answer now (its workflow task is failing or retried)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"dossier {code} cannot answer now: {detail}")


class InvalidRequest(UserError):
    """The request itself is malformed (an empty list, an unknown channel...)."""


# ------------------------------------------------------------------------------ results


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Submitted(_View):
    """A submission's answer: the dossier code and the appointment date (ngày hẹn trả)."""

    code: str
    due_at: datetime
    existing: bool = False


class Acted(_View):
    """An accepted action, with the workflow's answer."""

    code: str
    action: str
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


class InboxRow(_View):
    """One dossier waiting on an agency, read from its search attributes alone.

    `due_at` is the dossier's earliest open due instant (`NextDueAt`: over every agency's open
    tasks, or the dossier's appointment when none is open); `overdue` is set by the dossier
    when a task or the dossier runs late. `procedure_name` and `tasks` come only with details.
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
    now_vi: str
    now_en: str
    documents: tuple[IssuedDocument, ...]


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


# ------------------------------------------------------------------------------ connection


async def connect(address: str | None = None) -> Client:
    """Connect through temporalio's environment configuration (TEMPORAL_ADDRESS, namespace,
    TLS, API key), so the same code reaches the embedded server or a production cluster."""
    config = ClientConfig.load_client_connect_config()
    target = address or config.get("target_host") or DEFAULT_ADDRESS
    try:
        return await Client.connect(
            target,
            namespace=config.get("namespace", "default"),
            api_key=config.get("api_key"),
            tls=config.get("tls"),
            rpc_metadata=config.get("rpc_metadata", {}),
            data_converter=pydantic_data_converter,
        )
    except RuntimeError as err:
        await asyncio.sleep(EXIT_GRACE)  # callers usually exit next: see EXIT_GRACE
        raise ServerUnreachable(target, _short(err)) from None


@asynccontextmanager
async def session(address: str | None = None) -> AsyncIterator[Client]:
    """A client for a short-lived process such as one command; see `EXIT_GRACE` on the way out."""
    connected = await connect(address)
    try:
        yield connected
    finally:
        await asyncio.sleep(EXIT_GRACE)


def _short(err: BaseException) -> str:
    text = str(err)
    for cause in ("Connection refused", "timed out", "dns error", "certificate"):
        if cause.lower() in text.lower():
            return f" ({cause.lower()})"
    return ""


async def _guard(client: Client, code: str, action: str, call: Awaitable[T]) -> T:
    """Turn Temporal's errors into the user errors this module promises."""
    try:
        return await call
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        reason = getattr(cause, "message", None) or str(cause or err)
        raise UpdateRejected(code, action, reason) from None
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            if "already completed" in err.message:
                raise UpdateRejected(code, action, "the dossier is closed") from None
            raise DossierNotFound(code) from None
        if err.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
            raise NoWorker(code) from None
        if err.status is RPCStatusCode.FAILED_PRECONDITION:
            raise NotReady(code, err.message) from None
        if err.status is RPCStatusCode.UNAVAILABLE:
            raise ServerUnreachable(client.service_client.config.target_host) from None
        raise


# ------------------------------------------------------------------------------ submission


class _Busy(Exception):
    """The counter call did not happen (load, or an aborted update): asking again is safe."""


async def _unless_busy(call: Awaitable[T]) -> T:
    try:
        return await call
    except RPCError as err:
        # Update-with-start reports a refused update as the whole operation failing, and an
        # update the counter dropped (its worker died, or it continued as new) as aborted.
        if err.status is RPCStatusCode.RESOURCE_EXHAUSTED or err.message.startswith(
            ("Update-with-Start could not be executed", "workflow update was aborted")
        ):
            raise _Busy from err
        raise


async def _allocate(client: Client, agency: str, task_queue: str, request_id: str) -> Allocation:
    """A dossier code from the agency's counter, waiting out a burst of submissions.

    The server holds at most a few updates in flight per workflow (10 by default) and refuses
    more (RESOURCE_EXHAUSTED, or the whole update-with-start aborted); the counter answers in
    milliseconds, so the submission waits and asks again (the request id makes a repeat
    harmless) instead of failing.
    """
    for attempt in range(BUSY_RETRIES + 1):
        counter: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            COUNTER_WORKFLOW,
            CounterInput(agency_code=agency),
            id=f"counter-{agency}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        call = client.execute_update_with_start_workflow(
            ALLOCATE,
            Allocate(request_id=request_id),
            start_workflow_operation=counter,
            result_type=Allocation,
            rpc_timeout=CALL_TIMEOUT,
        )
        try:
            return await _guard(client, f"counter-{agency}", "allocate", _unless_busy(call))
        except _Busy:
            with contextlib.suppress(Exception):  # the failed start's own copy of the error
                await counter.workflow_handle()
        await asyncio.sleep(min(BUSY_BACKOFF * 2**attempt, 2.0) * random.uniform(0.5, 1.5))
    raise UserError(f"the counter of agency {agency} is too busy; submit again in a moment")


def load_frozen(procedure: str) -> FrozenProcedure:
    """A procedure by catalogue code, or from a YAML file when given a path."""
    try:
        path = Path(procedure)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            return load_procedure(path)
        catalog = load_catalog()
    except (ProcedureError, OSError) as err:
        lines = str(err).splitlines() or ["unreadable"]
        more = f" (and {len(lines) - 1} more; run `motcua validate`)" if len(lines) > 1 else ""
        raise UserError(f"cannot load procedure {procedure}: {lines[0]}{more}") from None
    if procedure not in catalog:
        known = ", ".join(sorted(catalog)) or "none"
        raise UserError(f"no procedure {procedure!r} in the catalogue (known: {known})")
    return catalog[procedure]


def default_request_id(procedure_code: str, applicant: Applicant, form: Mapping[str, Any]) -> str:
    """The same application, sent again, gets the same request id and so the same dossier."""
    blob = json.dumps(
        [procedure_code, applicant.model_dump(mode="json"), dict(form)],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def check_submission(
    procedure: Procedure, channel: Channel, form: Mapping[str, Any], documents: Iterable[str]
) -> None:
    """Refuse, before anything reaches Temporal, a submission the procedure does not accept:
    a channel it does not offer, an undeclared document, or (when it declares its
    `application`) form data with unknown, missing or mistyped fields, all named at once."""
    if channel not in procedure.channels:
        accepted = ", ".join(c.value for c in procedure.channels)
        raise InvalidRequest(
            f"procedure {procedure.code} accepts channels {accepted}, not {channel}"
        )
    unknown = sorted(set(documents) - {d.id for d in procedure.documents})
    if unknown:
        known = ", ".join(d.id for d in procedure.documents)
        raise InvalidRequest(f"unknown document(s) {', '.join(unknown)} (known: {known})")
    if procedure.application:
        problems = fields.application_problems(procedure.application, form)
        if problems:
            raise InvalidRequest("form: " + "; ".join(problems))


async def submit(
    client: Client,
    procedure: str | FrozenProcedure,
    applicant: Applicant,
    channel: Channel,
    form: Mapping[str, Any] | None = None,
    documents: Iterable[str] = (),
    request_id: str | None = None,
    calendar: WorkCalendar | None = None,
) -> Submitted:
    """Receive a dossier: a code from the agency's counter, then the dossier workflow.

    The counter remembers request ids, and a dossier code is never reused (REJECT_DUPLICATE),
    so repeating a submission returns the dossier it created first (`existing=True`).
    """
    frozen = procedure if isinstance(procedure, FrozenProcedure) else load_frozen(procedure)
    proc = frozen.procedure
    form = dict(form or {})
    documents = tuple(documents)
    check_submission(proc, channel, form, documents)
    request_id = request_id or default_request_id(proc.code, applicant, form)
    agency = proc.agencies[proc.receiving_agency]
    allocation = await _allocate(client, agency.code, agency.task_queue, request_id)
    code = allocation.code
    inp = DossierInput(
        code=code,
        procedure=frozen,
        calendar=calendar or load_calendar(),
        received_at=allocation.received_at,
        channel=channel,
        applicant=applicant,
        form=form,
        documents=documents,
        request_id=request_id,
    )
    existing = False
    try:
        await client.start_workflow(
            DOSSIER_WORKFLOW,
            inp,
            id=code,
            task_queue=agency.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PROCEDURE_CODE, proc.code),
                    SearchAttributePair(sa.PORTAL_STATUS, PortalStatus.RECEIVED.value),
                    SearchAttributePair(sa.OVERDUE, False),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        if not allocation.existing:
            raise UserError(
                f"dossier code {code} is already taken although the counter of "
                f"{agency.code} just issued it: check the counter workflow"
            ) from None
        existing = True
    state = await show(client, code)
    return Submitted(code=code, due_at=state.clock.due_at, existing=existing)


# ------------------------------------------------------------------------------ reading


async def show(client: Client, code: str) -> DossierState:
    """The dossier's whole state (timeline, documents, clock), from the `state` query."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(code)
    return await _guard(
        client,
        code,
        "state",
        handle.query(STATE, result_type=DossierState, rpc_timeout=CALL_TIMEOUT),
    )


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
    for value in (agency_code, role or "", procedure or ""):
        if "'" in value or "\\" in value:
            raise InvalidRequest(f"invalid agency, role or procedure {value!r}")
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
    on two pages.
    """
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
        counts, (found, group, token) = await _visibility(
            client,
            asyncio.gather(
                asyncio.gather(*map(client.count_workflows, counted)),
                _listing(client, groups, cursor, page_size),
            ),
        )
        total, late = counts[0].count, counts[-1].count
    else:  # later pages repeat the first page's counts: each count scans the whole inbox
        total, late = cursor.counts
        found, group, token = await _visibility(client, _listing(client, groups, cursor, page_size))
    rows = sorted(
        (_row(wf, agency_code) for wf in found),
        key=lambda r: (not r.overdue, r.due_at or datetime.max.replace(tzinfo=UTC), r.dossier),
    )
    if details:
        rows = await _with_tasks(client, rows, agency_code, role, overdue_only)
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


async def _listing(
    client: Client, groups: list[str], cursor: _Cursor, size: int
) -> tuple[list[WorkflowExecution], int, bytes | None]:
    """Up to `size` dossiers from `cursor` on, group after group; where the next page starts."""
    found: list[WorkflowExecution] = []
    group, token = cursor.group, cursor.token
    while len(found) < size and group < len(groups):
        listing = client.list_workflows(
            groups[group], page_size=size - len(found), next_page_token=token
        )
        await listing.fetch_next_page()
        found += listing.current_page or ()
        token = listing.next_page_token or None
        if token is None:
            group += 1
    return found, group, token


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


async def _visibility(client: Client, call: Awaitable[T]) -> T:
    """Turn a visibility call's errors into user errors."""
    try:
        return await call
    except RPCError as err:
        if err.status is RPCStatusCode.UNAVAILABLE:
            raise ServerUnreachable(client.service_client.config.target_host) from None
        if err.status is RPCStatusCode.INVALID_ARGUMENT:
            raise UserError(f"the server refused the inbox query: {err.message}") from None
        raise


def _row(wf: WorkflowExecution, agency_code: str) -> InboxRow:
    """An inbox row from a listed dossier's search attributes."""
    found = wf.typed_search_attributes
    prefix = sa.pending_role(agency_code, "")
    roles = found.get(sa.PENDING_ROLES) or ()
    status = found.get(sa.PORTAL_STATUS)
    return InboxRow(
        dossier=wf.id,
        procedure_code=found.get(sa.PROCEDURE_CODE) or "",
        waiting_on=tuple(r.removeprefix(prefix) for r in roles if r.startswith(prefix)),
        status=PortalStatus(status) if status else PortalStatus.RECEIVED,
        received_at=wf.start_time,
        due_at=found.get(sa.NEXT_DUE_AT),
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
            )
            for t in (*state.tasks, *((state.apology,) if state.apology else ()))
            if state.result is None
            and t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)
            and t.agency == agency_code
            and role in (None, t.role)
            and (t.overdue or not overdue_only)
        )
        return row.model_copy(update={"procedure_name": state.procedure_name, "tasks": tasks})

    return list(await asyncio.gather(*(detailed(r) for r in rows)))


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


# ------------------------------------------------------------------------------ actions


def _request(model: type[BaseModel], **data: Any) -> BaseModel:
    """Build an update's input; a malformed one is the caller's mistake, said in one line."""
    try:
        return model(**data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{where}: {first['msg']}") from None


async def _act(client: Client, code: str, update: str, request: BaseModel) -> Acted:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(code)
    message = await _guard(
        client,
        code,
        update,
        handle.execute_update(update, request, result_type=str, rpc_timeout=CALL_TIMEOUT),
    )
    return Acted(code=code, action=update, message=message)


async def claim(client: Client, code: str, step: str, actor: Actor) -> Acted:
    """Take an open task, so colleagues see it is being handled."""
    return await _act(client, code, CLAIM, _request(ClaimTask, step=step, actor=actor))


async def complete(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    decision: str,
    fields: Mapping[str, Any] | None = None,
) -> Acted:
    """Decide a task; the dossier moves to the step the decision leads to."""
    request = _request(
        CompleteTask, step=step, actor=actor, decision=decision, fields=dict(fields or {})
    )
    return await _act(client, code, COMPLETE, request)


async def reassign(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    to_user: str | None = None,
    to_role: str | None = None,
) -> Acted:
    """A head hands an open task to another officer or role of the same agency."""
    request = _request(ReassignTask, step=step, actor=actor, to_user=to_user, to_role=to_role)
    return await _act(client, code, REASSIGN, request)


async def request_supplement(
    client: Client,
    code: str,
    step: str,
    actor: Actor,
    missing: Iterable[str],
    reason: str = "",
) -> Acted:
    """Ask the applicant, once, for everything missing; the legal clock stops meanwhile."""
    request = _request(
        RequestSupplement, step=step, actor=actor, missing=tuple(missing), reason=reason
    )
    return await _act(client, code, REQUEST_SUPPLEMENT, request)


async def approve_apology(client: Client, code: str, actor: Actor, reason: str) -> Acted:
    """The head approves the apology-and-new-date letter (form 04): the date moves once more."""
    request = _request(ApproveApology, actor=actor, reason=reason)
    return await _act(client, code, APPROVE_APOLOGY, request)


async def supplement(
    client: Client, code: str, documents: Iterable[str], note: str = "", *, applicant_id: str
) -> Acted:
    """The applicant's supplement: the clock runs again. `applicant_id` proves who sends it."""
    request = _request(
        SupplementDossier, documents=tuple(documents), note=note, applicant_id=applicant_id
    )
    return await _act(client, code, SUPPLEMENT, request)


async def withdraw(client: Client, code: str, reason: str = "", *, applicant_id: str) -> Acted:
    """The applicant withdraws the dossier; it ends as withdrawn (portal status 7)."""
    request = _request(WithdrawDossier, reason=reason, applicant_id=applicant_id)
    return await _act(client, code, WITHDRAW, request)
