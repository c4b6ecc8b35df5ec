"""Interpreter 6 on Temporal's time-skipping server: a fee paid before the dossier counts as
received (the receipt, the appointment and the clock start at payment; unpaid, the dossier
ends never received), reports repeated a counted number of times (misses in a row end them),
and `received` / `channel` in argument templates.

The calendar is `test_deadlines.Weeks`'s: dossiers are submitted on Thursday of W0 at 20:00,
W1 is a made-up Tết holiday, so "2 working days" from the submission end on Monday W2, 17:00.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import catalogue_copy, eventually, own_time_skipping_server, signed
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from test_deadlines import (
    AGENCY,
    APPLICANT_ID,
    DESK,
    FIXTURES,
    QUEUE,
    Weeks,
    assert_at,
    events,
    kinds,
    reached,
    rejection,
    sleep_until,
    state,
    stop,
)
from timeskip import outcome

from motcua import client as ops
from motcua.cli import main
from motcua.client.inbox import _row
from motcua.commands.show import render
from procedures.legaltime.calendar import load_calendar
from procedures.loader import DEFAULT_CATALOG, load_procedure
from procedures.models import Channel, FrozenProcedure, ResultType
from workflows import search_attributes as sa
from workflows.api import (
    CITIZEN_ACT,
    COMPLETE,
    DELIVER_EVENT,
    INTERPRETER,
    Actor,
    Applicant,
    CitizenAct,
    CompleteTask,
    DeliverEvent,
    DossierInput,
    DossierOutcome,
    DossierState,
    PortalStatus,
)
from workflows.dossier import DossierWorkflow
from workflows.forms import local

_codes = itertools.count(1)
PAST = timedelta(minutes=1)


ts_env = own_time_skipping_server()


@pytest.fixture(scope="module")
def procedure() -> FrozenProcedure:
    return load_procedure(FIXTURES / "repeat.yaml")


pytestmark = pytest.mark.usefixtures("worker")


async def submit(
    env: WorkflowEnvironment,
    procedure: FrozenProcedure,
    channel: Channel,
    months: int,
    interpreter: int = INTERPRETER,
) -> tuple[Weeks, WorkflowHandle[Any, DossierOutcome]]:
    """A dossier submitted on Thursday of W0 at 20:00."""
    weeks = Weeks(await env.get_current_time())
    await sleep_until(env, weeks.received)
    code = f"{AGENCY}-{weeks.received:%y%m%d}-{next(_codes):04d}"
    inp = DossierInput(
        code=code,
        procedure=procedure,
        calendar=weeks.calendar,
        received_at=weeks.received,
        channel=channel,
        applicant=Applicant(full_name="Trần Thị Mai", id_number=APPLICANT_ID),
        form={"months": months},
        request_id=code,
        interpreter=interpreter,
    )
    # what the client tells the submitter too (`Submitted.awaiting_payment`)
    assert inp.pays_before_receipt() is (channel is Channel.ONLINE and interpreter >= 6)
    handle = await env.client.start_workflow(DossierWorkflow.run, inp, id=code, task_queue=QUEUE)
    return weeks, handle


async def act(handle: WorkflowHandle[Any, Any], step: str, **fields: Any) -> None:
    """The applicant acts at `step` with their identity number."""
    await handle.execute_update(
        CITIZEN_ACT, CitizenAct(step=step, fields=fields, applicant_id=APPLICANT_ID)
    )


async def accept(handle: WorkflowHandle[Any, Any]) -> None:
    await reached(handle, lambda s: any(t.step == "receive" for t in s.tasks), "receive open")
    await handle.execute_update(
        COMPLETE, signed(CompleteTask(step="receive", actor=DESK, decision="accept"))
    )


def awaiting(number: int) -> Callable[[DossierState], bool]:
    """The dossier awaits report `number`."""
    return lambda s: any(r.awaiting and r.number == number for r in s.repetitions)


async def test_an_online_dossier_is_received_when_its_fee_is_paid(
    ts_env: WorkflowEnvironment, procedure: FrozenProcedure, data_dir: Path
) -> None:
    """Submitted Thursday W0 at 20:00, paid Monday W2 at 10:00: no receipt and no clock until
    then; received at the payment, due 3 working days later (Thursday W2 10:00)."""
    env = ts_env
    weeks, handle = await submit(env, procedure, Channel.ONLINE, months=1)
    waiting = await reached(handle, lambda s: "citizen_waiting" in kinds(s), "awaiting payment")
    assert waiting.status is PortalStatus.REGISTERED
    assert "received" not in kinds(waiting) and not waiting.documents
    assert waiting.clock.suspended
    [asked] = events(waiting, "citizen_waiting", "pay_first")
    assert asked.detail.startswith("awaiting payment before receipt: Nộp phí. Phí: 20.000 đồng")
    paid_at = weeks.at(2, 0, "10:00")
    await sleep_until(env, paid_at)
    await act(handle, "pay_first")
    received = await reached(handle, lambda s: bool(s.documents), "received, its receipt issued")
    assert_at(received.clock.received_at, paid_at)
    assert received.clock.due_at == weeks.at(2, 3, "10:00")
    assert not received.clock.suspended
    assert [d.kind for d in received.documents] == ["receipt"]
    await accept(handle)
    await reached(handle, awaiting(1), "report 1 due")
    notices = (data_dir / "outbox" / "notifications.jsonl").read_text("utf-8")
    told = [json.loads(line)["body"] for line in notices.splitlines()]
    assert f"Tiếp nhận ngày {paid_at.date().isoformat()} qua kênh online" in told
    await act(handle, "reports", note="đã đi phỏng vấn")
    assert (await outcome(handle)).result is ResultType.APPROVED


async def test_an_unpaid_dossier_ends_never_received(
    ts_env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    env = ts_env
    weeks, handle = await submit(env, procedure, Channel.ONLINE, months=1)
    await reached(handle, lambda s: "citizen_waiting" in kinds(s), "awaiting payment")
    await sleep_until(env, weeks.at(2, 0, "17:00") + PAST)
    ended = await outcome(handle)
    assert ended.result is ResultType.STOPPED
    final = await state(handle)
    assert "received" not in kinds(final)
    assert "receipt" not in [d.kind for d in final.documents]
    assert [e.detail for e in events(final, "timed_out")] == ["payment before receipt"]


async def test_reports_are_counted_and_a_miss_is_forgiven_by_the_next_report(
    ts_env: WorkflowEnvironment, procedure: FrozenProcedure, capsys: pytest.CaptureFixture[str]
) -> None:
    """In person, the fee is paid at the desk: received at once. Three weekly reports: the
    first made, the second missed, the third made by the centre's event: approved."""
    env = ts_env
    _, handle = await submit(env, procedure, Channel.IN_PERSON, months=3)
    first = await reached(handle, lambda s: "received" in kinds(s), "received at once")
    assert "citizen_waiting" not in kinds(first)
    await accept(handle)
    current = await reached(handle, awaiting(1), "report 1 due")
    [run] = current.repetitions
    assert (run.times, run.reported, run.missed) == (3, 0, 0)
    await act(handle, "reports")
    between = await reached(
        handle,
        lambda s: s.repetitions[0].reported == 1 and s.repetitions[0].opens_at is not None,
        "report 1 made",
    )
    opens = between.repetitions[0].opens_at
    assert opens is not None
    # between two periods: when the next report opens, not a generic refusal
    said = f"no report is due at 'reports' now: report 2 of 3 opens at {local(opens)}"
    assert (
        await rejection(handle, CITIZEN_ACT, CitizenAct(step="reports", applicant_id=APPLICANT_ID))
        == f"Rejected: {said}"
    )
    centre = Actor(user="an", agency=AGENCY, role="one_stop")
    assert (
        await rejection(
            handle, DELIVER_EVENT, signed(DeliverEvent(event="report_made", actor=centre))
        )
        == f"Rejected: {said}"
    )
    address = env.client.service_client.config.target_host
    argv = ["citizen", "act", handle.id, "reports", "--id-number", APPLICANT_ID]
    assert await asyncio.to_thread(main, [*argv, "--address", address]) == 1
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("motcua: ")]
    assert line == f"motcua: citizen_act on {handle.id} rejected: {said}"
    await sleep_until(env, opens + PAST)
    second = await reached(handle, awaiting(2), "report 2 due")
    assert "report 2 of 3 due" in render(second)  # motcua show
    due = second.repetitions[0].due_at
    assert due is not None
    await sleep_until(env, due + PAST)
    third = await reached(handle, awaiting(3), "report 3 due")
    assert (third.repetitions[0].missed, third.repetitions[0].missed_in_row) == (1, 1)
    assert "reported 1, missed 1 (1 in a row)" in render(third)
    assert "report 2 of 3 (missed, 1 in a row)" in [e.detail for e in events(third, "timed_out")]
    await handle.execute_update(
        DELIVER_EVENT, signed(DeliverEvent(event="report_made", actor=centre))
    )
    assert (await outcome(handle)).result is ResultType.APPROVED
    final = await state(handle)
    assert [e.detail for e in events(final, "arrived", "reports")] == [
        "report 1 of 3",
        "report 3 of 3",
    ]
    [run] = final.repetitions
    assert (run.reported, run.missed, run.missed_in_row, run.finished) == (2, 1, 0, True)


async def test_misses_in_a_row_end_the_repetitions_on_their_own_path(
    ts_env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    env = ts_env
    _, handle = await submit(env, procedure, Channel.IN_PERSON, months=5)
    await accept(handle)
    for number in (1, 2):
        current = await reached(handle, awaiting(number), f"report {number} due")
        due = current.repetitions[0].due_at
        assert due is not None
        await sleep_until(env, due + PAST)
    ended = await outcome(handle)
    assert ended.result is ResultType.STOPPED
    final = await state(handle)
    [entry] = events(final, "repeat_ended", "reports")
    assert entry.detail == "2 missed in a row, after report 2 of 5"
    assert final.timeline[-1].kind != "citizen_waiting"
    assert events(final, "ended")[0].detail.startswith(
        "stopped: Chấm dứt: hai kỳ liên tiếp không báo cáo"
    )


async def test_interpreter_5_receives_at_once_and_runs_no_repeat_step(
    ts_env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """The behaviours are interpreter 6's: a version-5 dossier is received at submission (the
    payment step an ordinary citizen step after it) and fails, naming it, at a repeat step."""
    _, handle = await submit(ts_env, procedure, Channel.ONLINE, months=1, interpreter=5)
    first = await reached(handle, lambda s: "citizen_waiting" in kinds(s), "the payment step")
    assert kinds(first).index("received") < kinds(first).index("citizen_waiting")
    await act(handle, "pay_first")
    await accept(handle)

    async def failed() -> bool:
        status = (await handle.describe()).status
        return status is not None and status.name == "FAILED"

    await eventually(failed, timeout=10, what="the dossier failed")
    history = await handle.fetch_history()
    failure = history.events[-1].workflow_execution_failed_event_attributes.failure
    assert failure.message == "step 'reports' is a repeat step, which interpreter 5 does not run"


REGISTRATION_OFFICE = "000.00.12.H26"


async def test_a_pay_first_dossier_counts_as_received_from_its_payment_only(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """private-enterprise-registration.yaml, submitted online (fees first) through the client
    on Thursday W0 at 20:00 and paid on Monday W2 at 10:00: unpaid, its `ReceivedAt` search
    attribute is unset, so no indicator counts it as received or open (interpreter 7,
    `received_at_on_receipt`); paid, it is the payment instant, which the inbox shows too."""
    env = ts_env
    procedure = catalogue_copy(
        tmp_path,
        "private-enterprise-registration.yaml",
        ("task_queue: registration_office\n", f"task_queue: {QUEUE}\n"),
    )
    weeks = Weeks(await env.get_current_time())
    await sleep_until(env, weeks.received)
    submitted = await ops.submit(
        env.client,
        procedure,
        Applicant(full_name="Trần Thị Mai", id_number=APPLICANT_ID),
        Channel.ONLINE,
        documents=("request", "owner_identity"),
        calendar=weeks.calendar,
    )
    assert submitted.awaiting_payment
    handle = env.client.get_workflow_handle(submitted.code)
    unpaid = await reached(handle, lambda s: s.status is PortalStatus.REGISTERED, "status 1")
    assert "received" not in kinds(unpaid)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.INTERPRETER_VERSION) == INTERPRETER >= 7
    assert attributes.get(sa.RECEIVED_AT) is None
    assert attributes.get(sa.RECEIVING_AGENCY) == REGISTRATION_OFFICE

    paid_at = weeks.at(2, 0, "10:00")
    await sleep_until(env, paid_at)
    await act(handle, "pay_fees", transaction_id="GD-0001")
    await reached(handle, lambda s: bool(events(s, "received")), "received at payment")

    async def received_at() -> Any:
        return (await handle.describe()).typed_search_attributes.get(sa.RECEIVED_AT)

    upserted = await eventually(received_at, timeout=10, what="ReceivedAt upserted")
    assert_at(upserted, paid_at)
    row = await reached(handle, lambda s: any(t.step == "examine" for t in s.tasks), "examine")
    assert_at(row.clock.received_at, paid_at)
    described = await handle.describe()
    # what an officer's inbox row says (from visibility): received at payment, not submission
    inbox_row = _row(described, REGISTRATION_OFFICE)
    assert inbox_row.received_at == upserted
    assert inbox_row.waiting_on == ("registrar",)
    await stop(handle)


def test_interpreter_6_gives_received_at_at_the_start_as_it_did() -> None:
    """The old path: a version-6 pay-first dossier is started with its submission instant as
    `ReceivedAt` (its golden histories keep replaying); version 7 is not."""
    procedure = load_procedure(DEFAULT_CATALOG / "private-enterprise-registration.yaml")
    inputs = {
        version: DossierInput(
            code="000.00.12.H26-260302-0001",
            procedure=procedure,
            calendar=load_calendar(),
            received_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
            channel=Channel.ONLINE,
            applicant=Applicant(full_name="Trần Thị Mai", id_number=APPLICANT_ID),
            request_id="r",
            interpreter=version,
        )
        for version in (6, 7)
    }
    assert inputs[6].pays_before_receipt() and inputs[7].pays_before_receipt()
    assert (inputs[6].received_at_start(), inputs[7].received_at_start()) == (True, False)
