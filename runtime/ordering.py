"""Run a workflow's updates after the other jobs of their activation, live and on replay alike.

Why: Temporal's core hands a worker an update that arrives together with other new events (an
activity result, a fired timer) in one of two shapes. For a workflow the worker has cached, and
on every replay, it is one activation with the update first (the SDK applies signals and
updates before results). For a workflow the worker has *not* cached (after a restart, or once
the sticky cache evicted it) it is an activation of the events and then another of the update.
The two shapes make the workflow emit the update's acceptance and its own commands in opposite
orders; the history records the live order, so the cold case does not replay (`make chaos`
caught it after kill -9; `tests/histories/crash/` keeps two such histories).

`UpdatesLastRunner` wraps the real runner (the sandbox) and splits every mixed activation into
"everything else, then the updates", fed to the workflow one after the other and answered as
one completion: the cached and the replayed paths then take the cold path's order, so all three
agree. A run opts in at its start (`opts_in` reads its input), because histories of runs started
without it recorded the other order.

What this depends on, and where it is stated upstream (temporalio 1.35, pinned in pyproject.toml
to the versions tested):

- Core sorts an activation's jobs "init workflow, patches, random-seed updates, signals/updates,
  all others, local activity resolutions, queries, evictions": the "Job ordering guarantees"
  comment of `WorkflowActivation` in sdk-core's `workflow_activation.proto` and
  `prepare_to_ship_activation` in `sdk-core/src/worker/workflow/mod.rs` (both shipped inside
  the temporalio wheel, under `temporalio/bridge/sdk-core/`). Updates joined signals there in
  temporalio/sdk-core#639 ("Order updates with signals"; the repository is now
  temporalio/sdk-rust); init-workflow moved first in temporalio/sdk-core#789.
- The Python SDK applies signals and updates before the other jobs again
  (`_WorkflowInstanceImpl.activate`, `temporalio/worker/_workflow_instance.py`, job sets
  "patches, then signals + updates, then non-queries"); temporalio/sdk-python#433 (open: remove
  that sorting) and temporalio/sdk-python#606 (apply every job before running workflow code)
  would change it.
- That an uncached worker gets the new events and the update in two activations is observed
  (`tests/test_cold_update.py`, `tests/histories/crash/`), not documented upstream.

`tests/test_cold_update.py` fails loudly if an SDK changes the order (it replays histories
that mix an update with other jobs and checks the update comes first) or is not a pinned version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import (
    InitializeWorkflow,
    WorkflowActivation,
    WorkflowActivationJob,
)
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import PayloadConverter
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.workflow import Info

OptsIn = Callable[[str, Any], bool]
"""Given a workflow type and its first argument (decoded as plain JSON), whether the run
takes updates after the other jobs."""


class UpdatesLastRunner(WorkflowRunner):
    """A workflow runner that hands updates to the workflow after the activation's other jobs."""

    def __init__(self, inner: WorkflowRunner, opts_in: OptsIn) -> None:
        self._inner = inner
        self._opts_in = opts_in

    def prepare_workflow(self, defn: Any) -> None:
        self._inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _UpdatesLast(
            self._inner.create_instance(det),
            det.defn.name or "",
            det.payload_converter_factory(),
            self._opts_in,
        )

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._inner.set_worker_level_failure_exception_types(types)


class _UpdatesLast(WorkflowInstance):
    def __init__(
        self,
        inner: WorkflowInstance,
        workflow_type: str,
        converter: PayloadConverter,
        opts_in: OptsIn,
    ) -> None:
        self._inner = inner
        self._type = workflow_type
        self._converter = converter
        self._opts_in = opts_in
        self._split: bool | None = None  # decided by the run's first activation

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        if self._split is None:
            start = next((j for j in act.jobs if j.HasField("initialize_workflow")), None)
            if start is not None:
                self._split = self._decide(start.initialize_workflow)
        updates = [j for j in act.jobs if j.HasField("do_update")]
        others = [j for j in act.jobs if not j.HasField("do_update")]
        if not self._split or not updates or not others:
            return self._inner.activate(act)
        first = self._inner.activate(_with_jobs(act, others))
        if not first.HasField("successful"):
            return first
        second = self._inner.activate(_with_jobs(act, updates))
        if not second.HasField("successful"):
            return second
        done = first.successful
        done.commands.extend(second.successful.commands)
        for flag in second.successful.used_internal_flags:
            if flag not in done.used_internal_flags:
                done.used_internal_flags.append(flag)
        if second.successful.versioning_behavior:
            done.versioning_behavior = second.successful.versioning_behavior
        return first

    def _decide(self, start: InitializeWorkflow) -> bool:
        argument = _decode(self._converter, start.arguments[0]) if start.arguments else None
        return self._opts_in(self._type, argument)

    def get_serialization_context(self, command_info: Any) -> Any:
        return self._inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._inner.get_external_store_context(command_info)

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()


def _with_jobs(act: WorkflowActivation, jobs: list[WorkflowActivationJob]) -> WorkflowActivation:
    part = WorkflowActivation()
    part.CopyFrom(act)
    del part.jobs[:]
    part.jobs.extend(jobs)
    return part


def _decode(converter: PayloadConverter, payload: Payload) -> Any:
    """The argument as plain JSON values; None when it is not JSON (no opinion then)."""
    try:
        return converter.from_payload(payload)
    except Exception:  # a payload we cannot read simply does not opt in
        return None
