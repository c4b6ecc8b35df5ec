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
import tomllib
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from helpers import TEST_TRUST, eventually, make_setup, signed, submit
from packaging.requirements import Requirement
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    Replayer,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info

from activities import all_activities
from activities.payloads import Notification
from motcua.audit.history import read_file
from runtime.replayer import REPLAY_DATA_CONVERTER, new_replayer
from runtime.sandbox import SANDBOX_RESTRICTIONS, workflow_runner
from runtime.workers import WORKFLOWS, WorkerGroup
from workflows.api import CLAIM, ClaimTask

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = ROOT / "tests" / "histories"
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


async def admitted(client: Client, workflow_id: str, update_id: str) -> bool:
    """Whether the server holds the update (admitted, waiting for a workflow worker).

    The SDK's `start_update` cannot wait for the ADMITTED stage, the service's poll can."""
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id
        ),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        ),
    )
    try:
        await client.workflow_service.poll_workflow_execution_update(request)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:  # not arrived yet
            return False
        raise
    return True


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
    activities = WorkerGroup(
        client, [s.queue], data, trust=TEST_TRUST, workflows=(), activities=[*others, notify]
    )
    async with activities:
        first = WorkerGroup(client, [s.queue], data, trust=TEST_TRUST, activities=[])
        async with first:
            dossier = await submit(s)
            assert await asyncio.to_thread(entered.wait, 20), "receipt notification not sent"
        # The workflow worker is gone (and its cache with it); the notification now completes.
        release.set()
        handle = client.get_workflow_handle(dossier.code)

        async def activities_done() -> bool:
            kinds = [e.event_type for e in (await handle.fetch_history()).events]
            return kinds.count(COMPLETED) == kinds.count(SCHEDULED)

        await eventually(activities_done, what="the receipt notification's completion")
        request = signed(ClaimTask(step="receive", actor=s.desk_officer()))
        update_id = f"claim-{dossier.code}"
        claim = asyncio.create_task(
            handle.execute_update(CLAIM, request, id=update_id, result_type=str)
        )
        await eventually(lambda: admitted(client, dossier.code, update_id), what="claim admitted")
        async with WorkerGroup(client, [s.queue], data, trust=TEST_TRUST, activities=[]):
            await claim
            history = await handle.fetch_history()

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


# ------------------------------------------------------------------------------ the SDK's order

ORDER_WITNESSES = (
    HISTORIES / "2.000488-withdrawn.json",
    *sorted((HISTORIES / "crash").glob("*.json")),
)
"""Histories in which an update was recorded in the same workflow task as an activity result."""


class JobOrderSpy(WorkflowRunner):
    """A runner that notes, for every activation, the kinds of its jobs as the SDK hands them."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner
        self.activations: list[list[str]] = []

    def prepare_workflow(self, defn: Any) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Noted(self.inner.create_instance(det), self.activations)

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _Noted(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance, activations: list[list[str]]) -> None:
        self.inner, self.activations = inner, activations

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        self.activations.append([str(job.WhichOneof("variant")) for job in act.jobs])
        return self.inner.activate(act)

    def get_serialization_context(self, command_info: Any) -> Any:
        return self.inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()


def test_temporalio_is_a_tested_version() -> None:
    """`runtime.ordering` rests on the SDK's activation job order: pyproject pins the versions it
    was tested with, and a venv upgraded by hand fails here rather than in production."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = next(
        Requirement(r) for r in pyproject["project"]["dependencies"] if r.startswith("temporalio")
    )
    installed = version("temporalio")
    assert pinned.specifier.contains(installed), (
        f"temporalio {installed} is not a version runtime.ordering was tested with ({pinned}): "
        "run tests/test_cold_update.py and tests/test_replay.py, then move the pin"
    )


async def test_the_sdk_still_hands_updates_before_the_other_jobs_of_an_activation() -> None:
    """The premise of `runtime.ordering` (temporalio/sdk-core#639, workflow_activation.proto:
    'signals/updates' before 'all others'): on replay, an update recorded in the same workflow
    task as an activity result reaches the workflow in one activation, the update first. If an
    SDK upgrade changes that order, `UpdatesLastRunner` is wrong or useless: this fails first."""
    mixed: list[list[str]] = []
    for path in ORDER_WITNESSES:
        spy = JobOrderSpy(workflow_runner())
        replayer = Replayer(
            workflows=list(WORKFLOWS), data_converter=REPLAY_DATA_CONVERTER, workflow_runner=spy
        )
        await replayer.replay_workflow(read_file(path).history, raise_on_replay_failure=False)
        mixed += [kinds for kinds in spy.activations if "do_update" in kinds and len(kinds) > 1]
    assert mixed, "no activation mixed an update with other jobs: the SDK changed the job order"
    for kinds in mixed:
        others = [
            i for i, kind in enumerate(kinds) if kind not in ("do_update", "notify_has_patch")
        ]
        first_update = kinds.index("do_update")
        assert others and first_update < min(others), (
            f"the SDK now orders an activation's jobs as {kinds}; runtime.ordering assumes updates "
            "come before the other jobs (see its docstring before upgrading temporalio)"
        )
