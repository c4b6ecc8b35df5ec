"""Record the golden histories in `tests/histories/`: real dossiers, officers played by updates.

    python tests/record_histories.py [--out tests/histories] [--suffix .v2] [--only CASE]

Starts an in-memory dev server and a worker for every catalogue queue, runs one dossier per
case below to its end through the same client operations officers use (claim, complete,
reassign, request a supplement, supplement, withdraw, deliver an event); then, on Temporal's
time-skipping server, the late cases as `motcua dryrun --late STEP` plays them (reminders,
the step's deadline, its escalation, reached by moving the server's clock). It writes each run's
history as `temporal workflow show --output json` would: `<case>.json`, then
`<case>.run<N>.json` for later runs and `<case>.<child step>.json` for sub-procedures; with
`--suffix S`, `<case>S.json` and so on, so that histories of a new interpreter version are
added next to the old ones, never over them. `tests/test_replay.py` replays them all with the
current code. Record only after a deliberate, versioned change (see docs/auditing.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import TEST_TRUST, front_door_signing
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from motcua import client as ops
from motcua.audit.history import fetch_runs
from motcua.client import credentials
from motcua.devserver import find_binary
from motcua.dryrun import APPLICANT, dry_run, time_skipping_server
from motcua.play import Plan, awaited
from procedures.loader import load_catalog
from procedures.models import (
    Channel,
    FieldType,
    FrozenProcedure,
    SubprocedureStep,
    TaskStep,
)
from runtime.catalogue import catalogue_task_queues
from runtime.workers import WorkerGroup
from workflows.api import (
    Actor,
    Applicant,
    TaskStatus,
    TaskView,
)
from workflows.search_attributes import ALL

HISTORIES = Path(__file__).with_name("histories")
APPLICANT_ID = "001190012345"
POLL = 0.1
Hook = Callable[[Client, str, TaskView], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    """One golden dossier: a procedure, decisions per step (in visit order), hooks per step."""

    name: str
    procedure: str
    decisions: dict[str, list[str]] = field(default_factory=dict)
    hooks: dict[str, Hook] = field(default_factory=dict)
    form: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    channel: Channel = Channel.ONLINE
    withdraw_at: str | None = None


@dataclass(frozen=True)
class LateCase:
    """A golden dossier whose officers act on the `late` steps only once they are overdue."""

    name: str
    procedure: str
    late: frozenset[str]
    no_event: bool = False


LATE_CASES: tuple[LateCase, ...] = (
    LateCase("1.001193-late-escalated", "1.001193", frozenset({"register_residence"})),
    # interpreter 6: three monthly reports made (repeats_steps), the decision's notice reading
    # the day of receipt (templates_read_receipt); then three missed in a row end the benefit
    LateCase("1.001978-monthly-reports", "1.001978", frozenset()),
    LateCase("1.001978-reports-missed", "1.001978", frozenset(), no_event=True),
)


def officer(task: TaskView) -> Actor:
    """The officer acting on a task: its assignee if it has one, else one of its role."""
    return Actor(user=task.assignee or f"{task.role}.1", agency=task.agency, role=task.role)


async def supplement_once(client: Client, code: str, task: TaskView) -> None:
    """Ask for a missing document, then the applicant brings it."""
    await ops.claim(client, code, task.step, officer(task))
    await ops.request_supplement(
        client, code, task.step, officer(task), ["Giấy chứng sinh (bản chính)"], "thiếu bản chính"
    )
    await asyncio.sleep(0.3)
    await ops.supplement(
        client, code, ["birth_certificate_medical"], "đã bổ sung", applicant_id=APPLICANT_ID
    )


async def supplement_residence(client: Client, code: str, task: TaskView) -> None:
    """Ask for the proof of a lawful residence; the applicant brings it (interpreter 6: the
    7 working days restart from it, behaviour `restarting_supplements`)."""
    await ops.claim(client, code, task.step, officer(task))
    await ops.request_supplement(
        client, code, task.step, officer(task), ["Hợp đồng thuê nhà có công chứng"], "thiếu"
    )
    await asyncio.sleep(0.3)
    await ops.supplement(
        client, code, ["lawful_residence"], "đã bổ sung", applicant_id=APPLICANT_ID
    )


async def reassign_to_colleague(client: Client, code: str, task: TaskView) -> None:
    """The head hands the task to a named specialist, saying why (interpreter 5 on: in the
    timeline too, behaviour `reasoned_reassignment`)."""
    head = Actor(user="head.1", agency=task.agency, role="head")
    await ops.reassign(
        client, code, task.step, head, to_user="specialist.2", reason="Chuyên viên nghỉ phép"
    )


CASES: tuple[Case, ...] = (
    Case(
        "1.001193-parallel-supplement",
        "1.001193",
        hooks={"receive": supplement_once},
    ),
    Case("1.006714-subprocedure", "1.006714", channel=Channel.IN_PERSON),
    Case("2.000720-refused", "2.000720", decisions={"review": ["refuse"]}),
    Case(
        "1.013978-rework-payment",
        "1.013978",
        decisions={
            "cadastral_check": ["return_to_commune", "send_to_tax"],
            "assess_obligations": ["notice_issued"],
        },
        channel=Channel.IN_PERSON,
    ),
    Case("2.000488-withdrawn", "2.000488", withdraw_at="compile"),
    Case(
        "1.009974-choice-reassign",
        "1.009974",
        form={"in_heritage_zone": True, "floors": 3},
        hooks={"appraise": reassign_to_colleague},
    ),
    Case(  # interpreter 4: the tax office's amounts in the notice, a rework, the payment
        "1.004227-fields-payment",
        "1.004227",
        decisions={"endorse": ["return_for_rework", "sign"]},
        form={"area_m2": 800},  # interpreter 5: the appraisal fee computed from the area
        fields={
            "assess_tax": {
                "notice_number": "TB-2026-001",
                "personal_income_tax_vnd": 40_000_000,
                "registration_fee_vnd": 10_000_000,
            }
        },
        channel=Channel.IN_PERSON,
    ),
    Case(  # interpreter 5: the couple's appointment suspends the clock as such; verification
        # makes the limit 5 working days (variable_time_limits), and the couple confirm their
        # own step (citizen_steps)
        "1.000894-citizen-appointment",
        "1.000894",
        decisions={"examine": ["needs_verification"]},
    ),
    Case(  # interpreter 6: the fees paid online before the dossier counts as received
        # (pays_before_receipt); the owner's notice reads the day of receipt and the channel
        "2.001610-paid-before-receipt",
        "2.001610",
    ),
    Case(  # interpreter 6: the supplement restarts the 7 working days (restarting_supplements)
        "1.004222-restart-supplement",
        "1.004222",
        hooks={"appraise": supplement_residence},
    ),
    Case(  # interpreter 6: the appraisal and consultation phases (phase_limits)
        "1.009974-phases",
        "1.009974",
        form={"in_heritage_zone": False, "floors": 9},
    ),
    Case(  # interpreter 4: the officer's reason for refusing, on form 03
        "1.000894-refused-reason",
        "1.000894",
        decisions={"examine": ["refuse"]},
        fields={"examine": {"refusal_reason": "Bên nam chưa đủ 20 tuổi"}},
    ),
)


def sample(frozen: FrozenProcedure, step: str) -> dict[str, Any]:
    """Values for a step's required fields, fixed so that recordings are alike."""
    definition = frozen.procedure.steps[step]
    assert isinstance(definition, TaskStep)
    values: dict[FieldType, Any] = {
        FieldType.INTEGER: 3,
        FieldType.NUMBER: 120.5,
        FieldType.BOOLEAN: False,
        FieldType.DATE: "2026-01-15",
    }
    return {
        name: spec.choices[0] if spec.choices else values.get(spec.type, f"REC-{name}")
        for name, spec in definition.fields.items()
        if spec.required
    }


def decide(frozen: FrozenProcedure, case: Case, step: str, taken: dict[str, int]) -> str:
    """The case's next decision for `step`, else the step's first decision."""
    planned = case.decisions.get(step, [])
    visit = taken.get(step, 0)
    taken[step] = visit + 1
    if visit < len(planned):
        return planned[visit]
    definition = frozen.procedure.steps[step]
    assert isinstance(definition, TaskStep)
    return next(iter(definition.decisions))


async def play(client: Client, code: str, frozen: FrozenProcedure, case: Case) -> list[str]:
    """Act until the dossier ends; the codes of the sub-procedure dossiers it started."""
    taken: dict[str, int] = {}
    delivered = acted = 0
    hooked: set[str] = set()
    children: dict[str, asyncio.Task[list[str]]] = {}
    while True:
        try:
            state = await ops.show(client, code)
        except ops.DossierNotFound:  # a sub-procedure the parent is still starting
            await asyncio.sleep(POLL)
            continue
        if state.result is not None:
            await asyncio.gather(*children.values())
            return list(children)
        for entry in state.timeline:
            child = f"{code}.{entry.step}"
            if entry.kind == "handed_over" and entry.step and child not in children:
                step = frozen.procedure.steps[entry.step]
                assert isinstance(step, SubprocedureStep)
                sub = frozen.subprocedures[step.procedure]
                children[child] = asyncio.create_task(
                    play(client, child, sub, Case(child, step.procedure))
                )
        for task in state.tasks:
            if task.status not in (TaskStatus.OPEN, TaskStatus.CLAIMED):
                continue
            if case.withdraw_at == task.step:
                # a wrong identity number first: counted from interpreter 5 on (its history
                # records the failed attempt), refused by the validator before
                with contextlib.suppress(ops.UpdateRejected):
                    await ops.withdraw(client, code, "nhầm số", applicant_id="000000000000")
                await ops.withdraw(client, code, "không còn nhu cầu", applicant_id=APPLICANT_ID)
                break
            hook = case.hooks.get(task.step)
            if hook is not None and task.step not in hooked:
                hooked.add(task.step)
                await hook(client, code, task)
                break
            if task.status is TaskStatus.OPEN:
                await ops.claim(client, code, task.step, officer(task))
            decision = decide(frozen, case, task.step, taken)
            fields = sample(frozen, task.step) | case.fields.get(task.step, {})
            await ops.complete(client, code, task.step, officer(task), decision, fields)
        turns = [e.step for e in state.timeline if e.kind == "citizen_waiting"]
        if len(turns) > acted and turns[-1] is not None:  # the applicant's own step, once
            acted = len(turns)
            await ops.act_as_applicant(client, code, turns[-1], applicant_id=APPLICANT_ID)
        event = awaited(state)
        waits = sum(1 for entry in state.timeline if entry.kind == "waiting")
        if event is not None and waits > delivered:  # once per wait: it shows until it moves on
            delivered = waits
            cashier = Actor(user="cashier.1", agency=state.code.rsplit("-", 2)[0], role="one_stop")
            await ops.deliver_event(client, code, event, cashier)
        await asyncio.sleep(POLL)


async def record(client: Client, case: Case, out: Path, suffix: str = "") -> list[Path]:
    """Run one case to its end and write its histories."""
    frozen = load_catalog()[case.procedure]
    documents = [d.id for d in frozen.procedure.documents if d.required]
    applicant = Applicant(
        full_name="Nguyễn Thị Hồng Nhung",
        id_number=APPLICANT_ID,
        phone="0912345678",
        email="nhung@example.vn",
        address="Số 1 phố Hàng Bạc, Hà Nội",
    )
    submitted = await ops.submit(
        client, frozen, applicant, case.channel, case.form, documents, request_id=case.name
    )
    async with asyncio.timeout(60):
        children = await play(client, submitted.code, frozen, case)
        await client.get_workflow_handle(submitted.code).result()
    return await write_histories(client, submitted.code, children, out, case.name + suffix)


async def record_late(
    env: WorkflowEnvironment, case: LateCase, out: Path, suffix: str
) -> list[Path]:
    """Run one late case to its end on the time-skipping server and write its histories."""
    frozen = load_catalog()[case.procedure]
    with tempfile.TemporaryDirectory() as data:
        plan = Plan(late=case.late, no_event=case.no_event, applicant_id=APPLICANT.id_number)
        run = await dry_run(env, frozen, Path(data), plan, keep=False)
    code, *children = [d.code for d in run.dossiers]
    return await write_histories(env.client, code, children, out, case.name + suffix)


async def write_histories(
    client: Client, code: str, children: list[str], out: Path, stem: str
) -> list[Path]:
    """Write the runs of a dossier and of its sub-procedure dossiers as history files."""
    written = []
    for dossier, name in [(code, stem)] + [
        (child, f"{stem}.{child.rsplit('.', 1)[1]}") for child in children
    ]:
        for n, run in enumerate(await fetch_runs(client, dossier), start=1):
            path = out / (f"{name}.json" if n == 1 else f"{name}.run{n}.json")
            path.write_text(run.history.to_json() + "\n", encoding="utf-8")
            written.append(path)
    return written


async def main_async(out: Path, suffix: str = "", only: frozenset[str] = frozenset()) -> None:
    out.mkdir(parents=True, exist_ok=True)

    def chosen(name: str) -> bool:
        return not only or name in only

    credentials.sign_with(front_door_signing)  # officers sign as the tests' front door
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")),
        search_attributes=ALL,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    try:
        queues = catalogue_task_queues(load_catalog())
        with tempfile.TemporaryDirectory() as data:
            async with WorkerGroup(env.client, queues, Path(data), trust=TEST_TRUST):
                for case in filter(lambda c: chosen(c.name), CASES):
                    for path in await record(env.client, case, out, suffix):
                        print(f"wrote {path}")
    finally:
        await env.shutdown()
        await asyncio.sleep(0.5)
    async with time_skipping_server(pydantic_data_converter) as skipping:  # goldens: plain
        for late in filter(lambda c: chosen(c.name), LATE_CASES):
            for path in await record_late(skipping, late, out, suffix):
                print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HISTORIES)
    parser.add_argument("--suffix", default="", help="added to every file name, e.g. .v2")
    parser.add_argument(
        "--only", action="append", default=[], metavar="CASE", help="record only this case"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.out, args.suffix, frozenset(args.only)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
