"""`motcua dryrun`: one dossier of a procedure file, run for real on the time-skipping server.

The library runs share one server (the module's `server`); the command-line run starts its own,
as an author's would. Every expectation below is something the author reads in the report.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from helpers import TEST_TRUST
from temporalio.testing import WorkflowEnvironment

from motcua import client as ops
from motcua.cli import build_parser, main
from motcua.client.submit import default_calendar
from motcua.commands.dryrun import report
from motcua.dryrun import APPLICANT, DossierRun, DryRun, dry_run, plan_for, time_skipping_server
from motcua.play import DossierFailed, Plan, TooManyVisits, _check_running, play
from procedures.legaltime.clock import DossierClock
from procedures.loader import load_procedure
from procedures.models import Channel
from runtime.catalogue import catalogue_task_queues
from runtime.workers import WorkerGroup
from workflows.api import PortalStatus, TimelineEntry
from workflows.forms import VIETNAM, local

build_parser()  # the commands' modules imported here, as a real process has them before any
# worker runs: importing C extensions (argon2's) from a thread while a sandboxed workflow
# activation imports in another can crash the import (SystemError in dictobject.c)
REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "procedures" / "catalog"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


async def run(
    server: WorkflowEnvironment,
    tmp_path: Path,
    file: str,
    decide: tuple[str, ...] = (),
    late: tuple[str, ...] = (),
    no_event: bool = False,
    max_visits: int = 20,
) -> DossierRun:
    """The submitted dossier of a dry run of a catalogue file."""
    frozen = load_procedure(CATALOG / file)
    plan = plan_for(frozen, decide, late, no_event, max_visits)
    return (await dry_run(server, frozen, tmp_path, plan)).dossiers[0]


def kinds(dossier: DossierRun) -> list[tuple[str, str | None]]:
    return [(entry.kind, entry.step) for entry in dossier.timeline]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "motcua", "dryrun", *args],
        cwd=cwd,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_runs_a_catalogue_procedure_to_approval_and_keeps_its_forms(
    tmp_path: Path,
) -> None:
    today = datetime.now(VIETNAM).date()
    monday = today + timedelta(days=7 - today.weekday())
    received = datetime.combine(monday, time(9), VIETNAM)
    out = tmp_path / "out"
    done = cli(
        str(CATALOG / "birth-residence-insurance.yaml"),
        *("--received", received.strftime("%Y-%m-%dT%H:%M"), "--out", str(out), "--json"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    dossier = report["dossiers"][0]
    assert dossier["result"] == "approved"
    assert dossier["on_time"] in ("early", "on_time")
    assert timedelta(0) <= datetime.fromisoformat(dossier["received_at"]) - received
    assert datetime.fromisoformat(dossier["received_at"]) - received < timedelta(minutes=1)
    assert [step["step"] for step in dossier["path"]][:2] == ["receive", "register_birth"]
    assert dossier["path"][0]["by"] == "commune/one_stop"
    assert dossier["portal_statuses"][-2:] == [9, 10]
    assert {doc["kind"] for doc in dossier["documents"]} == {"receipt", "result", "control_slip"}
    assert report["data_dir"] == str(out.resolve())
    for doc in dossier["documents"]:
        assert (out / doc["path"]).is_file()
    assert (out / "outbox" / "notifications.jsonl").is_file()


async def test_a_decision_chosen_by_the_author_refuses_the_dossier(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    dossier = await run(server, tmp_path, "household-business.yaml", decide=("review=refuse",))
    assert dossier.result == "refused"
    review = next(step for step in dossier.path if step.step == "review")
    assert (review.outcome, review.by) == ("refuse", "business_office/registrar")
    assert "refusal" in {doc.kind for doc in dossier.documents}
    assert (tmp_path / next(d.path for d in dossier.documents if d.kind == "refusal")).is_file()


async def test_late_officers_are_reminded_escalated_and_make_the_dossier_late(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    every_task = ("receive", "review", "approve", "return_result")
    dossier = await run(server, tmp_path, "household-business.yaml", late=every_task)
    assert dossier.result == "approved"
    assert dossier.on_time == "late"
    seen = kinds(dossier)
    assert ("reminded", "review") in seen and ("escalated", "review") in seen
    assert ("apology_requested", None) in seen and ("dossier_overdue", None) in seen
    decided = {step.step: step for step in dossier.path if step.kind == "decided"}
    assert all(step.on_time == "late" for step in decided.values())
    assert decided["review"].by == "business_office/head"  # escalated to the head
    told = {(n.kind.value, n.step, n.role) for n in dossier.officer_notices}
    assert ("escalated", "review", "head") in told and ("overdue", "review", "registrar") in told
    assert len(dossier.officer_notices) == len({n.notice_id for n in dossier.officer_notices})
    assert dossier.working_days_used >= 3


async def test_an_event_that_never_comes_ends_the_dossier_at_the_waits_timeout(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    dossier = await run(server, tmp_path, "land-first-certificate.yaml", no_event=True)
    assert dossier.result == "stopped"
    assert ("timed_out", "wait_payment") in kinds(dossier)
    assert dossier.path[-2].outcome == "timed out waiting for payment_received"
    assert "stop_notice" in {doc.kind for doc in dossier.documents}
    assert dossier.finished_at is not None
    assert dossier.finished_at - dossier.received_at > timedelta(days=89)


def copy(tmp_path: Path, file: str, replace: str = "", by: str = "") -> Path:
    """A catalogue file copied with its forms folder, `replace` replaced `by`."""
    shutil.copytree(REPO / "procedures" / "forms", tmp_path / "forms")
    (tmp_path / "catalog").mkdir()
    copied = tmp_path / "catalog" / file
    text = (CATALOG / file).read_text(encoding="utf-8")
    copied.write_text(text.replace(replace, by), encoding="utf-8")
    return copied


async def test_a_form_that_cannot_be_rendered_ends_the_run_with_the_templates_error(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    copied = copy(tmp_path, "household-business.yaml")
    with (tmp_path / "forms" / "result.html.j2").open("a", encoding="utf-8") as template:
        template.write("{{ details.nope.x }}\n")  # compiles, but fails when rendered
    frozen = load_procedure(copied)
    with pytest.raises(DossierFailed) as failed:
        await dry_run(server, frozen, tmp_path / "data", plan_for(frozen, (), (), False))
    assert "failed: TemplateError: form KQ (result, template ../forms/result.html.j2)" in str(
        failed.value
    )
    assert "has no attribute 'nope'" in str(failed.value)


def test_a_broken_file_is_reported_where_it_is_broken_and_nothing_runs(tmp_path: Path) -> None:
    broken = copy(tmp_path, "household-business.yaml", "role: registrar\n", "role: registrr\n")
    line = broken.read_text(encoding="utf-8").splitlines().index("    role: registrr") + 1
    done = cli(str(broken), cwd=tmp_path)
    assert done.returncode == 1
    assert re.search(rf"business\.yaml:{line}:\d+: steps\.review\.role: `registrr`", done.stderr)
    assert "nothing was run" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--decide", "reviw=refuse"], "--decide reviw=refuse: no step `reviw`; did you mean"),
        (["--decide", "review=approve"], "step `review` offers propose_registration, refuse"),
        (["--late", "issue_certificate"], "`issue_certificate` is not a task"),
        (["--field", "review.nope=1"], "step `review` declares no field `nope`"),
        (["--supplement", "approve"], "step `approve` may not request a supplement"),
        (["--field", "review.capital_vnd=lots"], "`capital_vnd` is declared `integer`"),
        (
            ["--field", "review.business_lines=5"],
            "`business_lines` is declared `string` (hint: the value reads as JSON; quote it "
            "as text: review.business_lines='\"5\"')",
        ),
        (["--field", "reviw.x=1"], "--field reviw.x=1: no step `reviw`; did you mean"),
    ],
)
def test_an_option_naming_what_the_procedure_lacks_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    status = main(["dryrun", str(CATALOG / "household-business.yaml"), *option])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("motcua: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("file", sorted(p.name for p in CATALOG.glob("*.yaml")))
async def test_the_default_dry_run_of_every_catalogue_procedure_ends_approved(
    server: WorkflowEnvironment, tmp_path: Path, file: str
) -> None:
    dossier = await run(server, tmp_path, file)
    assert dossier.result == "approved"
    assert dossier.path[-1].outcome == "approved"
    waits = [e.step for e in dossier.timeline if e.kind in ("waiting", "citizen_waiting")]
    arrived = [e.step for e in dossier.timeline if e.kind == "arrived"]
    assert waits == arrived  # every awaited event came, once


async def test_decisions_per_visit_send_the_dossier_back_once_then_on(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    decide = ("approve=return_for_rework,approve",)
    dossier = await run(server, tmp_path, "household-business.yaml", decide=decide)
    assert dossier.result == "approved"
    taken = [(step.step, step.outcome) for step in dossier.path if step.step != "receive"]
    assert taken[:4] == [
        ("review", "propose_registration"),
        ("approve", "return_for_rework"),
        ("review", "propose_registration"),
        ("approve", "approve"),
    ]


async def test_a_loop_for_ever_is_stopped_by_the_visit_budget(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    decide = ("approve=return_for_rework",)
    with pytest.raises(TooManyVisits) as stopped:
        await run(server, tmp_path, "household-business.yaml", decide=decide, max_visits=3)
    assert "step `review` taken more than 3 times" in str(stopped.value)
    assert "--decide review=FIRST,SECOND" in str(stopped.value)


def test_the_channel_is_spelled_as_in_procedure_files_and_the_old_spelling_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = str(CATALOG / "household-business.yaml")
    for spelling in ("in_person", "in-person", "online"):
        main(["dryrun", file, "--channel", spelling, "--decide", "reviw=x"])
        assert "no step `reviw`" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["dryrun", file, "--channel", "fax"])
    assert refused.value.code == 2
    assert "unknown channel 'fax' (choose from in_person, online, post)" in capsys.readouterr().err


def test_a_form_missing_a_required_field_is_refused_not_filled_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    form = tmp_path / "form.json"
    form.write_text(json.dumps({"floors": 3}), encoding="utf-8")
    status = main(["dryrun", str(CATALOG / "construction-permit-house.yaml"), "--form", str(form)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"form file {form}: in_heritage_zone: required (a submission would be refused)" in err
    assert err.count("\n") == 1


async def test_the_result_register_is_stamped_with_the_dossiers_clock(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    later = (await server.get_current_time()).astimezone(VIETNAM) + timedelta(days=40)
    received = datetime.combine(later.date(), time(9), VIETNAM)  # weeks after the real today
    received += timedelta(days=(7 - received.weekday()) % 7)  # a Monday
    frozen = load_procedure(CATALOG / "household-business.yaml")
    plan = plan_for(frozen, (), (), False)
    run = await dry_run(server, frozen, tmp_path, plan, received=received)
    dossier = run.dossiers[0]
    (line,) = (tmp_path / "registers" / "results.jsonl").read_text("utf-8").splitlines()
    record = json.loads(line)
    issued = datetime.fromisoformat(record["issued_at"])
    assert dossier.received_at <= issued <= (dossier.finished_at or issued)
    assert record["number"].endswith(f"/{issued.year}/{record['series']}")
    assert issued - datetime.now(VIETNAM) > timedelta(days=30)  # not this machine's clock


async def test_a_template_error_in_a_parallel_branch_ends_the_run_promptly(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    copied = copy(
        tmp_path,
        "birth-residence-insurance.yaml",
        "decisions: {issued: return_result,",
        "decisions: {issued: tell_card,",
    )
    text = copied.read_text(encoding="utf-8").replace(
        "  return_result:\n",
        "  tell_card:\n    kind: auto\n    activity: notify_applicant\n"
        "    args: {subject: '{{ form.card_number + 1 }}'}\n    next: return_result\n"
        "  return_result:\n",
    )
    copied.write_text(text, encoding="utf-8")
    frozen = load_procedure(copied)
    started = datetime.now()
    # The card is issued first: its branch fails while the residence task is still open.
    plan = plan_for(frozen, (), ("register_residence",), False)
    with pytest.raises(DossierFailed) as failed:
        await dry_run(server, frozen, tmp_path / "data", plan)
    assert "failed: TemplateError: step `tell_card` argument `subject`: UndefinedError" in str(
        failed.value
    )
    assert datetime.now() - started < timedelta(seconds=30)


async def test_a_couples_appointment_is_not_a_financial_obligation_nor_a_minute_short(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    dossier = await run(server, tmp_path, "marriage-registration.yaml", no_event=True)
    assert dossier.result == "stopped"
    assert ("suspended", "citizen_appointment") in [(e.kind, e.detail) for e in dossier.timeline]
    assert 6 not in dossier.portal_statuses  # 4: still being processed
    local_due = dossier.due_at.astimezone(VIETNAM)
    assert (local_due.hour, local_due.minute, local_due.second) == (17, 0, 0)  # not 16:59:59
    assert dossier.notifications[-1].subject.endswith(": dừng xử lý")


async def test_the_tax_offices_values_reach_the_notice_and_a_refusal_its_reason(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    frozen = load_procedure(CATALOG / "land-transfer.yaml")
    entered = [("assess_tax.notice_number", "TB-77"), ("assess_tax.registration_fee_vnd", 5000)]
    plan = plan_for(frozen, (), (), False, fields=entered)
    paid = (await dry_run(server, frozen, tmp_path / "paid", plan)).dossiers[0]
    notice = next(n for n in paid.notifications if "nộp thuế" in n.subject)
    assert "thông báo số TB-77" in notice.body and "lệ phí trước bạ 5000 đồng" in notice.body
    assert paid.notifications[-1].subject.endswith(": đã giải quyết xong")

    why = "Thửa đất đang có tranh chấp"
    plan = plan_for(
        frozen,
        ("check_transfer=refuse",),
        (),
        False,
        fields=[("check_transfer.refusal_reason", why)],
    )
    refused = (await dry_run(server, frozen, tmp_path / "refused", plan)).dossiers[0]
    assert refused.result == "refused"
    form_03 = next(d for d in refused.documents if d.kind == "refusal")
    assert why in (tmp_path / "refused" / form_03.path).read_text(encoding="utf-8")
    ended = next(e.detail for e in refused.timeline if e.kind == "ended")
    assert (refused.notifications[-1].body, ended) == (why, f"refused: {why}")


async def test_motcua_event_delivers_what_a_wait_waits_for_and_refuses_it_twice(
    server: WorkflowEnvironment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tax was paid: the treasury's (or an officer's) confirmation delivered with
    `motcua event`, not raw `temporal` JSON, completes the applicant's payment step."""
    frozen = load_procedure(CATALOG / "land-transfer.yaml")
    queues = catalogue_task_queues({frozen.procedure.code: frozen})
    data = tmp_path / "paid.json"
    data.write_text(json.dumps({"receipt": "BL-12"}), encoding="utf-8")
    address = server.client.service_client.config.target_host
    documents = [d.id for d in frozen.procedure.documents if d.needed({})]
    async with WorkerGroup(
        server.client, queues, tmp_path, trust=TEST_TRUST, max_cached_workflows=0
    ):
        done = await ops.submit(server.client, frozen, APPLICANT, Channel.IN_PERSON, {}, documents)
        officers = asyncio.create_task(play(server.client, done.code, frozen, Plan(no_event=True)))
        for _ in range(200):
            seen = await ops.status(server.client, done.code)  # what the applicant reads
            if seen.your_step == "wait_payment":
                break
            await asyncio.sleep(0.1)
        assert seen.status == 6  # a financial obligation
        assert seen.now_vi.startswith("Đề nghị ông/bà thực hiện: Nộp thuế thu nhập cá nhân")
        argv = ["event", done.code, "payment_received", "--data", str(data), "--address", address]
        assert await asyncio.to_thread(main, argv) == 0
        assert f"{done.code}: " in capsys.readouterr().out
        assert await asyncio.to_thread(main, argv) == 1  # once only
        final = await asyncio.wait_for(officers, 60)
        assert final.result == "approved"
        assert ("arrived", "wait_payment") in kinds_of(final.timeline)
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("{")]
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert "is not waiting for 'payment_received' (waiting for: none)" in err[0]


async def test_the_couple_confirm_their_own_step_with_motcua_citizen_act(
    server: WorkflowEnvironment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A citizen step: the couple are told to come and sign, the status says so, and only
    their identity number makes `motcua citizen act` count."""
    frozen = load_procedure(CATALOG / "marriage-registration.yaml")
    queues = catalogue_task_queues({frozen.procedure.code: frozen})
    address = server.client.service_client.config.target_host
    async with WorkerGroup(
        server.client, queues, tmp_path, trust=TEST_TRUST, max_cached_workflows=0
    ):
        done = await ops.submit(
            server.client, frozen, APPLICANT, Channel.IN_PERSON, {}, ["declaration"]
        )
        officers = asyncio.create_task(play(server.client, done.code, frozen, Plan(no_event=True)))
        for _ in range(200):
            seen = await ops.status(server.client, done.code)
            if seen.your_step is not None:
                break
            await asyncio.sleep(0.1)
        assert seen.your_step == "sign_and_receive"
        assert seen.now_vi.startswith("Đề nghị ông/bà thực hiện: Hai bên nam, nữ cùng có mặt")
        status = ["citizen", "status", done.code, "--address", address]
        assert await asyncio.to_thread(main, status) == 0
        page = capsys.readouterr().out
        assert f"motcua citizen act {done.code} sign_and_receive --id-number" in page
        act = ["citizen", "act", done.code, "sign_and_receive", "--address", address]
        assert await asyncio.to_thread(main, [*act, "--id-number", "000000000000"]) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("{")]
        assert err == [
            f"motcua: citizen_act on {done.code} rejected: the identity number given is not this "
            "dossier's applicant's"
        ]
        assert await asyncio.to_thread(main, [*act, "--id-number", APPLICANT.id_number]) == 0
        assert f"{done.code}: đã ghi nhận" in capsys.readouterr().out
        final = await asyncio.wait_for(officers, 60)
        assert final.result == "approved"
        assert ("citizen_acted", "sign_and_receive") in kinds_of(final.timeline)
    notices = (tmp_path / "outbox" / "notifications.jsonl").read_text("utf-8").splitlines()
    told = [json.loads(line) for line in notices if "đề nghị ông/bà thực hiện" in line]
    assert len(told) == 1 and "Hạn thực hiện: 17:00 ngày" in told[0]["body"]


def kinds_of(timeline: tuple[TimelineEntry, ...]) -> list[tuple[str, str | None]]:
    return [(entry.kind, entry.step) for entry in timeline]


async def test_a_conditional_document_is_required_when_the_application_says_so(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    frozen = load_procedure(CATALOG / "land-transfer.yaml")
    claims = {"claims_exemption": True}
    documents = [d.id for d in frozen.procedure.documents if d.needed({})]  # none claimed
    with pytest.raises(ops.InvalidRequest, match=r"missing document\(s\) exemption_papers "):
        await ops.submit(server.client, frozen, APPLICANT, Channel.IN_PERSON, claims, documents)
    plan = plan_for(frozen, (), (), False)
    run = await dry_run(server, frozen, tmp_path, plan, form=claims)  # submits what it needs
    assert run.dossiers[0].result == "approved"
    receipt = next(d for d in run.dossiers[0].documents if d.kind == "receipt")
    assert "miễn, giảm nghĩa vụ tài chính" in (tmp_path / receipt.path).read_text("utf-8")


async def test_a_supplement_asked_at_a_step_stops_the_clock_until_it_comes(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    frozen = load_procedure(CATALOG / "household-business.yaml")
    plan = plan_for(frozen, (), (), False, supplement=("review",))
    dossier = (await dry_run(server, frozen, tmp_path, plan)).dossiers[0]
    assert dossier.result == "approved"
    seen = kinds(dossier)
    assert seen.index(("supplement_requested", "review")) < seen.index(("supplemented", "review"))
    assert 5 in dossier.portal_statuses  # supplement requested
    assert "supplement_request" in {d.kind for d in dossier.documents}


def due_after(frozen_file: Path, received: datetime, amount: float) -> datetime:
    """When a dossier of the file received then is due with a limit of `amount` of its unit."""
    proc = load_procedure(frozen_file).procedure
    calendar = default_calendar()
    hours = proc.agencies[proc.receiving_agency].office_hours(calendar)
    limit = proc.time_limit.model_copy(update={"amount": amount})
    clock = DossierClock(budget=limit, max_extensions=0, hours=hours, whole_minutes=True)
    return clock.start(received).due(calendar)


async def test_a_marriage_is_due_the_same_day_and_five_days_once_verification_is_needed(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    file = CATALOG / "marriage-registration.yaml"
    same_day = await run(server, tmp_path / "a", "marriage-registration.yaml")
    assert same_day.time_limit == "1 working day"
    assert same_day.due_at == due_after(file, same_day.received_at, 1)
    assert "time_limit_changed" not in [e.kind for e in same_day.timeline]

    checked = await run(
        server, tmp_path / "b", "marriage-registration.yaml", decide=("examine=needs_verification",)
    )
    assert checked.result == "approved"
    assert checked.time_limit == "5 working days"
    due = due_after(file, checked.received_at, 5)
    assert checked.due_at == due
    changed = next(e for e in checked.timeline if e.kind == "time_limit_changed")
    assert changed.detail == f"5 ngày làm việc; due {local(due)}"
    told = next(n for n in checked.notifications if "hẹn lại" in n.subject)
    assert told.body == (
        "Thời hạn giải quyết: 5 ngày làm việc (Cần xác minh điều kiện kết hôn của hai bên). "
        f"Ngày hẹn trả kết quả mới: {local(due)}."
    )


async def test_a_limit_chosen_by_the_application_is_the_receipts_appointment(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A case on `form` holds from receipt: the receipt prints its limit and appointment."""
    shutil.copytree(REPO / "procedures" / "forms", tmp_path / "forms")
    (tmp_path / "catalog").mkdir()
    file = tmp_path / "catalog" / "marriage.yaml"
    text = (CATALOG / "marriage-registration.yaml").read_text("utf-8")
    text = text.replace(
        "  - if: \"decisions.examine == 'needs_verification' or decisions.verify is defined\"",
        '  - if: "form.other_commune"',
    ).replace(
        "receiving_agency: commune\n",
        "receiving_agency: commune\napplication:\n  other_commune: {type: boolean}\n",
    )
    file.write_text(text, "utf-8")
    frozen = load_procedure(file)
    plan = plan_for(frozen, (), (), False)
    dossier = (
        await dry_run(server, frozen, tmp_path / "data", plan, form={"other_commune": True})
    ).dossiers[0]
    due = due_after(file, dossier.received_at, 5)
    assert (dossier.due_at, dossier.time_limit) == (due, "5 working days")
    assert "time_limit_changed" not in [e.kind for e in dossier.timeline]
    receipt = next(d for d in dossier.documents if d.kind == "receipt")
    html = (tmp_path / "data" / receipt.path).read_text("utf-8")
    assert "Thời gian giải quyết hồ sơ theo quy định: 5 ngày làm việc." in html
    assert local(due) in html


async def test_the_applicant_is_asked_for_the_tax_offices_amounts_and_confirms_payment(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A payment computed during processing: the tax office's amounts and their total in the
    notice, the clock stopped as a financial obligation until the applicant gives the
    receipt's number; the appraisal fee computed from the declared area on the receipt."""
    frozen = load_procedure(CATALOG / "land-transfer.yaml")
    entered = [
        ("assess_tax.personal_income_tax_vnd", 40_000_000),
        ("assess_tax.registration_fee_vnd", 10_000_000),
        ("wait_payment.receipt_number", "BL-2026-77"),
        ("check_transfer.parcel", "Thửa 12, tờ bản đồ 3"),
    ]
    plan = plan_for(frozen, (), (), False, fields=entered)
    dossier = (
        await dry_run(server, frozen, tmp_path / "paid", plan, form={"area_m2": 800})
    ).dossiers[0]
    assert dossier.result == "approved"
    asked = next(n for n in dossier.notifications if "đề nghị ông/bà thực hiện" in n.subject)
    assert (
        "Thuế thu nhập cá nhân: 40.000.000 đồng; Lệ phí trước bạ: 10.000.000 đồng; "
        "Tổng cộng: 50.000.000 đồng. Hạn thực hiện: 17:00 ngày"
    ) in asked.body
    seen = [(e.kind, e.detail) for e in dossier.timeline]
    held = seen.index(("suspended", "financial_obligation"))
    assert held < seen.index(("citizen_acted", "")) < seen.index(("arrived", "applicant"))
    assert 6 in dossier.portal_statuses
    receipt = next(d for d in dossier.documents if d.kind == "receipt")
    html = (tmp_path / "paid" / receipt.path).read_text("utf-8")
    assert "150.000" in html and "100.000" not in html  # 501-1,000 m²: the middle band
    slip = next(d for d in dossier.documents if d.kind == "cadastral_transfer_slip")  # its own
    text = (tmp_path / "paid" / slip.path).read_text("utf-8")
    assert "Mẫu số 03/BĐS-TTĐC" in text and "Thửa 12, tờ bản đồ 3" in text

    plan = plan_for(frozen, (), (), True)  # nobody confirms: the 30 days run out
    unpaid = (await dry_run(server, frozen, tmp_path / "unpaid", plan)).dossiers[0]
    assert unpaid.result == "stopped"
    assert ("timed_out", "wait_payment") in kinds(unpaid)
    told = next(n for n in unpaid.notifications if "đề nghị ông/bà thực hiện" in n.subject)
    assert "Thuế thu nhập cá nhân: chưa xác định" in told.body  # not entered by the tax office


async def test_a_transfer_registered_over_30_days_after_the_contract_is_told_so(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A condition on dates: the contract's day (the application) against the receipt's."""
    frozen = load_procedure(CATALOG / "land-transfer.yaml")
    plan = plan_for(frozen, (), (), False)
    signed = {"contract_signed_on": "2020-01-02"}  # years before any receipt
    late = (await dry_run(server, frozen, tmp_path / "late", plan, form=signed)).dossiers[0]
    assert ("chose", "notify_late_registration") in [(e.kind, e.detail) for e in late.timeline]
    told = next(n for n in late.notifications if "quá hạn" in n.subject)
    assert "ký ngày 2020-01-02" in told.body
    assert late.result == "approved"
    online = Channel.ONLINE  # and a fee that depends on the channel: half, online
    timely = (await dry_run(server, frozen, tmp_path / "timely", plan, channel=online)).dossiers[0]
    assert ("chose", "check_transfer") in [(e.kind, e.detail) for e in timely.timeline]
    receipt = next(d for d in timely.documents if d.kind == "receipt")
    html = (tmp_path / "timely" / receipt.path).read_text("utf-8")
    assert "14.000" in html and "28.000" not in html


async def test_the_beneficiary_reports_every_month_and_three_misses_end_the_benefit(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A repeat step, played: a report in each of the 3 months (the clock skipped to each
    period), or none, and the third miss in a row ends the benefit."""
    reported = await run(server, tmp_path, "unemployment-benefit.yaml")
    assert [p.outcome for p in reported.path if p.step == "monthly_report"] == [
        f"report {k} of 3 arrived" for k in (1, 2, 3)
    ]
    assert reported.finished_at is not None
    assert reported.finished_at - reported.received_at > timedelta(days=59)
    (tmp_path / "missed").mkdir()
    missed = await run(server, tmp_path / "missed", "unemployment-benefit.yaml", no_event=True)
    assert missed.result == "stopped"
    assert [p.outcome for p in missed.path if p.step == "monthly_report"] == [
        f"timed out waiting for report {k} of 3 (missed, {k} in a row)" for k in (1, 2, 3)
    ]
    assert ("repeat_ended", "monthly_report") in kinds(missed)


async def test_online_fees_are_paid_before_the_dossier_counts_as_received(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    paid = await run(server, tmp_path, "private-enterprise-registration.yaml")
    seen = kinds(paid)
    assert seen.index(("citizen_acted", "pay_fees")) < seen.index(("received", None))
    assert paid.portal_statuses[:2] == (PortalStatus.REGISTERED, PortalStatus.RECEIVED)
    (tmp_path / "unpaid").mkdir()
    unpaid = await run(
        server, tmp_path / "unpaid", "private-enterprise-registration.yaml", no_event=True
    )
    assert unpaid.result == "stopped"
    assert ("received", None) not in kinds(unpaid)
    assert "receipt" not in {doc.kind for doc in unpaid.documents}
    # the report does not claim a receipt, an appointment or a rating against one
    assert (paid.received, unpaid.received) == (True, False)
    text = report(DryRun(source="x", data_dir=None, dossiers=(unpaid,)))
    assert "  result: stopped\n  legal clock: never received (submitted " in text
    assert "due" not in text.split("\n")[3]


async def test_a_dossier_that_completed_is_not_taken_for_one_that_failed(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The last report of a repeat step ends the dossier at once, so it may complete between
    the player's look at its state and its check that the workflow still runs: that check
    must let it through (it once failed such runs, `completed: no failure recorded`)."""
    done = await run(server, tmp_path, "unemployment-benefit.yaml")
    assert done.result == "approved"
    await _check_running(server.client, [done.code])


async def test_a_residence_supplement_restarts_the_limit_and_a_permits_phases_are_rated(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Permanent residence: the supplement completes the dossier, so the 7 working days run
    anew from it (interpreter 6), and the report says so. Construction permit: the appraisal
    phase and, for a 9-floor house, the consultation phase, each with its own due instant."""
    frozen = load_procedure(CATALOG / "permanent-residence.yaml")
    plan = plan_for(frozen, (), (), False, supplement=("appraise",))
    residence = (await dry_run(server, frozen, tmp_path / "a", plan)).dossiers[0]
    assert residence.result == "approved" and residence.restarted_at is not None
    restarted = next(e for e in residence.timeline if e.kind == "clock_restarted")
    assert "Luật Cư trú 2020, điều 22 khoản 3" in restarted.detail
    assert restarted.detail.endswith(f"; due {local(residence.due_at)}")
    assert any("hẹn lại" in n.subject for n in residence.notifications)
    assert "(counted anew from " in report(DryRun(source="x", data_dir=None, dossiers=(residence,)))

    frozen = load_procedure(CATALOG / "construction-permit-house.yaml")
    plan = plan_for(frozen, (), (), False)
    form = {"in_heritage_zone": False, "floors": 9}
    permit = (await dry_run(server, frozen, tmp_path / "b", plan, form=form)).dossiers[0]
    assert permit.result == "approved"
    assert [(p.phase, p.step, p.status) for p in permit.phases] == [
        ("appraisal", "receive", "early"),
        ("consultation", "consult_construction", "early"),
    ]
    appraisal, consultation = permit.phases
    assert (appraisal.limit.amount, consultation.limit.unit) == (7, "calendar_days")
    text = report(DryRun(source="x", data_dir=None, dossiers=(permit,)))
    assert "  phase appraisal (Thẩm định hồ sơ, kiểm tra thực địa): 7 working days from " in text
    assert "  phase consultation (Lấy ý kiến cơ quan quản lý nhà nước có liên quan): 12 " in text


async def test_a_restart_after_closing_counts_from_the_next_opening_and_its_phase_anew(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The report's `counted anew from` is when the limit counts from (the next opening after
    a supplement that came after closing), not the supplement's arrival, so it agrees with the
    timeline's `clock_restarted` and the applicant's notice."""
    later = (await server.get_current_time()).astimezone(VIETNAM) + timedelta(days=60)
    received = datetime.combine(later.date(), time(16), VIETNAM)
    received += timedelta(days=(7 - received.weekday()) % 7)  # a Monday, after the cut-off
    text = (CATALOG / "permanent-residence.yaml").read_text("utf-8")
    phase = "phases:\n  check:\n    limit: {amount: 6, unit: working_days}\n"
    phase += "    steps: [receive, appraise]\nstart: receive\n"
    assert "\nstart: receive\n" in text
    (tmp_path / "catalog").mkdir()
    file = tmp_path / "catalog" / "residence.yaml"
    file.write_text(text.replace("\nstart: receive\n", "\n" + phase, 1), "utf-8")
    frozen = load_procedure(file)
    plan = plan_for(frozen, (), ("appraise",), False, supplement=("appraise",))
    run = (await dry_run(server, frozen, tmp_path / "data", plan, received=received)).dossiers[0]
    assert run.restarted_at is not None and run.counted_from is not None
    assert local(run.restarted_at).startswith("17:")  # the late officer's request, after closing
    assert local(run.counted_from).startswith("07:30 ")  # the next working day's opening
    restarted = next(e for e in run.timeline if e.kind == "clock_restarted")
    assert f"từ {local(run.counted_from)}; due " in restarted.detail
    text = report(DryRun(source="x", data_dir=None, dossiers=(run,)))
    [clock] = [line for line in text.split("\n") if line.startswith("  legal clock: ")]
    assert clock.endswith(f"(counted anew from {local(run.counted_from)})")
    # the phase running then is counted anew too, and its line says so
    [check] = run.phases
    assert f"[receive] (counted anew from {local(run.counted_from)}), due " in text
    assert check.due_at > run.counted_from


async def test_a_fractional_number_of_periods_is_rounded_as_docs_say(
    server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """`times` giving 2.5 is rounded half to even (2 periods), as docs/language.md says; it
    does not stop the dossier."""
    text = (CATALOG / "unemployment-benefit.yaml").read_text("utf-8")
    source = 'times: "[3 + [form.contribution_months - 36, 0] | max // 12, 12] | min"'
    assert source in text
    (tmp_path / "catalog").mkdir()
    file = tmp_path / "catalog" / "benefit.yaml"
    file.write_text(text.replace(source, 'times: "form.contribution_months / 10"'), "utf-8")
    frozen = load_procedure(file)
    today = (await server.get_current_time()).astimezone(VIETNAM).date()
    form = {"contract_end": today.isoformat(), "contribution_months": 25}
    plan = plan_for(frozen, (), (), False)
    run = (await dry_run(server, frozen, tmp_path / "data", plan, form=form)).dossiers[0]
    assert run.result == "approved"
    assert [p.outcome for p in run.path if p.step == "monthly_report"] == [
        "report 1 of 2 arrived",
        "report 2 of 2 arrived",
    ]
