"""The dossier interpreter on a real Temporal dev server: every step kind, end to end."""

from __future__ import annotations

import html
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import eventually, settled, signed
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from procedures.legaltime.calendar import load_calendar
from procedures.loader import load_procedure
from procedures.models import Channel, FrozenProcedure
from runtime.replayer import new_replayer
from workflows import search_attributes as sa
from workflows.api import (
    CLAIM,
    COMPLETE,
    DELIVER_EVENT,
    INTERPRETER,
    PENDING_TASKS,
    STATE,
    TIMELINE,
    Actor,
    Applicant,
    ClaimTask,
    CompleteTask,
    DeliverEvent,
    DossierInput,
    DossierOutcome,
    DossierState,
    PortalStatus,
    TaskStatus,
    TaskView,
    TimelineEntry,
)
from workflows.dossier import DossierWorkflow

FIXTURES = Path(__file__).parent / "fixtures" / "interpreter"
DESK = Actor(user="lan", agency="T00.00.01.H26", role="one_stop")
OFFICE = Actor(user="minh", agency="T00.00.02.H26", role="specialist")
SECOND = Actor(user="tuan", agency="T00.00.03.H26", role="officer")


@pytest.fixture
async def workers(dev_env: Any, data_dir: Path, run_worker: Any) -> AsyncIterator[Client]:
    """A worker for the desk queue and a second worker for the second agency's queue."""
    async with (
        run_worker(dev_env.client, "test-desk", data_dir),
        run_worker(dev_env.client, "test-second", data_dir),
    ):
        yield dev_env.client


def frozen(name: str) -> FrozenProcedure:
    return load_procedure(FIXTURES / name)


async def start(
    client: Client,
    procedure: FrozenProcedure,
    form: dict[str, Any] | None = None,
    history_limit: int | None = None,
    interpreter: int = INTERPRETER,
) -> WorkflowHandle[Any, DossierOutcome]:
    code = f"T00.00.01.H26-{datetime.now(UTC):%y%m%d}-{uuid.uuid4().hex[:8]}"
    inp = DossierInput(
        code=code,
        procedure=procedure,
        calendar=load_calendar(),
        received_at=datetime.now(UTC),
        channel=Channel.ONLINE,
        applicant=Applicant(full_name="Nguyễn Thị Bình", id_number="001190000001"),
        form=form or {},
        documents=("application",),
        request_id=code,
        history_limit=history_limit,
        interpreter=interpreter,
    )
    await client.start_workflow(
        DossierWorkflow.run,
        inp,
        id=code,
        task_queue="test-desk",
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    # A handle without a run id follows the dossier across continue-as-new.
    return client.get_workflow_handle(code, result_type=DossierOutcome)


async def state(handle: WorkflowHandle[Any, Any]) -> DossierState:
    return await handle.query(STATE, result_type=DossierState)


async def open_steps(handle: WorkflowHandle[Any, Any]) -> set[str]:
    current = await state(handle)
    return {t.step for t in current.tasks if t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)}


async def wait_open(handle: WorkflowHandle[Any, Any], *steps: str) -> None:
    """Wait (briefly) until the interpreter has opened these tasks."""

    async def opened() -> bool:
        try:
            return set(steps) <= await open_steps(handle)
        except RPCError:  # a child dossier the interpreter has not started yet
            return False

    await eventually(opened, timeout=5, what=f"tasks {steps} open", every=0.05)


async def settled_length(handle: WorkflowHandle[Any, Any]) -> int:
    """The history's length once the dossier has finished what it was doing (activities)."""
    return await settled(handle, every=0.1)


async def complete(
    handle: WorkflowHandle[Any, Any],
    step: str,
    actor: Actor,
    decision: str,
    **fields: Any,
) -> str:
    await wait_open(handle, step)
    return await handle.execute_update(
        COMPLETE, signed(CompleteTask(step=step, actor=actor, decision=decision, fields=fields))
    )


@pytest.mark.parametrize("interpreter", [1, 2, INTERPRETER])
async def test_every_step_kind_end_to_end(
    workers: Client, data_dir: Path, interpreter: int
) -> None:
    """Versions 1 (with its patch markers) and 2 still run for dossiers started under them."""
    handle = await start(workers, frozen("every-step.yaml"), interpreter=interpreter)
    await wait_open(handle, "receive")
    await handle.execute_update(CLAIM, signed(ClaimTask(step="receive", actor=DESK)))
    await complete(handle, "receive", DESK, "accept")
    # choice: form.fast is missing, so the dossier goes to review.
    await complete(handle, "review", OFFICE, "ok", opinion="đủ điều kiện", area_m2=120.5)
    # auto step (notification), then two branches at two agencies at once.
    await wait_open(handle, "check_a", "check_b")
    await complete(handle, "check_b", SECOND, "ok")
    await complete(handle, "check_a", OFFICE, "ok")

    # wait step: the payment suspends the clock (financial obligation, status 6).
    async def waiting() -> DossierState | None:
        current = await state(handle)
        return current if current.status is PortalStatus.FINANCIAL_OBLIGATION else None

    paused = await eventually(waiting, timeout=5, what="financial obligation", every=0.05)
    assert paused.clock.suspended
    await handle.execute_update(
        DELIVER_EVENT,
        signed(DeliverEvent(event="payment_received", actor=OFFICE, data={"vnd": 500000})),
    )
    # sub-procedure: a child dossier on the second agency's queue, served by the second worker.
    child = workers.get_workflow_handle(f"{handle.id}.sub")
    await wait_open(child, "confirm")
    await complete(child, "confirm", SECOND, "confirm")
    outcome = await handle.result()

    assert outcome.result.value == "approved"
    assert outcome.status is PortalStatus.RETURNED
    final = await state(handle)
    kinds = [e.kind for e in final.timeline]
    for kind in ("chose", "automatic", "forked", "joined", "waiting", "arrived", "handed_over"):
        assert kind in kinds, kind
    assert (await child.describe()).task_queue == "test-second"
    # documents on disk: receipt with the appointment date, result, control slip.
    issued = {d.kind: Path(d.path) for d in final.documents}
    assert {"receipt", "result", "control_slip"} <= issued.keys()
    receipt = issued["receipt"].read_text(encoding="utf-8")
    assert handle.id in receipt
    slip = issued["control_slip"].read_text(encoding="utf-8")
    titles = {t.step: t.title for t in final.tasks}
    for step in ("receive", "review", "check_a", "check_b"):  # one hand-over row per task
        assert f"<td>{html.escape(titles[step])}</td>" in slip, step
    # the portal feed saw the statuses in order; the register numbered the result.
    portal = [
        json.loads(line)
        for line in (data_dir / "outbox" / "portal.jsonl").read_text().splitlines()
        if json.loads(line)["dossier_code"] == handle.id
    ]
    statuses = [r["status"] for r in portal]
    assert statuses[:2] == [1, 2] and statuses[-2:] == [9, 10]
    assert 6 in statuses and statuses.index(6) < statuses.index(9)
    assert any(e.kind == "automatic" and e.step == "issue" for e in final.timeline)
    # A history written by today's code replays against it (the golden histories under
    # tests/histories hold older ones: see test_replay.py).
    history = await handle.fetch_history()
    patches = [
        e for e in history.events if e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert bool(patches) == (interpreter == 1)  # version 2 is versioned by its input, not patches
    await new_replayer().replay_workflow(history)


async def test_rework_loop_returns_to_an_earlier_step(workers: Client) -> None:
    handle = await start(workers, frozen("every-step.yaml"))
    await complete(handle, "receive", DESK, "accept")
    await complete(handle, "review", OFFICE, "rework", opinion="thiếu bản vẽ")
    await complete(handle, "receive", DESK, "accept")
    await wait_open(handle, "review")
    current = await state(handle)
    visits = [t.step for t in current.tasks]
    assert visits == ["receive", "review", "receive", "review"]
    pending = await handle.query(PENDING_TASKS, result_type=tuple[TaskView, ...])
    assert [(t.step, t.status) for t in pending] == [("review", TaskStatus.OPEN)]
    timeline = await handle.query(TIMELINE, result_type=tuple[TimelineEntry, ...])
    decided = [(e.step, e.detail) for e in timeline if e.kind == "decided"]
    assert decided == [("receive", "accept"), ("review", "rework"), ("receive", "accept")]
    await handle.terminate("test over")


async def test_choice_takes_the_rule_that_holds(workers: Client) -> None:
    handle = await start(workers, frozen("every-step.yaml"), form={"fast": True})
    await complete(handle, "receive", DESK, "accept")
    await wait_open(handle, "check_a", "check_b")
    assert "review" not in {t.step for t in (await state(handle)).tasks}
    await handle.terminate("test over")


async def test_refusal_in_one_branch_cancels_its_sibling(workers: Client) -> None:
    handle = await start(workers, frozen("every-step.yaml"), form={"fast": True})
    await complete(handle, "receive", DESK, "accept")
    await wait_open(handle, "check_a", "check_b")
    await complete(handle, "check_a", OFFICE, "refuse")
    outcome = await handle.result()
    assert outcome.result.value == "refused"
    assert outcome.status is PortalStatus.REFUSED
    tasks = {t.step: t.status for t in (await state(handle)).tasks}
    assert tasks["check_b"] is TaskStatus.CANCELLED
    assert any(d.kind == "refusal" for d in (await state(handle)).documents)


async def test_rejected_updates_leave_history_unchanged(workers: Client) -> None:
    handle = await start(workers, frozen("every-step.yaml"))
    await wait_open(handle, "receive")
    await handle.execute_update(CLAIM, signed(ClaimTask(step="receive", actor=DESK)))
    await complete(handle, "receive", DESK, "accept")
    await wait_open(handle, "review")
    before = await settled_length(handle)
    attempts: list[tuple[str, Any, str]] = [
        (
            COMPLETE,
            signed(CompleteTask(step="review", actor=SECOND, decision="ok")),
            "belongs to agency",
        ),
        (
            COMPLETE,
            signed(
                CompleteTask(
                    step="review",
                    actor=OFFICE.model_copy(update={"role": "head"}),
                    decision="ok",
                    fields={"opinion": "x"},
                )
            ),
            "needs role 'specialist'",
        ),
        (
            COMPLETE,
            signed(
                CompleteTask(
                    step="review", actor=OFFICE, decision="approve", fields={"opinion": "x"}
                )
            ),
            "decision 'approve' is not allowed",
        ),
        (
            COMPLETE,
            signed(CompleteTask(step="review", actor=OFFICE, decision="ok")),
            "'opinion' is required",
        ),
        (
            COMPLETE,
            signed(
                CompleteTask(
                    step="review",
                    actor=OFFICE,
                    decision="ok",
                    fields={"opinion": "x", "area_m2": "big"},
                )
            ),
            "'area_m2' must be number",
        ),
        (
            COMPLETE,
            signed(
                CompleteTask(
                    step="review",
                    actor=OFFICE,
                    decision="ok",
                    fields={"opinion": "x", "colour": "red"},
                )
            ),
            "unknown field 'colour'",
        ),
        (
            COMPLETE,
            signed(CompleteTask(step="receive", actor=DESK, decision="accept")),
            "is not open",
        ),
        (
            COMPLETE,
            signed(CompleteTask(step="nowhere", actor=DESK, decision="accept")),
            "no open task",
        ),
    ]
    for name, request, reason in attempts:
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(name, request)
        assert reason in str(failure.value.cause), (reason, failure.value.cause)
    assert await settled_length(handle) == before
    await handle.terminate("test over")


async def test_a_claimed_task_belongs_to_its_claimant(workers: Client) -> None:
    handle = await start(workers, frozen("every-step.yaml"))
    await wait_open(handle, "receive")
    await handle.execute_update(CLAIM, signed(ClaimTask(step="receive", actor=DESK)))
    other = DESK.model_copy(update={"user": "hung"})
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(
            COMPLETE, signed(CompleteTask(step="receive", actor=other, decision="accept"))
        )
    assert "claimed by lan" in str(failure.value.cause)
    await handle.terminate("test over")


async def test_a_dossier_code_is_never_started_twice(workers: Client) -> None:
    handle = await start(workers, frozen("sub-step.yaml"))
    await handle.terminate("test over")
    inp = (await handle.fetch_history()).events[0]
    assert inp.workflow_execution_started_event_attributes.input.payloads
    with pytest.raises(WorkflowAlreadyStartedError):
        await workers.start_workflow(
            "Dossier",
            id=handle.id,
            task_queue="test-desk",
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )


async def test_editing_the_yaml_does_not_change_a_running_dossier(
    workers: Client, tmp_path: Path
) -> None:
    folder = tmp_path / "tests" / "fixtures" / "interpreter"
    shutil.copytree(FIXTURES, folder)
    (tmp_path / "procedures").symlink_to(Path(__file__).parents[1] / "procedures")
    path = folder / "sub-step.yaml"
    handle = await start(workers, load_procedure(path))
    path.write_text(path.read_text().replace("confirm: done", "agree: done"), encoding="utf-8")
    assert "agree" in load_procedure(path).procedure.steps["confirm"].decisions  # type: ignore[union-attr]
    await complete(handle, "confirm", SECOND, "confirm")
    assert (await handle.result()).result.value == "approved"


async def test_sixty_steps_finish_across_continue_as_new(workers: Client) -> None:
    procedure = frozen("sixty-steps.yaml")
    handle = await start(workers, procedure, history_limit=120)
    first_run = (await handle.describe()).run_id
    for i in range(1, 61):
        await complete(handle, f"s{i:02d}", DESK, "ok")
    outcome = await handle.result()
    assert outcome.result.value == "approved"
    assert (await handle.describe()).run_id != first_run
    decided = [e for e in (await state(handle)).timeline if e.kind == "decided"]
    assert [e.step for e in decided] == [f"s{i:02d}" for i in range(1, 61)]
    # The last run upserts only what changed (`upserts_changed_only`): visibility still shows
    # the whole of the ended dossier, the procedure code upserted by the first run included.
    shown = (await handle.describe()).typed_search_attributes
    assert shown.get(sa.PROCEDURE_CODE) == procedure.procedure.code
    assert shown.get(sa.PORTAL_STATUS) == (await state(handle)).status.value
    assert not shown.get(sa.PENDING_ROLES) and shown.get(sa.OVERDUE) is False
    assert shown.get(sa.RESULT) == "approved"
