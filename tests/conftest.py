"""Shared fixtures: real Temporal servers from the pip-installed binaries, data folders, workers.

- `dev_env`: one `temporal server start-dev` (in memory) for the whole session, with motcua's
  custom search attributes registered and motcua's data converter (pydantic, encrypted).
  Supports everything: search attribute upserts, list/count queries (visibility), updates.
- `ts_env`: one time-skipping Java test server for the session, for long waits (timers of days
  skip instantly while a test awaits a workflow result).

  What the Java test server (temporal-test-server 1.40) does with search attributes, as found:
  it starts with NO custom search attributes, and a workflow that upserts an unknown one fails
  its workflow task ("search attribute Overdue is not defined") and retries for ever; starting
  a workflow with one fails with the same RPC error. It does implement
  `OperatorService.AddSearchAttributes`, so this fixture registers `ALL` on it; afterwards
  upserts and start-time attributes work and `describe()` shows them. It does NOT implement
  `ListSearchAttributes`, `ListWorkflowExecutions` or `CountWorkflowExecutions`: visibility
  queries (inboxes) must be tested on `dev_env`.
  A module whose dossiers skip months takes its own: `ts_env = own_time_skipping_server()`.
- `worker`: a worker on the module's `QUEUE` and `ts_env`.
- `data_dir`: a fresh data folder per test (results, outbox, registers).
- `run_worker(client, task_queues, data_dir, **options)`: an async context manager serving the
  queues with the production configuration of `runtime.workers.WorkerGroup` (same sandbox
  passthrough, activities bound to `data_dir`), trusting `helpers.TEST_TRUST` unless `trust=`
  says otherwise; `workflows=` and `activities=` can be replaced by stand-ins.
- `front_door` (automatic): client operations sign officers' updates with the tests' key.
"""

from __future__ import annotations

import os
import tempfile

# Payloads are encrypted in tests as in production. Every client, worker and replayer of the
# session (and every `motcua` subprocess a test runs) finds its keys under $MOTCUA_DATA: one
# fresh folder, set before motcua's modules read it.
os.environ["MOTCUA_DATA"] = tempfile.mkdtemp(prefix="motcua-test-data-")

import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from helpers import TEST_TRUST, front_door_signing, time_skipping_server
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from motcua.client import credentials
from motcua.devserver import find_binary, shut_down
from runtime.connection import data_converter
from workflows.search_attributes import ALL


@pytest.fixture(scope="session", autouse=True)
def front_door() -> Iterator[None]:
    """Client operations of the tests sign officers' updates with the tests' front door key
    (`helpers.FRONT_DOOR`), which test workers trust (`helpers.TEST_TRUST`)."""
    previous = credentials.sign_with(front_door_signing)
    yield
    credentials.sign_with(previous)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (in memory) with the custom search attributes, for the session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")),
        search_attributes=ALL,
        data_converter=data_converter(),
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await shut_down(env)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, with the custom search attributes added (see above)."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh data folder for one test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def run_worker() -> Callable[..., Any]:
    """`async with run_worker(client, "queue" or ["q1", "q2"], data_dir): ...` serves queues."""
    from runtime.workers import WorkerGroup  # imports the workflows: only tests that run them pay

    def start(
        client: Client, task_queues: str | Sequence[str], data_dir: Path, **options: Any
    ) -> WorkerGroup:
        queues = [task_queues] if isinstance(task_queues, str) else list(task_queues)
        options.setdefault("trust", TEST_TRUST)
        return WorkerGroup(client, queues, data_dir, **options)

    return start


@pytest.fixture
async def worker(
    request: pytest.FixtureRequest,
    ts_env: WorkflowEnvironment,
    data_dir: Path,
    run_worker: Callable[..., Any],
) -> AsyncIterator[None]:
    """A worker on the requesting module's `QUEUE`, on its `ts_env` (the session's, or the
    module's own from `helpers.own_time_skipping_server()`)."""
    async with run_worker(ts_env.client, request.module.QUEUE, data_dir):
        yield


@dataclass(frozen=True)
class Codec:
    """A running codec server: its URL and bearer tokens of an auditor and of an officer."""

    url: str
    auditor: str
    officer: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture
async def codec_server(tmp_path: Path) -> AsyncIterator[Codec]:
    """The codec server on a free port, decoding with the session's keys (as workers encode)."""
    from motcua.codec_server import CodecServer, TokenFile, create_app
    from runtime.codec import EncryptionCodec

    codec = data_converter().payload_codec
    assert isinstance(codec, EncryptionCodec)
    tokens = TokenFile(tmp_path / "codec-tokens.json")
    auditor = tokens.issue("thanh", "auditor", "000.00.19.H26")
    officer = tokens.issue("lan", "one_stop", "000.00.19.H26")
    async with CodecServer(create_app(codec, tokens), port=free_port()) as server:
        yield Codec(server.url, auditor, officer)
