"""Hostile inputs: oversized, malformed or control-character-laden updates and submissions
(issue 15, items 7-9), sent the way an attacker with Temporal's own client would.

Every refused attempt leaves an `update_rejected` line (who when known, what, why; never the
values), nothing reaches the history, and the dossier goes on working.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from helpers import Setup, open_task, serving, submit
from pydantic import ValidationError
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from motcua import cli
from motcua import client as ops
from motcua.client.views import InboxItem
from motcua.commands import inbox, show
from motcua.commands.output import emit
from procedures.fields import application_problems
from procedures.models import FieldType, FormField
from procedures.schema import procedure_schema
from procedures.text import MAX_LINE, MAX_TEXT, RECORDED, escape
from runtime.errors import UserError
from workflows.api import (
    CLAIM,
    SUPPLEMENT,
    WITHDRAW,
    Actor,
    Applicant,
    ClockView,
    CompleteTask,
    DossierState,
    PortalStatus,
    SupplementDossier,
    TaskStatus,
    TimelineEntry,
)

DESK = Actor(user="lan", agency="000.00.19.H26", role="one_stop")
HOSTILE = ["\x1b[31mred", "nul\x00", "rtl\u202eevil", "two\nlines", "bell\x07"]


@pytest.mark.parametrize("text", HOSTILE)
def test_control_characters_are_refused_in_names(text: str) -> None:
    with pytest.raises(ValidationError, match="control character U\\+"):
        Actor(user=text, agency="000.00.19.H26", role="one_stop")
    with pytest.raises(ValidationError, match="control character U\\+"):
        Applicant(full_name=text, id_number="001090000123")


def test_texts_have_a_size_limit_and_notes_may_span_lines() -> None:
    with pytest.raises(ValidationError, match=f"at most {MAX_LINE} characters"):
        Applicant(full_name="A" * (MAX_LINE + 1), id_number="001090000123")
    with pytest.raises(ValidationError, match=f"at most {MAX_TEXT} characters"):
        SupplementDossier(documents=("a",), note="A" * (MAX_TEXT + 1))
    assert SupplementDossier(documents=("a",), note="line one\nline two").note.count("\n") == 1
    with pytest.raises(ValidationError, match="at most 65536 bytes of JSON"):
        CompleteTask(step="s", actor=DESK, decision="d", fields={"x": "A" * 70_000})


def test_what_a_history_recorded_before_the_limits_still_reads() -> None:
    """Replay must not break on an update accepted before a limit existed."""
    long = {"documents": ["a"], "note": "A" * 1_900_000, "applicant_id": "1"}
    assert len(SupplementDossier.model_validate(long, context=RECORDED).note) == 1_900_000


def test_output_escapes_every_control_character() -> None:
    assert escape("a\x1b[2Jb\x00c\u202ed\ne") == "a\\x1b[2Jb\\x00c\\u202ed\\ne"


@pytest_asyncio.fixture(loop_scope="session")
async def served(dev_env: Any, tmp_path: Path) -> AsyncIterator[Setup]:
    async with serving(dev_env.client, tmp_path) as s:
        yield s


async def test_malformed_and_oversized_updates_are_refused_logged_and_harmless(
    served: Setup,
) -> None:
    s = served
    dossier = await submit(s)
    await open_task(s, dossier.code, "receive")
    handle = s.client.get_workflow_handle(dossier.code)
    desk = s.desk_officer().model_dump()
    before = len((await handle.fetch_history()).events)
    cases: list[tuple[str, list[Any], str]] = [
        (CLAIM, [{"step": "receive", "actor": desk, "extra": 1}], "extra: Extra inputs"),
        (CLAIM, [{"step": 5, "actor": desk}], "step: Input should be a valid string"),
        (CLAIM, [None], "Input should be a valid dictionary"),
        (CLAIM, [], "expected one input, got 0"),
        (CLAIM, [{"step": "receive", "actor": desk}, {}], "expected one input, got 2"),
        ("steal_dossier", [{"step": "receive"}], "no update named 'steal_dossier'"),
        (
            CLAIM,
            [{"step": "receive", "actor": {**desk, "user": "mal\x1b[31mlory\u202e"}}],
            "actor.user: Value error, control character U+001B",
        ),
        (
            SUPPLEMENT,
            [{"documents": ["drawing"], "note": "A" * 1_900_000, "applicant_id": "1"}],
            f"note: Value error, at most {MAX_TEXT} characters (1900000 given)",
        ),
        (WITHDRAW, [{"reason": "B" * 3_000_000}], f"at most {MAX_TEXT} characters (3000000 given)"),
    ]
    with capture_logs() as logs:
        for name, args, why in cases:
            with pytest.raises((WorkflowUpdateFailedError, RPCError)) as refused:
                await handle.execute_update(name, args=args, result_type=str)
            if isinstance(refused.value, WorkflowUpdateFailedError):
                assert why in str(refused.value.cause), (name, why)
    rejected = [line for line in logs if line["event"] == "update_rejected"]
    for name, _, why in cases:
        assert any(line["what"] == name and why in line["why"] for line in rejected), (
            f"no update_rejected line for {name}: {why}"
        )
    for line in rejected:  # no value, personal or hostile, reaches the log
        assert "AAAA" not in line["why"] and "BBBB" not in line["why"]
        assert "\x1b" not in str(line) and "\u202e" not in str(line)
    assert next(x for x in rejected if "U+001B" in x["why"])["who"] == "unknown"
    assert next(x for x in rejected if "extra" in x["why"])["who"] == str(s.desk_officer())
    # nothing reached the history, no workflow task failed, and the dossier still works
    events = (await handle.fetch_history()).events
    assert len(events) == before
    assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    acted = await ops.claim(s.client, dossier.code, "receive", s.desk_officer())
    assert "claimed" in str(acted)


async def test_an_oversized_submission_is_one_line_error(served: Setup) -> None:
    s = served
    with pytest.raises(UserError) as refused:
        await submit(s, form={"note": "A" * 100_000})
    assert "\n" not in str(refused.value)
    assert "65536 bytes" in str(refused.value)
    with pytest.raises(ValidationError):
        Applicant(full_name=uuid.uuid4().hex * 100, id_number="1")


def test_show_and_inbox_print_control_characters_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What a raw client or an old history holds is printed escaped by `show` and
    `inbox --details`: no ESC, NUL or bidi override reaches the terminal."""
    at = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    hostile = "mal\x1b[2Jlory\x00\u202eevil\nfake line"
    state = DossierState(
        code="X-1",
        procedure_code="1.1",
        procedure_name=hostile,
        content_hash="0" * 64,
        status=PortalStatus.PROCESSING,
        timeline=(
            TimelineEntry(at=at, kind="claimed", step="receive", actor=hostile, detail=hostile),
        ),
        clock=ClockView(
            received_at=at,
            due_at=at,
            used_minutes=0,
            remaining_minutes=0,
            suspended=False,
            extensions=0,
            status="on_time",
        ),
        calendar_version="v",
    )
    item = InboxItem(
        dossier="X-1",
        procedure_code="1.1",
        procedure_name=hostile,
        step="receive",
        title=hostile,
        agency="A",
        role="one_stop",
        status=TaskStatus.CLAIMED,
        assignee=hostile,
        due_at=at,
        hours_left=1,
        overdue=False,
    )
    emit(state, False, lambda: show.render(state) + "\n" + inbox._task(item))
    printed = capsys.readouterr().out
    for bad in ("\x1b", "\x00", "\u202e", "\nfake line"):
        assert bad not in printed
    assert "mal\\x1b[2Jlory\\x00\\u202eevil\\nfake line" in printed


def test_cli_submit_of_a_huge_procedure_or_applicant_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 3 MB procedure name, a 300 KB applicant name, a 100 KB form: each a one-line error
    before anything is sent (no `RPCError: Blob data size exceeds limit` traceback)."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing may be sent anyway
    huge = tmp_path / "huge.yaml"
    huge.write_text(f'code: "1.1"\nname: "{"A" * 3_000_000}"\n', "utf-8")
    applicant = tmp_path / "applicant.json"
    applicant.write_text(json.dumps({"full_name": "Trần Văn An", "id_number": "001090000123"}))
    assert cli.main(["submit", str(huge), "--applicant", str(applicant)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"motcua: cannot load procedure {huge}: ")
    assert "more than the 1048576 allowed" in err[-1]
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"full_name": "A" * 300_000, "id_number": "001090000123"}))
    assert cli.main(["submit", str(huge), "--applicant", str(big)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "applicant file" in err[0] and "more than 64 KiB" in err[0]
    assert all("Traceback" not in line and "RPCError" not in line for line in err)


def test_a_declared_field_has_its_own_max_length_in_yaml_and_schema() -> None:
    declared = {
        "owner": FormField(type=FieldType.STRING, max_length=10),
        "note": FormField(type=FieldType.STRING),
    }
    assert application_problems(declared, {"owner": "A" * 11, "note": "B" * MAX_TEXT}) == [
        "owner: at most 10 characters"
    ]
    assert application_problems(declared, {"note": "B" * (MAX_TEXT + 1)}) == [
        f"note: at most {MAX_TEXT} characters"
    ]
    field = procedure_schema()["$defs"]["FormField"]["properties"]["max_length"]
    assert "default 2000" in field["description"]


async def test_temporal_cli_with_a_3_mb_note_or_an_extra_key_is_refused_and_logged(
    served: Setup, tmp_path: Path
) -> None:
    """The attack as the probe ran it: Temporal's own CLI, no motcua client in the way."""
    s = served
    dossier = await submit(s)
    await open_task(s, dossier.code, "receive")
    handle = s.client.get_workflow_handle(dossier.code)
    before = len((await handle.fetch_history()).events)
    note = tmp_path / "note.json"
    note.write_text(json.dumps({"reason": "C" * 3_000_000}))
    extra = {"step": "receive", "actor": s.desk_officer().model_dump(), "admin": True}
    temporal = Path(sys.executable).with_name("temporal")
    common = [str(temporal), "workflow", "update", "execute", "--address", s.address]
    commands = [
        [*common, "--workflow-id", dossier.code, "--name", WITHDRAW, "--input-file", str(note)],
        [*common, "--workflow-id", dossier.code, "--name", CLAIM, "--input", json.dumps(extra)],
    ]
    with capture_logs() as logs:
        for command in commands:
            result = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True
            )
            assert result.returncode != 0
    whys = [line["why"] for line in logs if line["event"] == "update_rejected"]
    assert any(f"at most {MAX_TEXT} characters (3000000 given)" in why for why in whys), whys
    assert any("admin: Extra inputs are not permitted" in why for why in whys), whys
    events = (await handle.fetch_history()).events
    assert len(events) == before
    acted = await ops.claim(s.client, dossier.code, "receive", s.desk_officer())
    assert "claimed" in str(acted)


async def test_a_hostile_request_id_is_refused_before_a_code_is_taken(served: Setup) -> None:
    for request_id in ("x" * (MAX_LINE + 1), "id\x1b[2J"):
        with pytest.raises(UserError, match="request id: at most 200 characters"):
            await submit(served, request_id=request_id)
