"""Interpreter version 1 only: delete this module (and the version-1 golden histories) once no
dossier of version 1 is open (docs/auditing.md, "Retiring a version").

Version 1 ran the dossier's deadlines on two watchers, and changed behaviour under two
`workflow.patched` ids; its histories record those markers and timers, so replaying them needs
this code as it was. Later versions have `one_dossier_timer` and `halt_ends_walk` instead
(`workflows.behaviours`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procedures.models import Procedure
    from workflows.api import DOSSIER_DUE
    from workflows.state import Apology, Runtime

OVERDUE_WATCH = "dossier-overdue-watch"
"""Patch id: dossiers started before it have no timer at their legal due instant."""
HALT_ENDS_WALK = "halt-ends-walk"
"""Patch id: before it, only `run`'s cancellation ended the path of a withdrawn dossier."""


class Watching(Protocol):
    """What the version-1 watchers use of the workflow (`workflows.watchers.DossierWatchers`)."""

    _proc: Procedure
    _rt: Runtime
    _epoch: int

    async def _until(
        self,
        done: Callable[[], bool],
        deadline: Callable[[], datetime | None],
        summary: str | None = None,
        halts: bool = True,
    ) -> bool: ...

    def _running_due(self) -> datetime | None: ...

    def _flag_overdue(self, flagged: datetime | None) -> datetime | None: ...

    def _apology_instant(self) -> datetime | None: ...

    def _request_apology(self) -> None: ...

    async def _send_apology_letter(self, apology: Apology) -> None: ...


def halt_ends_walk() -> bool:
    """Whether a withdrawal or stop ends the walk of a version-1 dossier (patched after it)."""
    return workflow.patched(HALT_ENDS_WALK)


def start_watchers(wf: Watching) -> list[asyncio.Task[None]]:
    """The version-1 watchers of the apology instant and the due instant; `run` cancels them."""
    watchers = []
    if wf._proc.apology:
        watchers.append(asyncio.create_task(watch_apology(wf)))
    if workflow.patched(OVERDUE_WATCH):
        watchers.append(asyncio.create_task(watch_overdue(wf)))
    return watchers


async def watch_overdue(wf: Watching) -> None:
    """Nothing else wakes a dossier at its legal due instant: flag it overdue for inboxes.

    An extension or a new calendar can move the due instant past now again; the flag
    follows (see `_publish`), and this watch waits for the next due instant.
    """
    flagged: datetime | None = None
    while True:
        await wf._until(lambda: False, wf._running_due, DOSSIER_DUE)
        flagged = wf._flag_overdue(flagged)
        epoch = wf._epoch
        await workflow.wait_condition(lambda since=epoch: wf._epoch != since)  # type: ignore[misc]


async def watch_apology(wf: Watching) -> None:
    """One working day (as set) before the deadline, ask the head for an apology letter."""
    while wf._rt.clock.extensions < wf._proc.max_extensions:
        if wf._rt.apology is None or wf._rt.apology.approved_by is not None:
            await wf._until(lambda: False, wf._apology_instant)
            wf._request_apology()
        apology = wf._rt.apology
        assert apology is not None
        await workflow.wait_condition(lambda a=apology: a.approved_by is not None)  # type: ignore[misc]
        await wf._send_apology_letter(apology)
