"""The officers' and citizens' commands, run as a user runs them, against a real dev server.

Commands run through `motcua.cli.main` in a thread (the worker keeps running on the test's
event loop meanwhile) or as `python -m motcua` in a subprocess where the process itself matters:
exit status, and no traceback for a user's mistake.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers import APPLICANT, Setup, eventually, serving, settled

from motcua import cli, identity, login, publication
from motcua.client import Acted, InboxPage, Submitted
from motcua.client import officers as client_officers
from motcua.commands.task import field
from runtime.errors import UserError
from workflows.api import Actor, DossierState, PortalStatus

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
async def setup(dev_env: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with serving(dev_env.client, tmp_path_factory.mktemp("cli")) as ready:
        # `motcua submit` runs only what is published (in the data folder its --data names)
        procedures = {p.procedure.code: p for p in (ready.normal, ready.fast)}
        publication.publish(ready.folder / "data", procedures, "tests")
        yield ready


@pytest.fixture
def motcua(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Run `motcua ARGS...` in a thread; returns (exit status, stdout, stderr)."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", setup.address)

    async def run(*argv: str) -> tuple[int, str, str]:
        status = await asyncio.to_thread(cli.main, list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def applicant_file(folder: Path, id_number: str) -> Path:
    path = folder / f"applicant-{id_number}.json"
    path.write_text(APPLICANT.model_copy(update={"id_number": id_number}).model_dump_json())
    return path


async def submitted(motcua: Any, setup: Setup, tmp_path: Path, id_number: str) -> Submitted:
    status, out, err = await motcua(
        "submit", str(setup.folder / "normal.yaml"), "--data", str(setup.folder / "data"),
        "--applicant", str(applicant_file(tmp_path, id_number)),
        "--documents", "application", "--json",
    )  # fmt: skip
    assert status == 0, err
    return Submitted.model_validate_json(out)


async def receive_open(motcua: Any, code: str) -> DossierState:
    async def ready() -> DossierState | None:
        status, out, _ = await motcua("show", code, "--json")
        state = DossierState.model_validate_json(out) if status == 0 else None
        return state if state and state.tasks else None

    state: DossierState = await eventually(ready, what=f"the first task of {code}")
    return state


def one_line(err: str) -> str:
    """The command's error line; JSON log lines of the in-process test worker are not its own."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------ submit


async def test_submit_prints_code_and_appointment_and_is_idempotent(
    motcua: Any, setup: Setup, tmp_path: Path
) -> None:
    applicant = applicant_file(tmp_path, "079200000001")
    form = tmp_path / "form.json"
    form.write_text(json.dumps({"floors_planned": 2}))
    argv = ["submit", str(setup.folder / "normal.yaml"), "--applicant", str(applicant)]
    argv += ["--data", str(setup.folder / "data")]
    argv += ["--form", str(form), "--channel", "online", "--documents", "application,drawing"]
    status, out, err = await motcua(*argv)
    assert status == 0, err
    code, rest = out.split(maxsplit=1)
    assert code.startswith(f"{setup.desk}-") and "appointment (ngày hẹn trả)" in rest
    status, out, _ = await motcua(*argv, "--json")
    again = Submitted.model_validate_json(out)
    assert status == 0 and again.code == code and again.existing
    status, out, _ = await motcua(*argv, "--request-id", "another-request")
    assert status == 0 and out.split()[0] != code


async def test_submit_with_a_bad_applicant_file_is_one_line(
    motcua: Any, setup: Setup, tmp_path: Path
) -> None:
    bad = tmp_path / "applicant.json"
    bad.write_text('{"full_name": "Trần Văn An"}')
    status, _, err = await motcua("submit", "8.000000", "--applicant", str(bad))
    assert status == 1 and "id_number" in one_line(err)
    status, _, err = await motcua("submit", "8.000000", "--applicant", str(tmp_path / "none"))
    assert status == 1 and "applicant file" in one_line(err)


# ------------------------------------------------------------------------------ inbox and tasks


async def test_an_officers_day(motcua: Any, setup: Setup, tmp_path: Path) -> None:
    done = await submitted(motcua, setup, tmp_path, "079200000002")
    await receive_open(motcua, done.code)

    async def in_inbox() -> InboxPage | None:
        status, out, err = await motcua(
            "inbox", "--agency", setup.desk, "--role", "one_stop", "--page-size", "1000", "--json"
        )
        assert status == 0 and "eventually consistent" in err
        page = InboxPage.model_validate_json(out)
        return page if done.code in {r.dossier for r in page.rows} else None

    await eventually(in_inbox, what="the dossier in the inbox")
    status, out, _ = await motcua("inbox", "--agency", setup.desk, "--page-size", "1000")
    assert status == 0 and out.startswith("DOSSIER") and done.code in out
    assert f"dossiers waiting on {setup.desk} (" in out
    line = next(line for line in out.splitlines() if line.startswith(done.code))
    assert "one_stop" in line and "Received" in line
    status, out, _ = await motcua(
        "inbox", "--agency", setup.desk, "--role", "one_stop", "--page-size", "1000", "--details"
    )
    rows = out.split(done.code, 1)[1].splitlines()
    assert status == 0 and rows[1].strip().startswith("- receive: Tiếp nhận hồ sơ [one_stop]")
    status, out, _ = await motcua("inbox", "--agency", setup.desk, "--page-size", "1")
    assert status == 0 and "next page: motcua inbox --agency" in out
    token = out.rsplit("--page ", 1)[1].strip()
    status, out, err = await motcua(
        "inbox", "--agency", setup.desk, "--page-size", "1", "--page", token
    )
    assert status == 0 and out.startswith("DOSSIER") and "\n2-2 of " in out, err
    officer = f"lan@{setup.desk}/one_stop"
    status, out, err = await motcua("task", "claim", done.code, "receive", "--as", officer)
    assert status == 0 and "claimed by lan" in out, err
    status, out, err = await motcua(
        "task", "complete", done.code, "receive", "--as", officer, "--decision", "accept", "--json"
    )
    assert status == 0, err
    assert Acted.model_validate_json(out).message == "receive: accept"

    specialist = f"minh@{setup.office}/specialist"

    async def review_open() -> bool:
        _, out, _ = await motcua("show", done.code, "--json")
        state = DossierState.model_validate_json(out)
        return any(t.step == "review" and t.status.value == "open" for t in state.tasks)

    await eventually(review_open, what="the review task")
    status, _, err = await motcua(
        "task", "complete", done.code, "review", "--as", specialist, "--decision", "approve",
        "--field", "floors=three",
    )  # fmt: skip
    assert status == 1 and "field 'floors' must be integer" in one_line(err)
    status, out, err = await motcua(
        "task", "complete", done.code, "review", "--as", specialist, "--decision", "approve",
        "--field", "floors=3", "--field", "note=đạt yêu cầu",
    )  # fmt: skip
    assert status == 0 and "review: approve" in out, err

    await asyncio.wait_for(setup.client.get_workflow_handle(done.code).result(), 30)
    _, out, _ = await motcua("show", done.code, "--json")
    assert DossierState.model_validate_json(out).status is PortalStatus.RETURNED
    status, out, _ = await motcua("show", done.code)
    assert status == 0
    for section in ("clock", "due", "remaining", "extensions", "timeline", "documents", "decided"):
        assert section in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--page", "garbage"], "unreadable page token"),
        (["--page-size", "0"], "page size must be between 1 and 1000"),
        (["--role", "it's"], "invalid agency or role"),
    ],
)
async def test_inbox_mistakes_are_one_line(
    motcua: Any, setup: Setup, argv: list[str], says: str
) -> None:
    status, out, err = await motcua("inbox", "--agency", setup.desk, *argv)
    assert status == 1 and out == "" and says in one_line(err)


async def test_rejections_and_bad_identities_are_one_line(
    motcua: Any, setup: Setup, tmp_path: Path
) -> None:
    done = await submitted(motcua, setup, tmp_path, "079200000003")
    await receive_open(motcua, done.code)
    wrong = f"minh@{setup.office}/specialist"
    status, _, err = await motcua("task", "claim", done.code, "receive", "--as", wrong)
    line = one_line(err)
    assert status == 1 and "rejected" in line and f"belongs to agency {setup.desk}" in line
    status, _, err = await motcua(
        "task", "request-supplement", done.code, "receive", "--as", f"lan@{setup.desk}/head",
        "--missing", "Bản vẽ",
    )  # fmt: skip
    assert status == 1 and "needs role 'one_stop'" in one_line(err)
    status, _, err = await motcua("task", "claim", done.code, "receive", "--as", "lan")
    assert status == 2 and "USER@AGENCY_CODE/ROLE" in one_line(err)
    status, _, err = await motcua(
        "task", "reassign", done.code, "receive", "--as", f"thu@{setup.desk}/head"
    )
    assert status == 1 and "to_user, to_role or both" in one_line(err)


async def test_a_head_redistributes_an_officers_tasks_from_the_command_line(
    motcua: Any, setup: Setup, tmp_path: Path
) -> None:
    codes = []
    for number in ("079200000011", "079200000012"):
        done = await submitted(motcua, setup, tmp_path, number)
        await receive_open(motcua, done.code)
        status, _, err = await motcua(
            "task", "claim", done.code, "receive", "--as", f"vy@{setup.desk}/one_stop"
        )
        assert status == 0, err
        codes.append(done.code)

    async def listed() -> bool:
        return len(await client_officers.assigned_to(setup.client, setup.desk, "vy")) == 2

    await eventually(listed, what="vy's tasks in visibility")
    argv = ("task", "redistribute", "--from", "vy", "--to", "khoa", "--reason", "nghỉ phép")
    status, out, _ = await motcua(*argv, "--as", f"vy@{setup.desk}/one_stop")
    assert status == 1 and out.count(": refused: only the agency's head") == 2, out
    status, out, err = await motcua(*argv, "--as", f"thu@{setup.desk}/head", "--json")
    assert status == 0, err
    results = json.loads(out)
    assert sorted((r["dossier"], r["done"]) for r in results) == [(c, True) for c in sorted(codes)]
    for code in codes:
        _, out, _ = await motcua("show", code, "--json")
        timeline = DossierState.model_validate_json(out).timeline
        assert any(e.kind == "reassigned" and e.detail.endswith(": nghỉ phép") for e in timeline)


async def test_citizen_commands(motcua: Any, setup: Setup, tmp_path: Path) -> None:
    done = await submitted(motcua, setup, tmp_path, "079200000004")
    await receive_open(motcua, done.code)
    status, out, _ = await motcua("citizen", "status", done.code)
    assert status == 0
    assert "Trạng thái / Status: Đã tiếp nhận / Received" in out
    assert "Ngày hẹn trả kết quả / Appointment" in out and "Tiếp nhận hồ sơ" in out
    page = out.replace(done.code, "<code>")
    for internal in (setup.desk, "one_stop", "receive", setup.queue, setup.normal.content_hash):
        assert internal not in page
    me = ("--id-number", "079200000004")
    status, _, err = await motcua("citizen", "supplement", done.code, "--documents", "drawing", *me)
    assert status == 1 and "no supplement was requested" in one_line(err)
    await settled(
        setup.client.get_workflow_handle(done.code)
    )  # see test_client: withdrawal racing an activity
    status, _, err = await motcua("citizen", "withdraw", done.code, "--id-number", "1")
    assert status == 1 and "not this dossier's applicant" in one_line(err)
    status, out, _ = await motcua(
        "citizen", "withdraw", done.code, "--reason", "đổi ý", "--json", *me
    )
    assert status == 0 and Acted.model_validate_json(out).action == "withdraw"

    async def withdrawn() -> dict[str, Any] | None:
        _, out, _ = await motcua("citizen", "status", done.code, "--json")
        seen: dict[str, Any] = json.loads(out)
        return seen if seen["status"] == PortalStatus.WITHDRAWN else None

    seen = await eventually(withdrawn, what="the withdrawal")
    assert seen["status_vi"] == "Công dân đã rút hồ sơ"
    status, _, err = await motcua("citizen", "withdraw", done.code, *me)
    assert status == 1 and "closed" in one_line(err)


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "{code}"],
        ["citizen", "status", "{code}"],
        ["task", "claim", "{code}", "receive", "--as", "lan@X/one_stop"],
    ],
)
async def test_unknown_dossier_is_one_line(motcua: Any, argv: list[str]) -> None:
    code = "X-000000-0000"
    status, out, err = await motcua(*(a.format(code=code) for a in argv))
    assert status == 1 and out == ""
    assert one_line(err) == f"motcua: no dossier '{code}'"


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "X-000000-0001"],
        ["inbox", "--agency", "X"],
        ["task", "claim", "X-000000-0001", "receive", "--as", "lan@X/one_stop", "--data", "DATA"],
        ["citizen", "status", "X-000000-0001", "--json"],
    ],
)
def test_unreachable_server_is_one_line_naming_the_address(argv: list[str], tmp_path: Path) -> None:
    login.signer(tmp_path).key()  # `--as` signs with the data folder's officers key
    argv = [str(tmp_path) if arg == "DATA" else arg for arg in argv]
    env = {**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "motcua", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("motcua: cannot reach the Temporal server at 127.0.0.1:1")


def test_field_values_are_json_scalars_where_they_parse() -> None:
    assert field("floors=3") == ("floors", 3)
    assert field("area=12.5") == ("area", 12.5)
    assert field("urgent=true") == ("urgent", True)
    assert field('code="3"') == ("code", "3")
    assert field("note=đạt yêu cầu") == ("note", "đạt yêu cầu")
    assert field("day=2026-01-05") == ("day", "2026-01-05")
    assert field("list=[1, 2]") == ("list", "[1, 2]")
    assert field("empty=") == ("empty", "")


def directory(text: str) -> Actor:
    """A stand-in identity resolver: every caller is a one-stop officer of the test desk."""
    return Actor(user=text, agency=os.environ["MOTCUA_TEST_DESK"], role="one_stop")


async def test_a_plugged_in_identity_resolver_maps_the_caller(
    motcua: Any, setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTCUA_TEST_DESK", setup.desk)
    monkeypatch.setenv(identity.ENV_VAR, f"{__name__}:directory")
    assert identity.resolve("lan") == Actor(user="lan", agency=setup.desk, role="one_stop")
    done = await submitted(motcua, setup, tmp_path, "079200000005")
    await receive_open(motcua, done.code)
    status, out, err = await motcua("task", "claim", done.code, "receive", "--as", "lan")
    assert status == 0 and "claimed by lan" in out, err
    monkeypatch.setenv(identity.ENV_VAR, "no_such_module:resolve")
    with pytest.raises(UserError, match="no_such_module") as caught:
        identity.resolve("lan")
    assert caught.value.exit_code == 2
    monkeypatch.setenv(identity.ENV_VAR, "no colon")
    status, _, err = await motcua("task", "claim", done.code, "receive", "--as", "lan")
    assert status == 2 and "module:function" in one_line(err)
