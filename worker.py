"""The motcua worker: runs dossier workflows and activities for agencies' task queues.

Each agency has its own task queue (named in the catalogue), so in production each agency may
run its own workers; by default one process serves every queue of the catalogue. The worker
connects through temporalio's environment configuration (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TLS, API key; default localhost:7233), so the same worker joins the
embedded dev server or a production cluster unchanged.

    python worker.py [--task-queue Q ...] [--data DIR] [--catalog DIR] [--metrics-port PORT]
                     [--officer-keys JWKS] [--publisher-keys JWKS] [--manifest FILE]

It trusts officers' assertions signed by the keys of `--officer-keys` and runs only the
procedure versions of the manifest signed by a key of `--publisher-keys` (docs/security.md).

A broken catalogue or an unreachable server ends it at once with a one-line reason; SIGINT or
SIGTERM stops polling, lets running activities finish, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from temporalio.runtime import Runtime

from activities import DATA_DIR
from activities.delivery import DeliverySettings
from identity import layout
from procedures.loader import DEFAULT_CATALOG
from runtime import logs
from runtime.catalogue import load_catalogue, select_task_queues
from runtime.connection import connect
from runtime.errors import UserError
from runtime.metrics import telemetry_runtime, tracing_interceptors
from runtime.trust import Trust
from runtime.workers import (
    DEFAULT_MAX_CACHED_WORKFLOWS,
    DEFAULT_MAX_CONCURRENT_ACTIVITIES,
    run_worker,
    stop_on_signals,
)


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
        "--officer-keys",
        type=Path,
        help="JWKS of the front door's public keys (default <data>/identity/officers-keys.json)",
    )
    parser.add_argument(
        "--publisher-keys",
        type=Path,
        help="JWKS of the publishers' keys (default <data>/identity/publisher-keys.json)",
    )
    parser.add_argument(
        "--manifest", type=Path, help="published catalogue (default <data>/published.json)"
    )
    parser.add_argument(
        "--max-cached-workflows",
        type=int,
        default=DEFAULT_MAX_CACHED_WORKFLOWS,
        help="sticky cache size per task queue",
    )
    parser.add_argument(
        "--max-concurrent-activities", type=int, default=DEFAULT_MAX_CONCURRENT_ACTIVITIES
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics (temporal_… and motcua_…) on 127.0.0.1:PORT/metrics",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    queues = select_task_queues(load_catalogue(args.catalog), args.task_queue)
    stop = stop_on_signals()
    if args.metrics_port is not None:
        if not 0 < args.metrics_port < 65536:
            raise UserError(f"--metrics-port {args.metrics_port}: not a port number")
        Runtime.set_default(telemetry_runtime(args.metrics_port))
    try:
        interceptors = tracing_interceptors()
        DeliverySettings.load(args.data)  # a bad delivery.toml or MOTCUA_SMTP_* stops us here
    except ValueError as err:
        raise UserError(str(err)) from None
    trust = Trust.from_files(
        args.officer_keys or layout.officers_signer(args.data).keyset_path,
        args.publisher_keys or layout.publisher_signer(args.data).keyset_path,
        args.manifest or layout.manifest_path(args.data),
    )
    client = await connect()
    await run_worker(
        client,
        queues,
        args.data,
        stop=stop,
        trust=trust,
        max_cached_workflows=args.max_cached_workflows,
        max_concurrent_activities=args.max_concurrent_activities,
        interceptors=interceptors,
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
