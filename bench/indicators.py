"""Time the indicators (motcua/indicators) over N dossiers on the embedded server's visibility.

    python bench/indicators.py [--dossiers 2000] [--tries 3] [--db FILE]

Visibility rows are what the indicators read, so the dossiers here are visibility rows made
quickly: workflows of the dossier type "Dossier" started with the attributes a real dossier
carries (ProcedureCode, ReceivingAgency, Channel, ReceivedAt, Digitised, Overdue and, for the
ended ones, Result, Timeliness, ProcessingDays...), of which 70 % are completed at once by a
stand-in workflow on a bench task queue and 30 % stay running (no worker on their queue).
`--db FILE` keeps the server's database in FILE: a second run on the same file times the
dossiers already there, starting only those missing up to --dossiers (100,000 take about half
an hour on the shared 2-core machine, and a run cut short can be resumed).
Prints the time of one whole indicator table (per agency and the province), of one count
query, and of the one listing (average processing time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from motcua.devserver import SQLITE_PRAGMAS, find_binary, shut_down
from motcua.indicators import figures
from motcua.indicators import queries as q
from procedures.loader import load_catalog
from workflows import search_attributes as sa
from workflows.api import DOSSIER_WORKFLOW

ENDED_QUEUE, OPEN_QUEUE = "bench-ended", "bench-open"
PRAGMAS = [*(p for p in SQLITE_PRAGMAS if not p.startswith("synchronous=")), "synchronous=off"]
"""`motcua dev`'s (write-ahead log, memory-mapped reads), but a bench database file need not
survive a power cut: without `synchronous=off`, every start waits on the disk and concurrent
starts time out."""
FAST_FILE = [a for p in PRAGMAS for a in ("--sqlite-pragma", p)]
STARTS = 64
"""Starts in flight at once; an ended stand-in starts eagerly (its first task comes back with
the start, so the worker completes it without a poll)."""


def server_cpu() -> float:
    """CPU seconds used so far by this process's `temporal` children (the server): what a
    count costs whatever the machine's load, as SQLite answers on one connection."""
    used = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(") ")
        except OSError:
            continue
        fields = rest.split()
        if name.endswith("(temporal") and int(fields[1]) == os.getpid():
            used += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


@workflow.defn(name=DOSSIER_WORKFLOW)
class EndedAtOnce:
    """Stands in for a dossier that has ended: its attributes were given at the start."""

    @workflow.run
    async def run(self, _: dict[str, str]) -> str:
        return "ended"


def attributes(i: int, agency: str, procedure: str, now: datetime) -> TypedSearchAttributes:
    ended = i % 10 < 7
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.PROCEDURE_CODE, procedure),
        SearchAttributePair(sa.RECEIVING_AGENCY, agency),
        SearchAttributePair(sa.SECTOR, "bench"),
        SearchAttributePair(sa.CHANNEL, ("online", "in_person", "post")[i % 3]),
        SearchAttributePair(sa.RECEIVED_AT, now - timedelta(hours=i % 500)),
        SearchAttributePair(sa.DIGITISED, i % 5 != 0),
        SearchAttributePair(sa.OVERDUE, not ended and i % 4 == 0),
        SearchAttributePair(sa.SUPPLEMENTS, float(i % 6 == 0)),
        SearchAttributePair(sa.APOLOGIES, float(i % 17 == 0)),
        SearchAttributePair(sa.PAID_ONLINE, i % 2 == 0),
    ]
    if ended:
        pairs += [
            SearchAttributePair(sa.RESULT, "approved" if i % 9 else "refused"),
            SearchAttributePair(sa.TIMELINESS, ("early", "on_time", "late")[i % 3]),
            SearchAttributePair(sa.PROCESSING_DAYS, round(1 + (i % 40) / 10, 2)),
            SearchAttributePair(sa.RATING, 1 + i % 5),
        ]
    return TypedSearchAttributes(pairs)


async def populate(
    client: Client, n: int, agencies: list[tuple[str, str]], first: int = 0
) -> float:
    """Start stand-in dossiers `first` to n, skipping any already there; seconds taken. A
    start the loaded server refuses for a moment (its namespace lookup timing out) is retried."""
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(STARTS)
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        agency, procedure = agencies[i % len(agencies)]
        async with gate:
            for _ in range(30):
                try:
                    await client.start_workflow(
                        DOSSIER_WORKFLOW,
                        {},
                        id=f"bench-{i:06d}",
                        task_queue=ENDED_QUEUE if i % 10 < 7 else OPEN_QUEUE,
                        search_attributes=attributes(i, agency, procedure, now),
                        request_eager_start=i % 10 < 7,
                    )
                    return
                except WorkflowAlreadyStartedError:
                    return
                except RPCError as err:
                    if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE):
                        raise
                    await asyncio.sleep(1)

    await asyncio.gather(*map(one, range(first, n)))
    return time.perf_counter() - t0


async def settle(client: Client, n: int) -> None:
    """Until visibility shows every ended stand-in as completed."""
    want = sum(1 for i in range(n) if i % 10 < 7)
    query = f"WorkflowType = '{DOSSIER_WORKFLOW}' AND ExecutionStatus = 'Completed'"
    while (await client.count_workflows(query)).count < want:
        await asyncio.sleep(0.5)


async def already_there(client: Client) -> int:
    """Stand-ins already in the database; a server that reopens a big file may take a while
    to know its namespace."""
    for _ in range(60):
        try:
            return (await client.count_workflows(f"WorkflowType = '{DOSSIER_WORKFLOW}'")).count
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(1)
    raise SystemExit("the server never found its namespace")


async def main(args: argparse.Namespace) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
        dev_server_database_filename=args.db,
        dev_server_extra_args=[
            *(FAST_FILE if args.db else []),
            *(a for p in args.pragma for a in ("--sqlite-pragma", p)),
        ],
    )
    try:
        client = env.client
        procs = [f.procedure for f in load_catalog().values()]
        agencies = sorted({(p.agencies[p.receiving_agency].code, p.code) for p in procs})
        there = await already_there(client)
        took = 0.0
        if there < args.dossiers:
            async with Worker(
                client,
                task_queue=ENDED_QUEUE,
                workflows=[EndedAtOnce],
                workflow_runner=UnsandboxedWorkflowRunner(),  # a stand-in with nothing to guard
                max_concurrent_workflow_tasks=STARTS,
            ):
                took = await populate(client, args.dossiers, agencies, max(0, there - 2 * STARTS))
                await settle(client, args.dossiers)
        args.dossiers = max(there, args.dossiers)
        print(f"dossiers: {args.dossiers} ({took:.1f} s to start them)")
        scope = q.Scope(
            datetime.now(UTC) - timedelta(days=30), datetime.now(UTC) + timedelta(hours=1)
        )
        groups = len({a for a, _ in agencies})
        print(f"load average before timing: {os.getloadavg()[0]:.1f}")
        tables, counts, batches, quick, cpu = [], [], [], [], []
        for _ in range(args.tries):
            t0 = time.perf_counter()
            await figures.table(client, scope, procs, by="agency", average=False)
            quick.append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), server_cpu()
            rows = await figures.table(client, scope, procs, by="agency")
            tables.append(time.perf_counter() - t0)
            cpu.append(server_cpu() - c0)
            first = replace(scope, agency=agencies[0][0])
            one = q.dossiers(first, q.received(first))
            t0 = time.perf_counter()
            await client.count_workflows(one)
            counts.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await figures.count_all(client, [one] * 32)
            batches.append(time.perf_counter() - t0)
        total = rows[-1]
        print(f"received counted: {total.received}, ended: {total.finished + total.returned}")
        how = "estimated from counts" if total.processing_days_estimated else "listed"
        print(f"load average after timing: {os.getloadavg()[0]:.1f}")
        runs = ", ".join(f"{t:.2f}" for t in tables)
        print(f"indicator table ({groups} agencies + province): median {median(tables):.2f} s")
        print(f"... each run: {runs} s; the server's CPU time: median {median(cpu):.2f} s")
        print(f"... its average processing time {how}: {total.rates()['average_processing_days']}")
        print(f"the same without the average time (counts only): median {median(quick):.2f} s")
        print(f"one count query (an agency's received): median {median(counts) * 1000:.0f} ms")
        at_once = figures.CONCURRENCY
        print(f"32 count queries, {at_once} at a time: median {median(batches):.2f} s")
        if args.no_listing:
            return
        t0 = time.perf_counter()
        ended = q.dossiers(scope, q.ended(scope), figures.DECIDED)
        days = await figures.processing_days(client, ended)
        took = time.perf_counter() - t0
        listed = sum(n for _, n in days.values())
        exact = round(sum(t for t, _ in days.values()) / listed, 2) if listed else None
        print(f"listing {listed} decided dossiers for the exact average ({exact}): {took:.2f} s")
    finally:
        await shut_down(env)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--db", help="the server's database file, kept and reused if seeded")
    parser.add_argument(
        "--pragma",
        action="append",
        default=[],
        help="an SQLite pragma for the server, name=value (repeatable), e.g. mmap_size=2147483648",
    )
    parser.add_argument(
        "--no-listing", action="store_true", help="skip timing the listing (the exact average)"
    )
    asyncio.run(main(parser.parse_args()))
