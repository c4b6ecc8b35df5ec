"""Submission bursts and a busy agency's day (issue 19), and a request id reused for another
submission (issue 15, item 10), on a real dev server and worker.

The counter is designed for the server's limits (`workflows.counter`): these tests show a
burst numbered without an error reaching a caller, a day of 9,999 dossiers within the payload
limit, and a request's memory surviving continue-as-new in its compact form.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import APPLICANT, Setup, serving, submit
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from test_client import number

from motcua import client as ops
from motcua.audit.history import read_file
from motcua.audit.replay import replay
from motcua.client import allocation as allocator
from runtime.errors import UserError
from workflows.api import ALLOCATE, COUNTER_WORKFLOW, Allocate, Allocation, CounterInput
from workflows.counter import (
    MAX_CARRIED,
    MAX_PER_DAY,
    TICKET_LEN,
    VIETNAM,
    carried,
    ticket,
)

PAYLOAD_LIMIT = 2 * 1024 * 1024


@pytest.fixture(scope="module")
async def setup(dev_env: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with serving(dev_env.client, tmp_path_factory.mktemp("burst")) as ready:
        yield ready


def today() -> str:
    return datetime.now(VIETNAM).strftime("%y%m%d")


async def counter_updates(client: Client, agency: str) -> int:
    history = await client.get_workflow_handle(f"counter-{agency}").fetch_history()
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return sum(1 for e in history.events if e.event_type == accepted)


async def test_a_burst_is_numbered_in_order_and_every_dossier_starts_once(setup: Setup) -> None:
    burst = 200
    done = await asyncio.gather(*(submit(setup) for _ in range(burst)))
    assert not any(d.existing for d in done)
    assert sorted(number(d.code) for d in done) == list(range(1, burst + 1))
    assert {d.code.rsplit("-", 2)[1] for d in done} == {today()}
    # Numbered in a few shared updates, far from the server's 10 in flight per workflow.
    assert await counter_updates(setup.client, setup.desk) <= burst // 10
    for d in done[:: burst // 10]:
        state = await ops.show(setup.client, d.code)
        assert state.clock.due_at == d.due_at


async def test_a_request_id_names_one_submission(setup: Setup) -> None:
    request = uuid.uuid4().hex
    first = await submit(setup, applicant=APPLICANT, request_id=request)
    repeats = await asyncio.gather(
        *(submit(setup, applicant=APPLICANT, request_id=request) for _ in range(5))
    )
    assert {r.code for r in repeats} == {first.code} and all(r.existing for r in repeats)
    someone_else = APPLICANT.model_copy(update={"id_number": "079200000999"})
    with pytest.raises(ops.InvalidRequest, match="already used for a different submission") as err:
        await submit(setup, applicant=someone_else, request_id=request)
    assert first.code not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ops.InvalidRequest, match="already used"):
        await submit(setup, applicant=APPLICANT, request_id=request, documents=())
    # Without a request id, the default one is a hash of procedure, applicant and form.
    me = APPLICANT.model_copy(update={"id_number": uuid.uuid4().hex[:12]})
    await submit(setup, applicant=me)
    with pytest.raises(ops.InvalidRequest, match="already submitted with other documents"):
        await submit(setup, applicant=me, documents=("application", "drawing"))


async def test_concurrent_repeats_of_a_new_request_start_one_dossier(setup: Setup) -> None:
    request = uuid.uuid4().hex
    done = await asyncio.gather(
        *(submit(setup, applicant=APPLICANT, request_id=request) for _ in range(6))
    )
    assert len({d.code for d in done}) == 1
    following = await submit(setup)
    assert number(following.code) == number(done[0].code) + 1


async def test_an_oversized_request_id_is_refused(setup: Setup) -> None:
    with pytest.raises(ops.InvalidRequest, match="at most 200 characters"):
        await submit(setup, request_id="x" * 201)
    with pytest.raises(ops.InvalidRequest, match="no control characters"):
        await submit(setup, request_id="a\x1b[2Jb")


async def test_a_busy_agencys_day_fits_the_limits(
    dev_env: Any, run_worker: Any, data_dir: Path
) -> None:
    """9,999 codes in one day through the counter alone, then the day's limit."""
    client: Client = dev_env.client
    agency, queue = f"B{uuid.uuid4().hex[:6].upper()}.01.H26", f"busy-{uuid.uuid4().hex[:6]}"
    async with run_worker(client, queue, data_dir):
        answers = await asyncio.gather(
            *(
                allocator.number(client, agency, queue, ticket(f"r{i}", f"c{i}"))
                for i in range(MAX_PER_DAY)
            )
        )
        assert sorted(number(a.code) for a in answers) == list(range(1, MAX_PER_DAY + 1))
        with pytest.raises(UserError, match=f"numbered {MAX_PER_DAY} dossiers today"):
            await allocator.number(client, agency, queue, ticket("one more", "c"))
        again = await allocator.number(client, agency, queue, ticket("r42", "c42"))
        assert again.existing and again.code == answers[42].code
        history = await client.get_workflow_handle(f"counter-{agency}").fetch_history()
    assert await counter_updates(client, agency) < 30
    assert max(e.ByteSize() for e in history.events) < PAYLOAD_LIMIT / 10
    assert sum(e.ByteSize() for e in history.events) < 2 * PAYLOAD_LIMIT


def test_a_busy_week_carries_less_than_the_payload_limit() -> None:
    day0 = datetime(2026, 3, 2, tzinfo=VIETNAM)
    days = [(day0 + timedelta(days=i)).strftime("%y%m%d") for i in range(8)]
    issued = {d: [ticket(f"{d}-{i}", "c") for i in range(MAX_PER_DAY)] for d in days}
    kept = carried(issued, days[-1], days[1])
    assert days[-1] in kept and days[0] not in kept
    assert sum(len(s) for s in kept.values()) // TICKET_LEN <= MAX_CARRIED
    size = len(CounterInput(agency_code="X", day=days[-1], issued=kept).model_dump_json())
    assert size < PAYLOAD_LIMIT / 3


async def test_a_continued_counter_remembers_its_requests(
    dev_env: Any, run_worker: Any, data_dir: Path
) -> None:
    """A run started from carried tickets (and one from the first counter's `recent` map)
    gives a known request its code back, and numbers new ones after the last."""
    client: Client = dev_env.client
    queue = f"cont-{uuid.uuid4().hex[:6]}"
    day = today()
    async with run_worker(client, queue, data_dir):
        agency = f"C{uuid.uuid4().hex[:6].upper()}.01.H26"
        tickets = [ticket(f"r{i}", "c") for i in range(3)]
        await client.start_workflow(
            COUNTER_WORKFLOW,
            CounterInput(
                agency_code=agency, day=day, last_number=3, issued={day: "".join(tickets)}
            ),
            id=f"counter-{agency}",
            task_queue=queue,
        )
        known = await allocator.number(client, agency, queue, tickets[1])
        assert known.existing and known.code == f"{agency}-{day}-0002"
        assert (await allocator.number(client, agency, queue, ticket("r1", "other"))).code == ""
        fresh = await allocator.number(client, agency, queue, ticket("new", "c"))
        assert fresh.code == f"{agency}-{day}-0004" and not fresh.existing

        legacy = f"L{uuid.uuid4().hex[:6].upper()}.01.H26"
        old = Allocation(code=f"{legacy}-{day}-0007", received_at=datetime.now(VIETNAM))
        await client.start_workflow(
            COUNTER_WORKFLOW,
            CounterInput(agency_code=legacy, day=day, last_number=7, recent={"old-request": old}),
            id=f"counter-{legacy}",
            task_queue=queue,
        )
        again = await allocator.number(client, legacy, queue, ticket("old-request", "any"))
        assert again.existing and again.code == old.code
        # A client of the first release still gets its numbers (one `allocate` each).
        handle = client.get_workflow_handle(f"counter-{legacy}")
        first = await handle.execute_update(
            ALLOCATE, Allocate(request_id="old-request"), result_type=Allocation
        )
        assert first.existing and first.code == old.code
        fresh_old = await handle.execute_update(
            ALLOCATE, Allocate(request_id="old-client-new"), result_type=Allocation
        )
        assert fresh_old.code.endswith("-0008") and not fresh_old.existing
        assert (await allocator.number(client, legacy, queue, ticket("x", "c"))).code.endswith(
            "-0009"
        )


async def test_the_first_counters_history_replays() -> None:
    """A counter run by the first release (one `allocate` update per submission, a repeat
    among them), recorded with that code: the current counter replays it."""
    path = Path(__file__).parent / "histories" / "counter" / "first-release.json"
    source = read_file(path)
    updates = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in source.history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert updates == ["allocate"] * 4
    outcomes = await replay([source], concurrency=1)
    assert outcomes[0].ok, outcomes[0].line()
