"""Per-agency workers: two `worker.py` processes serving disjoint agencies' task queues.

A procedure received by one agency (queue A) has its result registered by another (an
automatic `issue_result` step on queue B). With a worker process per queue, the dossier
crosses agencies and completes; with B's worker killed, only B's work waits (A still receives
and opens tasks) and it resumes when B's worker returns.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import APPLICANT, FRONT_DOOR, always_open, forms_yaml
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus

from identity import keys, layout
from motcua import client as ops
from motcua import publication
from procedures.legaltime.calendar import load_calendar
from procedures.loader import load_procedure
from procedures.models import Channel, FrozenProcedure
from workflows.api import Actor, DossierOutcome, ResultType, TaskStatus

ROOT = Path(__file__).resolve().parents[1]

PROCEDURE = """\
code: "{code}"
name: "Thủ tục thử nghiệm hai cơ quan ({code})"
version: "test.1"
legal_basis: ["Test fixture, not a real procedure"]
effective_from: 2025-07-01
sector: "Thử nghiệm"
level: commune
channels: [in_person]
time_limit: {{amount: 10, unit: working_days}}
receiving_agency: desk
agencies:
  desk:
    code: "{desk}"
    name: "Bộ phận Một cửa (thử)"
    task_queue: "{queue_a}"
    roles: [one_stop]
    hours: {{periods: [["00:00", "23:59:59"]], cutoff: "23:59:59"}}
  registry:
    code: "{registry}"
    name: "Cơ quan đăng ký (thử)"
    task_queue: "{queue_b}"
    roles: [registrar]
    hours: {{periods: [["00:00", "23:59:59"]], cutoff: "23:59:59"}}
documents:
  - {{id: application, name: "Đơn đề nghị"}}
results:
  - {{id: permit, name: "Giấy phép (thử)"}}
forms:
{forms}
start: receive
steps:
  receive:
    kind: task
    title: "Tiếp nhận hồ sơ"
    agency: desk
    role: one_stop
    share: 1
    decisions: {{accept: register, refuse: refused}}
  register:
    kind: auto
    title: "Vào sổ cấp giấy phép"
    activity: issue_result
    agency: registry
    args: {{document: permit, series: "GP"}}
    next: approved
  approved: {{kind: end, result: approved, form: result}}
  refused: {{kind: end, result: refused, form: refusal}}
"""


@dataclass
class Agencies:
    client: Client
    address: str
    frozen: FrozenProcedure
    desk: str
    queues: dict[str, str]
    catalog: Path
    data: Path
    workers: dict[str, subprocess.Popen[bytes]]

    def start(self, name: str) -> None:
        env = {**os.environ, "TEMPORAL_ADDRESS": self.address, "MOTCUA_LOG_LEVEL": "warning"}
        command = [sys.executable, str(ROOT / "worker.py"), "--catalog", str(self.catalog)]
        command += ["--task-queue", self.queues[name], "--data", str(self.data / name)]
        log = open(self.data / f"{name}.log", "ab")  # noqa: SIM115 - as long as the worker
        self.workers[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, name: str) -> None:
        worker = self.workers.pop(name)
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    async def polled(self, name: str, timeout: float = 60) -> None:
        """Until the agency's worker polls its queue."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.workers[name].poll() is None, (self.data / f"{name}.log").read_text()
            answer = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace, task_queue=TaskQueue(name=self.queues[name])
                )
            )
            if answer.pollers:
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"the worker of {name} did not poll within {timeout}s")

    async def submit(self) -> str:
        applicant = APPLICANT.model_copy(update={"id_number": uuid.uuid4().hex[:12]})
        calendar = always_open(load_calendar(), (self.desk,))
        done = await ops.submit(
            self.client,
            self.frozen,
            applicant,
            Channel.IN_PERSON,
            {},
            ("application",),
            calendar=calendar,
        )
        return done.code

    async def receive(self, code: str, timeout: float = 60) -> None:
        """Wait for the receipt task, then accept the dossier (the desk's own work)."""
        deadline = time.monotonic() + timeout
        while True:
            state = await ops.show(self.client, code)
            if any(t.step == "receive" and t.status is TaskStatus.OPEN for t in state.tasks):
                break
            assert time.monotonic() < deadline, f"receive task of {code} never opened"
            await asyncio.sleep(0.5)
        officer = Actor(user="lan", agency=self.desk, role="one_stop")
        await ops.claim(self.client, code, "receive", officer)
        await ops.complete(self.client, code, "receive", officer, "accept")

    async def outcome(self, code: str, timeout: float) -> DossierOutcome:
        handle = self.client.get_workflow_handle(code, result_type=DossierOutcome)
        return await asyncio.wait_for(handle.result(), timeout)


@pytest.fixture
def agencies(dev_env: Any, tmp_path: Path) -> Iterator[Agencies]:
    run = uuid.uuid4().hex[:6].upper()
    desk, registry = f"M{run}.01.H26", f"M{run}.02.H26"
    queues = {"a": f"agency-a-{run}", "b": f"agency-b-{run}"}
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    path = catalog / "two-agencies.yaml"
    path.write_text(
        PROCEDURE.format(
            code=f"9.{int(run, 16) % 10**6:06d}",
            desk=desk,
            registry=registry,
            queue_a=queues["a"],
            queue_b=queues["b"],
            forms=forms_yaml(catalog),
        ),
        encoding="utf-8",
    )
    data = tmp_path / "data"
    for name in queues:  # each worker trusts the tests' front door and runs the published set
        folder = data / name
        folder.mkdir(parents=True)
        keys.write_keyset(
            layout.officers_signer(folder).keyset_path, {FRONT_DOOR.kid: FRONT_DOOR.public}
        )
        publication.publish(
            folder, {"two": load_procedure(path)}, "test", effective_from=date(2000, 1, 1)
        )
    client = dev_env.client
    ready = Agencies(
        client,
        client.service_client.config.target_host,
        load_procedure(path),
        desk,
        queues,
        catalog,
        data,
        {},
    )
    try:
        yield ready
    finally:
        for name in list(ready.workers):
            worker = ready.workers.pop(name)
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


async def test_a_dossier_crosses_agencies_and_a_dead_worker_stalls_only_its_agency(
    agencies: Agencies,
) -> None:
    agencies.start("a")
    agencies.start("b")
    await agencies.polled("a")
    await agencies.polled("b")

    crossing = await agencies.submit()
    await agencies.receive(crossing)
    assert (await agencies.outcome(crossing, 60)).result is ResultType.APPROVED
    register = (agencies.data / "b" / "registers" / "results.jsonl").read_text()
    assert crossing in register and not (agencies.data / "a" / "registers").exists()

    agencies.kill("b")
    stalled = await agencies.submit()
    await agencies.receive(stalled)
    # Agency A carries on: a new dossier is received and its task opens and is decided.
    other = await agencies.submit()
    await agencies.receive(other)
    for code in (stalled, other):
        described = await agencies.client.get_workflow_handle(code).describe()
        assert described.status is WorkflowExecutionStatus.RUNNING
    state = await ops.show(agencies.client, stalled)
    assert not state.tasks or all(t.step == "receive" for t in state.tasks)

    agencies.start("b")
    for code in (stalled, other):
        assert (await agencies.outcome(code, 90)).result is ResultType.APPROVED
