"""Audit trail and verifiable export of a real dossier, from its history on a real dev server."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import eventually, signed
from temporalio.client import Client, WorkflowHistory
from timeskip import outcome as dossier_outcome

from motcua import client as ops
from motcua.audit import signing
from motcua.audit.export import MANIFEST, SIGNATURE, export
from motcua.audit.history import fetch_runs, read_file
from motcua.audit.records import Trail
from motcua.audit.render import render
from motcua.audit.trail import build_trail
from motcua.audit.verify import verify
from motcua.cli import main
from procedures.legaltime.calendar import load_calendar
from procedures.loader import load_catalog, load_procedure
from procedures.models import Channel
from runtime import logs
from workflows.api import (
    APPROVE_APOLOGY,
    DOSSIER_WORKFLOW,
    Actor,
    Applicant,
    ApproveApology,
    DossierInput,
    DossierOutcome,
)

COMMUNE, POLICE, INSURANCE = "000.00.19.H26", "000.00.09.H26", "000.00.31.H26"
APPLICANT = Applicant(
    full_name="Phạm Thị Thu Trang",
    id_number="079190099999",
    phone="0987654321",
    email="trang@example.vn",
    address="<b>Thôn Đông</b>",
)
BIRTH_NUMBER = "KS-2026-000777"
PERSONAL = ("079190099999", "Phạm Thị Thu Trang", "0987654321", "trang@example.vn", "Thôn Đông")
"""The applicant's values, which no default export may hold in readable form."""


@pytest.fixture(scope="module", autouse=True)
def _logs_to_the_session_stream() -> None:
    """Configure structlog before a test's `capsys` swaps stderr: `main()` would bind the
    loggers to that test's stream, closed afterwards, and later activities fail writing to it."""
    logs.configure()


@dataclass(frozen=True)
class Dossier:
    code: str
    runs: list[WorkflowHistory]
    content_hash: str
    started: datetime
    address: str


async def _decide(
    client: Client, code: str, step: str, actor: Actor, decision: str, **fields: Any
) -> None:
    await ops.claim(client, code, step, actor)
    await ops.complete(client, code, step, actor, decision, fields)


async def _when_open(client: Client, code: str, step: str) -> None:
    async def opened() -> bool:
        state = await ops.show(client, code)
        return any(t.step == step and t.status.value in ("open", "claimed") for t in state.tasks)

    await eventually(opened, timeout=5, what=f"{step} open", every=0.05)


_RECORDED: list[Dossier] = []


@pytest_asyncio.fixture
async def dossier(
    dev_env: Any, run_worker: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Dossier:
    """One birth + residence + insurance dossier decided by officers of three agencies (once)."""
    if not _RECORDED:
        _RECORDED.append(await _run_dossier(dev_env.client, run_worker, tmp_path_factory))
    return _RECORDED[0]


async def _run_dossier(
    client: Client, run_worker: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Dossier:
    frozen = load_catalog()["1.001193"]
    started = datetime.now(UTC)
    data = tmp_path_factory.mktemp("data")
    async with run_worker(client, ["commune", "police", "insurance"], data):
        submitted = await ops.submit(
            client,
            frozen,
            APPLICANT,
            Channel.ONLINE,
            documents=[d.id for d in frozen.procedure.documents],
            request_id=f"audit-{started.timestamp()}",
        )
        code = submitted.code
        await _when_open(client, code, "receive")
        await _decide(client, code, "receive", Actor.parse(f"lan@{COMMUNE}/one_stop"), "accept")
        await _when_open(client, code, "register_birth")
        justice = Actor.parse(f"hoa@{COMMUNE}/justice_officer")
        await _decide(
            client,
            code,
            "register_birth",
            justice,
            "registered",
            birth_register_number=BIRTH_NUMBER,
            personal_id="079226000001",
        )
        await _when_open(client, code, "issue_card")
        await _decide(
            client,
            code,
            "register_residence",
            Actor.parse(f"binh@{POLICE}/residence_officer"),
            "registered",
        )
        await _decide(
            client,
            code,
            "issue_card",
            Actor.parse(f"an@{INSURANCE}/card_officer"),
            "issued",
            card_number="GD4797912345678",
        )
        await _when_open(client, code, "return_result")
        await _decide(
            client, code, "return_result", Actor.parse(f"lan@{COMMUNE}/one_stop"), "returned"
        )
        await client.get_workflow_handle(code).result()
    runs = [r.history for r in await fetch_runs(client, code)]
    address = client.service_client.config.target_host
    return Dossier(code, runs, frozen.content_hash, started, address)


@pytest.fixture
def trail(dossier: Dossier) -> Trail:
    return build_trail(dossier.runs)


def test_trail_says_who_decided_what_and_when(dossier: Dossier, trail: Trail) -> None:
    decided = {e.step: e for e in trail.entries if e.kind == "decided"}
    assert set(decided) == {
        "receive",
        "register_birth",
        "register_residence",
        "issue_card",
        "return_result",
    }
    birth = decided["register_birth"]
    assert birth.actor == f"hoa@{COMMUNE}/justice_officer"
    assert birth.detail == "registered"
    assert dossier.started <= birth.at <= datetime.now(UTC)
    assert decided["issue_card"].actor == f"an@{INSURANCE}/card_officer"
    claimed = [e for e in trail.entries if e.kind == "claimed"]
    assert len(claimed) == 5
    task = next(t for t in trail.tasks if t.step == "register_residence")
    assert (task.agency, task.role, task.decided_by) == (
        POLICE,
        "residence_officer",
        f"binh@{POLICE}/residence_officer",
    )


def test_trail_names_the_procedure_version_it_ran(dossier: Dossier, trail: Trail) -> None:
    assert trail.code == dossier.code
    assert (trail.procedure_code, trail.content_hash) == ("1.001193", dossier.content_hash)
    assert trail.state == "completed"


def test_trail_lists_documents_and_on_time_status(trail: Trail) -> None:
    numbers = [d.number for d in trail.documents]
    assert numbers[0] == "01" and "KQ" in numbers and "05" in numbers
    assert all(d.path and Path(d.path).name.endswith(".html") for d in trail.documents)
    assert all(t.on_time in ("early", "on_time", "late") for t in trail.tasks)
    assert all(t.due_at is not None and t.opened_at is not None for t in trail.tasks)
    assert trail.outcome is not None and trail.outcome.result == "approved"
    assert trail.outcome.on_time in ("early", "on_time", "late")
    statuses = [e.data["status"] for e in trail.entries if e.kind == "status"]
    assert statuses[:2] == [1, 2] and statuses[-2:] == [9, 10]


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_personal_data_is_masked_unless_revealed(dossier: Dossier, fmt: str) -> None:
    secrets = [APPLICANT.full_name, APPLICANT.id_number, APPLICANT.phone, BIRTH_NUMBER]
    masked = render(build_trail(dossier.runs), fmt)
    for secret in secrets:
        assert secret not in masked
    assert dossier.code in masked
    revealed = render(build_trail(dossier.runs, reveal=True), fmt)
    for secret in secrets:
        assert secret in revealed


def test_html_escapes_everything(dossier: Dossier) -> None:
    page = render(build_trail(dossier.runs, reveal=True), "html")
    assert "&lt;b&gt;Thôn Đông&lt;/b&gt;" in page
    assert "<b>Thôn" not in page


def test_rejected_attempts_come_from_the_structured_log(dossier: Dossier, tmp_path: Path) -> None:
    def line(code: str, why: str) -> str:
        return json.dumps(
            {
                "event": "update_rejected",
                "dossier": code,
                "who": f"x@{POLICE}/head",
                "what": "complete receive with accept",
                "why": why,
                "level": "info",
                "timestamp": "2026-01-05T02:00:00Z",
            },
            ensure_ascii=False,
        )

    log = tmp_path / "worker.log"
    log.write_text(
        "\n".join(
            [
                line(dossier.code, f"wrong agency for {APPLICANT.full_name}"),
                "not json at all",
                line("other-dossier", "whatever"),
                json.dumps({"event": "form rendered", "dossier": dossier.code}),
            ]
        )
    )
    trail = build_trail(dossier.runs, log=log)
    assert [(r.who, r.what) for r in trail.rejected] == [
        (f"x@{POLICE}/head", "complete receive with accept")
    ]
    assert APPLICANT.full_name not in trail.rejected[0].why


@pytest.fixture
def key(data_dir: Path) -> Ed25519PrivateKey:
    """The auditing service's key, made on first use in a fresh data folder."""
    return signing.private_key(data_dir)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_default_export_is_signed_and_keeps_personal_data_out(
    dossier: Dossier, key: Ed25519PrivateKey, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    written = export(dossier.runs, out, key)
    assert {p.name for p in written} == {"trail.md", "trail.json", MANIFEST, SIGNATURE}
    for name, data in _files(out).items():
        for secret in (*PERSONAL, BIRTH_NUMBER):
            assert secret.encode() not in data, f"{secret} readable in {name}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
    assert stat.S_IMODE((data_dir / "keys" / "audit-ed25519.pem").stat().st_mode) == 0o600

    manifest = json.loads((out / MANIFEST).read_text())
    assert (manifest["dossier"], manifest["personal_data"]) == (dossier.code, "masked")
    digests = [h["sha256"] for h in manifest["histories"]]
    assert digests == [hashlib.sha256(r.to_json().encode()).hexdigest() for r in dossier.runs]
    result = verify(out, key.public_key())
    assert result.ok, result.lines()
    assert result.lines()[-1] == (
        f"verified: 3 files checked, signed by key {signing.key_id(key.public_key())}"
    )


def test_full_export_holds_the_histories(
    dossier: Dossier, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export(dossier.runs, out, key, full=True)
    assert json.loads((out / MANIFEST).read_text())["personal_data"] == "full"
    history = WorkflowHistory.from_json(dossier.code, (out / "history-1.json").read_text())
    assert len(history.events) == len(dossier.runs[0].events)
    assert APPLICANT.full_name in (out / "trail.md").read_text()
    assert verify(out, key.public_key()).ok


def test_one_altered_byte_is_named(
    dossier: Dossier, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export(dossier.runs, out, key)
    trail_md = out / "trail.md"
    data = bytearray(trail_md.read_bytes())
    data[10] ^= 0x01
    trail_md.write_bytes(bytes(data))
    result = verify(out, key.public_key())
    assert not result.ok and result.altered == ["trail.md"]
    assert "ALTERED trail.md" in result.lines()


def test_tampered_and_resealed_export_is_refused(
    dossier: Dossier, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """An insider changes who decided, regenerates the manifest and signs it with a key of
    their own: the export no longer verifies against the auditing service's key."""
    out = tmp_path / "export"
    export(dossier.runs, out, key)
    for name in ("trail.md", "trail.json"):
        text = (out / name).read_text()
        assert f"lan@{COMMUNE}" in text
        (out / name).write_text(text.replace(f"lan@{COMMUNE}", f"mallory@{COMMUNE}"))
    manifest = json.loads((out / MANIFEST).read_text())
    for name in ("trail.md", "trail.json"):
        data = (out / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (out / MANIFEST).write_bytes(body)
    insider = Ed25519PrivateKey.generate()
    (out / SIGNATURE).write_text(json.dumps(signing.sign(insider, body)))

    result = verify(out, key.public_key())
    assert not result.ok
    assert result.refused == [
        f"{MANIFEST}: not signed by the trusted key {signing.key_id(key.public_key())}"
        f" (the signature names key {signing.key_id(insider.public_key())})"
    ]
    (out / SIGNATURE).write_text(json.dumps(signing.sign(key, b"an older manifest")))
    assert not verify(out, key.public_key()).ok


def test_missing_and_extra_files_are_named(
    dossier: Dossier, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export(dossier.runs, out, key)
    (out / "trail.json").unlink()
    (out / "note.txt").write_text("added later")
    result = verify(out, key.public_key())
    assert (result.missing, result.extra) == (["trail.json"], ["note.txt"])
    (out / SIGNATURE).unlink()
    assert verify(out, key.public_key()).missing == [SIGNATURE]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../outside.txt", "leads outside the export folder"),
        ("sub/../../outside.txt", "leads outside the export folder"),
        ("OUTSIDE_ABSOLUTE", "an absolute path"),
        ("link.txt", "a symbolic link"),
        (None, "lists no file"),
    ],
)
def test_names_outside_the_folder_and_empty_manifests_are_refused(
    key: Ed25519PrivateKey, tmp_path: Path, name: str | None, why: str
) -> None:
    """Even a manifest signed with the right key may only name files inside the folder."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the export")
    out = tmp_path / "export"
    out.mkdir()
    (out / "link.txt").symlink_to(outside)
    entry = {"sha256": hashlib.sha256(outside.read_bytes()).hexdigest(), "bytes": 22}
    if name == "OUTSIDE_ABSOLUTE":
        name = str(outside)
    files = {} if name is None else {name: entry}
    body = json.dumps({"dossier": "X", "files": files}).encode()
    (out / MANIFEST).write_bytes(body)
    (out / SIGNATURE).write_text(json.dumps(signing.sign(key, body)))
    result = verify(out, key.public_key())
    assert not result.ok and len(result.refused) == 1 and why in result.refused[0]
    assert result.lines()[-1].startswith("NOT verified")


def test_cli_trail_export_verify(
    dossier: Dossier,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", dossier.address)
    monkeypatch.setattr("activities.DATA_DIR", data_dir)
    assert main(["audit", "trail", dossier.code, "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["code"] == dossier.code

    out = tmp_path / "bundle"
    assert main(["audit", "export", dossier.code, "--out", str(out)]) == 0
    assert not (out / "history-1.json").exists()
    public = tmp_path / "auditor.pem"
    assert main(["audit", "key", "--out", str(public)]) == 0
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    capsys.readouterr()
    assert main(["audit", "verify", str(out), "--key", str(public)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("verified")
    assert main(["audit", "verify", str(out)]) == 0  # this data folder's own key
    (out / "trail.md").write_text("{}")
    assert main(["audit", "verify", str(out), "--key", str(public)]) == 1
    assert "ALTERED trail.md" in capsys.readouterr().out

    (out / "mine.pem").write_bytes(public.read_bytes())
    assert main(["audit", "verify", str(out), "--key", str(out / "mine.pem")]) == 2
    assert "a key inside the export proves nothing" in capsys.readouterr().err
    (tmp_path / "not-a-key.pem").write_text("hello")
    assert main(["audit", "verify", str(out), "--key", str(tmp_path / "not-a-key.pem")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable PEM public key" in err

    full = tmp_path / "full"
    assert main(["audit", "export", dossier.code, "--out", str(full), "--full"]) == 0
    captured = capsys.readouterr()
    assert "full audit export" in captured.err and dossier.code in captured.err
    assert (full / "history-1.json").is_file()


def test_cli_replay_a_dossier_from_the_server(
    dossier: Dossier, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", dossier.address)
    assert main(["audit", "replay", dossier.code]) == 0
    assert capsys.readouterr().out.startswith(f"ok      {dossier.code} run ")


def test_cli_user_mistakes_are_one_line(
    dossier: Dossier, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", dossier.address)
    assert main(["audit", "trail", "000.00.19.H26-990101-0001"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no dossier 000.00.19.H26-990101-0001" in err

    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert main(["audit", "trail", dossier.code]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "127.0.0.1:1" in err

    assert main(["audit", "verify", "/nonexistent/folder"]) == 1
    assert "no such folder" in capsys.readouterr().err


DEADLINES = Path(__file__).parent / "fixtures" / "deadlines" / "deadlines.yaml"


@pytest.mark.parametrize("hours_later", [0, 9])
async def test_trail_shows_reminders_escalation_and_extension(
    ts_env: Any, data_dir: Path, run_worker: Callable[..., Any], hours_later: int
) -> None:
    """On the time-skipping server: a task left alone is reminded twice, runs out of time and
    goes to the head; the head's apology extends the dossier. All of it read from history.
    Received at two times of day, so the apology comes before or after the escalation."""
    client: Client = ts_env.client
    frozen = load_procedure(DEADLINES)
    await ts_env.sleep(timedelta(hours=hours_later))
    now = await ts_env.get_current_time()
    code = f"000.00.19.H26-{now:%y%m%d}-{int(now.timestamp()) % 10000:04d}"
    inp = DossierInput(
        code=code,
        procedure=frozen,
        calendar=load_calendar(years=range(now.year, now.year + 2)),
        received_at=now,
        channel=Channel.ONLINE,
        applicant=APPLICANT,
        documents=("application",),
        request_id=code,
    )
    desk = Actor.parse(f"lan@{COMMUNE}/one_stop")
    head = Actor.parse(f"hung@{COMMUNE}/head")
    async with run_worker(client, "deadlines", data_dir):
        handle = await client.start_workflow(
            DOSSIER_WORKFLOW, inp, id=code, task_queue="deadlines", result_type=DossierOutcome
        )
        await _when_open(client, code, "receive")
        await ops.complete(client, code, "receive", desk, "accept")
        await _when_open(client, code, "process")
        await ts_env.sleep(timedelta(days=12))
        await _when_open(client, code, "process")
        await handle.execute_update(
            APPROVE_APOLOGY, signed(ApproveApology(actor=head, reason="Chờ xác minh"))
        )
        await ops.complete(client, code, "process", head, "approve")
        await _when_open(client, code, "return_result")
        await ops.complete(client, code, "return_result", desk, "returned")
        outcome = await dossier_outcome(handle)
    trail = build_trail([r.history for r in await fetch_runs(client, code)])
    kinds = [(e.kind, e.step) for e in trail.entries]
    assert kinds.count(("reminder", "process")) == 2, kinds
    assert ("deadline", None) not in kinds, kinds
    assert ("dossier_overdue", None) in kinds, kinds
    assert ("time_up", "process") in kinds
    escalated = next(e for e in trail.entries if e.kind == "escalated")
    assert escalated.detail == f"{COMMUNE}/specialist → {COMMUNE}/head; told {COMMUNE}/head"
    assert any(e.kind == "apology_requested" for e in trail.entries)
    extended = next(e for e in trail.entries if e.kind == "extended")
    assert extended.actor == str(head) and "Chờ xác minh" in extended.detail
    assert "04" in [d.number for d in trail.documents]
    process = next(t for t in trail.tasks if t.step == "process")
    assert (process.reminders, process.on_time, process.decided_by) == (2, "late", str(head))
    assert trail.outcome is not None and trail.outcome.on_time == outcome.on_time


GOLDEN = Path(__file__).with_name("histories")


@pytest.mark.parametrize(
    ("name", "told"),
    [("1.001193-late-escalated.v3.json", True), ("1.001193-parallel-supplement.v2.json", False)],
)
def test_trail_says_which_officers_were_told(name: str, told: bool) -> None:
    """Interpreter 3's notices to officers read as lines; an older dossier told nobody."""
    trail = build_trail([read_file(GOLDEN / name).history])
    lines = [(e.kind, e.step, e.detail) for e in trail.entries if "notice_id" in e.data]
    if not told:
        assert lines == []
        return
    police, late = "000.00.09.H26", "register_residence"
    assert lines == [
        ("reminder", late, f"reminded {police}/residence_officer at 50%"),
        ("reminder", late, f"reminded {police}/residence_officer at 75%"),
        ("time_up", late, f"told {police}/residence_officer of overdue (due 30/11/2026 17:00)"),
        ("escalated", late, f"{police}/residence_officer → {police}/head; told {police}/head"),
    ]
    assert ("deadline", None) not in [(e.kind, e.step) for e in trail.entries]
    task = next(t for t in trail.tasks if t.step == late)
    assert (task.reminders, task.escalated_to, task.on_time) == (2, "head", "late")
    assert "residence_officer at 50%" in render(trail, "md")


def test_control_characters_in_the_log_are_shown_escaped(dossier: Dossier, tmp_path: Path) -> None:
    """A user name with ESC or U+202E (logged by an old worker, or forged in the log) cannot
    rewrite the terminal or the page showing the trail (issue 15 item 9)."""
    record = {
        "event": "update_rejected",
        "dossier": dossier.code,
        "who": "mal\x1b[2Jlory\u202e@x/head",
        "what": "claim receive",
        "why": "no\nnewline",
        "level": "info",
        "timestamp": "2026-01-05T02:00:00Z",
    }
    log = tmp_path / "worker.log"
    log.write_text(json.dumps(record, ensure_ascii=False))
    trail = build_trail(dossier.runs, log=log)
    for fmt in ("md", "html"):
        page = render(trail, fmt)
        assert "\x1b" not in page and "\u202e" not in page
        assert "mal\\x1b[2Jlory\\u202e@x/head" in page
        assert "no\\nnewline" in page
