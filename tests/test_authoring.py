"""A new author's procedures, written from the docs alone in a folder of their own, through
validate, dry run, submit and the officers' commands: what broke for them stays fixed.

The four files under tests/fixtures/authoring/ are such procedures (death registration, a
driving licence renewal paid online, a household business with a supplement and a refusal, a
land-use conversion across three agencies with a parallel block and a payment).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from helpers import TEST_TRUST, sign
from temporalio.testing import WorkflowEnvironment

from motcua import client as ops
from motcua.cli import build_parser, main
from motcua.commands.dev import _same_address
from motcua.dryrun import APPLICANT as DRY_APPLICANT
from motcua.dryrun import dry_run, plan_for, time_skipping_server
from motcua.play import Plan, play
from procedures.loader import load_procedure
from procedures.models import Channel
from runtime.catalogue import catalogue_task_queues
from runtime.workers import WorkerGroup
from workflows.api import Actor

build_parser()  # imported before any worker runs (see test_dryrun.py)
ROOT = Path(__file__).resolve().parents[1]
AUTHORED = Path(__file__).parent / "fixtures" / "authoring"
APPLICANT = DRY_APPLICANT


@pytest.fixture
def own_folder(tmp_path: Path) -> Path:
    """The author's procedures in a folder of their own, far from motcua's catalogue."""
    folder = tmp_path / "my-procedures"
    shutil.copytree(AUTHORED, folder)
    return folder


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


def test_an_authors_own_folder_validates_with_motcuas_forms(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`template: ../forms/receipt.html.j2`, as every example writes it, finds motcua's own
    receipt although no `forms` folder is next to the author's."""
    assert main(["validate", str(own_folder)]) == 0, capsys.readouterr().out
    assert "4 procedure file(s) valid" in capsys.readouterr().err
    frozen = load_procedure(own_folder / "death-registration.yaml")
    own = (ROOT / "procedures" / "forms" / "receipt.html.j2").read_text(encoding="utf-8")
    assert frozen.procedure.forms["receipt"].source == own


def test_a_template_of_the_authors_own_comes_first(own_folder: Path) -> None:
    (own_folder / "receipt.html.j2").write_text("<p>{{ dossier.code }} của xã</p>", "utf-8")
    path = own_folder / "death-registration.yaml"
    text = path.read_text("utf-8").replace("../forms/receipt.html.j2", "receipt.html.j2")
    path.write_text(text, "utf-8")
    assert "của xã" in (load_procedure(path).procedure.forms["receipt"].source or "")


def test_a_missing_template_names_motcuas_own(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = own_folder / "death-registration.yaml"
    path.write_text(path.read_text("utf-8").replace("refusal.html.j2", "refusl.html.j2"), "utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"{path}:32:88: ")
    assert "forms.refusal.template: no file `../forms/refusl.html.j2`" in out
    assert "`../forms/refusal.html.j2`" in out  # the hint lists motcua's own forms


def test_a_template_outside_the_catalogue_stays_refused(
    own_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fallback is by file name into motcua's forms only: a path that climbs out is still
    refused where it is named, even when motcua has a form of that file name."""
    path = own_folder / "death-registration.yaml"
    text = path.read_text("utf-8").replace("../forms/result.html.j2", "../../../result.html.j2")
    path.write_text(text, "utf-8")
    assert main(["validate", str(path)]) == 1
    assert "forms.result.template: `../../../result.html.j2` leads out of the catalogue" in (
        capsys.readouterr().out
    )


def test_submit_finds_a_code_in_the_catalogue_dev_serves(
    own_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`motcua dev --catalog DIR` serves the author's folder; `motcua submit --catalog DIR
    CODE` finds the code there."""
    applicant = tmp_path / "me.json"
    applicant.write_text('{"full_name": "Trần Thị Mai", "id_number": "019190000123"}', "utf-8")
    base = ["submit", "--applicant", str(applicant), "--data", str(tmp_path / "data")]
    assert main([*base, "1.000656"]) == 1
    err = capsys.readouterr().err
    assert "no procedure '1.000656' in the catalogue" in err and "--catalog DIR" in err
    form = tmp_path / "form.json"
    form.write_text('{"deceased_name": "Nguyễn Văn A", "date_of_death": "2026-11-28"}', "utf-8")
    data = ["--data", str(tmp_path / "data")]
    assert main(["publish", "--catalog", str(own_folder), *data]) == 0
    mine = ["--form", str(form), "--catalog", str(own_folder), "--address", "127.0.0.1:9"]
    assert main([*base, *mine, "1.000656"]) == 1
    err = capsys.readouterr().err  # found, checked, published: only the server is missing
    assert err.endswith(
        "motcua: cannot reach the Temporal server at 127.0.0.1:9 (connection refused)\n"
    )


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    """`motcua schema | head -1`: the reader went away; no traceback on the terminal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from motcua.cli import entry; entry()", "schema"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        err = process.stderr.read().decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert process.returncode == 141


def test_dev_tells_other_shells_the_address_only_when_it_differs() -> None:
    assert _same_address("127.0.0.1:7233", "localhost:7233")
    assert not _same_address("127.0.0.1:17433", "localhost:7233")


async def test_the_inter_agency_procedure_runs_from_the_authors_folder(
    server: WorkflowEnvironment, own_folder: Path, tmp_path: Path
) -> None:
    """Parallel branches of two agencies, the surveyor's area read by a later condition and
    notice, the tax office's amount in the applicant's payment step, the fee by the form."""
    frozen = load_procedure(own_folder / "land-use-conversion.yaml")
    fields = [("measure.area_m2", 260), ("tax_assessment.land_levy_vnd", 30000000)]
    plan = plan_for(frozen, (), (), False, 20, fields)
    form = {"parcel": "Thửa 12, tờ 3", "declared_area_m2": 200, "target_use": "residential"}
    run = (await dry_run(server, frozen, tmp_path, plan, form=form)).dossiers[0]
    assert run.result == "approved"
    bodies = [n.body for n in run.notifications]
    assert "Diện tích đo đạc là 260 m², kê khai 200 m²." in bodies
    assert any("Tiền sử dụng đất: 30.000.000 đồng" in body for body in bodies)
    receipt = next(d for d in run.documents if d.kind == "receipt")
    assert "300.000" in (tmp_path / receipt.path).read_text(encoding="utf-8")


async def test_motcua_event_carries_the_officers_login(
    server: WorkflowEnvironment,
    own_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An officer logged in with `motcua login` confirms the online fee was paid with
    `motcua event`: the command sends the login's signed assertion (it sent none, so every
    event was refused as unsigned outside the tests' own front door)."""
    frozen = load_procedure(own_folder / "driving-licence-renewal.yaml")
    queues = catalogue_task_queues({frozen.procedure.code: frozen})
    cashier = Actor(user="thu.ngan", agency="000.00.00.H26", role="one_stop")
    token = tmp_path / "token"
    token.write_text(sign(cashier), "utf-8")
    monkeypatch.setenv("MOTCUA_TOKEN_FILE", str(token))
    address = server.client.service_client.config.target_host
    form = {"licence_number": "790123456789", "licence_class": "b"}
    async with WorkerGroup(
        server.client, queues, tmp_path, trust=TEST_TRUST, max_cached_workflows=0
    ):
        done = await ops.submit(server.client, frozen, APPLICANT, Channel.ONLINE, form, [])
        officers = asyncio.create_task(play(server.client, done.code, frozen, Plan(no_event=True)))
        for _ in range(300):
            seen = await ops.status(server.client, done.code)
            if seen.your_step == "pay_fee":
                break
            await asyncio.sleep(0.1)
        assert seen.status == 6
        # Its own process, as on an officer's own machine: no test signing there (switching
        # this process's off raced with the officers played beside it).
        argv = ["-m", "motcua", "event", done.code, "payment_received", "--address", address]
        event = await asyncio.create_subprocess_exec(
            sys.executable, *argv, stderr=asyncio.subprocess.PIPE
        )
        _, err = await event.communicate()
        assert event.returncode == 0, err.decode()
        final = await asyncio.wait_for(officers, 60)
    assert final.result == "approved"
    delivered = next(e for e in final.timeline if e.kind == "event")
    assert delivered.actor == "thu.ngan@000.00.00.H26/one_stop"


async def test_the_head_approves_the_apology_when_it_is_asked_for(
    server: WorkflowEnvironment, own_folder: Path, tmp_path: Path
) -> None:
    """`--late examine --decide apology=approve`: officers act at once, the head too, so the
    letter goes out the moment it is asked for, before the dossier is overdue (the dry run
    used to skip time past the request to the late task's deadline, and the letter followed
    the dossier's own deadline)."""
    frozen = load_procedure(own_folder / "driving-licence-renewal.yaml")
    decide = ("apology=approve", "approve=return_for_rework,approve")
    plan = plan_for(frozen, decide, ("examine",), False, 20)
    run = (await dry_run(server, frozen, tmp_path, plan)).dossiers[0]
    at = {e.kind: e.at for e in reversed(run.timeline)}  # the first of each kind
    assert run.result == "approved" and run.extensions == 1
    assert at["extended"] - at["apology_requested"] <= timedelta(minutes=2)
    assert "dossier_overdue" not in at


async def test_a_supplement_that_never_comes_stops_the_dossier_in_a_dry_run(
    server: WorkflowEnvironment, own_folder: Path, tmp_path: Path
) -> None:
    """`--supplement review --no-event`: the applicant never brings it, so the dossier stops
    when `supplement.wait` (15 working days) runs out, with the stop notice; the dry run used
    to have the officer decide while the supplement was pending, and fail."""
    frozen = load_procedure(own_folder / "household-business-district.yaml")
    plan = plan_for(frozen, (), (), True, 20, supplement=("review",))
    run = (await dry_run(server, frozen, tmp_path, plan)).dossiers[0]
    assert run.result == "stopped"
    assert [int(s) for s in run.portal_statuses][-2:] == [5, 8]
    assert "stop_notice" in {d.kind for d in run.documents}
    at = {e.kind: e.at for e in run.timeline}
    assert at["ended"] - at["supplement_requested"] >= timedelta(days=20)  # 15 working days


def test_a_form_file_is_read_bounded_and_refused_in_one_line(
    own_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--form` and `--applicant` read at most 64 KiB (a form is no bigger), and a missing,
    oversized or broken file is one line naming it, not Python's `[Errno 2] ...` repr."""
    procedure = str(own_folder / "death-registration.yaml")
    big = tmp_path / "big.json"
    big.write_text(" " * (65 * 1024) + "{}", "utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('{"deceased_name": "A"', "utf-8")
    missing = tmp_path / "missing.json"
    expected = {
        big: "more than 64 KiB",
        broken: "not JSON: Expecting ',' delimiter",
        missing: "cannot read: No such file or directory",
    }
    for path, why in expected.items():
        assert main(["dryrun", procedure, "--form", str(path)]) == 1
        assert capsys.readouterr().err.startswith(f"motcua: form file {path}: {why}")
    assert main(["submit", procedure, "--applicant", str(big)]) == 1
    assert capsys.readouterr().err == f"motcua: applicant file {big}: more than 64 KiB\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "supplement",
            "115:21: steps.pay.suspends_clock: `supplement` is the reason of an officer's "
            "supplement request, not of a step (hint: financial_obligation, "
            "citizen_appointment, verification or other)",
        ),
        (
            "payment",
            "115:21: steps.pay.suspends_clock: `payment` is not true, false or why the clock "
            "stops: financial_obligation, citizen_appointment, verification, other",
        ),
    ],
)
def test_a_step_suspends_the_clock_only_for_the_documented_reasons(
    own_folder: Path, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/language.md lists four reasons; `supplement`, the supplement request's own, was
    accepted (and offered by the error message) although the docs never name it."""
    path = own_folder / "land-use-conversion.yaml"
    text = path.read_text("utf-8")
    path.write_text(
        text.replace("suspends_clock: financial_obligation", f"suspends_clock: {value}")
    )
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().out == f"{path}:{message}\n"
