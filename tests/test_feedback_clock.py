"""The catalogue's feedback procedure on Temporal's time-skipping server: 10 working days, on the
same clock as every dossier, so "feedback handled on time" is the dossier's own rating.

The calendar and the weeks are `test_deadlines`'s: received on Thursday of W0 at 20:00, the
clock counts from Friday of W0 at 07:30; W1 is a made-up Tết. Ten working days: Friday of W0,
the five days of W2, and Monday to Thursday of W3, due Thursday of W3 at 17:00.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from helpers import own_time_skipping_server, signed
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from test_deadlines import Weeks, reached, sleep_until
from timeskip import outcome

from motcua.feedback import agency_concerned
from procedures.loader import load_catalog
from procedures.models import Channel
from workflows.api import (
    COMPLETE,
    Actor,
    Applicant,
    CompleteTask,
    DossierInput,
    DossierOutcome,
    TaskStatus,
)
from workflows.dossier import DossierWorkflow

CATALOG = load_catalog()
FEEDBACK = CATALOG["0.000766"]
DESK = Actor(user="lan", agency="000.00.01.H26", role="one_stop")
JUSTICE = Actor(user="hoa", agency="000.00.14.H26", role="one_stop")
JUSTICE_HEAD = Actor(user="hung", agency="000.00.14.H26", role="head")
"""Who answers once the task has used 80 % of its share: its escalation hands it to the head."""
QUEUE = "service_centre"
_codes = itertools.count(1)


ts_env = own_time_skipping_server()


async def send(env: WorkflowEnvironment, weeks: Weeks) -> WorkflowHandle[Any, DossierOutcome]:
    """A feedback about the judicial record (Sở Tư pháp's), received Thursday W0 at 20:00."""
    await sleep_until(env, weeks.received)
    agency = agency_concerned(FEEDBACK, CATALOG, about_procedure="2.000488")
    assert agency == JUSTICE.agency
    code = f"{DESK.agency}-{weeks.received:%y%m%d}-{next(_codes):04d}"
    inp = DossierInput(
        code=code,
        procedure=FEEDBACK,
        calendar=weeks.calendar,
        received_at=weeks.received,
        channel=Channel.ONLINE,
        applicant=Applicant(full_name="Lê Văn Bình", id_number="019190000888"),
        form={"content": "Quá hẹn chưa trả Phiếu", "agency": agency},
        request_id=code,
    )
    return await env.client.start_workflow(DossierWorkflow.run, inp, id=code, task_queue=QUEUE)


async def decide(
    handle: WorkflowHandle[Any, Any], step: str, actor: Actor, decision: str, **fields: str
) -> None:
    await reached(
        handle,
        lambda s: any(
            t.step == step and t.status in (TaskStatus.OPEN, TaskStatus.CLAIMED) for t in s.tasks
        ),
        f"{step} open",
    )
    body = CompleteTask(step=step, actor=actor, decision=decision, fields=fields)
    await handle.execute_update(COMPLETE, signed(body))


@pytest.mark.usefixtures("worker")
async def test_feedback_answered_by_the_tenth_working_day_is_on_time_after_it_late(
    ts_env: WorkflowEnvironment,
) -> None:
    weeks = Weeks(await ts_env.get_current_time())
    in_time, too_late = await send(ts_env, weeks), await send(ts_env, weeks)
    for handle in (in_time, too_late):
        await decide(handle, "receive", DESK, "forward")
    state = await reached(
        in_time, lambda s: any(t.step == "answer_justice" for t in s.tasks), "routed"
    )
    assert state.clock.due_at == weeks.at(3, 3, "17:00")  # Tết and weekends not counted
    assert [t.agency for t in state.tasks if t.step == "answer_justice"] == [JUSTICE.agency]

    await sleep_until(ts_env, weeks.at(3, 3, "12:00"))  # the tenth working day
    await decide(in_time, "answer_justice", JUSTICE_HEAD, "answer", answer="Đã trả Phiếu.")
    await sleep_until(ts_env, weeks.at(3, 4, "12:00"))  # the day after
    await decide(too_late, "answer_justice", JUSTICE_HEAD, "answer", answer="Xin lỗi ông.")
    answered = [await outcome(h) for h in (in_time, too_late)]
    assert [(o.result.value, o.on_time) for o in answered] == [
        ("approved", "on_time"),
        ("approved", "late"),
    ]
