"""Replay dossier histories against the current workflow code: would running dossiers break?

In this process (`motcua.audit.inprocess`), or with `jobs` above 1 spread over as many processes
(`motcua.audit.parallel`), since workflow code runs under the GIL. The outcomes and the
progress line are `motcua.audit.inprocess`'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from motcua.audit.inprocess import Item, Progress, ReplayOutcome, as_async, replay_here
from motcua.audit.parallel import replay_in_processes

__all__ = ["Item", "Progress", "ReplayOutcome", "replay"]


async def replay(
    items: AsyncIterator[Item] | Iterable[Item],
    *,
    concurrency: int = 4,
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[ReplayOutcome]:
    """Replay every history, `concurrency` at a time in each of `jobs` processes; outcomes in
    the order of `items`."""
    if jobs > 1:
        return await replay_in_processes(
            as_async(items), jobs=jobs, concurrency=concurrency, progress=progress
        )
    return await replay_here(items, concurrency=concurrency, progress=progress)
