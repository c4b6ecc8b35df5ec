"""Publish a new working-day calendar to every running dossier.

A dossier counts its deadlines with the calendar frozen into its state, so an extra Tết day or
a make-up Saturday announced while dossiers run reaches them only when they are told. One
batch signal does it server-side: Temporal selects the running dossiers by a visibility query
and signals each one (`update_calendar`), so no client has to list and signal thousands of
workflows, and a dossier started after the batch began simply starts with the calendar its
submitter loaded. Each dossier derives its due instants again and its timers follow.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio.api.batch.v1 import BatchOperationSignal
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import BatchOperationState
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationRequest,
    DescribeBatchOperationResponse,
    StartBatchOperationRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from procedures.legaltime.calendar import WorkCalendar
from runtime.errors import UserError
from workflows.api import DOSSIER_WORKFLOW, UPDATE_CALENDAR

RUNNING_DOSSIERS = f'WorkflowType="{DOSSIER_WORKFLOW}" AND ExecutionStatus="Running"'
"""Every running dossier, sub-procedures included (they are dossiers of their own agency)."""

POLL_INTERVAL = 0.5
DEFAULT_TIMEOUT = timedelta(minutes=10)


class BroadcastResult(BaseModel):
    """How a batch signal went: how many dossiers it found, signalled and failed to signal."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    calendar_version: str
    state: str
    total: int
    signalled: int
    failed: int


async def start_broadcast(
    client: Client, calendar: WorkCalendar, reason: str, job_id: str | None = None
) -> str:
    """Start the batch signal; return its job id (the batch runs on the server)."""
    job_id = job_id or f"calendar-{calendar.version}-{uuid.uuid4().hex[:8]}"
    payloads = await client.data_converter.encode([calendar])
    request = StartBatchOperationRequest(
        namespace=client.namespace,
        job_id=job_id,
        reason=reason,
        visibility_query=RUNNING_DOSSIERS,
        signal_operation=BatchOperationSignal(
            signal=UPDATE_CALENDAR,
            input=Payloads(payloads=payloads),
            identity=client.identity,
        ),
    )
    try:
        await client.workflow_service.start_batch_operation(request)
    except RPCError as err:
        raise UserError(f"the server refused the batch signal: {err.message}") from None
    return job_id


async def wait_broadcast(
    client: Client,
    job_id: str,
    calendar_version: str,
    timeout: timedelta = DEFAULT_TIMEOUT,
) -> BroadcastResult:
    """Poll the batch job until it is no longer running; raise `UserError` on a timeout."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout.total_seconds()
    while True:
        desc = await _describe(client, job_id)
        if desc is not None and desc.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING:
            return BroadcastResult(
                job_id=job_id,
                calendar_version=calendar_version,
                state=BatchOperationState.Name(desc.state)
                .removeprefix("BATCH_OPERATION_STATE_")
                .lower(),
                total=desc.total_operation_count,
                signalled=desc.complete_operation_count,
                failed=desc.failure_operation_count,
            )
        if loop.time() > give_up:
            raise UserError(
                f"batch job {job_id} still running after {timeout}; "
                f"check it with `temporal batch describe --job-id {job_id}`"
            )
        await asyncio.sleep(POLL_INTERVAL)


async def _describe(client: Client, job_id: str) -> DescribeBatchOperationResponse | None:
    """The job's description, or None while the server does not know it yet."""
    try:
        return await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id)
        )
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


async def publish(
    client: Client,
    calendar: WorkCalendar,
    reason: str = "new working-day calendar",
    timeout: timedelta = DEFAULT_TIMEOUT,
) -> BroadcastResult:
    """Send `calendar` to every running dossier and wait until the batch has finished."""
    job_id = await start_broadcast(client, calendar, reason)
    return await wait_broadcast(client, job_id, calendar.version, timeout)


def year_summary(calendar: WorkCalendar, year: int) -> tuple[list[date], list[date]]:
    """The weekdays off (holidays and swapped days) and the make-up working days of `year`."""
    off = [d for d in calendar.non_working if d.year == year and d.weekday() < 5]
    make_up = [d for d in calendar.working if d.year == year]
    return off, make_up
