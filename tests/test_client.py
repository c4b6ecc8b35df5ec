"""The officers' and citizens' client (`motcua.client`) against a real dev server and worker.

Each run uses its own agency codes and task queue, so counters and inboxes start empty even on
a server that keeps its data. The test calendar makes today a working day with round-the-clock
office hours for those agencies, so a one-minute task share really runs out during the run.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Codec
from helpers import (
    APPLICANT,
    TEST_TRUST,
    Setup,
    eventually,
    open_task,
    serving,
    settled,
    signed,
    submit,
)

from motcua import client as ops
from motcua.client import InboxRow
from motcua.play import Plan, play
from procedures.loader import load_catalog
from procedures.models import Channel
from runtime.catalogue import catalogue_task_queues
from runtime.codec import key_id_of
from runtime.workers import WorkerGroup
from workflows.api import (
    COMPLETE,
    Actor,
    CompleteTask,
    DossierState,
    PortalStatus,
    TaskStatus,
)
from workflows.forms import VIETNAM


@pytest.fixture(scope="module")
async def setup(dev_env: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with serving(dev_env.client, tmp_path_factory.mktemp("client")) as ready:
        yield ready


@pytest.fixture(scope="module", autouse=True)
async def late(setup: Setup) -> ops.Submitted:
    """A dossier whose first task has one working minute: overdue by the module's last test."""
    return await submit(setup, setup.fast)


def number(code: str) -> int:
    return int(code.rsplit("-", 1)[1])


# ------------------------------------------------------------------------------ submission


async def test_submit_allocates_sequential_codes_and_is_idempotent(setup: Setup) -> None:
    first = await submit(setup, applicant=APPLICANT)
    second = await submit(setup)
    today = datetime.now(VIETNAM).strftime("%y%m%d")
    for done in (first, second):
        assert re.fullmatch(rf"{re.escape(setup.desk)}-{today}-\d{{4}}", done.code)
        assert not done.existing
    assert number(second.code) == number(first.code) + 1
    again = await submit(setup, applicant=APPLICANT)
    assert again.code == first.code and again.existing
    assert again.due_at == first.due_at
    state = await ops.show(setup.client, first.code)
    assert state.procedure_code == setup.normal.procedure.code
    assert state.clock.due_at == first.due_at


async def test_submit_rejects_unknown_documents_and_channels(setup: Setup) -> None:
    with pytest.raises(ops.InvalidRequest, match="unknown document"):
        await submit(setup, documents=("passport",))
    with pytest.raises(ops.InvalidRequest, match="accepts channels"):
        await submit(setup, channel=Channel.POST)


async def test_search_attributes_hold_no_personal_data(setup: Setup) -> None:
    done = await submit(setup)
    await open_task(setup, done.code, "receive")
    described = await setup.client.get_workflow_handle(done.code).describe()
    indexed = repr(described.typed_search_attributes)
    assert setup.normal.procedure.code in indexed
    assert APPLICANT.full_name not in indexed and "001090000123" not in indexed


# ------------------------------------------------------------------------------ inbox and tasks


async def test_inbox_lists_a_dossier_for_its_agency_and_role_only(setup: Setup) -> None:
    done = await submit(setup)

    async def listed() -> list[ops.InboxRow]:
        page = await ops.inbox(setup.client, setup.desk, "one_stop", page_size=ops.MAX_PAGE_SIZE)
        return [r for r in page.rows if r.dossier == done.code]

    (row,) = await eventually(listed, what="the dossier in the desk's inbox")
    assert row.waiting_on == ("one_stop",) and row.status is PortalStatus.RECEIVED
    assert row.procedure_code == setup.normal.procedure.code and not row.overdue
    assert row.due_at is not None and row.due_at <= done.due_at
    assert row.tasks is None and row.procedure_name is None, "no query without details"
    everything = await ops.inbox(setup.client, setup.desk, page_size=ops.MAX_PAGE_SIZE)
    assert done.code in {r.dossier for r in everything.rows}
    heads = await ops.inbox(setup.client, setup.desk, "head")
    office = await ops.inbox(setup.client, setup.office)
    assert done.code not in {r.dossier for r in heads.rows + office.rows}


async def test_inbox_details_name_the_open_task(setup: Setup) -> None:
    done = await submit(setup)
    await open_task(setup, done.code, "receive")
    await ops.claim(setup.client, done.code, "receive", setup.desk_officer())

    async def detailed() -> ops.InboxRow | None:
        page = await ops.inbox(
            setup.client, setup.desk, "one_stop", page_size=ops.MAX_PAGE_SIZE, details=True
        )
        return next((r for r in page.rows if r.dossier == done.code), None)

    row = await eventually(detailed, what="the dossier in the desk's inbox")
    assert row.tasks is not None
    (task,) = row.tasks
    assert (task.step, task.role, task.agency) == ("receive", "one_stop", setup.desk)
    assert task.title == "Tiếp nhận hồ sơ" and task.status is TaskStatus.CLAIMED
    assert task.assignee == "lan" and 0 < task.hours_left <= 24 * 60 and not task.overdue
    assert row.procedure_name == setup.normal.procedure.name


async def test_inbox_pages_cover_the_inbox_once(setup: Setup, tmp_path: Path) -> None:
    """Five dossiers in an inbox of their own, read two at a time."""
    async with serving(setup.client, tmp_path) as own:
        codes = {(await submit(own)).code for _ in range(5)}

        async def counted() -> ops.InboxPage | None:
            page = await ops.inbox(own.client, own.desk, "one_stop", page_size=2)
            return page if page.total == 5 else None

        page: ops.InboxPage | None = await eventually(counted, what="five dossiers listed")
        seen, firsts = [], []
        while page is not None:
            assert len(page.rows) == 2 or page.next_page is None
            assert page.total == 5 and page.overdue == 0
            seen += [r.dossier for r in page.rows]
            firsts.append(page.first)
            token = page.next_page
            page = (
                None
                if token is None
                else await ops.inbox(own.client, own.desk, "one_stop", page_size=2, page=token)
            )
        assert sorted(seen) == sorted(codes) and firsts == [1, 3, 5]
        with pytest.raises(ops.InvalidRequest, match="page token"):
            await ops.inbox(own.client, own.desk, page="not-a-token")
        with pytest.raises(ops.InvalidRequest, match="page size"):
            await ops.inbox(own.client, own.desk, page_size=0)


async def test_claim_and_complete_move_the_dossier(setup: Setup) -> None:
    done = await submit(setup)
    await open_task(setup, done.code, "receive")
    claimed = await ops.claim(setup.client, done.code, "receive", setup.desk_officer())
    assert "claimed" in claimed.message
    state = await ops.show(setup.client, done.code)
    (task,) = state.tasks
    assert task.status is TaskStatus.CLAIMED and task.assignee == "lan"
    await ops.complete(setup.client, done.code, "receive", setup.desk_officer(), "accept")
    state = await open_task(setup, done.code, "review")
    assert [t.step for t in state.tasks if t.status is TaskStatus.OPEN] == ["review"]

    async def at_office() -> bool:
        page = await ops.inbox(setup.client, setup.office, "specialist")
        return done.code in {r.dossier for r in page.rows}

    await eventually(at_office, what="the dossier in the office's inbox")
    await ops.complete(
        setup.client, done.code, "review", setup.specialist(), "approve", {"floors": 3}
    )

    await asyncio.wait_for(setup.client.get_workflow_handle(done.code).result(), 30)
    state = await ops.show(setup.client, done.code)
    assert state.status is PortalStatus.RETURNED
    assert any(e.kind == "decided" and e.step == "review" for e in state.timeline)


REJECTIONS: dict[str, tuple[Callable[[Setup], Actor], str, str, dict[str, Any], str]] = {
    "wrong agency": (lambda s: s.specialist(), "receive", "accept", {}, "belongs to agency"),
    "wrong role": (
        lambda s: s.desk_officer("head"),
        "receive",
        "accept",
        {},
        "needs role 'one_stop'",
    ),
    "bad decision": (
        lambda s: s.desk_officer(),
        "receive",
        "approve",
        {},
        "not allowed at 'receive'",
    ),
    "unknown step": (lambda s: s.desk_officer(), "review", "approve", {}, "no open task 'review'"),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
async def test_a_rejected_action_names_the_reason_and_leaves_no_history(
    setup: Setup, case: str
) -> None:
    actor, step, decision, fields, reason = REJECTIONS[case]
    done = await submit(setup)
    await open_task(setup, done.code, "receive")
    before = await settled(setup.client.get_workflow_handle(done.code))
    with pytest.raises(ops.UpdateRejected) as caught:
        await ops.complete(setup.client, done.code, step, actor(setup), decision, fields)
    assert reason in caught.value.reason
    assert "\n" not in str(caught.value)
    assert await settled(setup.client.get_workflow_handle(done.code)) == before


async def test_missing_field_and_second_completion_are_rejected(setup: Setup) -> None:
    done = await submit(setup)
    await open_task(setup, done.code, "receive")
    await ops.complete(setup.client, done.code, "receive", setup.desk_officer(), "accept")
    await open_task(setup, done.code, "review")
    before = await settled(setup.client.get_workflow_handle(done.code))
    with pytest.raises(ops.UpdateRejected, match="field 'floors' is required"):
        await ops.complete(setup.client, done.code, "review", setup.specialist(), "approve")
    with pytest.raises(ops.UpdateRejected, match="field 'floors' must be integer"):
        await ops.complete(
            setup.client, done.code, "review", setup.specialist(), "approve", {"floors": "three"}
        )
    with pytest.raises(ops.UpdateRejected, match="'receive' is not open: it was done by"):
        await ops.complete(setup.client, done.code, "receive", setup.desk_officer(), "accept")
    assert await settled(setup.client.get_workflow_handle(done.code)) == before


async def test_reassign_needs_a_head(setup: Setup) -> None:
    done = await submit(setup)
    await open_task(setup, done.code, "receive")
    with pytest.raises(ops.UpdateRejected, match="only the agency's head"):
        await ops.reassign(setup.client, done.code, "receive", setup.desk_officer(), "hoa")
    moved = await ops.reassign(
        setup.client, done.code, "receive", setup.desk_officer("head", "thu"), to_user="hoa"
    )
    assert "hoa" in moved.message
    (task,) = (await ops.show(setup.client, done.code)).tasks
    assert task.assignee == "hoa" and task.status is TaskStatus.CLAIMED


async def test_unknown_dossier(setup: Setup) -> None:
    with pytest.raises(ops.DossierNotFound, match="no dossier"):
        await ops.show(setup.client, f"{setup.desk}-000000-9999")
    with pytest.raises(ops.DossierNotFound):
        await ops.claim(setup.client, f"{setup.desk}-000000-9999", "receive", setup.desk_officer())


async def test_unreachable_server_names_the_address() -> None:
    with pytest.raises(ops.ServerUnreachable, match=r"127\.0\.0\.1:1"):
        await ops.connect("127.0.0.1:1")


# ------------------------------------------------------------------------------ citizens


async def test_citizen_supplement_status_and_withdraw(setup: Setup) -> None:
    me = APPLICANT.model_copy(update={"id_number": uuid.uuid4().hex[:12]}).id_number
    done = await submit(setup, applicant=APPLICANT.model_copy(update={"id_number": me}))
    await open_task(setup, done.code, "receive")
    with pytest.raises(ops.UpdateRejected, match="no supplement was requested"):
        await ops.supplement(setup.client, done.code, ["drawing"], applicant_id=me)
    await ops.request_supplement(
        setup.client, done.code, "receive", setup.desk_officer(), ["Bản vẽ thiết kế"], "thiếu"
    )

    async def asked() -> ops.CitizenStatus | None:
        seen = await ops.status(setup.client, done.code)
        issued = any("bổ sung" in d.title for d in seen.documents)
        return seen if seen.status == PortalStatus.SUPPLEMENT_REQUESTED and issued else None

    seen = await eventually(asked, what="the supplement request and its form")
    assert seen.status_vi == "Yêu cầu bổ sung hồ sơ" and "Bản vẽ thiết kế" in seen.now_vi
    assert seen.appointment >= done.due_at
    with pytest.raises(ops.UpdateRejected, match="waits for the applicant"):
        await ops.complete(setup.client, done.code, "receive", setup.desk_officer(), "accept")
    with pytest.raises(ops.UpdateRejected, match="not this dossier's applicant"):
        await ops.supplement(setup.client, done.code, ["drawing"], applicant_id="000000000000")
    await ops.supplement(setup.client, done.code, ["drawing"], "đã gửi", applicant_id=me)

    async def resumed() -> ops.CitizenStatus | None:
        seen = await ops.status(setup.client, done.code)
        return seen if seen.status == PortalStatus.PROCESSING else None

    seen = await eventually(resumed, what="processing to resume")
    assert "Bộ phận Một cửa (thử)" in seen.now_vi
    assert setup.desk not in seen.model_dump_json(exclude={"code"})
    with pytest.raises(ops.UpdateRejected, match="not this dossier's applicant"):
        await ops.withdraw(setup.client, done.code, "đổi ý", applicant_id="000000000000")
    # No pause first: a withdrawal meeting an activity's completion must still end the dossier.
    await ops.withdraw(setup.client, done.code, "đổi ý", applicant_id=me)

    async def withdrawn() -> ops.CitizenStatus | None:
        seen = await ops.status(setup.client, done.code)
        return seen if seen.status == PortalStatus.WITHDRAWN else None

    seen = await eventually(withdrawn, what="the withdrawal")
    assert seen.status_en == "Withdrawn by the applicant"
    with pytest.raises(ops.UpdateRejected, match="closed"):
        await ops.withdraw(setup.client, done.code, applicant_id=me)


# ------------------------------------------------------------------------------ overdue


async def test_inbox_puts_overdue_dossiers_first(setup: Setup, late: ops.Submitted) -> None:
    on_time = await submit(setup)

    async def overdue() -> list[ops.InboxRow] | None:
        page = await ops.inbox(setup.client, setup.desk, "one_stop", page_size=ops.MAX_PAGE_SIZE)
        mine = [r for r in page.rows if r.dossier in (late.code, on_time.code)]
        return list(page.rows) if len(mine) == 2 and any(r.overdue for r in mine) else None

    rows = await eventually(overdue, timeout=150, what="the fast dossier's task to run late")
    flags = [r.overdue for r in rows]
    assert flags == sorted(flags, reverse=True), "overdue dossiers come first"
    for group in (True, False):
        dues = [r.due_at for r in rows if r.overdue is group]
        assert dues == sorted(d for d in dues if d is not None)
    assert next(r for r in rows if r.dossier == late.code).overdue

    async def overdue_only() -> ops.InboxPage | None:
        page = await ops.inbox(setup.client, setup.desk, overdue_only=True, details=True)
        return page if late.code in {r.dossier for r in page.rows} else None

    page = await eventually(overdue_only, what="the Overdue search attribute")
    assert all(r.overdue for r in page.rows) and on_time.code not in {r.dossier for r in page.rows}
    assert page.total == page.overdue == len(page.rows)
    tasks = next(r for r in page.rows if r.dossier == late.code).tasks
    assert tasks is not None and len(tasks) == 1
    task = tasks[0]
    assert task.overdue and task.hours_left <= 0

    # Overdue first across pages too: a page of one shows an overdue dossier first.
    first = await ops.inbox(setup.client, setup.desk, page_size=1)
    assert first.rows[0].overdue and first.overdue >= 1 and first.next_page


# ------------------------------------------------------------------------------ temporal CLI


async def test_temporal_cli_sends_an_officers_action(setup: Setup, codec_server: Codec) -> None:
    """Temporal's own CLI is a client too: the update's name and JSON input are the API. It
    reads (and seals its input) through the codec server, as payloads are encrypted."""
    done = await submit(setup)
    await open_task(setup, done.code, "receive")
    request = signed(CompleteTask(step="receive", actor=setup.desk_officer(), decision="accept"))
    temporal = Path(sys.executable).with_name("temporal")
    command = [
        str(temporal), "workflow", "update", "execute",
        "--address", setup.address,
        "--workflow-id", done.code,
        "--name", COMPLETE,
        "--input", request.model_dump_json(),
        "--codec-endpoint", codec_server.url,
        "--codec-auth", f"Bearer {codec_server.auditor}",
        "--codec-header", f"X-Motcua-Dossier={done.code}",
    ]  # fmt: skip
    result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "receive: accept" in result.stdout
    state = await open_task(setup, done.code, "review")
    assert [t.decision for t in state.tasks if t.step == "receive"] == ["accept"]
    history = await setup.client.get_workflow_handle(done.code).fetch_history()
    [sent] = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
        and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == COMPLETE
    ]
    assert key_id_of(sent.payloads[0]) == f"dossier:{done.code}"


async def test_the_inbox_due_is_the_agencys_own_not_another_agencys(
    dev_env: Any, tmp_path: Path
) -> None:
    """Birth registration forks to the police and the insurance office: a police inbox's DUE is
    the police task's (with details), never the insurance office's; from visibility alone it is
    unknown (None) while the insurance office has a task open too."""
    frozen = load_catalog()["1.001193"]
    documents = [d.id for d in frozen.procedure.documents if d.required]
    police = frozen.procedure.agencies["police"].code
    queues = catalogue_task_queues({"1.001193": frozen})
    both = frozenset({"register_residence", "issue_card"})  # left open: neither is overdue
    async with WorkerGroup(dev_env.client, queues, tmp_path, trust=TEST_TRUST):
        done = await ops.submit(
            dev_env.client, frozen, APPLICANT, Channel.ONLINE, {}, documents,
            request_id=f"inbox-due-{uuid.uuid4()}",
        )  # fmt: skip
        officers = asyncio.create_task(play(dev_env.client, done.code, frozen, Plan(late=both)))
        try:

            async def forked() -> DossierState | None:
                state = await ops.show(dev_env.client, done.code)
                return state if {t.step for t in state.tasks} >= both else None

            state = await eventually(forked, what="both branches' tasks open")
            residence = next(t for t in state.tasks if t.step == "register_residence")

            async def row(details: bool) -> InboxRow | None:
                page = await ops.inbox(
                    dev_env.client, police, page_size=ops.MAX_PAGE_SIZE, details=details
                )
                return next((r for r in page.rows if r.dossier == done.code), None)

            plain = await eventually(lambda: row(details=False), what="the police's row")
            assert plain.waiting_on == ("residence_officer",) and plain.due_at is None
            detailed = await eventually(lambda: row(details=True), what="the detailed row")
            assert detailed.due_at == residence.due_at
            assert [t.step for t in detailed.tasks or ()] == ["register_residence"]
        finally:
            officers.cancel()
