"""Submission bursts: N concurrent `motcua.client.submit` calls to one agency.

    python bench/burst.py [--submissions 1000] [--workers 1] [--record]

On the embedded default as `motcua dev` runs it (`motcua.devserver.DevServer`: the dev server
on a SQLite file, WAL) with the real worker (`worker.py`, a separate process), every call is
launched at once (no client-side limit) from one process to procedure 1.001193, whose
receiving agency numbers them all, once the worker has served one counter (warm, as in
service). Reported: calls that succeeded and the errors that reached
a caller, the wall time and rate (all calls, and the middle 80% of completions), p50/p99/max
latency, counter updates used, CPU of server and worker during the burst, and the load
average. Checked: every code unique, numbers 1..N of the day (a gap is listed with the call
that failed), and one dossier execution per code (visibility). `--record` writes the
BENCHMARKS.md section for the run's size.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare import (  # noqa: E402
    cpu_seconds,
    free_port,
    load_average,
    percentile,
    record,
    spawn_worker,
)
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.api.taskqueue.v1 import TaskQueue  # noqa: E402
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest  # noqa: E402
from temporalio.client import Client  # noqa: E402

from motcua import client as ops  # noqa: E402
from motcua import publication  # noqa: E402
from motcua.client import allocation  # noqa: E402
from motcua.devserver import DevServer  # noqa: E402
from procedures.loader import DEFAULT_CATALOG  # noqa: E402
from procedures.models import Channel  # noqa: E402
from runtime.catalogue import load_catalogue  # noqa: E402
from workflows.api import Applicant  # noqa: E402
from workflows.counter import ticket  # noqa: E402

SECTION = "## Submission bursts (bench/burst.py, {n} concurrent)"
PROCEDURE = "1.001193"


async def wait_for_pollers(client: Client, queue: str, timeout: float = 60) -> None:
    """Until a worker polls the agency's queue (the burst should not time the worker's start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=queue))
        )
        if answer.pollers:
            return
        await asyncio.sleep(0.5)
    raise SystemExit(f"no worker polled {queue} within {timeout:.0f}s")


async def burst(client: Client, n: int) -> tuple[list[tuple[float, float, str]], dict[str, int]]:
    """Launch `n` submissions at once; (start, end, code) of each success and the errors."""
    frozen = ops.load_frozen(PROCEDURE)
    documents = tuple(d.id for d in frozen.procedure.documents if d.required)
    done: list[tuple[float, float, str]] = []
    errors: collections.Counter[str] = collections.Counter()

    async def one(i: int) -> None:
        applicant = Applicant(full_name=f"Người nộp {i}", id_number=f"0192{i:08d}")
        started = time.perf_counter()
        try:
            submitted = await ops.submit(
                client, frozen, applicant, Channel.ONLINE, {}, documents, request_id=f"b-{i}"
            )
        except Exception as err:  # every error that reaches a caller is counted, by message
            errors[f"{type(err).__name__}: {str(err)[:120]}"] += 1
            return
        done.append((started, time.perf_counter(), submitted.code))

    await asyncio.gather(*(one(i) for i in range(n)))
    return done, dict(errors)


async def executions(client: Client, expected: int, timeout: float = 60) -> int:
    """Dossier executions visibility lists (eventually consistent: wait for `expected`)."""
    deadline = time.monotonic() + timeout
    while True:
        count = (await client.count_workflows("WorkflowType = 'Dossier'")).count
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(1)


async def drained(client: Client, agency: str, n: int, timeout: float) -> float | None:
    """Seconds until all `n` receipts have run (each dossier waits on the agency's first task),
    counted from now; None if not within `timeout`."""
    t0 = time.perf_counter()
    query = f"WorkflowType = 'Dossier' AND PendingAgencies = '{agency}'"
    while time.perf_counter() - t0 < timeout:
        if (await client.count_workflows(query)).count >= n:
            return time.perf_counter() - t0
        await asyncio.sleep(1)
    return None


async def counter_updates(client: Client, agency: str) -> int:
    """Updates the agency's counter took in its current run."""
    total = 0
    handle = client.get_workflow_handle(f"counter-{agency}")
    async for event in handle.fetch_history_events():
        total += event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return total


async def run(args: argparse.Namespace) -> tuple[bool, list[str]]:
    tmp = Path(tempfile.mkdtemp(prefix="motcua-burst-"))
    data = tmp / "data"
    data.mkdir()
    # As a province runs it: the catalogue published (else every dossier stops at once as
    # unpublished, `published_only`, and the receipts this bench waits for never run).
    publication.publish(data, load_catalogue(DEFAULT_CATALOG), "burst")
    server = DevServer(tmp / "server", port=free_port(), ui_port=free_port(), log_level="error")
    await server.start()
    assert server._process is not None
    server_pid = server._process.pid
    workers = [spawn_worker(server.address, data, script="worker.py") for _ in range(args.workers)]
    try:
        client = await ops.connect(server.address)
        frozen = ops.load_frozen(PROCEDURE)
        agency = frozen.procedure.agencies[frozen.procedure.receiving_agency]
        await wait_for_pollers(client, agency.task_queue)
        # A worker in service has its workflow code loaded: warm it with another agency's
        # counter, so the burst does not time the sandbox's first imports.
        await allocation.number(
            client, "000.00.00.H00", agency.task_queue, ticket("warm-up", "warm-up")
        )
        load_before = load_average()
        cpu0 = [cpu_seconds(server_pid), *(cpu_seconds(w.pid) for w in workers)]
        t0 = time.perf_counter()
        done, errors = await burst(client, args.submissions)
        wall = time.perf_counter() - t0
        cpu = [
            b - a
            for a, b in zip(
                cpu0, [cpu_seconds(server_pid), *(cpu_seconds(w.pid) for w in workers)], strict=True
            )
        ]
        load_after = load_average()
        codes = [code for _, _, code in done]
        numbers = sorted(int(c.rsplit("-", 1)[1]) for c in codes)
        gaps = sorted(set(range(1, args.submissions + 1)) - set(numbers))
        listed = await executions(client, len(set(codes)))
        drain = await drained(client, agency.code, len(done), args.drain_timeout)
        whole = time.perf_counter() - t0
        cpu_all = [
            cpu_seconds(p) - c
            for p, c in zip([server_pid, *(w.pid for w in workers)], cpu0, strict=True)
        ]
        updates = await counter_updates(client, agency.code)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        await server.stop()
    latencies = sorted(end - start for start, end, _ in done)
    ends = sorted(end - t0 for _, end, _ in done)
    lo, hi = (ends[len(ends) // 10], ends[len(ends) * 9 // 10 - 1]) if ends else (0.0, 0.0)
    middle = (len(ends) * 8 // 10) / (hi - lo) if hi > lo else float("nan")
    n = args.submissions
    lines = [
        "Before the batched counter (issue 19, one `allocate` update per submission): 200 "
        "concurrent → 19/s, p99 8.5 s; 1,000 concurrent → 12 started, 988 errors, 165 s.",
        "Burst rates depend on the load other work puts on the 2 shared cores (noted).",
        "",
        f"{n} concurrent submissions to agency {agency.code} ({PROCEDURE}), "
        f"{args.workers} × worker.py, load average {load_before} before / {load_after} after:",
        "",
        "| figure | value |",
        "|---|---|",
        f"| submitted / errors reaching a caller | {len(done)} / {sum(errors.values())} |",
        f"| wall time, rate over all | {wall:.1f} s, **{len(done) / wall:.1f} /s** |",
        f"| rate over the middle 80% of completions | {middle:.1f} /s |",
        f"| latency p50 / p99 / max | {percentile(latencies, 0.5):.2f} / "
        f"{percentile(latencies, 0.99):.2f} / {latencies[-1]:.2f} s |",
        f"| codes unique, sequential | {len(set(codes)) == len(codes)}, "
        f"gaps {gaps[:10] or 'none'} |",
        f"| dossier executions listed | {listed} (one per code) |",
        f"| counter updates (its current run) | {updates} |",
        f"| CPU during the burst: server / worker(s) | {cpu[0]:.1f} s / {sum(cpu[1:]):.1f} s |",
        "| every receipt run (first task open), from the burst's start | "
        + (f"{whole:.0f} s: {len(done) / whole:.1f} dossiers/s |" if drain else "not in time |"),
        f"| CPU to the end of the receipts: server / worker(s) | {cpu_all[0]:.0f} s / "
        f"{sum(cpu_all[1:]):.0f} s: {1000 * cpu_all[0] / n:.0f} / "
        f"{1000 * sum(cpu_all[1:]) / n:.0f} ms per dossier |",
    ]
    for message, count in sorted(errors.items()):
        lines.append(f"| error ×{count} | {message} |")
    lines += ["", f"    python bench/burst.py --submissions {n} --workers {args.workers} --record"]
    ok = len(done) == n and not gaps and listed == n
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="worker.py processes")
    parser.add_argument(
        "--drain-timeout", type=float, default=900, help="seconds to wait for the receipts"
    )
    parser.add_argument("--record", action="store_true", help="write BENCHMARKS.md")
    args = parser.parse_args(argv)
    ok, lines = asyncio.run(run(args))
    print("\n".join(lines))
    if args.record:
        record(lines, SECTION.format(n=args.submissions))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
