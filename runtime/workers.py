"""One `Worker` per task queue, sharing activities and their thread pool: the worker runtime.

`WorkerGroup` is what `worker.py`, `motcua dev`, the demo, the dry run and the tests all run,
so that each serves workflows exactly as production does (same sandbox, same runner).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Interceptor, PollerBehaviorAutoscaling, Worker

from activities import all_activities
from activities.publication import Publication
from identity import trusted
from identity.assertions import Keyset
from runtime.errors import UserError
from runtime.metrics import ActivityLatency
from runtime.sandbox import workflow_runner
from runtime.trust import Trust
from workflows.counter import AgencyCounterWorkflow
from workflows.dossier import DossierWorkflow
from workflows.rating import RatingWorkflow

log = structlog.get_logger("worker")

WORKFLOWS: tuple[type, ...] = (DossierWorkflow, AgencyCounterWorkflow, RatingWorkflow)

DEFAULT_MAX_CACHED_WORKFLOWS = 500
"""Sticky cache size per task queue: running dossiers kept in memory between their tasks."""
DEFAULT_MAX_CONCURRENT_ACTIVITIES = 32
"""Threads running activities (file writes), shared by every task queue of the process."""
POLLERS = PollerBehaviorAutoscaling(maximum=20)
"""Long polls per task queue and kind, scaled with the backlog: the SDK's fixed default of five
capped one worker at about 12 receipts/s with half a core idle (bench/scale.py)."""
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
"""How long running activities may finish after a stop signal before they are cancelled."""


class WorkerGroup:
    """One `Worker` per task queue, sharing activities and their thread pool, run together.

    `async with WorkerGroup(...)` starts polling and, on exit, shuts every worker down
    gracefully; tests use it directly, `run_worker` adds waiting for a stop signal.
    """

    def __init__(
        self,
        client: Client,
        task_queues: Sequence[str],
        data_dir: Path,
        *,
        trust: Trust,
        workflows: Sequence[type] = WORKFLOWS,
        activities: Sequence[Callable[..., Any]] | None = None,
        max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
        max_concurrent_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        if not task_queues:
            raise UserError("no task queue to serve")
        self.task_queues = tuple(task_queues)
        self.trust = trust
        self._trusted_before: Keyset = {}
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrent_activities, thread_name_prefix="activity"
        )
        bound = list(activities) if activities is not None else all_activities(data_dir)
        # Asked by each new dossier as a local activity, so by the worker running workflows;
        # `activities=[]` makes a workflows-only worker, which polls no activity task.
        bound.append(Publication(trust.published, drafts=trust.drafts).is_published)
        workflows_only = activities is not None and not activities
        # Built here, not on entry: a workflow that fails validation raises at once.
        self.workers = [
            Worker(
                client,
                task_queue=queue,
                workflows=list(workflows),
                activities=bound,
                no_remote_activities=workflows_only,
                activity_executor=self._executor,
                workflow_runner=workflow_runner(),
                max_cached_workflows=max_cached_workflows,
                max_concurrent_activities=max_concurrent_activities,
                workflow_task_poller_behavior=POLLERS,
                activity_task_poller_behavior=POLLERS,
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
                interceptors=[ActivityLatency(), *interceptors],
                # A rejected update's answer carries the request back; the worker's own size
                # check would fail the workflow task on a 3 MB note the validator refused (and
                # wedge the dossier's next update). The server keeps its limits on what is
                # recorded, and every input motcua records is bounded (`procedures.text`).
                disable_payload_error_limit=True,
            )
            for queue in self.task_queues
        ]
        self._runs: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> WorkerGroup:
        # One trust per process (validators read `identity.trusted`); restored on exit.
        self._trusted_before = trusted.officer_keys()
        trusted.trust_officer_keys(self.trust.officer_keys)
        self._runs = [asyncio.create_task(worker.run()) for worker in self.workers]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; a worker failing (namespace missing, server gone) raises at once."""
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopped, *self._runs], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        for run in self._runs:
            if run.done() and not run.cancelled() and run.exception() is not None:
                reason = str(run.exception()).split(": Status {")[0]  # drop the gRPC dump
                raise UserError(f"worker stopped: {reason}")

    async def shutdown(self) -> None:
        """Stop polling, let running activities finish, then release the thread pool."""
        running = [w for w, run in zip(self.workers, self._runs, strict=True) if not run.done()]
        await asyncio.gather(*(worker.shutdown() for worker in running), return_exceptions=True)
        await asyncio.gather(*self._runs, return_exceptions=True)
        self._executor.shutdown(wait=True)
        trusted.trust_officer_keys(self._trusted_before)


async def run_worker(
    client: Client,
    task_queues: Sequence[str],
    data_dir: Path,
    *,
    stop: asyncio.Event | None = None,
    trust: Trust | None = None,
    max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
    max_concurrent_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    interceptors: Sequence[Interceptor] = (),
) -> None:
    """Serve the task queues until `stop` is set (or for ever), then shut down gracefully;
    trusting the keys and manifest of `data_dir` unless `trust` says otherwise."""
    async with WorkerGroup(
        client,
        task_queues,
        data_dir,
        trust=trust or Trust.of_data(data_dir),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_activities=max_concurrent_activities,
        interceptors=interceptors,
    ) as group:
        log.info("worker serving", task_queues=list(group.task_queues), data=str(data_dir))
        if not group.trust.officer_keys:
            log.warning("no officer keys trusted: every officer's update will be refused")
        await group.wait(stop or asyncio.Event())
    log.info("worker stopped", task_queues=list(group.task_queues))


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so that both shut the worker down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
