"""Many open dossiers waiting on human tasks: receipt rate, worker memory, inbox time.

    python bench/scale.py [--dossiers 2000] [--max-cached 500] [--hold 30] [--record]
    python bench/scale.py --dossiers 100000 --dir /var/tmp/scale   # resumable: rerun the same

An embedded dev server (SQLite) and the real worker (`worker.py`, separate processes) receive
`--dossiers` dossiers of 1.001193, started as `motcua.client.submit` starts them (same input,
search attributes and task queue) but with codes made here instead of by the counter workflow,
whose one-at-a-time updates would measure the counter. Each runs its receipt (statuses, receipt
form, notification) and then waits at the one-stop officer's task. At most `--window`
dossiers are in their receipt at once: started faster than the worker settles them, the task
queue's backlog would outgrow the sticky queue's timeout and turn cached runs into replays.
The worker's RSS and both processes' CPU are sampled every `--every` seconds. Then random
dossiers are queried (`state`) for `--hold` seconds, which keeps the bounded sticky cache
evicting and replaying, and the inbox (`motcua.client.inbox`) is timed for an officer with
every dossier and one with a few (`--moved` dossiers moved on to the justice officer).

With `--dir`, the server's database and the worker's data stay there and a second run with the
same `--dir` resumes: already started dossiers are skipped (their codes are deterministic).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare import (  # noqa: E402
    PROCEDURE,
    cpu_seconds,
    free_port,
    load_average,
    record,
    rss_mb,
    spawn_worker,
)
from temporalio.client import Client  # noqa: E402
from temporalio.common import SearchAttributePair, TypedSearchAttributes  # noqa: E402
from temporalio.exceptions import WorkflowAlreadyStartedError  # noqa: E402
from temporalio.service import RPCError, RPCStatusCode  # noqa: E402

from motcua import client as ops  # noqa: E402
from motcua.devserver import SQLITE_PRAGMAS, DevServer  # noqa: E402
from procedures.legaltime.calendar import load_calendar  # noqa: E402
from procedures.models import Channel  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402
from workflows.api import DOSSIER_WORKFLOW, Actor, Applicant, DossierInput, PortalStatus  # noqa: E402

SECTION = "## Many open dossiers (bench/scale.py)"
COMMUNE = "000.00.19.H26"
QUEUE = "commune"
WAITING = ops.inbox_query(COMMUNE, "one_stop")
STARTED = f"WorkflowType = '{DOSSIER_WORKFLOW}'"
RETRYABLE = (
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.INTERNAL,
)
COUNT_PERIOD = 5.0
"""Seconds between counts of the waiting dossiers while opening (one visibility count each)."""
T = TypeVar("T")

NOTES = """\
Where the opening's time goes (1,000 dossiers, CPU of each process from /proc/<pid>/stat):
each receipt is five workflow tasks and four activities in sequence (36 history events, 56 KB,
42 KB of it the frozen procedure in the input), about 40 ms of worker CPU and 50-90 ms of
server CPU. Three things limit the rate. (1) The server's SQLite: in WAL mode with
`synchronous=normal` the server needs 89 → 55 ms per dossier and far fewer fsyncs (durable
across process kills; may lose the last transactions on power loss). (2) The worker's
pollers: with temporalio's default of 5 workflow-task and 5 activity-task polls per queue, one
worker using half a core caps the chain of tasks at about 12 dossiers/s; 20 of each (worker.py
patched for the experiment) gave 17.8/s, a second worker process 19.6/s (and twice the RSS).
(3) Bytecode: without caches (PYTHONDONTWRITEBYTECODE, as in this sandbox) the worker's
sandbox compiles the workflow modules from source for every new dossier, a quarter of its CPU;
the bench lets the snapshot write them, as an installed package has them. More starts in
flight do not help; more than a few hundred dossiers in their receipt at once only lengthen
the task queues (hence `--window`). The counter workflow is not used: through
`motcua.client.submit` (counter update, start, `state` query) 8 concurrent submits give
2.9 dossiers/s, and 50 concurrent ones fail with "limit on number of concurrent in-flight
updates has been reached (10)" (the server's per-workflow limit on the counter).

The inbox reads visibility only: two counts and one or two list calls per page, run together,
and no workflow query; `--details` adds one `state` query per row of the page. SQLite's
visibility lists a page in about 55 ms whatever the size, but counts by scanning the matching
rows (30,000 rows without a worker, load average 2-4: 85-180 ms for the count, 240-260 ms for the
page; 10,000: 45-70 / 95-130 ms), so at 100,000 a page should take 0.5-0.8 s. It refuses
ORDER BY: pages give the overdue dossiers first, then the others, each group in visibility's
order (latest received first), sorted by due instant within the page.\
"""


class Server(DevServer):
    """The embedded dev server on free ports, with other `--sqlite-pragma`s when the bench asks."""

    def __init__(self, data_dir: Path, pragmas: list[str]) -> None:
        super().__init__(
            data_dir,
            port=free_port(),
            ui_port=free_port(),
            log_level="error",
            sqlite_pragmas=pragmas or SQLITE_PRAGMAS,
        )


@dataclass
class Progress:
    """What the opening has done so far, and the samples taken while it ran."""

    target: int
    started: int = 0
    waiting: int = 0
    retries: int = 0
    worker_restarts: int = 0
    phase: str = "open"
    t0: float = field(default_factory=time.perf_counter)
    samples: list[dict[str, float | str]] = field(default_factory=list)

    def of(self, phase: str, key: str = "rss") -> list[float]:
        """A sampled figure during `phase`."""
        return [float(s[key]) for s in self.samples if s["phase"] == phase]


class Workers:
    """`worker.py` processes on the server; a dead one is started again (and counted)."""

    def __init__(self, address: str, data: Path, n: int, extra: list[str]) -> None:
        # An installed package has bytecode caches; without them, the sandbox compiles the
        # workflow modules from source for every dossier it instantiates (a quarter of the
        # worker's CPU here), so the bench lets the snapshot's caches be written.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        self.address, self.data, self.extra = address, data, extra
        self.procs = [self._spawn() for _ in range(n)]

    def _spawn(self) -> subprocess.Popen[bytes]:
        return spawn_worker(self.address, self.data, self.extra, script="worker.py")

    def revive(self) -> int:
        """Restart dead workers; how many were dead."""
        dead = [i for i, p in enumerate(self.procs) if p.poll() is not None]
        for i in dead:
            self.procs[i] = self._spawn()
        return len(dead)

    def rss(self) -> float:
        return sum(rss_mb(p.pid) for p in self.procs if p.poll() is None)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs if p.poll() is None)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


async def monitor(
    client: Client, progress: Progress, workers: Workers, server_pid: int, every: float, log: Path
) -> None:
    """Count the waiting dossiers every COUNT_PERIOD seconds (the starters' window needs it);
    every `every` seconds also sample RSS and CPU, print and log. Until cancelled."""
    last_t, last_waiting = time.perf_counter(), progress.waiting
    while True:
        await asyncio.sleep(COUNT_PERIOD)
        progress.worker_restarts += workers.revive()
        try:
            progress.waiting = (await client.count_workflows(WAITING)).count
        except RPCError:
            progress.retries += 1
        now = time.perf_counter()
        if now - last_t < every:
            continue
        sample: dict[str, float | str] = {
            "t": round(now - progress.t0, 1),
            "phase": progress.phase,
            "started": progress.started,
            "waiting": progress.waiting,
            "rate": round((progress.waiting - last_waiting) / (now - last_t), 1),
            "rss": round(workers.rss()),
            "worker_cpu": round(workers.cpu(), 1),
            "server_cpu": round(cpu_seconds(server_pid), 1),
            "load": float(load_average()),
        }
        last_t, last_waiting = now, progress.waiting
        progress.samples.append(sample)
        with log.open("a") as out:
            out.write(json.dumps(sample) + "\n")
        print(
            f"[{time.strftime('%X')}] {sample['phase']}: {progress.started:,} started, "
            f"{progress.waiting:,}/{progress.target:,} waiting ({sample['rate']}/s), worker RSS "
            f"{sample['rss']} MiB, CPU worker {sample['worker_cpu']} s server "
            f"{sample['server_cpu']} s, load {sample['load']}",
            flush=True,
        )


async def open_dossiers(
    client: Client, progress: Progress, first: int, concurrency: int, window: int
) -> None:
    """Start dossiers `first`..target-1, at most `window` of them in their receipt at once."""
    frozen = ops.load_frozen(PROCEDURE)
    calendar = load_calendar()
    documents = tuple(d.id for d in frozen.procedure.documents if d.required)
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(sa.PROCEDURE_CODE, PROCEDURE),
            SearchAttributePair(sa.PORTAL_STATUS, PortalStatus.RECEIVED.value),
            SearchAttributePair(sa.OVERDUE, False),
        ]
    )
    upcoming = iter(range(first, progress.target))

    async def one(i: int) -> None:
        code = f"{COMMUNE}-S-{i:06d}"
        inp = DossierInput(
            code=code,
            procedure=frozen,
            calendar=calendar,
            received_at=datetime.now(UTC),
            channel=Channel.ONLINE,
            applicant=Applicant(full_name=f"Người nộp {i}", id_number=f"0191{i:08d}"),
            documents=documents,
            request_id=code,
        )
        for attempt in range(100):
            try:
                await client.start_workflow(
                    DOSSIER_WORKFLOW, inp, id=code, task_queue=QUEUE, search_attributes=attributes
                )
                return
            except WorkflowAlreadyStartedError:
                return  # a resumed run: started before
            except RPCError as err:
                if err.status not in RETRYABLE:
                    raise
                progress.retries += 1
                await asyncio.sleep(min(30, 0.5 * 2**attempt))
        raise SystemExit(f"could not start {code}: the server keeps refusing")

    async def starter() -> None:
        for i in upcoming:
            while progress.started - progress.waiting >= window:
                await asyncio.sleep(0.2)
            await one(i)
            progress.started = max(progress.started, i + 1)

    await asyncio.gather(*(starter() for _ in range(concurrency)))


async def until_waiting(client: Client, n: int, timeout: float) -> None:
    """Until `n` dossiers wait at the one-stop officer's task, or exit saying how many do."""
    t0 = time.perf_counter()
    count = 0
    while count < n:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"only {count:,} of {n:,} dossiers waiting after {timeout:.0f}s")
        try:
            count = (await client.count_workflows(WAITING)).count
        except RPCError as err:
            if err.status not in RETRYABLE:
                raise
        await asyncio.sleep(2)


async def timed(coro: Awaitable[T]) -> tuple[float, T]:
    """Seconds an awaitable took, and its result."""
    t0 = time.perf_counter()
    result = await coro
    return time.perf_counter() - t0, result


async def hold(client: Client, n: int, seconds: float) -> tuple[int, list[float]]:
    """Query random dossiers for `seconds` (cache evictions, replays): count and latencies."""
    rng = random.Random(1)
    t0, touched, latencies = time.perf_counter(), 0, []
    while time.perf_counter() - t0 < seconds:
        batch = [f"{COMMUNE}-S-{rng.randrange(n):06d}" for _ in range(10)]
        t1 = time.perf_counter()
        await asyncio.gather(*(ops.show(client, c) for c in batch))
        latencies.append((time.perf_counter() - t1) / len(batch))
        touched += len(batch)
        await asyncio.sleep(0.2)
    return touched, latencies


async def inbox_lines(client: Client, moved: int, timeout: float) -> list[str]:
    """Move `moved` dossiers to the justice officer, then time both officers' inboxes."""
    actor = Actor(user="scale.one_stop", agency=COMMUNE, role="one_stop")
    for i in range(moved):
        code = f"{COMMUNE}-S-{i:06d}"
        state = await ops.show(client, code)
        if any(t.step == "receive" and t.status.value in ("open", "claimed") for t in state.tasks):
            await ops.claim(client, code, "receive", actor)
            await ops.complete(client, code, "receive", actor, "accept")
    small_q = ops.inbox_query(COMMUNE, "justice_officer")
    t0 = time.perf_counter()
    while (await client.count_workflows(small_q)).count < moved:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit("the moved dossiers did not reach the justice officer's inbox")
        await asyncio.sleep(1)
    count_s, count = await timed(client.count_workflows(WAITING))
    big_s, big = await timed(ops.inbox(client, COMMUNE, "one_stop"))
    next_s, _ = await timed(ops.inbox(client, COMMUNE, "one_stop", page=big.next_page))
    detail_s, _ = await timed(ops.inbox(client, COMMUNE, "one_stop", details=True))
    small_s, small = await timed(ops.inbox(client, COMMUNE, "justice_officer", details=True))
    return [
        f"| visibility count behind the inbox ({count.count:,} dossiers) | "
        f"{count_s * 1000:.0f} ms |",
        f"| `motcua inbox`, one-stop officer ({big.total:,} dossiers): first page of "
        f"{len(big.rows)} with the counts | **{big_s * 1000:.0f} ms** |",
        f"| the same, next page (`--page`) | {next_s * 1000:.0f} ms |",
        f"| the same, first page with `--details` ({len(big.rows)} `state` queries) | "
        f"{detail_s:.2f} s |",
        f"| `motcua inbox --details`, justice officer ({small.total} dossiers) | "
        f"{small_s * 1000:.0f} ms |",
    ]


async def run(args: argparse.Namespace) -> list[str]:
    """Open the dossiers, hold, time inboxes; the report's lines."""
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="motcua-scale-"))
    (base / "data").mkdir(parents=True, exist_ok=True)
    print(f"run folder: {base} (progress samples in {base / 'samples.jsonl'})", flush=True)
    server = Server(base / "server", args.sqlite_pragma)
    await server.start()
    assert server._process is not None
    server_pid = server._process.pid
    extra = ["--max-cached-workflows", str(args.max_cached)]
    workers = Workers(server.address, base / "data", args.workers, extra)
    progress = Progress(args.dossiers)
    sampling: asyncio.Task[None] | None = None
    try:
        client = await ops.connect(server.address)
        already = (await client.count_workflows(STARTED)).count
        moved = (await client.count_workflows(ops.inbox_query(COMMUNE, "justice_officer"))).count
        first = max(0, already - 2 * args.concurrency)
        progress.started = first
        progress.waiting = (await client.count_workflows(WAITING)).count + moved
        sampling = asyncio.create_task(
            monitor(client, progress, workers, server_pid, args.every, base / "samples.jsonl")
        )
        load0 = load_average()
        cpu0 = (workers.cpu(), cpu_seconds(server_pid))
        t0 = time.perf_counter()
        await open_dossiers(client, progress, first, args.concurrency, args.window)
        started_s = time.perf_counter() - t0
        await until_waiting(client, args.dossiers - moved, args.timeout)
        opened_s = time.perf_counter() - t0
        cpu = (workers.cpu() - cpu0[0], cpu_seconds(server_pid) - cpu0[1])
        rss_open = workers.rss()
        new = args.dossiers - already
        rate = max(new, 1) / opened_s
        print(f"[{time.strftime('%X')}] {args.dossiers:,} dossiers waiting", flush=True)

        progress.phase = "hold"
        touched, latencies = await hold(client, args.dossiers, args.hold)
        progress.phase = "inbox"
        inbox = await inbox_lines(client, min(args.moved, args.dossiers), args.timeout)
        opening = progress.of("open") or [rss_open]
        held = progress.of("hold") or [workers.rss()]
        quarter = [opening[len(opening) * k // 4] for k in (1, 2, 3)]
        return [
            "| what | figure |",
            "|---|---|",
            f"| open dossiers waiting on a human task | {args.dossiers:,}"
            + (f" ({already:,} from an earlier run)" if already else "")
            + " |",
            f"| opened (started / all waiting) | {started_s:.0f} s / {opened_s:.0f} s: "
            f"**{rate:.1f} dossiers/s**; 100,000 in {100_000 / rate / 3600:.1f} h |",
            f"| CPU per dossier opened: worker(s) / server | {cpu[0] / max(new, 1) * 1000:.0f} ms"
            f" / {cpu[1] / max(new, 1) * 1000:.0f} ms |",
            "| worker RSS while opening, at 1/4, 1/2, 3/4 of the time | "
            + ", ".join(f"{x:.0f}" for x in quarter)
            + " MiB |",
            f"| worker RSS when all were open | {rss_open:.0f} MiB |",
            f"| worker RSS during {args.hold:.0f} s of random `state` queries ({touched} queries),"
            f" min / median / max | {min(held):.0f} / {statistics.median(held):.0f} /"
            f" {max(held):.0f} MiB |",
            f"| `state` query of a random dossier (mostly a replay), median | "
            f"{statistics.median(latencies or [0]) * 1000:.0f} ms |",
            *inbox,
            "",
            f"{args.workers} × `worker.py --max-cached-workflows {args.max_cached}`; "
            f"{args.concurrency} starts in flight, at most {args.window} dossiers in their "
            f"receipt; SQLite pragmas: {', '.join(args.sqlite_pragma) or ', '.join(SQLITE_PRAGMAS)}"
            f"; {progress.retries} retried calls, {progress.worker_restarts} worker restarts; "
            f"load average {load0} at the start, {load_average()} at the end (2 cores shared).",
        ]
    finally:
        if sampling is not None:
            sampling.cancel()
        workers.stop()
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Run and print; `--record` writes BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--max-cached", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="worker.py processes")
    parser.add_argument("--concurrency", type=int, default=50, help="starts in flight")
    parser.add_argument("--window", type=int, default=300, help="dossiers in their receipt")
    parser.add_argument("--sqlite-pragma", action="append", default=[], metavar="P=V")
    parser.add_argument("--hold", type=float, default=30)
    parser.add_argument("--moved", type=int, default=20)
    parser.add_argument("--every", type=float, default=10, help="seconds between samples")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--dir", help="keep the run here; the same --dir resumes")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    lines = asyncio.run(run(args))
    print("\n".join(lines))
    if args.record:
        command = f"    python bench/scale.py --dossiers {args.dossiers} --workers {args.workers}"
        command += "".join(f" --sqlite-pragma {p}" for p in args.sqlite_pragma)
        record([command, "", *lines, "", NOTES], SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
