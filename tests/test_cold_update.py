"""An officer's update that reaches a worker with no cached copy of the dossier, in the same
workflow task as the event that opens the officer's task, still replays.

This is the one dossier in 500 that `make chaos` wedged: after a worker restart, the claim and
the receipt notification's result reached the new worker together. Here the same moment is
made on purpose: the workflow worker stops while the receipt notification is running, the
notification completes, the claim is sent, and a fresh workflow worker (empty cache) takes
both at once.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from test_client import make_setup, submit

from activities import all_activities
from activities.payloads import Notification
from motcua import client as ops
from motcua.audit.replay import new_replayer
from worker import SANDBOX_RESTRICTIONS, WORKFLOWS, WorkerGroup

SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
COMMANDS_OF_THE_WALK = {
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
}


def gated_notification(data: Path, entered: threading.Event, release: threading.Event) -> Any:
    """The real `notify_applicant`, held until the test releases it."""
    real = next(a for a in all_activities(data) if a.__name__ == "notify_applicant")

    @activity.defn(name="notify_applicant")
    def notify_applicant(message: Notification) -> None:
        entered.set()
        release.wait(30)
        real(message)

    return notify_applicant


def claim_after_walk(history: WorkflowHistory) -> bool:
    """Whether one workflow task recorded the walk's commands and then the claim's acceptance."""
    seen_walk = False
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            seen_walk = False
        elif event.event_type in COMMANDS_OF_THE_WALK:
            seen_walk = True
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            return seen_walk
    return False


async def test_claim_taken_by_a_cold_worker_with_the_event_that_opened_it_replays(
    dev_env: Any, tmp_path: Path
) -> None:
    client = dev_env.client
    s = make_setup(client, tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    entered, release = threading.Event(), threading.Event()
    notify = gated_notification(data, entered, release)
    others = [a for a in all_activities(data) if a.__name__ != "notify_applicant"]
    activities = WorkerGroup(client, [s.queue], data, workflows=(), activities=[*others, notify])
    async with activities:
        first = WorkerGroup(client, [s.queue], data, activities=[])
        async with first:
            dossier = await submit(s)
            assert await asyncio.to_thread(entered.wait, 20), "receipt notification not sent"
        # The workflow worker is gone (and its cache with it); the notification now completes.
        release.set()
        handle = client.get_workflow_handle(dossier.code)
        for _ in range(100):  # until every activity scheduled so far has completed
            kinds = [e.event_type for e in (await handle.fetch_history()).events]
            if kinds.count(COMPLETED) == kinds.count(SCHEDULED):
                break
            await asyncio.sleep(0.1)
        claim = asyncio.create_task(ops.claim(client, dossier.code, "receive", s.desk_officer()))
        await asyncio.sleep(1)  # the server holds the claim for the pending workflow task
        async with WorkerGroup(client, [s.queue], data, activities=[]):
            acted = await claim
            history = await handle.fetch_history()

    assert acted.action == "claim"
    assert claim_after_walk(history), "the claim did not arrive with the event that opened it"
    replayed = await new_replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None
    plain = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=client.data_converter,
        workflow_runner=SandboxedWorkflowRunner(restrictions=SANDBOX_RESTRICTIONS),
    )
    failed = (await plain.replay_workflow(history, raise_on_replay_failure=False)).replay_failure
    assert failed is not None, "without motcua's ordering the SDK would replay it too"
