"""Replays in this process: a bounded pool of replayers fed from one queue.

Each history goes through temporalio's `Replayer` with the worker's workflows, sandbox and data
conversion (`runtime.replayer`). A replay that diverges reports the nondeterminism and the
event id where it diverged. Replays run in a bounded pool of replayers (one history at a time
each), fed from one queue, so thousands of histories stream through without being held in
memory. A progress line on stderr shows done/total and the rate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeAlias

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import WorkflowReplayResult
from temporalio.workflow import NondeterminismError

from motcua.audit.history import HistoryError, Source, check, read_file
from runtime.replayer import new_replayer

Item: TypeAlias = Source | HistoryError | Path
"""A history to replay, why it could not be had, or a file read by the process that replays it."""

_TASK_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED


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


async def locate(history: WorkflowHistory, message: str) -> int | None:
    """The event where a failed replay diverged: bisect over prefixes cut at workflow tasks.

    The core's message names what differs but not where; a prefix ending at a workflow task's
    start replays cleanly exactly when the divergence lies after it. Within the first failing
    workflow task, the event that carries a name quoted in the message is the culprit, else the
    first command the task recorded.
    """
    events = history.events
    cuts = [i + 1 for i, e in enumerate(events) if e.event_type == _TASK_STARTED]
    if not cuts or cuts[-1] != len(events):
        cuts.append(len(events))
    lo, hi, probing = -1, len(cuts) - 1, 0

    async def probes() -> AsyncIterator[WorkflowHistory]:
        nonlocal probing
        while hi - lo > 1:
            probing = (lo + hi) // 2
            yield WorkflowHistory(history.workflow_id, events[: cuts[probing]])

    async with new_replayer().workflow_replay_iterator(probes()) as results:
        async for result in results:
            if result.replay_failure is None:
                lo = probing
            else:
                hi = probing
    window = events[(cuts[lo] if lo >= 0 else 0) : cuts[hi]]
    for name in re.findall(r"'([^']+)'", message):
        for event in window:
            if f'"{name}"' in str(event):
                return event.event_id
    completed = [i for i, e in enumerate(window) if e.event_type == _TASK_COMPLETED]
    if completed and completed[-1] + 1 < len(window):
        return window[completed[-1] + 1].event_id
    return window[-1].event_id if window else None


class Progress:
    """done/total and rate on stderr: a rewritten line on a terminal, a line a second otherwise."""

    def __init__(self, total: int | None, stream: TextIO | None = None) -> None:
        self.total, self.stream = total, stream or sys.stderr
        self.done = self.failed = 0
        self.started = self._last = time.monotonic()
        self._tty = self.stream.isatty()

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
        text = f"replayed {self.done}{of} ({self.done / elapsed:.1f}/s), {self.failed} failed"
        end = "\n" if final or not self._tty else ""
        self.stream.write(("\r" if self._tty else "") + text + end)
        self.stream.flush()


async def replay_here(
    items: AsyncIterator[Item] | Iterable[Item],
    *,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> list[ReplayOutcome]:
    """Replay every history in this process, `concurrency` at a time; outcomes in the order of
    `items`."""
    queue: asyncio.Queue[tuple[int, Item] | None] = asyncio.Queue(maxsize=2 * concurrency)
    outcomes: dict[int, ReplayOutcome] = {}

    def record(index: int, outcome: ReplayOutcome) -> None:
        outcomes[index] = outcome
        if progress is not None:
            progress.tick(outcome.ok)

    workers = [asyncio.create_task(_serve(queue, record)) for _ in range(max(1, concurrency))]
    try:
        index = 0
        async for item in as_async(items):
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
    queue: asyncio.Queue[tuple[int, Item] | None],
    record: Callable[[int, ReplayOutcome], None],
) -> None:
    """One replayer working through the queue; a replayer that dies is replaced."""
    in_flight: deque[tuple[int, str]] = deque()
    finished = False

    async def feed() -> AsyncIterator[WorkflowHistory]:
        nonlocal finished
        while (entry := await queue.get()) is not None:
            index, item = entry
            if isinstance(item, Path):
                item = _read(item)
            if isinstance(item, HistoryError):
                record(index, ReplayOutcome(label=item.label, ok=False, error=item.reason))
                continue
            try:
                check(item.history, item.label)
            except HistoryError as err:
                record(index, ReplayOutcome(label=item.label, ok=False, error=err.reason))
                continue
            in_flight.append((index, item.label))
            yield item.history
        finished = True

    while not finished:
        try:
            async with new_replayer().workflow_replay_iterator(feed()) as results:
                async for result in results:
                    index, label = in_flight.popleft()
                    outcome = outcome_of(label, result)
                    if not outcome.ok:
                        where = await locate(result.history, outcome.error or "")
                        outcome = dataclasses.replace(outcome, event_id=where)
                    record(index, outcome)
        except Exception as err:  # the replayer's worker died on this history; go on
            while in_flight:
                index, label = in_flight.popleft()
                record(index, ReplayOutcome(label=label, ok=False, error=_one_line(err)))


def outcome_of(label: str, result: WorkflowReplayResult) -> ReplayOutcome:
    """Read a replay result: clean, or the error and the event id it names."""
    failure = result.replay_failure
    if failure is None:
        return ReplayOutcome(label=label, ok=True)
    inner = re.search(r'message: "((?:[^"\\]|\\.)*)"', str(failure))
    return ReplayOutcome(
        label=label,
        ok=False,
        error=inner.group(1) if inner else _one_line(failure),
        nondeterministic=isinstance(failure, NondeterminismError),
    )


def _read(path: Path) -> Source | HistoryError:
    try:
        return read_file(path)
    except HistoryError as err:
        return err


async def as_async(items: AsyncIterator[Item] | Iterable[Item]) -> AsyncIterator[Item]:
    """The items as an async iterator, whichever kind they came as."""
    if isinstance(items, AsyncIterator):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
