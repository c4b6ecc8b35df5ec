"""Many open dossiers waiting on human tasks: worker memory and inbox time.

    python bench/scale.py [--dossiers 2000] [--max-cached 500] [--hold 60] [--record]
    python bench/scale.py --dossiers 100000      # the issue's figure; hours on 2 cores

An embedded dev server (SQLite in a temp dir) and the real worker (`worker.py` as a separate
process, `--max-cached-workflows` per task queue) receive `--dossiers` dossiers of 1.001193
(started directly, without the counter, `--concurrency` at a time); each runs its receipt
(statuses, receipt form, notification) and then waits at the one-stop officer's task. The
worker's RSS is sampled every 2 s while they are created and during `--hold` seconds in which
random dossiers are queried (`state`), so that the bounded sticky cache keeps evicting and
replaying. Then inboxes are timed: the visibility count and first page behind an inbox, the
whole `motcua.client.inbox` for the one-stop role (every open dossier: one `state` query each),
and `inbox` for a role with few dossiers (`--moved` dossiers moved on to the justice officer).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare import (  # noqa: E402
    PROCEDURE,
    free_port,
    load_average,
    record,
    rss_mb,
    spawn_worker,
)
from temporalio.client import Client  # noqa: E402
from temporalio.common import SearchAttributePair, TypedSearchAttributes  # noqa: E402

from motcua import client as ops  # noqa: E402
from motcua.devserver import DevServer  # noqa: E402
from procedures.calendar import load_calendar  # noqa: E402
from procedures.models import Channel  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402
from workflows.api import DOSSIER_WORKFLOW, Actor, Applicant, DossierInput, PortalStatus  # noqa: E402

SECTION = "## Many open dossiers (bench/scale.py)"
COMMUNE = "000.00.19.H26"
T = TypeVar("T")


class Sampler:
    """The worker's RSS every `period` seconds, with what was happening."""

    def __init__(self, pid: int, period: float = 2.0) -> None:
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, str, float]] = []
        self.phase = "start"
        self._t0 = time.perf_counter()

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            self.samples.append((time.perf_counter() - self._t0, self.phase, rss_mb(self.pid)))
            await asyncio.sleep(self.period)

    def of(self, phase: str) -> list[float]:
        """The RSS samples taken during `phase`."""
        return [rss for _, p, rss in self.samples if p == phase]


async def open_dossiers(client: Client, n: int, concurrency: int, prefix: str) -> list[str]:
    """Start `n` dossiers of the procedure; their codes."""
    frozen = ops.load_frozen(PROCEDURE)
    calendar = load_calendar()
    documents = tuple(d.id for d in frozen.procedure.documents if d.required)
    gate = asyncio.Semaphore(concurrency)
    codes = [f"{COMMUNE}-{prefix}-{i:06d}" for i in range(n)]
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(sa.PROCEDURE_CODE, PROCEDURE),
            SearchAttributePair(sa.PORTAL_STATUS, PortalStatus.RECEIVED.value),
            SearchAttributePair(sa.OVERDUE, False),
        ]
    )

    async def one(i: int, code: str) -> None:
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
        async with gate:
            await client.start_workflow(
                DOSSIER_WORKFLOW, inp, id=code, task_queue="commune", search_attributes=attributes
            )
            if (i + 1) % 500 == 0:
                print(f"[{time.strftime('%X')}] {i + 1}/{n} started", flush=True)

    await asyncio.gather(*(one(i, c) for i, c in enumerate(codes)))
    return codes


async def wait_count(client: Client, query: str, n: int, timeout: float) -> float:
    """Seconds until `n` running workflows match `query` (visibility), or raise."""
    t0 = time.perf_counter()
    while True:
        count = (await client.count_workflows(query)).count
        if count >= n:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"only {count} of {n} dossiers reached {query!r} in {timeout:.0f}s")
        await asyncio.sleep(2)


async def timed(coro: Awaitable[T]) -> tuple[float, T]:
    """Seconds an awaitable took, and its result."""
    t0 = time.perf_counter()
    result = await coro
    return time.perf_counter() - t0, result


async def run(args: argparse.Namespace) -> list[str]:
    """Open the dossiers, hold, time inboxes; the report's lines."""
    tmp = Path(tempfile.mkdtemp(prefix="motcua-scale-"))
    data = tmp / "data"
    data.mkdir()
    server = DevServer(tmp / "server", port=free_port(), ui_port=free_port(), log_level="error")
    await server.start()
    worker = spawn_worker(
        server.address,
        data,
        ["--max-cached-workflows", str(args.max_cached)],
        script="worker.py",
    )
    sampler = Sampler(worker.pid)
    sampling = asyncio.create_task(sampler.run())
    lines: list[str] = []
    try:
        client = await ops.connect(server.address)
        load0 = load_average()
        sampler.phase = "open"
        t0 = time.perf_counter()
        codes = await open_dossiers(client, args.dossiers, args.concurrency, "S")
        started_s = time.perf_counter() - t0
        waiting_q = ops.inbox_query(COMMUNE, "one_stop")
        settle_s = await wait_count(client, waiting_q, len(codes), args.timeout)
        opened_s = time.perf_counter() - t0
        print(f"[{time.strftime('%X')}] {len(codes)} dossiers waiting", flush=True)
        rss_open = rss_mb(worker.pid)

        sampler.phase = "hold"
        rng = random.Random(1)
        t_hold, touched = time.perf_counter(), 0
        query_s: list[float] = []
        while time.perf_counter() - t_hold < args.hold:
            batch = rng.sample(codes, min(10, len(codes)))
            t1 = time.perf_counter()
            await asyncio.gather(*(ops.show(client, c) for c in batch))
            query_s.append((time.perf_counter() - t1) / len(batch))
            touched += len(batch)
            await asyncio.sleep(0.2)
        sampler.phase = "inbox"

        moved = codes[: args.moved]
        actor = Actor(user="scale.one_stop", agency=COMMUNE, role="one_stop")
        for code in moved:
            await ops.claim(client, code, "receive", actor)
            await ops.complete(client, code, "receive", actor, "accept")
        await wait_count(
            client, ops.inbox_query(COMMUNE, "justice_officer"), len(moved), args.timeout
        )
        count_s, count = await timed(client.count_workflows(waiting_q))
        page_s, page = await timed(_first_page(client, waiting_q, 50))
        small_s, small = await timed(ops.inbox(client, COMMUNE, "justice_officer"))
        try:
            big_s, big = await timed(
                asyncio.wait_for(ops.inbox(client, COMMUNE, "one_stop"), args.inbox_timeout)
            )
            big_text = f"{big_s:.2f} s for {len(big)} items"
        except TimeoutError:
            big_text = f"not answered within {args.inbox_timeout:.0f} s"
        rss_end = rss_mb(worker.pid)
        opening = sampler.of("open")
        hold = sampler.of("hold")
        quarter = [opening[len(opening) * k // 4] for k in (1, 2, 3)] if len(opening) >= 4 else []
        lines = [
            "| what | figure |",
            "|---|---|",
            f"| open dossiers waiting on a human task | {len(codes):,} |",
            f"| time to start them / until all were waiting (visibility) | {started_s:.0f} s /"
            f" {opened_s:.0f} s ({len(codes) / opened_s:.1f} dossiers/s; last {settle_s:.0f} s"
            " waiting for the worker and visibility) |",
            "| worker RSS while opening, at 1/4, 1/2, 3/4 of the time | "
            + ", ".join(f"{x:.0f}" for x in quarter)
            + " MiB |",
            f"| worker RSS when all were open | {rss_open:.0f} MiB |",
            f"| worker RSS during {args.hold:.0f} s of random `state` queries ({touched} queries,"
            f" cache evictions and replays), min / median / max | {min(hold):.0f} /"
            f" {statistics.median(hold):.0f} / {max(hold):.0f} MiB |",
            f"| `state` query of a random dossier, mean of batches of 10 | "
            f"{statistics.median(query_s) * 1000:.0f} ms (median) |",
            f"| worker RSS at the end | {rss_end:.0f} MiB |",
            f"| inbox visibility count ({count.count:,} dossiers) | {count_s * 1000:.0f} ms |",
            f"| inbox visibility first page (50 of them) | {page_s * 1000:.0f} ms"
            f" ({page} listed) |",
            f"| `motcua.client.inbox`, justice officer ({len(small)} items) | {small_s:.2f} s |",
            f"| `motcua.client.inbox`, one-stop officer (every open dossier) | {big_text} |",
            "",
            f"Worker: `worker.py --max-cached-workflows {args.max_cached}` (per task queue, three "
            f"queues); {args.concurrency} starts in flight; load average {load0} at the start, "
            f"{load_average()} at the end (2 cores shared with other work).",
        ]
        return lines
    finally:
        sampling.cancel()
        worker.terminate()
        try:
            worker.wait(30)
        except Exception:
            worker.kill()
        await server.stop()


async def _first_page(client: Client, query: str, size: int) -> int:
    """How many workflows the first visibility page of `size` lists."""
    listed = 0
    async for _ in client.list_workflows(query, page_size=size, limit=size):
        listed += 1
    return listed


def main(argv: list[str] | None = None) -> int:
    """Run and print; `--record` writes BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--max-cached", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--hold", type=float, default=60)
    parser.add_argument("--moved", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--inbox-timeout", type=float, default=300)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    lines = asyncio.run(run(args))
    print("\n".join(lines))
    if args.record:
        command = f"    python bench/scale.py --dossiers {args.dossiers} --hold {args.hold:.0f}"
        record([command, "", *lines], SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
