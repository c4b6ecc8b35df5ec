"""Heads redistribute an absent officer's work, and an officer acts for another for a bounded
period (interpreter behaviours `reasoned_reassignment` and `acting_for`), on real Temporal."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import TEST_TRUST, eventually, sign
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy

from identity import keys
from identity.assertions import Delegation
from motcua import client as ops
from motcua.audit.history import fetch_runs
from motcua.audit.trail import build_trail
from motcua.client.officers import assigned_to
from procedures.legaltime.calendar import load_calendar
from procedures.loader import content_hash, load_procedure
from procedures.models import Channel, Escalation, FrozenProcedure
from runtime import logs
from runtime.workers import WorkerGroup
from workflows.api import (
    CLAIM,
    COMPLETE,
    STATE,
    Actor,
    Applicant,
    ClaimTask,
    CompleteTask,
    DossierInput,
    DossierState,
    TaskStatus,
)
from workflows.dossier import DossierWorkflow

FIXTURES = Path(__file__).parent / "fixtures" / "interpreter"
QUEUES = ["test-desk", "test-second"]
DESK_AGENCY = "T00.00.01.H26"
OFFICE_AGENCY = "T00.00.02.H26"


def escalating_to_a_deputy() -> FrozenProcedure:
    """every-step.yaml with the desk's task escalating to a `deputy` role of the desk."""
    frozen = load_procedure(FIXTURES / "every-step.yaml")
    proc = frozen.procedure
    desk = proc.agencies["desk"]
    receive = proc.steps["receive"]
    changed = proc.model_copy(
        update={
            "agencies": {
                **proc.agencies,
                "desk": desk.model_copy(update={"roles": (*desk.roles, "deputy")}),
            },
            "steps": {
                **proc.steps,
                "receive": receive.model_copy(
                    update={"escalation": Escalation(escalate_to="deputy")}
                ),
            },
        }
    )
    digest = content_hash(changed, frozen.subprocedures)
    return frozen.model_copy(update={"procedure": changed, "content_hash": digest})


async def start(
    client: Client, interpreter: int | None = None, procedure: FrozenProcedure | None = None
) -> WorkflowHandle[Any, Any]:
    at = datetime.now(UTC)
    code = f"{DESK_AGENCY}-{at:%y%m%d}-{uuid.uuid4().hex[:8]}"
    extra = {} if interpreter is None else {"interpreter": interpreter}
    inp = DossierInput(
        code=code,
        procedure=procedure or load_procedure(FIXTURES / "every-step.yaml"),
        calendar=load_calendar(range(at.year - 1, at.year + 2)),
        received_at=at,
        channel=Channel.ONLINE,
        applicant=Applicant(full_name="Nguyễn Thị Bình", id_number="001190000001"),
        documents=("application",),
        request_id=code,
        **extra,
    )
    await client.start_workflow(
        DossierWorkflow.run,
        inp,
        id=code,
        task_queue="test-desk",
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    return client.get_workflow_handle(code)


async def state(handle: WorkflowHandle[Any, Any]) -> DossierState:
    return await handle.query(STATE, result_type=DossierState)


async def claimed_by(handle: WorkflowHandle[Any, Any], officer: Actor) -> None:
    """Wait for the desk's task to open, then `officer` claims it (signed)."""
    for _ in range(200):
        if any(t.step == "receive" for t in (await state(handle)).tasks):
            break
        await asyncio.sleep(0.05)
    await handle.execute_update(
        CLAIM, ClaimTask(step="receive", actor=officer, assertion=sign(officer)), result_type=str
    )


async def refusal(handle: WorkflowHandle[Any, Any], name: str, body: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(name, body, result_type=str)
    cause = failed.value.cause
    return str(cause.message if hasattr(cause, "message") else cause)


@pytest.fixture
async def workers(dev_env: Any, data_dir: Path) -> AsyncIterator[Client]:
    logs.configure()
    async with WorkerGroup(dev_env.client, QUEUES, data_dir, trust=TEST_TRUST):
        yield dev_env.client


async def test_a_head_redistributes_an_absent_officers_tasks_with_a_reason(
    workers: Client,
) -> None:
    run = uuid.uuid4().hex[:6]
    absent = Actor(user=f"lan{run}", agency=DESK_AGENCY, role="one_stop")
    colleague = f"hoa{run}"
    handles = [await start(workers) for _ in range(3)]
    for handle in handles:
        await claimed_by(handle, absent)

    async def listed() -> bool:
        return len(await assigned_to(workers, DESK_AGENCY, absent.user)) == 3

    await eventually(listed, what="the absent officer's three tasks in visibility")
    reason = "Chị Lan nghỉ phép đến hết tháng"
    codes = {h.id for h in handles}
    # a non-head of the agency, and the head of another agency: refused, task by task
    for actor, why in (
        (Actor(user=colleague, agency=DESK_AGENCY, role="one_stop"), "only the agency's head"),
        (Actor(user="hung", agency=OFFICE_AGENCY, role="head"), f"belongs to agency {DESK_AGENCY}"),
    ):
        results = await ops.redistribute(
            workers, actor, absent.user, reason=reason, to_user=colleague, agency=DESK_AGENCY
        )
        assert {r.dossier for r in results} == codes
        assert all(not r.done and why in r.message for r in results), results
    # the desk's head: every task handed over, the reason in each dossier's history
    head = Actor(user=f"head{run}", agency=DESK_AGENCY, role="head")
    results = await ops.redistribute(workers, head, absent.user, reason=reason, to_user=colleague)
    assert sorted((r.dossier, r.step, r.done) for r in results) == sorted(
        (code, "receive", True) for code in codes
    )
    for handle in handles:
        current = await state(handle)
        assert next(t for t in current.tasks if t.step == "receive").assignee == colleague
        entry = next(e for e in current.timeline if e.kind == "reassigned")
        assert entry.actor == str(head)
        assert entry.detail == f"to {colleague}@{DESK_AGENCY}/one_stop: {reason}"
        trail = build_trail([r.history for r in await fetch_runs(workers, handle.id)])
        assert any(e.kind == "reassigned" and reason in e.detail for e in trail.entries)
    # nothing left to redistribute; a missing reason is the caller's mistake, said at once
    assert await ops.redistribute(workers, head, absent.user, reason=reason, to_user="x") == []
    with pytest.raises(ops.InvalidRequest, match="reason"):
        await ops.redistribute(workers, head, absent.user, reason="  ", to_user=colleague)


async def test_a_delegate_acts_within_the_period_and_the_trail_says_acting_for(
    workers: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    lan = Actor(user="lan", agency=DESK_AGENCY, role="one_stop")
    handle = await start(workers)
    await claimed_by(handle, lan)
    delegate = Actor(user="hoa", agency=DESK_AGENCY, role="one_stop", acting_for="lan")
    now = datetime.now(UTC)
    week = Delegation(acting_for="lan", start=now - timedelta(days=1), end=now + timedelta(days=6))
    ended = Delegation(acting_for="lan", start=now - timedelta(days=9), end=now - timedelta(days=2))
    later = Delegation(acting_for="lan", start=now + timedelta(days=2), end=now + timedelta(days=9))
    stranger = keys.generate()

    def decide(actor: Actor, token: str) -> CompleteTask:
        return CompleteTask(step="receive", actor=actor, decision="accept", assertion=token)

    hoa = delegate.model_copy(update={"acting_for": None})
    cases = {
        "ended": decide(delegate, sign(hoa, delegation=ended)),
        "starts": decide(delegate, sign(hoa, delegation=later)),
        "unknown_kid": decide(delegate, sign(hoa, stranger, delegation=week)),
        "signed for hoa@": decide(delegate, sign(hoa)),  # acting_for not in the assertion
        "claimed by lan": decide(hoa, sign(hoa)),  # no delegation: lan's task is not hers
    }
    length = len((await handle.fetch_history()).events)
    for why, body in cases.items():
        assert why in await refusal(handle, COMPLETE, body), why
    assert len((await handle.fetch_history()).events) == length
    logged = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if '"update_rejected"' in line and handle.id in line
    ]
    assert len(logged) == len(cases)
    assert any("ended" in entry["why"] for entry in logged)
    # within the period, the delegate decides lan's task; both are recorded
    await handle.execute_update(
        COMPLETE, decide(delegate, sign(hoa, delegation=week)), result_type=str
    )
    current = await state(handle)
    receive = next(t for t in current.tasks if t.step == "receive")
    assert (receive.status, receive.assignee) == (TaskStatus.DONE, "lan")
    trail = build_trail([r.history for r in await fetch_runs(workers, handle.id)])
    decided = next(e for e in trail.entries if e.kind == "decided")
    assert decided.actor == f"hoa@{DESK_AGENCY}/one_stop acting for lan"


async def test_an_older_interpreter_refuses_acting_for(workers: Client) -> None:
    handle = await start(workers, interpreter=4)
    lan = Actor(user="lan", agency=DESK_AGENCY, role="one_stop")
    for _ in range(200):
        if any(t.step == "receive" for t in (await state(handle)).tasks):
            break
        await asyncio.sleep(0.05)
    delegate = lan.model_copy(update={"user": "hoa", "acting_for": "lan"})
    why = await refusal(handle, CLAIM, ClaimTask(step="receive", actor=delegate))
    assert "no acting for another officer" in why


async def test_the_role_a_task_escalates_to_may_redistribute_it_too(workers: Client) -> None:
    handle = await start(workers, procedure=escalating_to_a_deputy())
    absent = Actor(user=f"lan{uuid.uuid4().hex[:6]}", agency=DESK_AGENCY, role="one_stop")
    await claimed_by(handle, absent)
    deputy = Actor(user="duc", agency=DESK_AGENCY, role="deputy")
    done = await ops.reassign(workers, handle.id, "receive", deputy, "hoa", reason="ốm")
    assert done.message == f"receive reassigned to hoa@{DESK_AGENCY}/one_stop"
