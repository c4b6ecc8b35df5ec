"""Receiving a dossier: checks before Temporal, a code from the agency's counter (retried while
the counter is busy), then the dossier workflow."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from motcua.client.dossier import show
from motcua.client.errors import CALL_TIMEOUT, InvalidRequest, guard
from motcua.client.views import Submitted
from procedures import fields
from procedures.errors import ProcedureError
from procedures.legaltime.calendar import WorkCalendar, load_calendar
from procedures.loader import load_catalog, load_procedure
from procedures.models import Channel, FrozenProcedure, Procedure
from procedures.text import MAX_LINE, control_problem, payload_problem
from runtime.errors import UserError
from workflows import search_attributes as sa
from workflows.api import (
    ALLOCATE,
    COUNTER_WORKFLOW,
    DOSSIER_WORKFLOW,
    Allocate,
    Allocation,
    Applicant,
    CounterInput,
    DossierInput,
    PortalStatus,
)

BUSY_RETRIES = 10
BUSY_BACKOFF = 0.05
"""Seconds before the first retry of a refused counter call; doubled each time, up to 2 s."""

T = TypeVar("T")


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
            return await guard(client, f"counter-{agency}", "allocate", _unless_busy(call))
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
    a channel it does not offer, an undeclared document, form data too large or holding
    control characters, or (when it declares its `application`) form data with unknown,
    missing, mistyped or too long fields, all named at once."""
    if channel not in procedure.channels:
        accepted = ", ".join(c.value for c in procedure.channels)
        raise InvalidRequest(
            f"procedure {procedure.code} accepts channels {accepted}, not {channel}"
        )
    unknown = sorted(set(documents) - {d.id for d in procedure.documents})
    if unknown:
        known = ", ".join(d.id for d in procedure.documents)
        raise InvalidRequest(f"unknown document(s) {', '.join(unknown)} (known: {known})")
    too_much = payload_problem(dict(form))
    if too_much is not None:
        raise InvalidRequest(f"form: {too_much}")
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
    if len(request_id) > MAX_LINE or control_problem(request_id) is not None:
        raise InvalidRequest(f"request id: at most {MAX_LINE} characters, no control characters")
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
                    # Given at the start, not upserted: old histories' commands stay unchanged.
                    SearchAttributePair(sa.INTERPRETER_VERSION, inp.interpreter),
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
