"""Replay dossier histories against the current workflow code: would running dossiers break?

Each history goes through temporalio's `Replayer` with the same workflows and data converter
as the worker. A replay that diverges reports the nondeterminism and the event id where it
diverged. Replays run in a bounded pool of replayers (one history at a time each), fed from one
queue, so thousands of histories stream through without being held in memory; a progress line
on stderr shows done/total and the rate.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, WorkflowReplayResult
from temporalio.workflow import NondeterminismError

from motcua.audit.history import HistoryError, Source, check
from workflows.counter import AgencyCounterWorkflow
from workflows.dossier import DossierWorkflow

_EVENT_ID = re.compile(r"(?:event[ _]id|HistoryEvent\(id|\bid)[:=]?\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class ReplayOutcome:
    """How one history replayed: `ok`, or the error (one line) and the event where it diverged."""

    label: str
    ok: bool
    error: str | None = None
    event_id: int | None = None
    nondeterministic: bool = False

    def line(self) -> str:
        """One line for the report."""
        if self.ok:
            return f"ok      {self.label}"
        kind = "NONDETERMINISM" if self.nondeterministic else "FAILED"
        where = f" at event {self.event_id}" if self.event_id is not None else ""
        return f"{kind}  {self.label}{where}: {self.error}"


def new_replayer() -> Replayer:
    """A replayer configured as the worker is: same workflows, same data converter."""
    return Replayer(
        workflows=[DossierWorkflow, AgencyCounterWorkflow],
        data_converter=pydantic_data_converter,
    )


class Progress:
    """done/total and rate on stderr: a rewritten line on a terminal, a line a second otherwise."""

    def __init__(self, total: int | None, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream = total, stream
        self.done = self.failed = 0
        self.started = self._last = time.monotonic()
        self._tty = stream.isatty()

    def tick(self, ok: bool) -> None:
        """Count one finished replay and show it when it is time to."""
        self.done += 1
        self.failed += not ok
        now = time.monotonic()
        if self._tty or now - self._last >= 1.0:
            self._last = now
            self._show(final=False)

    def close(self) -> None:
        """The final line."""
        self._show(final=True)

    def _show(self, final: bool) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        of = f"/{self.total}" if self.total is not None else ""
        text = (
            f"replayed {self.done}{of} ({self.done / elapsed:.1f}/s), {self.failed} failed"
        )
        end = "\n" if final or not self._tty else ""
        self.stream.write(("\r" if self._tty else "") + text + end)
        self.stream.flush()


async def replay(
    items: AsyncIterator[Source | HistoryError] | Iterable[Source | HistoryError],
    *,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> list[ReplayOutcome]:
    """Replay every history, `concurrency` at a time; outcomes in the order of `items`."""
    queue: asyncio.Queue[tuple[int, Source | HistoryError] | None] = asyncio.Queue(
        maxsize=2 * concurrency
    )
    outcomes: dict[int, ReplayOutcome] = {}

    def record(index: int, outcome: ReplayOutcome) -> None:
        outcomes[index] = outcome
        if progress is not None:
            progress.tick(outcome.ok)

    workers = [asyncio.create_task(_serve(queue, record)) for _ in range(max(1, concurrency))]
    try:
        index = 0
        async for item in _aiter(items):
            await queue.put((index, item))
            index += 1
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        for worker in workers:
            worker.cancel()
        if progress is not None:
            progress.close()
    return [outcomes[i] for i in sorted(outcomes)]


async def _serve(
    queue: asyncio.Queue[tuple[int, Source | HistoryError] | None],
    record: Callable[[int, ReplayOutcome], None],
) -> None:
    """One replayer working through the queue; a replayer that dies is replaced."""
    in_flight: deque[tuple[int, str]] = deque()
    finished = False

    async def feed() -> AsyncIterator[WorkflowHistory]:
        nonlocal finished
        while (entry := await queue.get()) is not None:
            index, item = entry
            if isinstance(item, HistoryError):
                record(index, ReplayOutcome(label=str(item).split(":")[0], ok=False, error=str(item)))
                continue
            try:
                check(item.history, item.label)
            except HistoryError as err:
                record(index, ReplayOutcome(label=item.label, ok=False, error=str(err)))
                continue
            in_flight.append((index, item.label))
            yield item.history
        finished = True

    while not finished:
        try:
            async with new_replayer().workflow_replay_iterator(feed()) as results:
                async for result in results:
                    index, label = in_flight.popleft()
                    record(index, outcome_of(label, result))
        except Exception as err:  # the replayer's worker died on this history; go on
            while in_flight:
                index, label = in_flight.popleft()
                record(index, ReplayOutcome(label=label, ok=False, error=_one_line(err)))


def outcome_of(label: str, result: WorkflowReplayResult) -> ReplayOutcome:
    """Read a replay result: clean, or the error and the event id it names."""
    failure = result.replay_failure
    if failure is None:
        return ReplayOutcome(label=label, ok=True)
    text = _one_line(failure)
    found = _EVENT_ID.search(str(failure))
    return ReplayOutcome(
        label=label,
        ok=False,
        error=text,
        event_id=int(found.group(1)) if found else None,
        nondeterministic=isinstance(failure, NondeterminismError),
    )


async def _aiter(
    items: AsyncIterator[Source | HistoryError] | Iterable[Source | HistoryError],
) -> AsyncIterator[Source | HistoryError]:
    if isinstance(items, AsyncIterator):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
