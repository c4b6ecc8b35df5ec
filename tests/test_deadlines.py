"""Deadlines enforce themselves (issue 5), on Temporal's time-skipping test server.

The test server's clock starts at the real "now", so the tests cannot receive a dossier just
before the real Tết 2026 (the pure clock tests in `test_clock.py` do that). Instead each test
builds a calendar around the server's clock: it picks a week W0 at least a week ahead, clears
the real holidays around it, and declares the whole following week W1 (Monday to Friday) a
"Tết" holiday. Every dossier is received on Thursday of W0 at 20:00 (after office hours), so
every clock counts from Friday of W0 at 07:30, and every instant asserted below is worked out
by hand from that calendar:

    W0: Mon Tue Wed Thu Fri | W1: Tết Tết Tết Tết Tết | W2: Mon Tue Wed Thu Fri
                          ^ received Thu 20:00, counting from Fri 07:30

Officers and citizens act after office hours, so the few real milliseconds an update takes
never change a working-time sum. `env.sleep` moves the server's clock; timers fire on the way.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers import eventually, signed
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from timeskip import outcome

from procedures.legaltime.calendar import WorkCalendar, load_calendar
from procedures.loader import load_procedure
from procedures.models import Channel, FrozenProcedure, ResultType
from workflows import search_attributes
from workflows.api import (
    APPROVE_APOLOGY,
    COMPLETE,
    DELIVER_EVENT,
    INTERPRETER,
    REQUEST_SUPPLEMENT,
    STATE,
    SUPPLEMENT,
    UPDATE_CALENDAR,
    WITHDRAW,
    Actor,
    Applicant,
    ApproveApology,
    CompleteTask,
    DeliverEvent,
    DossierInput,
    DossierOutcome,
    DossierState,
    PortalStatus,
    RequestSupplement,
    SupplementDossier,
    TaskStatus,
    TimelineEntry,
    WithdrawDossier,
)
from workflows.dossier import DossierWorkflow

FIXTURES = Path(__file__).parent / "fixtures" / "deadlines"
QUEUE = "deadlines"
AGENCY = "000.00.19.H26"
VN = timezone(timedelta(hours=7))
SLACK = timedelta(seconds=5)
"""How far after its instant a timer may be seen to fire: the server dispatches in real time."""

DESK = Actor(user="lan", agency=AGENCY, role="one_stop")
SPECIALIST = Actor(user="minh", agency=AGENCY, role="specialist")
HEAD = Actor(user="hung", agency=AGENCY, role="head")
_codes = itertools.count(1)
APPLICANT_ID = "001190000002"


# ------------------------------------------------------------------------------------ fixtures
# The time-skipping server (`ts_env`), `data_dir` and `run_worker` come from tests/conftest.py.


@pytest.fixture
async def env(ts_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return ts_env


@pytest.fixture
def results_root(data_dir: Path) -> Path:
    return data_dir


@pytest.fixture(scope="module")
def procedure() -> FrozenProcedure:
    return load_procedure(FIXTURES / "deadlines.yaml")


@pytest.fixture(scope="module")
def payment_procedure() -> FrozenProcedure:
    return load_procedure(FIXTURES / "payment.yaml")


# ------------------------------------------------------------------------------------ the weeks


class Weeks:
    """The three weeks around a made-up Tết, relative to the test server's clock."""

    def __init__(self, server_now: datetime) -> None:
        today = server_now.astimezone(VN).date()
        self.monday0 = today + timedelta(days=7 + (7 - today.weekday()) % 7)
        self.tet = tuple(self.day(1, n) for n in range(5))
        self.calendar = self._calendar()

    def day(self, week: int, weekday: int) -> date:
        """A date by week (0, 1 = Tết, 2) and weekday (0 = Monday)."""
        return self.monday0 + timedelta(days=7 * week + weekday)

    def at(self, week: int, weekday: int, hhmm: str) -> datetime:
        """A local instant, e.g. `at(2, 1, "17:00")`: Tuesday of W2 at 17:00."""
        return datetime.combine(self.day(week, weekday), time.fromisoformat(hhmm), VN)

    @property
    def received(self) -> datetime:
        """Thursday of W0, 20:00: after hours, so the clocks count from Friday 07:30."""
        return self.at(0, 3, "20:00")

    def _calendar(self) -> WorkCalendar:
        # the shared server may be years ahead (awaiting a result skips to far timers)
        year = self.monday0.year
        real = load_calendar(years=range(year - 1, year + 3))
        window = {self.monday0 + timedelta(days=n) for n in range(-7, 42)}
        return real.model_copy(
            update={
                "non_working": tuple(d for d in real.non_working if d not in window) + self.tet,
                "working": tuple(d for d in real.working if d not in window),
            }
        )

    def with_changes(self, holidays: tuple[date, ...] = (), working: tuple[date, ...] = ()) -> Any:
        return self.calendar.model_copy(
            update={
                "non_working": self.calendar.non_working + holidays,
                "working": self.calendar.working + working,
            }
        )


async def sleep_until(env: WorkflowEnvironment, instant: datetime) -> None:
    """Skip the server's clock forward to `instant`, firing every timer on the way."""
    now = await env.get_current_time()
    if instant > now:
        await env.sleep(instant - now)


async def start(
    env: WorkflowEnvironment, procedure: FrozenProcedure, interpreter: int = INTERPRETER
) -> tuple[Weeks, WorkflowHandle[Any, DossierOutcome]]:
    """A dossier received on Thursday of W0 at 20:00 under the made-up Tết calendar."""
    weeks = Weeks(await env.get_current_time())
    await sleep_until(env, weeks.received)
    code = f"{AGENCY}-{weeks.received:%y%m%d}-{next(_codes):04d}"
    inp = DossierInput(
        code=code,
        procedure=procedure,
        calendar=weeks.calendar,
        received_at=weeks.received,
        channel=Channel.ONLINE,
        applicant=Applicant(full_name="Trần Thị Mai", id_number=APPLICANT_ID),
        documents=("application",),
        request_id=code,
        interpreter=interpreter,
    )
    handle = await env.client.start_workflow(DossierWorkflow.run, inp, id=code, task_queue=QUEUE)
    await reached(handle, lambda s: any(t.step == "receive" for t in s.tasks), "receive open")
    return weeks, handle


async def state(handle: WorkflowHandle[Any, Any]) -> DossierState:
    return await handle.query(STATE, result_type=DossierState)


async def reached(
    handle: WorkflowHandle[Any, Any], check: Callable[[DossierState], bool], what: str
) -> DossierState:
    """The state once `check` holds: a fired timer's workflow task may still be running."""
    seen: list[DossierState] = []

    async def holds() -> DossierState | None:
        seen.append(await state(handle))
        return seen[-1] if check(seen[-1]) else None

    try:
        return await eventually(holds, timeout=10, what=what, every=0.05)
    except AssertionError:
        raise AssertionError(f"never reached: {what}; timeline: {kinds(seen[-1])}") from None


def kinds(current: DossierState) -> list[str]:
    return [e.kind for e in current.timeline]


def events(current: DossierState, kind: str, step: str | None = None) -> list[TimelineEntry]:
    return [e for e in current.timeline if e.kind == kind and (step is None or e.step == step)]


def assert_at(actual: datetime, expected: datetime) -> None:
    """A timer-driven instant: at `expected`, or a few real seconds later."""
    assert expected <= actual <= expected + SLACK, f"{actual.astimezone(VN)} != {expected}"


def task(current: DossierState, step: str) -> Any:
    return next(t for t in reversed(current.tasks) if t.step == step)


async def complete(
    handle: WorkflowHandle[Any, Any], step: str, actor: Actor, decision: str
) -> None:
    await reached(
        handle,
        lambda s: any(
            t.step == step and t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED) for t in s.tasks
        ),
        f"{step} open",
    )
    await handle.execute_update(
        COMPLETE, signed(CompleteTask(step=step, actor=actor, decision=decision))
    )


async def fired_timers(handle: WorkflowHandle[Any, Any]) -> list[datetime]:
    """When each timer of the dossier fired, from its history."""
    fired = []
    async for event in handle.fetch_history_events():
        if event.HasField("timer_fired_event_attributes"):
            fired.append(event.event_time.ToDatetime(UTC))
    return fired


async def rejection(handle: WorkflowHandle[Any, Any], update: str, arg: Any) -> str:
    """The validator's message for an update that must be refused."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(update, arg)
    return str(caught.value.cause)


async def stop(handle: WorkflowHandle[Any, DossierOutcome]) -> None:
    """End a dossier a test leaves running, so its timers do not outlive the test.

    The applicant withdraws it and the test waits for the end: terminating it instead can
    leave an activity in flight, which keeps the test server from skipping time afterwards.
    """
    await handle.execute_update(
        WITHDRAW, WithdrawDossier(reason="test over", applicant_id=APPLICANT_ID)
    )
    assert (await outcome(handle)).result is ResultType.WITHDRAWN


pytestmark = pytest.mark.usefixtures("worker")


# ------------------------------------------------------------------------------------ tests


async def test_receipt_slip_counts_across_tet(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """3 working days from Friday W0 07:30: Friday W0, (Tết), Monday and Tuesday W2."""
    weeks, handle = await start(env, procedure)
    current = await state(handle)
    assert current.clock.due_at == weeks.at(2, 1, "17:00")
    assert task(current, "receive").due_at == weeks.at(0, 4, "11:30")  # 0.5 day
    receipt = next(d for d in current.documents if d.kind == "receipt")
    assert "17:00 ngày " + weeks.day(2, 1).strftime("%d/%m/%Y") in Path(receipt.path).read_text()
    await stop(handle)


async def test_reminders_fire_at_working_shares_across_tet(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """`process` has 2 working days from Friday W0 07:30: 50% is Friday 17:00; 75% (12 h) is
    Monday W2 11:30, past Tết. The task stays with the specialist."""
    weeks, handle = await start(env, procedure)
    await complete(handle, "receive", DESK, "accept")
    await reached(handle, lambda s: any(t.step == "process" for t in s.tasks), "process")

    await sleep_until(env, weeks.at(0, 4, "16:59"))
    assert not events(await state(handle), "reminded")
    await sleep_until(env, weeks.at(0, 4, "18:00"))
    current = await reached(handle, lambda s: len(events(s, "reminded")) == 1, "reminder 1")
    assert_at(events(current, "reminded")[0].at, weeks.at(0, 4, "17:00"))

    await sleep_until(env, weeks.at(2, 0, "11:00"))  # all of Tết: no reminder
    assert len(events(await state(handle), "reminded")) == 1
    await sleep_until(env, weeks.at(2, 0, "12:00"))
    current = await reached(handle, lambda s: len(events(s, "reminded")) == 2, "reminder 2")
    _, second = events(current, "reminded", "process")
    assert_at(second.at, weeks.at(2, 0, "11:30"))
    assert "75%" in second.detail
    process = task(current, "process")
    assert (process.role, process.overdue) == ("specialist", False)
    await stop(handle)


async def test_escalation_reassigns_to_head_when_the_share_runs_out(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """2 working days from Friday W0 07:30 run out on Monday W2 at 17:00."""
    weeks, handle = await start(env, procedure)
    await complete(handle, "receive", DESK, "accept")
    await reached(handle, lambda s: any(t.step == "process" for t in s.tasks), "process")
    await sleep_until(env, weeks.at(2, 0, "16:30"))
    assert task(await state(handle), "process").overdue is False

    await sleep_until(env, weeks.at(2, 0, "18:00"))
    current = await reached(handle, lambda s: bool(events(s, "escalated")), "escalated")
    process = task(current, "process")
    assert process.due_at == weeks.at(2, 0, "17:00")
    assert (process.role, process.status, process.overdue) == ("head", TaskStatus.OPEN, True)
    (overdue,) = events(current, "overdue", "process")
    assert_at(overdue.at, weeks.at(2, 0, "17:00"))
    assert events(current, "escalated", "process")[0].detail == f"to {AGENCY}/head"
    # the specialist may no longer decide; the head may
    refused = await rejection(
        handle, COMPLETE, signed(CompleteTask(step="process", actor=SPECIALIST, decision="approve"))
    )
    assert "needs role 'head'" in refused
    await complete(handle, "process", HEAD, "approve")
    await reached(handle, lambda s: bool(events(s, "task_opened", "return_result")), "next")
    await stop(handle)


@pytest.mark.parametrize("interpreter", [2, INTERPRETER])
async def test_officers_are_told_of_reminders_overdue_and_escalation(
    env: WorkflowEnvironment, procedure: FrozenProcedure, data_dir: Path, interpreter: int
) -> None:
    """Interpreter 3 writes each notice once to the officers' outbox: the specialist reminded at
    50% (Friday W0 17:00) and 75% (Monday W2 11:30), told at 17:00 the task is overdue, the head
    told it is now theirs; codes, roles and instants only. Interpreter 2 tells nobody."""
    weeks, handle = await start(env, procedure, interpreter)
    await complete(handle, "receive", DESK, "accept")
    await reached(handle, lambda s: any(t.step == "process" for t in s.tasks), "process")
    await sleep_until(env, weeks.at(2, 0, "18:00"))
    await reached(handle, lambda s: bool(events(s, "escalated")), "escalated")
    await complete(handle, "process", HEAD, "approve")
    await complete(handle, "return_result", DESK, "returned")
    assert (await outcome(handle)).result is ResultType.APPROVED

    outbox = data_dir / "outbox" / "officers.jsonl"
    if interpreter < 3:
        assert not outbox.exists()
        return
    text = outbox.read_text(encoding="utf-8")
    assert "Trần Thị Mai" not in text and APPLICANT_ID not in text and "applicant" not in text
    notices = [json.loads(line) for line in text.splitlines()]
    assert len({n["notice_id"] for n in notices}) == len(notices) == 4
    due = weeks.at(2, 0, "17:00")
    expected = [
        ("reminder", "specialist", 0.5, None, weeks.at(0, 4, "17:00")),
        ("reminder", "specialist", 0.75, None, weeks.at(2, 0, "11:30")),
        ("overdue", "specialist", None, None, due),
        ("escalated", "head", None, "specialist", due),
    ]
    for notice, (kind, role, share, escalated_from, at) in zip(notices, expected, strict=True):
        assert (notice["kind"], notice["role"], notice["share"]) == (kind, role, share)
        assert notice["escalated_from"] == escalated_from
        assert (notice["dossier_code"], notice["procedure_code"]) == (handle.id, "9.000001")
        assert (notice["agency"], notice["step"]) == (AGENCY, "process")
        assert datetime.fromisoformat(notice["due"]) == due
        assert_at(datetime.fromisoformat(notice["at"]), at)


async def test_supplement_pauses_and_shifts_the_due_instant(
    env: WorkflowEnvironment, procedure: FrozenProcedure, results_root: Path
) -> None:
    """Requested on Friday W0 at 20:00, supplied on Monday W2 at 20:00: the clock stood still
    for one working day (Tết is not working time), so every due instant moves by one day."""
    weeks, handle = await start(env, procedure)
    await complete(handle, "receive", DESK, "accept")
    await sleep_until(env, weeks.at(0, 4, "20:00"))
    before = await reached(handle, lambda s: len(events(s, "reminded")) == 1, "reminder 1")
    assert before.clock.due_at == weeks.at(2, 1, "17:00")
    assert task(before, "process").due_at == weeks.at(2, 0, "17:00")

    await handle.execute_update(
        REQUEST_SUPPLEMENT,
        signed(
            RequestSupplement(step="process", actor=SPECIALIST, missing=("Bản sao sổ hộ khẩu",))
        ),
    )
    paused = await reached(
        handle, lambda s: s.status is PortalStatus.SUPPLEMENT_REQUESTED, "status 5"
    )
    assert paused.clock.suspended
    await reached(
        handle, lambda s: any(d.kind == "supplement_request" for d in s.documents), "form 02"
    )
    await sleep_until(env, weeks.at(2, 0, "20:00"))
    during = await state(handle)
    assert during.status is PortalStatus.SUPPLEMENT_REQUESTED
    assert len(events(during, "reminded")) == 1  # the 75% reminder waits with the clock
    assert not events(during, "overdue")

    await handle.execute_update(
        SUPPLEMENT, SupplementDossier(documents=("Sổ hộ khẩu",), applicant_id=APPLICANT_ID)
    )
    after = await reached(handle, lambda s: s.status is PortalStatus.PROCESSING, "status 4")
    # while the clock stood still, no reminder, escalation or apology timer woke the dossier
    fired = await fired_timers(handle)
    assert not [t for t in fired if weeks.at(0, 4, "20:00") < t < weeks.at(2, 0, "20:00")]
    assert not after.clock.suspended
    assert after.clock.due_at == weeks.at(2, 2, "17:00")
    assert task(after, "process").due_at == weeks.at(2, 1, "17:00")
    assert kinds(after).count("suspended") == kinds(after).count("resumed") == 1
    # the 75% reminder (12 working hours) now falls on Tuesday W2 at 11:30
    await sleep_until(env, weeks.at(2, 1, "12:00"))
    current = await reached(handle, lambda s: len(events(s, "reminded")) == 2, "reminder 2")
    assert_at(events(current, "reminded")[1].at, weeks.at(2, 1, "11:30"))
    await stop(handle)


async def test_apology_one_working_day_before_extends_and_issues_form_04(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """Due Tuesday W2 17:00: the head's apology task opens Monday W2 17:00 (one working day
    before, Tết skipped); approving adds 2 working days (Thursday W2 17:00), issues form 04,
    and a second extension is refused (the procedure allows one)."""
    weeks, handle = await start(env, procedure)
    await sleep_until(env, weeks.at(2, 0, "16:30"))
    assert not events(await state(handle), "apology_requested")
    refused = await rejection(
        handle, APPROVE_APOLOGY, signed(ApproveApology(actor=HEAD, reason="x"))
    )
    assert "no apology letter" in refused

    await sleep_until(env, weeks.at(2, 0, "18:00"))
    current = await reached(handle, lambda s: bool(events(s, "apology_requested")), "apology task")
    assert_at(events(current, "apology_requested")[0].at, weeks.at(2, 0, "17:00"))
    assert current.apology is not None  # the head sees it as a task, for the inbox
    assert (current.apology.agency, current.apology.role) == (AGENCY, "head")
    assert current.apology.due_at == weeks.at(2, 1, "17:00")
    refused = await rejection(
        handle, APPROVE_APOLOGY, signed(ApproveApology(actor=DESK, reason="x"))
    )
    assert f"approved by {AGENCY}/head" in refused

    answer = await handle.execute_update(
        APPROVE_APOLOGY,
        signed(ApproveApology(actor=HEAD, reason="Cần xác minh thêm")),
        result_type=str,
    )
    assert weeks.day(2, 3).strftime("%d/%m/%Y") in answer
    current = await reached(
        handle, lambda s: any(d.kind == "apology" for d in s.documents), "form 04"
    )
    assert current.clock.due_at == weeks.at(2, 3, "17:00")
    assert current.clock.extensions == 1
    assert current.apology is None
    letter = next(d for d in current.documents if d.kind == "apology")
    text = Path(letter.path).read_text()
    assert "Mẫu 04" in text and "17:00 ngày " + weeks.day(2, 3).strftime("%d/%m/%Y") in text

    refused = await rejection(
        handle, APPROVE_APOLOGY, signed(ApproveApology(actor=HEAD, reason="again"))
    )
    assert "no apology letter" in refused or "extension" in refused
    await sleep_until(env, weeks.at(2, 2, "18:00"))  # one day before the new date: no new task
    current = await state(handle)
    assert len(events(current, "apology_requested")) == 1
    assert current.clock.extensions == 1
    await stop(handle)


async def test_dossier_finished_after_its_due_instant_is_late(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """Due Tuesday W2 17:00, finished Wednesday W2 at 10:00: late, as is every step."""
    weeks, handle = await start(env, procedure)
    await sleep_until(env, weeks.at(2, 2, "10:00"))
    await complete(handle, "receive", DESK, "accept")
    await reached(handle, lambda s: any(t.step == "process" for t in s.tasks), "process")
    await complete(handle, "process", SPECIALIST, "approve")
    await complete(handle, "return_result", DESK, "returned")
    ended = await outcome(handle)
    assert (ended.result, ended.on_time) == (ResultType.APPROVED, "late")
    current = await state(handle)
    assert task(current, "receive").decision == "accept"
    assert events(current, "decided", "receive")[0].on_time == "late"
    # the later steps opened on Wednesday W2 at 10:00 and finished at once: early
    assert events(current, "decided", "process")[0].on_time == "early"
    slip = next(d for d in current.documents if d.kind == "control_slip")
    assert "Quá hạn" in Path(slip.path).read_text()  # the late hand-over, on form 06


async def test_dossier_finished_before_its_due_day_is_early(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    _, handle = await start(env, procedure)
    await complete(handle, "receive", DESK, "accept")
    await complete(handle, "process", SPECIALIST, "approve")
    await complete(handle, "return_result", DESK, "returned")
    ended = await outcome(handle)
    assert (ended.result, ended.on_time) == (ResultType.APPROVED, "early")


async def test_calendar_change_moves_a_running_dossiers_due_instant(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """An extra day off on Monday W2 moves every due instant by one working day, timers
    included; a make-up Saturday at the end of Tết then moves them back."""
    weeks, handle = await start(env, procedure)
    await complete(handle, "receive", DESK, "accept")
    await sleep_until(env, weeks.at(0, 4, "20:00"))
    extra = weeks.with_changes(holidays=(weeks.day(2, 0),))
    await handle.signal(UPDATE_CALENDAR, extra)
    current = await reached(handle, lambda s: s.calendar_version == extra.version, "new calendar")
    assert current.clock.due_at == weeks.at(2, 2, "17:00")
    assert task(current, "process").due_at == weeks.at(2, 1, "17:00")
    assert events(current, "calendar_changed")

    await sleep_until(env, weeks.at(2, 0, "18:00"))  # the old escalation instant: nothing
    current = await state(handle)
    assert not events(current, "overdue")
    assert len(events(current, "reminded")) == 1  # 75% is now Tuesday W2 11:30

    make_up = weeks.with_changes(holidays=(weeks.day(2, 0),), working=(weeks.day(1, 5),))
    await handle.signal(UPDATE_CALENDAR, make_up)
    current = await reached(handle, lambda s: s.calendar_version == make_up.version, "make-up day")
    # Friday W0, Saturday W1 (make-up), Tuesday W2
    assert current.clock.due_at == weeks.at(2, 1, "17:00")
    # process: Friday W0 and Saturday W1 -> it ran out on Saturday at 17:00; seen at once
    current = await reached(handle, lambda s: bool(events(s, "escalated")), "escalated")
    assert task(current, "process").due_at == weeks.at(1, 5, "17:00")
    assert task(current, "process").role == "head"
    await stop(handle)


async def test_dossier_without_supplement_stops(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """Supplement requested at receipt (Thursday W0, 20:00); the 2 working days allowed run
    out on Monday W2 at 17:00: processing stops (status 8) with a stop notice."""
    weeks, handle = await start(env, procedure)
    await handle.execute_update(
        REQUEST_SUPPLEMENT,
        signed(RequestSupplement(step="receive", actor=DESK, missing=("Giấy chứng sinh",))),
    )
    await sleep_until(env, weeks.at(2, 0, "16:59"))
    assert (await state(handle)).status is PortalStatus.SUPPLEMENT_REQUESTED
    await sleep_until(env, weeks.at(2, 0, "18:00"))
    ended = await outcome(handle)
    assert ended.result is ResultType.STOPPED
    assert ended.status is PortalStatus.STOPPED
    assert_at(ended.finished_at, weeks.at(2, 0, "17:00"))
    current = await state(handle)
    assert current.status is PortalStatus.STOPPED
    notice = next(d for d in current.documents if d.kind == "stop_notice")
    assert "Mẫu 05" in Path(notice.path).read_text()
    assert [d.kind for d in current.documents].count("supplement_request") == 1
    assert task(current, "receive").status is TaskStatus.CANCELLED


async def test_wait_step_with_suspended_clock_shows_status_6_and_moves_the_due(
    env: WorkflowEnvironment, payment_procedure: FrozenProcedure
) -> None:
    """The applicant pays from Thursday W0 20:00 to Monday W2 20:00: two working days
    (Friday W0 and Monday W2) not counted, so the due instant moves from Tuesday W2 to
    Thursday W2 at 17:00."""
    weeks, handle = await start(env, payment_procedure)
    assert (await state(handle)).clock.due_at == weeks.at(2, 1, "17:00")
    await complete(handle, "receive", DESK, "accept")
    waiting = await reached(
        handle, lambda s: s.status is PortalStatus.FINANCIAL_OBLIGATION, "status 6"
    )
    assert waiting.clock.suspended
    await sleep_until(env, weeks.at(2, 0, "20:00"))
    assert (await state(handle)).status is PortalStatus.FINANCIAL_OBLIGATION
    await handle.execute_update(
        DELIVER_EVENT,
        signed(
            DeliverEvent(event="payment_received", actor=Actor(user="kb", agency="tax", role="x"))
        ),
    )
    current = await reached(handle, lambda s: s.status is PortalStatus.PROCESSING, "status 4")
    assert current.clock.due_at == weeks.at(2, 3, "17:00")
    # return_result (2 days) opened Monday W2 20:00: Tuesday and Wednesday W2
    current = await reached(
        handle, lambda s: any(t.step == "return_result" for t in s.tasks), "return_result"
    )
    assert task(current, "return_result").due_at == weeks.at(2, 2, "17:00")
    await complete(handle, "return_result", DESK, "returned")
    ended = await outcome(handle)
    assert ended.on_time == "early"


async def test_calendar_that_does_not_cover_the_dossier_is_refused(
    env: WorkflowEnvironment, procedure: FrozenProcedure
) -> None:
    """A calendar published for the wrong years must not wedge a running dossier."""
    weeks, handle = await start(env, procedure)
    await complete(handle, "receive", DESK, "accept")
    year = weeks.monday0.year - 1
    wrong = WorkCalendar(first_year=year, last_year=year)
    await handle.signal(UPDATE_CALENDAR, wrong)
    current = await reached(
        handle, lambda s: bool(events(s, "calendar_refused")), "calendar refused"
    )
    assert current.calendar_version == weeks.calendar.version
    assert current.clock.due_at == weeks.at(2, 1, "17:00")
    # the dossier still works: its escalation still fires on time
    await sleep_until(env, weeks.at(2, 0, "18:00"))
    await reached(handle, lambda s: bool(events(s, "escalated")), "escalated")
    await stop(handle)


async def test_overlapping_suspensions_payment_and_supplement(
    env: WorkflowEnvironment,
) -> None:
    """The applicant pays (clock stopped, Thursday W0 20:00 to Monday W2 20:00) while the
    check asks for a supplement (Friday W0 20:00 to Tuesday W2 20:00). The clock runs again
    only when both are over: Friday W0, Monday and Tuesday W2 are not counted, so 3 working
    days run Wednesday to Friday W2."""
    procedure = load_procedure(FIXTURES / "parallel-payment.yaml")
    weeks, handle = await start(env, procedure)
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
        DELIVER_EVENT,
        signed(
            DeliverEvent(event="payment_received", actor=Actor(user="kb", agency="tax", role="x"))
        ),
    )
    paid = await reached(handle, lambda s: bool(events(s, "arrived")), "payment")
    assert paid.clock.suspended  # the supplement still holds the clock
    await sleep_until(env, weeks.at(2, 1, "20:00"))
    await handle.execute_update(
        SUPPLEMENT, SupplementDossier(documents=("Tờ khai thuế",), applicant_id=APPLICANT_ID)
    )
    current = await reached(handle, lambda s: not s.clock.suspended, "resumed")
    assert current.clock.due_at == weeks.at(2, 4, "17:00")
    assert task(current, "check").due_at == weeks.at(2, 3, "17:00")
    await complete(handle, "check", SPECIALIST, "approve")
    await complete(handle, "return_result", DESK, "returned")
    assert (await outcome(handle)).on_time == "early"


async def test_a_dossier_past_its_legal_deadline_is_flagged_overdue(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """While the dossier waits for an event without stopping the clock, no task is open, so
    no task can be overdue; the dossier's own deadline still flags it, at Tuesday W2 17:00
    (3 working days from Friday W0 07:30, Tết skipped)."""
    text = (FIXTURES / "payment.yaml").read_text(encoding="utf-8")
    shutil.copytree(FIXTURES / "forms", tmp_path / "forms")  # a symbolic link out is refused
    path = tmp_path / "waiting.yaml"
    path.write_text(text.replace("suspends_clock: true", "suspends_clock: false"), "utf-8")
    weeks, handle = await start(env, load_procedure(path))
    await complete(handle, "receive", DESK, "accept")
    await sleep_until(env, weeks.at(2, 2, "08:00"))
    current = await reached(handle, lambda s: bool(events(s, "dossier_overdue")), "overdue")
    assert_at(events(current, "dossier_overdue")[0].at, weeks.at(2, 1, "17:00"))
    assert not any(t.overdue for t in current.tasks)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.OVERDUE) is True
    await stop(handle)


# ------------------------------------------------------------------------ calendar broadcast


async def test_calendar_publish_moves_running_dossiers(
    dev_env: WorkflowEnvironment,
    data_dir: Path,
    run_worker: Callable[..., Any],
    procedure: FrozenProcedure,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`motcua calendar publish --overrides FILE` with an extra holiday on the day two running
    dossiers are due: one batch signal reaches both and their due instants move to the next
    working day, same time. Batch operations need the real dev server (visibility)."""
    from motcua.calendar_broadcast import RUNNING_DOSSIERS
    from motcua.cli import build_parser
    from procedures.legaltime.calendar import DEFAULT_OVERRIDES
    from procedures.legaltime.clock import is_working_day

    temporal = dev_env.client
    calendar = load_calendar()
    now = datetime.now(UTC)
    codes = [f"{AGENCY}-{now:%y%m%d}-bc{n}{now:%H%M%S%f}" for n in (1, 2)]
    async with run_worker(temporal, QUEUE, data_dir):
        handles = []
        for code in codes:
            inp = DossierInput(
                code=code,
                procedure=procedure,
                calendar=calendar,
                received_at=now,
                channel=Channel.IN_PERSON,
                applicant=Applicant(full_name="Lê Văn Hùng", id_number=APPLICANT_ID),
                request_id=code,
            )
            handles.append(
                await temporal.start_workflow(DossierWorkflow.run, inp, id=code, task_queue=QUEUE)
            )
        before = [await reached(h, lambda s: bool(s.tasks), "task open") for h in handles]
        due = before[0].clock.due_at
        assert all(s.clock.due_at == due for s in before)
        holiday = due.astimezone(VN).date()
        following = holiday + timedelta(days=1)
        while not is_working_day(calendar, following):
            following += timedelta(days=1)
        expected = datetime.combine(following, due.astimezone(VN).time(), VN)

        overrides = tmp_path / "vn.yaml"
        overrides.write_text(
            DEFAULT_OVERRIDES.read_text(encoding="utf-8")
            + f"  - date: {holiday.isoformat()}\n    kind: holiday\n"
            + "    source: test, an extra day off announced while dossiers run\n",
            encoding="utf-8",
        )
        listed = " OR ".join(f'WorkflowId="{c}"' for c in codes)

        async def both_listed() -> bool:  # visibility is eventually consistent
            found = await temporal.count_workflows(f"{RUNNING_DOSSIERS} AND ({listed})")
            return found.count == 2

        await eventually(both_listed, timeout=10, what="both dossiers in visibility", every=0.1)

        address = temporal.service_client.config.target_host
        args = build_parser().parse_args(
            ["calendar", "publish", "--overrides", str(overrides), "--address", address]
        )
        assert await args.handler(args) == 0
        out = capsys.readouterr().out
        assert "batch job calendar-" in out and "completed:" in out

        new_version = load_calendar(overrides=overrides).version
        after = [
            await reached(h, lambda s: s.calendar_version == new_version, "new calendar")
            for h in handles
        ]
        for current in after:
            assert current.clock.due_at == expected
            assert events(current, "calendar_changed")
        for handle in handles:
            await stop(handle)
