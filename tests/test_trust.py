"""Trust on real Temporal: officers' signed assertions, published procedures only, and the
applicant's attempt limit (interpreter behaviours `signed_officers`, `published_only`,
`proof_attempts`)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import TEST_TRUST, make_setup, sign
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from activities.publication import ManifestReader
from identity import keys, layout, publication
from motcua import cli, login
from motcua import client as ops
from motcua import publication as published
from motcua.audit.history import fetch_runs
from motcua.audit.trail import build_trail
from procedures.legaltime.calendar import load_calendar
from procedures.loader import content_hash, load_procedure
from procedures.models import Channel, FrozenProcedure, ResultType
from runtime import logs
from runtime.replayer import new_replayer
from runtime.trust import Trust
from runtime.workers import WorkerGroup
from workflows import proof
from workflows.api import (
    CLAIM,
    COMPLETE,
    STATE,
    WITHDRAW,
    Actor,
    Applicant,
    ClaimTask,
    CompleteTask,
    DossierInput,
    DossierOutcome,
    DossierState,
    PortalStatus,
    TaskStatus,
    WithdrawDossier,
)
from workflows.dossier import DossierWorkflow

FIXTURES = Path(__file__).parent / "fixtures" / "interpreter"
QUEUES = ["test-desk", "test-second"]
DESK = Actor(user="lan", agency="T00.00.01.H26", role="one_stop")
APPLICANT_ID = "001190000001"


def every_step() -> FrozenProcedure:
    return load_procedure(FIXTURES / "every-step.yaml")


async def start(
    client: Client, procedure: FrozenProcedure, received: datetime | None = None
) -> Any:
    """A dossier received now (or at `received`: the time-skipping server's clock may be
    years ahead, moved there by other tests), under a calendar covering that year."""
    at = received or datetime.now(UTC)
    code = f"T00.00.01.H26-{at:%y%m%d}-{uuid.uuid4().hex[:8]}"
    inp = DossierInput(
        code=code,
        procedure=procedure,
        calendar=load_calendar(range(at.year - 1, at.year + 2)),
        received_at=at,
        channel=Channel.ONLINE,
        applicant=Applicant(full_name="Nguyễn Thị Bình", id_number=APPLICANT_ID),
        documents=("application",),
        request_id=code,
    )
    await client.start_workflow(
        DossierWorkflow.run,
        inp,
        id=code,
        task_queue="test-desk",
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    return client.get_workflow_handle(code, result_type=DossierOutcome)


async def state(handle: WorkflowHandle[Any, Any]) -> DossierState:
    return await handle.query(STATE, result_type=DossierState)


async def wait_open(handle: WorkflowHandle[Any, Any], step: str) -> None:
    for _ in range(200):
        current = await state(handle)
        if any(t.step == step and t.status is TaskStatus.OPEN for t in current.tasks):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {step} never opened")


async def refusal(handle: WorkflowHandle[Any, Any], name: str, body: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(name, body, result_type=str)
    cause = failed.value.cause
    return str(cause.message if hasattr(cause, "message") else cause)


@pytest.fixture
async def workers(dev_env: Any, data_dir: Path) -> AsyncIterator[Client]:
    logs.configure()  # JSON lines on stderr, as the auditors read them
    async with WorkerGroup(dev_env.client, QUEUES, data_dir, trust=TEST_TRUST):
        yield dev_env.client


async def test_unsigned_forged_and_expired_officers_are_refused_and_logged(
    workers: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    handle = await start(workers, every_step())
    await wait_open(handle, "receive")
    length = len((await handle.fetch_history()).events)
    stranger = keys.generate()
    token = sign(DESK)
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "head"
    raised = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    cases = {
        "unsigned": ClaimTask(step="receive", actor=DESK),
        "unknown_kid": ClaimTask(step="receive", actor=DESK, assertion=sign(DESK, stranger)),
        "bad_signature": ClaimTask(
            step="receive",
            actor=DESK.model_copy(update={"role": "head"}),
            assertion=f"{head}.{raised}.{signature}",
        ),
        "expired": ClaimTask(
            step="receive",
            actor=DESK,
            assertion=sign(DESK, now=datetime.now(UTC) - timedelta(hours=9)),
        ),
        "signed for": ClaimTask(
            step="receive",
            actor=Actor(user="mallory", agency=DESK.agency, role="one_stop"),
            assertion=token,
        ),
        "for task 'review'": ClaimTask(
            step="receive", actor=DESK, assertion=sign(DESK, task="review")
        ),
    }
    for why, body in cases.items():
        assert why in await refusal(handle, CLAIM, body), why
    # nothing of it reached history; every refusal reached the auditors' log
    assert len((await handle.fetch_history()).events) == length
    logged = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if '"update_rejected"' in line
    ]
    assert len([entry for entry in logged if entry["dossier"] == handle.id]) == len(cases)
    # a signed officer of the right agency and role acts
    done = await handle.execute_update(
        CLAIM, ClaimTask(step="receive", actor=DESK, assertion=token), result_type=str
    )
    assert done == "receive claimed by lan"


async def test_an_old_history_replays_after_the_keys_are_rotated(
    dev_env: Any, data_dir: Path
) -> None:
    async with WorkerGroup(dev_env.client, QUEUES, data_dir, trust=TEST_TRUST):
        handle = await start(dev_env.client, every_step())
        await wait_open(handle, "receive")
        await handle.execute_update(
            COMPLETE,
            CompleteTask(step="receive", actor=DESK, decision="refuse", assertion=sign(DESK)),
            result_type=str,
        )
        assert (await handle.result()).result is ResultType.REFUSED
    history = await handle.fetch_history()
    rotated = keys.generate()
    # the old key is gone from what workers trust: replay does not run validators
    async with WorkerGroup(
        dev_env.client, QUEUES, data_dir, trust=Trust({rotated.kid: rotated.public}, drafts=True)
    ):
        await new_replayer().replay_workflow(history)
        # ...while live, the old key's tokens are refused
        second = await start(dev_env.client, every_step())
        await wait_open(second, "receive")
        why = await refusal(
            second, CLAIM, ClaimTask(step="receive", actor=DESK, assertion=sign(DESK))
        )
        assert "unknown_kid" in why
        await second.execute_update(
            CLAIM,
            ClaimTask(step="receive", actor=DESK, assertion=sign(DESK, rotated)),
            result_type=str,
        )


async def test_an_unpublished_procedure_stops_before_any_side_effect(
    dev_env: Any, data_dir: Path, tmp_path: Path
) -> None:
    published_one = every_step()
    body = published_one.procedure.model_copy(update={"name": "Thủ tục giả mạo"})
    # a changed body under the published hash, and a changed body under its own hash
    tampered = published_one.model_copy(update={"procedure": body})
    spoof = tampered.model_copy(
        update={"content_hash": content_hash(body, published_one.subprocedures)}
    )
    publisher = keys.generate()
    manifest = data_dir / "published.json"
    entries = publication.entries({"9.000001": published_one})
    publication.write(manifest, publication.sign(entries, publisher, "Sở thử", datetime.now(UTC)))

    strict = Trust(
        TEST_TRUST.officer_keys, ManifestReader(manifest, {publisher.kid: publisher.public})
    )
    async with WorkerGroup(dev_env.client, QUEUES, data_dir, trust=strict):
        for forged, asked in ((spoof, 1), (tampered, 0)):
            handle = await start(dev_env.client, forged)
            outcome = await handle.result()
            assert (outcome.result, outcome.status) == (ResultType.STOPPED, PortalStatus.STOPPED)
            history = await handle.fetch_history()
            kinds = [event.WhichOneof("attributes") or "" for event in history.events]
            assert not any("activity_task_scheduled" in kind for kind in kinds)
            # the local activity's recorded answer; a tampered hash is not even asked about
            assert kinds.count("marker_recorded_event_attributes") == asked
            assert [e.kind for e in (await state(handle)).timeline] == ["unpublished"]
            await new_replayer().replay_workflow(history)
        assert not (data_dir / "outbox").exists() and not (data_dir / "results").exists()

        genuine = await start(dev_env.client, published_one)
        await wait_open(genuine, "receive")


async def test_five_wrong_identity_numbers_lock_the_dossier_for_a_while(
    ts_env: WorkflowEnvironment, data_dir: Path
) -> None:
    async with WorkerGroup(ts_env.client, QUEUES, data_dir, trust=TEST_TRUST):
        handle = await start(ts_env.client, every_step(), await ts_env.get_current_time())
        await wait_open(handle, "receive")
        for attempt in range(1, proof.MAX_FAILURES + 1):
            why = await refusal(
                handle, WITHDRAW, WithdrawDossier(applicant_id=f"99999999999{attempt}")
            )
            assert "not this dossier's applicant's" in why
            assert ("locked until" in why) == (attempt == proof.MAX_FAILURES), why
        # locked: even the right number waits, and is refused by the validator (not accepted)
        why = await refusal(handle, WITHDRAW, WithdrawDossier(applicant_id=APPLICANT_ID))
        assert "too many wrong identity numbers" in why
        accepted = [
            e
            for e in (await handle.fetch_history()).events
            if e.HasField("workflow_execution_update_accepted_event_attributes")
        ]
        assert len(accepted) == proof.MAX_FAILURES
        timeline = [(e.kind, e.detail) for e in (await state(handle)).timeline]
        assert [k for k, _ in timeline].count("proof_failed") == proof.MAX_FAILURES - 1
        assert [k for k, _ in timeline].count("proof_locked") == 1
        await ts_env.sleep(proof.LOCK + timedelta(minutes=1))
        await handle.execute_update(
            WITHDRAW, WithdrawDossier(applicant_id=APPLICANT_ID), result_type=str
        )
        assert (await handle.result()).result is ResultType.WITHDRAWN
        await new_replayer().replay_workflow(await handle.fetch_history())
        history = (await fetch_runs(ts_env.client, handle.id))[0].history  # decoded
    # the audit trail tells each counted attempt, and the lock, apart from the withdrawal
    entries = [(e.kind, e.detail) for e in build_trail([history]).entries]
    proofs = [(kind, detail) for kind, detail in entries if kind.startswith("proof_")]
    assert [kind for kind, _ in proofs] == ["proof_failed"] * 4 + ["proof_locked"]
    assert "attempt 4 of 5" in proofs[3][1] and "locked until" in proofs[4][1]
    assert [kind for kind, _ in entries].count("withdrawn") == 1
    assert "99999999999" not in str(entries)  # the wrong numbers tried are not shown


# ------------------------------------------------------------------------------ the command line


def cli_run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, [line for line in err.splitlines() if not line.startswith("{")]


async def test_an_officer_logs_in_and_acts_with_the_cached_token(
    dev_env: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded default end to end: a directory, a login, a published catalogue, a worker
    trusting the data folder; `motcua task` without `--as` acts as the login says."""
    s = make_setup(dev_env.client, tmp_path)
    data = tmp_path / "data"
    monkeypatch.setenv("TEMPORAL_ADDRESS", s.address)
    monkeypatch.setenv("MOTCUA_TOKEN_FILE", str(tmp_path / "token"))
    (tmp_path / "pw").write_text("mật khẩu dài đủ\n")
    base = ("--data", str(data))
    applicant = tmp_path / "applicant.json"
    applicant.write_text(Applicant(full_name="Lê Văn C", id_number=APPLICANT_ID).model_dump_json())
    submit = ("submit", str(s.folder / "normal.yaml"), "--applicant", str(applicant), *base)

    # not published yet: refused by the client, before anything is recorded
    status, _, err = await asyncio.to_thread(cli_run, capsys, *submit)
    assert status == 1 and err == [
        f"motcua: {layout.manifest_path(data)}: no published catalogue; run `motcua publish`"
    ]
    published.publish(data, {s.fast.procedure.code: s.fast}, "Sở thử")
    status, _, err = await asyncio.to_thread(cli_run, capsys, *submit)
    assert status == 1 and len(err) == 1
    assert err[0].startswith(f"motcua: procedure {s.normal.procedure.code} version ")
    assert err[0].endswith(
        "is not published: run `motcua publish`, or try a draft with `motcua dryrun`"
    )
    published.publish(data, {p.procedure.code: p for p in (s.normal, s.fast)}, "Sở thử")

    add = ("officers", "add", "lan", "--name", "Lan", "--agency", s.desk, "--role", "one_stop")
    assert cli.main([*add, "--password-file", str(tmp_path / "pw"), *base]) == 0
    assert cli.main(["login", "--user", "lan", "--password-file", str(tmp_path / "pw"), *base]) == 0
    capsys.readouterr()
    async with WorkerGroup(dev_env.client, [s.queue], data, trust=Trust.of_data(data)):
        status, out, err = await asyncio.to_thread(cli_run, capsys, *submit)
        assert status == 0, err
        code = out.split()[0]
        handle = dev_env.client.get_workflow_handle(code)
        await wait_open(handle, "receive")
        status, out, err = await asyncio.to_thread(
            cli_run, capsys, "task", "claim", code, "receive"
        )
        assert (status, out) == (0, f"{code}: receive claimed by lan\n"), err
        # a token past its expiry is refused by the client first, in one line
        expired = login.sign(
            data, "lan", s.desk, "one_stop", now=datetime.now(UTC) - timedelta(hours=9)
        )
        login.cache(expired, tmp_path / "token")
        status, _, err = await asyncio.to_thread(
            cli_run, capsys, "task", "complete", code, "receive", "--decision", "accept"
        )
        assert status == 1 and len(err) == 1 and "run `motcua login` again" in err[0]
        # ...and one the client lets through (or `temporal workflow update`) by the workflow
        with pytest.raises(ops.UpdateRejected, match=r"officer assertion refused \(expired\)"):
            await ops.complete(
                dev_env.client, code, "receive", s.desk_officer(), "accept",
                assertion=expired.token,
            )  # fmt: skip
