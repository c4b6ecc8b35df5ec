"""The replayer behind `motcua audit replay`: the worker's workflows, sandbox and data converter.

A replay must run the workflow code exactly as the worker does, so the sandbox restrictions are
the worker's own (`runtime.sandbox.SANDBOX_RESTRICTIONS`: workflow modules re-imported for every
run, clocks, I/O and randomness forbidden). Four costs of temporalio's sandboxed runner are SDK
bookkeeping rather than workflow code, and are cut here without running any workflow code
differently:

- for every payload of every activation the SDK asks the workflow instance for a serialization
  context, and the sandboxed runner answers by compiling and executing a snippet inside the
  sandbox (about 300 trips, 30% of the CPU of a 45-task dossier); `_ReplayInstance` asks the
  instance inside the sandbox directly. The answer comes from the same SDK method on the same
  object; only SDK code runs there, never workflow code.
- the pydantic payload converter is rebuilt for each of those contexts (about 90 per history);
  `SharedPydanticPayloadConverter` builds its encoders once, with the same classes and options,
  so it converts every value exactly as `pydantic_data_converter` does, and
  `ContextMemoDataConverter` binds a converter and codec to each context once per replayer.
- every new replayer first checks that each workflow loads in the sandbox; the process's one
  runner remembers that it does.
- for every run the sandbox imports the workflow modules afresh, reading and unmarshalling
  their bytecode from disk each time; the process keeps their compiled code instead
  (`runtime.codecache`), and still executes it into new modules for every run.

`tests/test_replay.py` checks the shortcut against the SDK's own path, so that a temporalio
upgrade that changes the private `_Instance` fails there, not silently.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self, cast

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    EncodingPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Replayer
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker._workflow_instance import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance
from temporalio.workflow import _Definition

from runtime.codecache import keep_compiled_code
from runtime.connection import data_converter
from runtime.sandbox import SANDBOX_RESTRICTIONS, workflow_runner
from runtime.workers import WORKFLOWS


class SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """`PydanticPayloadConverter` whose encoders (and their type adapter cache) are built once."""

    def __init__(self) -> None:
        CompositePayloadConverter.__init__(self, *_pydantic_encoders())


@functools.cache
def _pydantic_encoders() -> tuple[EncodingPayloadConverter, ...]:
    return tuple(PydanticPayloadConverter().converters.values())


@dataclass(frozen=True)
class ContextMemoDataConverter(DataConverter):
    """A `DataConverter` whose `with_context` answers each serialization context once.

    The SDK asks for a converter bound to the workflow's context on every activation, and to
    an activity's for each of its payloads (about 140 per dossier, each a new converter with
    its payload converter and codec built again). Those are stateless and built from the
    context alone, so the one built first converts and decrypts every later payload of that
    context exactly as a new one would. Kept per replayer, at most `LIMIT` contexts.
    """

    LIMIT: ClassVar[int] = 256
    _bound: dict[SerializationContext, DataConverter] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def with_context(self, context: SerializationContext) -> Self:
        bound = self._bound.get(context)
        if bound is None:
            if len(self._bound) >= self.LIMIT:
                self._bound.clear()
            bound = self._bound[context] = super().with_context(context)
        return cast(Self, bound)


REPLAY_DATA_CONVERTER = ContextMemoDataConverter(
    payload_converter_class=SharedPydanticPayloadConverter
)
"""Converts like `pydantic_data_converter` (the worker's), without rebuilding it per payload
or per context; `new_replayer` adds the worker's payload codec (histories are encrypted)."""


@dataclass(frozen=True)
class ReplaySandboxRunner(SandboxedWorkflowRunner):
    """The worker's sandboxed runner, answering the SDK's per-payload questions directly."""

    _validated: set[type] = field(default_factory=set, init=False, compare=False)

    def prepare_workflow(self, defn: _Definition) -> None:
        """Check once that the workflow loads in the sandbox: every new replayer would check it
        again (a sandboxed import, 7 ms for the dossier), and the code cannot change meanwhile."""
        if defn.cls not in self._validated:
            super().prepare_workflow(defn)
            self._validated.add(defn.cls)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """A sandboxed instance, created exactly as `SandboxedWorkflowRunner` creates it."""
        return _ReplayInstance(det, self.runner_class, self.restrictions)


class _ReplayInstance(_Instance):
    """A sandboxed workflow instance whose context look-ups skip the compile-and-exec trip."""

    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> SerializationContext | None:
        inner = self._inner()
        if inner is None:
            return super().get_serialization_context(command_info)
        return inner.get_serialization_context(command_info)

    def get_external_store_context(
        self, command_info: CommandInfo | None
    ) -> StorageDriverStoreContext:
        inner = self._inner()
        if inner is None:
            return super().get_external_store_context(command_info)
        return inner.get_external_store_context(command_info)

    def _inner(self) -> WorkflowInstance | None:
        """The SDK's workflow instance inside the sandbox, once created."""
        in_sandbox = self.globals_and_locals.get("__temporal_in_sandbox")
        return getattr(in_sandbox, "instance", None)


class _DecodeOnly(PayloadCodec, WithSerializationContext):
    """Decrypts what a history holds; leaves what replay produces as it is.

    Replay compares commands, never the payloads it encodes for them, so encrypting them would
    only need keys for nothing: a dossier's key (or an erased one) must not decide whether code
    that re-derives its commands can run.
    """

    def __init__(self, inner: PayloadCodec) -> None:
        self.inner = inner

    def with_context(self, context: SerializationContext) -> Self:
        if not isinstance(self.inner, WithSerializationContext):
            return self
        return type(self)(self.inner.with_context(context))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.inner.decode(payloads)


def new_replayer(codec: PayloadCodec | None = None, extra: Sequence[type] = ()) -> Replayer:
    """A replayer configured as the worker is: same workflows, runner, sandbox and conversion,
    decrypting with `codec` (default: the process's, `runtime.connection.data_converter`).
    `extra` workflows are registered alike (bench/replay.py --compare: the hand-written one)."""
    inner = codec or data_converter().payload_codec
    codec = _DecodeOnly(inner) if inner is not None else None
    return Replayer(
        workflows=[*WORKFLOWS, *extra],
        data_converter=dataclasses.replace(REPLAY_DATA_CONVERTER, payload_codec=codec),
        workflow_runner=workflow_runner(_sandbox()),
        runtime=quiet_runtime(),
    )


GC_THRESHOLD = (50_000, 20, 20)
"""The replaying process's garbage-collector thresholds (`gc.set_threshold`)."""


@functools.cache
def _sandbox() -> ReplaySandboxRunner:
    """One sandboxed runner per process, so that each workflow is validated once; the modules
    it imports afresh for every run are read and unmarshalled once (`runtime.codecache`).

    What the process holds by now (the SDK, pydantic, the procedures and their schemas) lives
    as long as it does: frozen out of the garbage collector's sight, a full collection, which
    a few dozen replays trigger, walks only what the replays allocate (about 50 ms less each
    time). At the default thresholds (700, 10, 10) the young collections took about 1 ms of a
    dossier's 40 ms replay, and the full ones 1.3 ms more on average; at `GC_THRESHOLD` a
    replay costs 5-10% less CPU (bench/replay.py), for at most a few MB more garbage
    awaiting collection."""
    keep_compiled_code()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    return ReplaySandboxRunner(restrictions=SANDBOX_RESTRICTIONS)


@functools.cache
def quiet_runtime() -> Runtime:
    """A runtime whose core does not log: a divergence is reported once, in our own words."""
    return Runtime(telemetry=TelemetryConfig(logging=None))
