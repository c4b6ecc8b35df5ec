"""Helpers for tests on Temporal's time-skipping test server."""

from __future__ import annotations

from typing import Any

from helpers import eventually
from temporalio.client import WorkflowHandle

from runtime.connection import data_converter
from workflows.api import DossierOutcome


async def outcome(handle: WorkflowHandle[Any, DossierOutcome]) -> DossierOutcome:
    """The dossier's result, read from its history once it has ended.

    Not `handle.result()`: on the time-skipping server that unlocks time while it waits, and
    the server may then skip to some far timer (ten years ahead was seen), which a session
    sharing the server would carry into every later test. Tests move time with `env.sleep`.
    """

    async def ended() -> bool:
        desc = await handle.describe()
        return desc.status is not None and desc.status.name != "RUNNING"

    await eventually(ended, timeout=10, what=f"{handle.id} ended", every=0.05)
    history = await handle.fetch_history()
    last = history.events[-1]
    assert last.HasField("workflow_execution_completed_event_attributes"), last
    payloads = last.workflow_execution_completed_event_attributes.result.payloads
    (result,) = await data_converter().decode(payloads, [DossierOutcome])
    assert isinstance(result, DossierOutcome)
    return result
