"""Dossier codes for a client process: concurrent submissions share counter updates.

Every submission to an agency needs a number from the agency's counter workflow
(`workflows.counter`). Sent one by one, a burst meets the server's limit of 10 updates in
flight per workflow and fails; here a process keeps one queue per agency and sends what has
queued as one `allocate_many` update while the previous one is in flight (group commit): at
most one update in flight per process and agency, however many callers wait. Other processes
(workers of a web front end) add theirs; when the server still refuses (RESOURCE_EXHAUSTED,
an update aborted by the counter continuing as new) the batch waits and asks again, which the
tickets make harmless, for up to `PATIENCE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from motcua.client.errors import CALL_TIMEOUT, guard
from runtime.errors import UserError
from workflows.api import ALLOCATE_MANY, COUNTER_WORKFLOW, Allocated, AllocateMany, CounterInput
from workflows.counter import MAX_BATCH

PATIENCE = 120.0
"""Seconds a batch keeps asking a busy counter before its callers are told to submit again."""
BACKOFF = 0.05
"""Seconds before the first retry of a refused batch; doubled each time, up to 2 s."""


@dataclass(frozen=True)
class Number:
    """A ticket's answer: its code (`""` if its request id named another submission)."""

    code: str
    received_at: datetime
    existing: bool


@dataclass
class _Queue:
    client: Client
    agency: str
    task_queue: str
    waiting: list[tuple[str, asyncio.Future[Number]]] = field(default_factory=list)
    sender: asyncio.Task[None] | None = None

    async def number(self, ticket: str) -> Number:
        future: asyncio.Future[Number] = asyncio.get_running_loop().create_future()
        self.waiting.append((ticket, future))
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
            try:
                answer = await _allocate(self, [t for t, _ in batch])
            except Exception as err:  # every caller of the batch gets the batch's failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            for (_, future), code, existing in zip(
                batch, answer.codes, answer.existing, strict=True
            ):
                if not future.done():
                    future.set_result(Number(code, answer.received_at, existing))


_queues: weakref.WeakKeyDictionary[Client, dict[str, _Queue]] = weakref.WeakKeyDictionary()


async def number(client: Client, agency: str, task_queue: str, ticket: str) -> Number:
    """A dossier code for `ticket` (`workflows.counter.ticket`) from the agency's counter."""
    queues = _queues.setdefault(client, {})
    queue = queues.get(agency)
    if queue is None:
        queue = queues[agency] = _Queue(client, agency, task_queue)
    return await queue.number(ticket)


class _Busy(Exception):
    """The counter call did not happen (load, or an aborted update): asking again is safe."""


async def _allocate(queue: _Queue, tickets: list[str]) -> Allocated:
    deadline = time.monotonic() + PATIENCE
    attempt = 0
    while True:
        try:
            return await _call(queue, tickets)
        except _Busy:
            if time.monotonic() > deadline:
                raise UserError(
                    f"the counter of agency {queue.agency} is too busy; submit again in a moment"
                ) from None
        await asyncio.sleep(min(BACKOFF * 2**attempt, 2.0) * random.uniform(0.5, 1.5))
        attempt += 1


async def _call(queue: _Queue, tickets: list[str]) -> Allocated:
    counter: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        COUNTER_WORKFLOW,
        CounterInput(agency_code=queue.agency),
        id=f"counter-{queue.agency}",
        task_queue=queue.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    call = queue.client.execute_update_with_start_workflow(
        ALLOCATE_MANY,
        AllocateMany(tickets=tickets),
        start_workflow_operation=counter,
        result_type=Allocated,
        rpc_timeout=CALL_TIMEOUT,
    )
    try:
        return await guard(queue.client, f"counter-{queue.agency}", "allocate", call)
    except RPCError as err:
        # Update-with-start reports a refused update as the whole operation failing, and an
        # update the counter dropped (its worker died, or it continued as new) as aborted.
        if err.status is RPCStatusCode.RESOURCE_EXHAUSTED or err.message.startswith(
            ("Update-with-Start could not be executed", "workflow update was aborted")
        ):
            with contextlib.suppress(Exception):  # the failed start's own copy of the error
                await counter.workflow_handle()
            raise _Busy from err
        raise
