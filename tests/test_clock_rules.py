"""Interpreter 6's clock rules on Temporal's time-skipping server: a supplement that restarts
the limit (`restarting_supplements`) and phases with limits of their own (`phase_limits`).

The calendar and the weeks are `test_deadlines`'s: received on Thursday of W0 at 20:00, every
clock counts from Friday of W0 at 07:30; W1 is a made-up Tết; officers and the applicant act
after office hours or in the midday break, so the real milliseconds an update takes never
change a working-time sum.

    W0: Mon Tue Wed Thu Fri | W1: Tết Tết Tết Tết Tết | W2: Mon Tue Wed Thu Fri
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import catalogue_copy, eventually, own_time_skipping_server, settled, signed
from temporalio.testing import WorkflowEnvironment
from test_deadlines import (
    AGENCY,
    APPLICANT_ID,
    DESK,
    FIXTURES,
    QUEUE,
    SPECIALIST,
    assert_at,
    complete,
    events,
    kinds,
    reached,
    sleep_until,
    start,
    state,
    stop,
)
from timeskip import outcome
from webserver import serve_web

from motcua import client as ops
from motcua.client.inbox import _with_tasks
from motcua.client.views import InboxRow
from motcua.commands import citizen, inbox, show
from procedures.loader import load_procedure
from procedures.models import FrozenProcedure, ResultType
from workflows.api import (
    DELIVER_EVENT,
    INTERPRETER,
    REQUEST_SUPPLEMENT,
    SUPPLEMENT,
    Actor,
    DeliverEvent,
    DossierState,
    PortalStatus,
    RequestSupplement,
    SupplementDossier,
)
from workflows.forms import local

ts_env = own_time_skipping_server()


@pytest.fixture
async def env(ts_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return ts_env


pytestmark = pytest.mark.usefixtures("worker")


def told(data_dir: Path, code: str) -> list[dict[str, Any]]:
    """The applicant's notifications of one dossier, from the outbox."""
    lines = (data_dir / "outbox" / "notifications.jsonl").read_text("utf-8").splitlines()
    return [n for n in map(json.loads, lines) if n["dossier_code"] == code]


async def supplement_after_tet(
    env: WorkflowEnvironment, procedure: FrozenProcedure, interpreter: int = INTERPRETER
) -> tuple[Any, Any, DossierState]:
    """Received Thursday W0 20:00 (counting from Friday 07:30), a supplement asked at
    `process` on Friday W0 at 20:00 (one working day used) and brought on Monday W2 at 20:00."""
    weeks, handle = await start(env, procedure, interpreter)
    await complete(handle, "receive", DESK, "accept")
    await sleep_until(env, weeks.at(0, 4, "20:00"))
    await reached(handle, lambda s: any(t.step == "process" for t in s.tasks), "process")
    await handle.execute_update(
        REQUEST_SUPPLEMENT,
        signed(RequestSupplement(step="process", actor=SPECIALIST, missing=("Bản sao giấy tờ",))),
    )
    await reached(handle, lambda s: s.status is PortalStatus.SUPPLEMENT_REQUESTED, "status 5")
    await sleep_until(env, weeks.at(2, 0, "20:00"))
    await handle.execute_update(
        SUPPLEMENT, SupplementDossier(documents=("Giấy tờ",), applicant_id=APPLICANT_ID)
    )
    after = await reached(handle, lambda s: s.status is PortalStatus.PROCESSING, "status 4")
    return weeks, handle, after


async def test_a_restarting_supplement_counts_the_whole_limit_anew_from_its_arrival(
    env: WorkflowEnvironment, data_dir: Path
) -> None:
    """3 working days from the supplement (Monday W2 20:00, counted from Tuesday 07:30): due
    Thursday W2 17:00, where suspending would give Wednesday (one day was used before). The
    phase running restarts too; the task's own share resumes as before. The applicant is told
    the new appointment, and the state says when and why the clock restarted."""
    procedure = load_procedure(FIXTURES / "restart.yaml")
    weeks, handle, after = await supplement_after_tet(env, procedure)
    assert after.clock.due_at == weeks.at(2, 3, "17:00")
    assert not after.clock.suspended
    assert after.clock.restarted_at is not None
    assert_at(after.clock.restarted_at, weeks.at(2, 0, "20:00"))
    assert after.clock.restart_reason == (
        "hồ sơ đã được bổ sung đầy đủ (Luật thử nghiệm, điều 1: kể từ ngày nhận hồ sơ đầy đủ)"
    )
    assert after.clock.remaining_minutes == 3 * 480  # nothing of the new limit used yet
    (restarted,) = events(after, "clock_restarted")
    due = local(weeks.at(2, 3, "17:00"))
    assert restarted.detail.endswith(
        f": 3 ngày làm việc từ {local(weeks.at(2, 1, '07:30'))}; due {due}"
    )
    assert "resumed" not in kinds(after)
    process = next(t for t in after.tasks if t.step == "process")
    assert process.due_at == weeks.at(2, 1, "17:00")  # 2 days' share, 1 used: resumed
    (phase,) = after.phases
    assert (phase.phase, phase.due_at) == ("decision", weeks.at(2, 2, "17:00"))  # 2 days anew

    async def new_appointment() -> dict[str, Any] | None:
        return next((n for n in told(data_dir, after.code) if "hẹn lại" in n["subject"]), None)

    anew = await eventually(new_appointment, timeout=10, what="the new appointment told")
    assert anew["body"].endswith(f"Ngày hẹn trả kết quả mới: {due}.")
    assert "được tính lại từ" in anew["body"] and "Luật thử nghiệm" in anew["body"]
    # what `motcua show` and `motcua citizen status` print
    shown = show.render(await ops.show(env.client, after.code))
    assert f"       restarted {weeks.day(2, 0)} 20:0" in shown
    assert "hồ sơ đã được bổ sung đầy đủ (Luật thử" in shown
    assert "phases\n  decision" in shown
    page = citizen.render(await ops.status(env.client, after.code))
    assert f"Ngày hẹn trả kết quả / Appointment: {due}" in page
    assert "Thời hạn tính lại từ / Time limit counted anew from: " in page
    await settled(handle)  # no activity in flight for the withdrawal to cancel
    await stop(handle)


async def test_a_supplement_after_the_cut_off_restarts_the_limit_from_the_next_opening(
    env: WorkflowEnvironment, data_dir: Path, tmp_path: Path
) -> None:
    """permanent-residence.yaml: the supplement arrives on Monday W2 at 16:00, after the 15:00
    cut-off, so the 7 working days count from Tuesday's opening, 07:30, as a receipt's would.
    The timeline, the notice, `motcua show`, `motcua citizen status` (text and JSON) and the
    web's status page all give that instant, not the arrival."""
    police = "000.09.20.H26"
    officer = Actor(user="tuan", agency=police, role="residence_officer")
    procedure = catalogue_copy(
        tmp_path, "permanent-residence.yaml", ("task_queue: police\n", f"task_queue: {QUEUE}\n")
    )
    weeks, handle = await start(env, procedure)
    await complete(handle, "receive", officer, "accept")
    await sleep_until(env, weeks.at(0, 4, "20:00"))
    await reached(handle, lambda s: any(t.step == "appraise" for t in s.tasks), "appraise")
    await handle.execute_update(
        REQUEST_SUPPLEMENT,
        signed(RequestSupplement(step="appraise", actor=officer, missing=("Tờ khai CT01",))),
    )
    await reached(handle, lambda s: s.status is PortalStatus.SUPPLEMENT_REQUESTED, "status 5")
    await sleep_until(env, weeks.at(2, 0, "16:00"))
    await handle.execute_update(
        SUPPLEMENT, SupplementDossier(documents=("Tờ khai CT01",), applicant_id=APPLICANT_ID)
    )
    after = await reached(handle, lambda s: s.status is PortalStatus.PROCESSING, "status 4")
    opening = weeks.at(2, 1, "07:30")
    assert after.clock.restarted_at is not None and after.clock.restarted_at >= weeks.at(
        2, 0, "16:00"
    )
    assert after.clock.counted_from == opening
    (restarted,) = events(after, "clock_restarted")
    assert f"7 ngày làm việc từ {local(opening)}; due " in restarted.detail

    seen = await ops.status(env.client, after.code)
    assert seen.counted_from == opening
    assert seen.appointment == after.clock.due_at
    page = citizen.render(seen)
    assert f"Time limit counted anew from: {local(opening)} " in page
    assert local(after.clock.restarted_at) not in page
    shown = show.render(await ops.show(env.client, after.code))
    assert f", counted from {weeks.day(2, 1)} 07:30" in shown

    async def new_appointment() -> dict[str, Any] | None:
        return next((n for n in told(data_dir, after.code) if "hẹn lại" in n["subject"]), None)

    anew = await eventually(new_appointment, timeout=10, what="the new appointment told")
    assert f"được tính lại từ {local(opening)}." in anew["body"]
    # the web's status page, after the applicant's lookup
    async with serve_web(env.client, data_dir) as base, httpx.AsyncClient(base_url=base) as http:
        form = await http.get("/lookup")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found is not None
        lookup = {"csrf": found.group(1), "code": after.code, "id_number": APPLICANT_ID}
        page = (await http.post("/lookup", data=lookup, follow_redirects=True)).text
    shown_opening = opening.strftime("%H:%M %d/%m/%Y")
    assert f"Thời hạn tính lại từ</dt><dd>{shown_opening}</dd>" in page
    await settled(handle)
    await stop(handle)


async def test_a_dossier_of_interpreter_5_resumes_even_if_the_procedure_restarts(
    env: WorkflowEnvironment,
) -> None:
    """The rule is interpreter 6's: a version-5 dossier of the same procedure suspends, as
    every dossier did before, and has no phases."""
    procedure = load_procedure(FIXTURES / "restart.yaml")
    weeks, handle, after = await supplement_after_tet(env, procedure, interpreter=5)
    assert after.clock.due_at == weeks.at(2, 2, "17:00")
    assert after.clock.restarted_at is None
    assert "clock_restarted" not in kinds(after) and "resumed" in kinds(after)
    assert after.phases == ()
    await settled(handle)  # no activity in flight for the withdrawal to cancel
    await stop(handle)


async def test_phases_have_their_own_limits_stop_with_suspensions_and_are_rated(
    env: WorkflowEnvironment,
) -> None:
    """`decision` (1 working day, receive and process) starts at receipt: due Friday W0
    17:00. A supplement from Friday 12:00 (4 h used) to Monday W2 20:00 moves it to Tuesday
    W2 11:30, when it runs out (overdue). `payment` (1 working day, return_result) starts at
    the decision, Tuesday W2 12:00, counted from 13:00: due Wednesday W2 11:30; returned on
    Tuesday evening, it ends early while `decision` ended late."""
    procedure = load_procedure(FIXTURES / "phases.yaml")
    weeks, handle = await start(env, procedure)
    first = await state(handle)
    (decision,) = first.phases
    assert (decision.phase, decision.title, decision.step) == ("decision", "Quyết định", "receive")
    assert decision.due_at == weeks.at(0, 4, "17:00")
    await complete(handle, "receive", DESK, "accept")

    await sleep_until(env, weeks.at(0, 4, "12:00"))
    await reached(handle, lambda s: any(t.step == "process" for t in s.tasks), "process")
    await handle.execute_update(
        REQUEST_SUPPLEMENT,
        signed(RequestSupplement(step="process", actor=SPECIALIST, missing=("Bản sao giấy tờ",))),
    )
    held = await reached(handle, lambda s: s.status is PortalStatus.SUPPLEMENT_REQUESTED, "5")
    assert held.phases[0].suspended
    await sleep_until(env, weeks.at(2, 0, "20:00"))
    assert not events(await state(handle), "phase_overdue")  # it stood still over Tết
    await handle.execute_update(
        SUPPLEMENT, SupplementDossier(documents=("Giấy tờ",), applicant_id=APPLICANT_ID)
    )
    after = await reached(handle, lambda s: s.status is PortalStatus.PROCESSING, "status 4")
    assert after.phases[0].due_at == weeks.at(2, 1, "11:30")
    # an officer's detailed inbox shows the phase running next to the task's own due instant
    row = InboxRow(
        dossier=after.code,
        procedure_code=after.procedure_code,
        waiting_on=("specialist",),
        status=after.status,
        received_at=after.clock.received_at,
        due_at=None,
        overdue=False,
    )
    [detailed] = await _with_tasks(env.client, [row], AGENCY, None, False)
    assert detailed.tasks is not None
    [item] = detailed.tasks
    assert (item.step, item.phase, item.phase_due_at) == (
        "process",
        "decision",
        weeks.at(2, 1, "11:30"),
    )
    assert inbox._task(item).endswith(f"; phase decision due {weeks.day(2, 1)} 11:30")

    await sleep_until(env, weeks.at(2, 1, "12:00"))
    late = await reached(handle, lambda s: bool(events(s, "phase_overdue")), "phase overdue")
    assert_at(events(late, "phase_overdue")[0].at, weeks.at(2, 1, "11:30"))
    assert late.phases[0].overdue

    await complete(handle, "process", SPECIALIST, "approve")
    paying = await reached(handle, lambda s: len(s.phases) == 2, "payment phase")
    decided, payment = paying.phases
    assert (decided.status, decided.finished_at is not None) == ("late", True)
    assert (payment.phase, payment.step) == ("payment", "return_result")
    assert payment.due_at == weeks.at(2, 2, "11:30")

    await sleep_until(env, weeks.at(2, 1, "20:00"))
    await complete(handle, "return_result", DESK, "returned")
    assert (await outcome(handle)).result is ResultType.APPROVED
    ended = await state(handle)
    assert [(p.phase, p.status) for p in ended.phases] == [
        ("decision", "late"),
        ("payment", "early"),
    ]
    started = [e.detail.split(":")[0] for e in events(ended, "phase_started")]
    rated = [(e.detail.split(";")[0], e.on_time) for e in events(ended, "phase_ended")]
    assert started == ["decision", "payment"]
    assert rated == [("decision", "late"), ("payment", "early")]
    lines = show.render(ended).split("phases\n")[1].splitlines()[:2]
    assert lines[0].startswith("  decision") and lines[0].endswith("late  OVERDUE")
    assert lines[1].startswith("  payment") and lines[1].endswith(" early")


async def test_a_restart_while_a_payment_holds_the_clock_runs_once_the_payment_ends(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The payment branch stops the clock from Thursday W0 20:00; the check asks for a
    supplement on Friday W0 20:00 and gets it on Monday W2 20:00: the limit restarts then (from
    Tuesday 07:30) but stands while the payment still holds it, until Tuesday W2 20:00, so the
    3 working days run Wednesday to Friday W2. The portal keeps saying 6 until the payment."""
    text = (FIXTURES / "parallel-payment.yaml").read_text("utf-8")
    shutil.copytree(FIXTURES / "forms", tmp_path / "forms")  # a symbolic link out is refused
    path = tmp_path / "restart-payment.yaml"
    path.write_text(
        text.replace(
            "  wait: {amount: 5, unit: working_days}\n", "  wait: {amount: 5}\n  clock: restart\n"
        ),
        "utf-8",
    )
    weeks, handle = await start(env, load_procedure(path))
    await complete(handle, "receive", DESK, "accept")
    await reached(handle, lambda s: any(t.step == "check" for t in s.tasks), "check open")
    await sleep_until(env, weeks.at(0, 4, "20:00"))
    await handle.execute_update(
        REQUEST_SUPPLEMENT,
        signed(RequestSupplement(step="check", actor=SPECIALIST, missing=("Tờ khai thuế",))),
    )
    await reached(handle, lambda s: s.status is PortalStatus.SUPPLEMENT_REQUESTED, "status 5")
    await sleep_until(env, weeks.at(2, 0, "20:00"))
    await handle.execute_update(
        SUPPLEMENT, SupplementDossier(documents=("Tờ khai thuế",), applicant_id=APPLICANT_ID)
    )
    held = await reached(handle, lambda s: bool(events(s, "clock_restarted")), "restarted")
    assert held.clock.suspended and held.clock.restarted_at is not None
    await reached(handle, lambda s: s.status is PortalStatus.FINANCIAL_OBLIGATION, "status 6")
    await sleep_until(env, weeks.at(2, 1, "20:00"))
    await handle.execute_update(
        DELIVER_EVENT,
        signed(
            DeliverEvent(event="payment_received", actor=Actor(user="kb", agency="tax", role="x"))
        ),
    )
    current = await reached(handle, lambda s: not s.clock.suspended, "running again")
    assert current.clock.due_at == weeks.at(2, 4, "17:00")
    await complete(handle, "check", SPECIALIST, "approve")
    await complete(handle, "return_result", DESK, "returned")
    assert (await outcome(handle)).on_time == "early"
