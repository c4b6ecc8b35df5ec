"""The motcua worker: runs dossier workflows and activities for agencies' task queues.

Each agency has its own task queue (named in the catalogue), so in production each agency may
run its own workers; by default one process serves every queue of the catalogue. The worker
connects through temporalio's environment configuration (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TLS, API key; default localhost:7233), so the same worker joins the
embedded dev server or a production cluster unchanged.

    python worker.py [--task-queue Q ...] [--data DIR] [--catalog DIR]

A broken catalogue or an unreachable server ends it at once with a one-line reason; SIGINT or
SIGTERM stops polling, lets running activities finish, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import DATA_DIR, all_activities
from motcua import logs
from motcua.client import connect
from motcua.errors import UserError
from motcua.ordering import UpdatesLastRunner
from procedures.errors import ProcedureError
from procedures.loader import DEFAULT_CATALOG, load_catalog
from procedures.models import FrozenProcedure
from workflows.api import updates_last
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

SANDBOX_RESTRICTIONS = SandboxRestrictions.default.with_passthrough_modules(
    "procedures",
    "workflows.api",
    "workflows.clock",
    "workflows.search_attributes",
    "activities",
    "pydantic",
    "pydantic_core",
    "jinja2",
    "markupsafe",
    "structlog",
)
"""Deterministic, side-effect-free modules workflow code may share with the host instead of
re-importing them for every workflow run (faster, and pydantic classes stay identical)."""


def workflow_runner(sandbox: WorkflowRunner | None = None) -> WorkflowRunner:
    """How workers and replayers run workflow code: in the sandbox (`sandbox`, by default with
    `SANDBOX_RESTRICTIONS`), and for dossiers that opted in at their start, with updates after
    the other jobs of an activation (`motcua.ordering`).

    Workers and replayers must agree on this, or a history would not replay.
    """
    inner = sandbox or SandboxedWorkflowRunner(restrictions=SANDBOX_RESTRICTIONS)
    return UpdatesLastRunner(inner, updates_last)


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
        workflows: Sequence[type] = WORKFLOWS,
        activities: Sequence[Callable[..., Any]] | None = None,
        max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
        max_concurrent_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    ) -> None:
        if not task_queues:
            raise UserError("no task queue to serve")
        self.task_queues = tuple(task_queues)
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrent_activities, thread_name_prefix="activity"
        )
        bound = list(activities) if activities is not None else all_activities(data_dir)
        # Built here, not on entry: a workflow that fails validation raises at once.
        self.workers = [
            Worker(
                client,
                task_queue=queue,
                workflows=list(workflows),
                activities=bound,
                activity_executor=self._executor,
                workflow_runner=workflow_runner(),
                max_cached_workflows=max_cached_workflows,
                max_concurrent_activities=max_concurrent_activities,
                workflow_task_poller_behavior=POLLERS,
                activity_task_poller_behavior=POLLERS,
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            )
            for queue in self.task_queues
        ]
        self._runs: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> WorkerGroup:
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


async def run_worker(
    client: Client,
    task_queues: Sequence[str],
    data_dir: Path,
    *,
    stop: asyncio.Event | None = None,
    max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
    max_concurrent_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES,
) -> None:
    """Serve the task queues until `stop` is set (or for ever), then shut down gracefully."""
    async with WorkerGroup(
        client,
        task_queues,
        data_dir,
        max_cached_workflows=max_cached_workflows,
        max_concurrent_activities=max_concurrent_activities,
    ) as group:
        log.info("worker serving", task_queues=list(group.task_queues), data=str(data_dir))
        await group.wait(stop or asyncio.Event())
    log.info("worker stopped", task_queues=list(group.task_queues))


def load_catalogue(folder: Path) -> dict[str, FrozenProcedure]:
    """The catalogue, or a one-line `UserError` naming its first problem."""
    try:
        return load_catalog(folder)
    except ProcedureError as err:
        first = str(err).splitlines()[0] if str(err) else "unknown problem"
        more = len(err.problems) - 1
        extra = f" (and {more} more; run `motcua validate`)" if more > 0 else ""
        raise UserError(f"broken catalogue {folder}: {first}{extra}") from None


def catalogue_task_queues(catalog: Mapping[str, FrozenProcedure]) -> list[str]:
    """Every task queue the catalogue's agencies (sub-procedures included) listen on."""
    queues: set[str] = set()

    def visit(procedures: Iterable[FrozenProcedure]) -> None:
        for frozen in procedures:
            queues.update(agency.task_queue for agency in frozen.procedure.agencies.values())
            visit(frozen.subprocedures.values())

    visit(catalog.values())
    return sorted(queues)


def select_task_queues(catalog: Mapping[str, FrozenProcedure], wanted: Sequence[str]) -> list[str]:
    """The queues to serve: those asked for (each must be in the catalogue), else all."""
    known = catalogue_task_queues(catalog)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise UserError(
            f"task queue(s) {', '.join(unknown)} not used by the catalogue"
            f" (it uses: {', '.join(known)})"
        )
    return list(dict.fromkeys(wanted)) or known


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so that both shut the worker down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def build_parser() -> argparse.ArgumentParser:
    """The worker's command line."""
    parser = argparse.ArgumentParser(
        prog="worker.py", description="Run motcua workflows and activities for task queues."
    )
    parser.add_argument(
        "--task-queue",
        action="append",
        default=[],
        metavar="Q",
        help="serve only this task queue (repeatable); default: every queue of the catalogue",
    )
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="data folder (MOTCUA_DATA)")
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="catalogue folder")
    parser.add_argument(
        "--max-cached-workflows",
        type=int,
        default=DEFAULT_MAX_CACHED_WORKFLOWS,
        help="sticky cache size per task queue",
    )
    parser.add_argument(
        "--max-concurrent-activities", type=int, default=DEFAULT_MAX_CONCURRENT_ACTIVITIES
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    queues = select_task_queues(load_catalogue(args.catalog), args.task_queue)
    stop = stop_on_signals()
    client = await connect()
    await run_worker(
        client,
        queues,
        args.data,
        stop=stop,
        max_cached_workflows=args.max_cached_workflows,
        max_concurrent_activities=args.max_concurrent_activities,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the exit status (0 after a graceful stop, 1 with a one-line reason)."""
    logs.configure()
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except UserError as err:
        print(f"worker: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
