"""Replays spread over processes: workflow code runs under the GIL, so one core per process.

The parent reads the histories (from the server, or just the file names) and hands them out in
small batches to a pool of spawned processes (Temporal's runtime must not be forked); each
process replays its batch with `replay_here` and sends back the outcomes, with the event of any
divergence already located. Files are parsed by the process that replays them: parsing a
history's JSON costs a third of its replay. At most two batches per process are in flight, so
histories stream through without being held in memory, and outcomes come back in input order.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TypeAlias

from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory

from motcua.audit.history import HistoryError, Source
from motcua.audit.inprocess import Item, Progress, ReplayOutcome, replay_here

_Sent: TypeAlias = tuple[str, str, bytes] | Path
"""What crosses to a replaying process: (label, workflow id, serialized history) or a file."""

BATCH = 8
"""Histories per batch: small enough to balance the processes and move the progress line,
large enough that a batch's replayer setup (a few ms) is shared."""


async def replay_in_processes(
    items: AsyncIterator[Item], *, jobs: int, concurrency: int, progress: Progress | None
) -> list[ReplayOutcome]:
    """Replay every history over `jobs` processes, `concurrency` replayers each."""
    outcomes: dict[int, ReplayOutcome] = {}
    in_flight: set[asyncio.Future[list[tuple[int, ReplayOutcome]]]] = set()
    loop = asyncio.get_running_loop()
    pool = _pool(jobs)

    def record(index: int, outcome: ReplayOutcome) -> None:
        outcomes[index] = outcome
        if progress is not None:
            progress.tick(outcome.ok)

    async def settle(until: int) -> None:
        while len(in_flight) > until:
            done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                in_flight.discard(future)
                for index, outcome in future.result():
                    record(index, outcome)

    def submit(batch: list[tuple[int, _Sent]]) -> None:
        nonlocal pool
        try:
            job: Future[list[tuple[int, ReplayOutcome]]] = pool.submit(
                _replay_batch, batch, concurrency
            )
        except RuntimeError:  # a process died and broke the pool: replace it
            pool.shutdown(wait=False, cancel_futures=True)
            pool = _pool(jobs)
            job = pool.submit(_replay_batch, batch, concurrency)
        in_flight.add(_guarded(asyncio.wrap_future(job, loop=loop), batch))

    try:
        batch: list[tuple[int, _Sent]] = []
        index = 0
        async for item in items:
            if isinstance(item, HistoryError):
                record(index, ReplayOutcome(label=item.label, ok=False, error=item.reason))
            else:
                batch.append((index, _sendable(item)))
            index += 1
            if len(batch) == BATCH:
                submit(batch)
                batch = []
                await settle(2 * jobs)
        if batch:
            submit(batch)
        await settle(0)
    finally:
        for future in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if progress is not None:
            progress.close()
    return [outcomes[i] for i in sorted(outcomes)]


def _pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))


def _guarded(
    job: asyncio.Future[list[tuple[int, ReplayOutcome]]], batch: list[tuple[int, _Sent]]
) -> asyncio.Future[list[tuple[int, ReplayOutcome]]]:
    """The batch's outcomes, or each history failed with why its process died."""

    async def wait() -> list[tuple[int, ReplayOutcome]]:
        try:
            return await job
        except Exception as err:  # the replaying process died (BrokenProcessPool) mid-batch
            reason = f"replay process failed: {' '.join(str(err).split()) or type(err).__name__}"
            return [
                (i, ReplayOutcome(label=_label(sent), ok=False, error=reason)) for i, sent in batch
            ]

    return asyncio.ensure_future(wait())


def _sendable(item: Source | Path) -> _Sent:
    if isinstance(item, Path):
        return item
    events = History(events=item.history.events).SerializeToString()
    return (item.label, item.history.workflow_id, events)


def _label(sent: _Sent) -> str:
    return str(sent) if isinstance(sent, Path) else sent[0]


def _replay_batch(
    batch: list[tuple[int, _Sent]], concurrency: int
) -> list[tuple[int, ReplayOutcome]]:
    """In a pool process: replay one batch, outcomes paired with their input index."""
    items: list[Item] = []
    for _, sent in batch:
        if isinstance(sent, Path):
            items.append(sent)
        else:
            label, workflow_id, data = sent
            history = History.FromString(data)
            items.append(Source(label, WorkflowHistory(workflow_id, list(history.events))))
    outcomes = asyncio.run(replay_here(items, concurrency=concurrency))
    return [(index, outcome) for (index, _), outcome in zip(batch, outcomes, strict=True)]
