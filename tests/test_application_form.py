"""The applicant's form declared as `application`: `form.*` reads checked, submissions refused.

A procedure without `application` keeps accepting any form and any `form.*` read, and the
frozen procedures recorded in `tests/histories/` still decode, with their content hashes.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import APPLICANT, FIXTURES, FULL, always_open, at, edit, eventually, forms_yaml, seen
from temporalio.contrib.pydantic import pydantic_data_converter

from motcua import cli
from motcua import client as ops
from motcua.audit.history import read_file
from procedures import fields
from procedures.errors import Problem, ProcedureError
from procedures.legaltime.calendar import load_calendar
from procedures.loader import content_hash, load_catalog, load_procedure
from procedures.models import Channel, FieldType, FormField
from workflows import rules
from workflows.api import DossierInput, TaskStatus

ROOT = Path(__file__).resolve().parents[1]
HISTORIES = ROOT / "tests" / "histories"

DECLARED = """\
application:
  age: {type: integer, required: true, label: "Tuổi của trẻ"}
  register: {type: string, label: "Sổ đăng ký"}
forms:
"""
WITH_APPLICATION = edit(FULL, ("forms:\n", DECLARED))


@pytest.fixture
def load(tmp_path: Path) -> Callable[[str], list[Problem]]:
    """Write a variant of the fixture `full.yaml` and return its problems ([] if it loads)."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)

    def problems_of(text: str) -> list[Problem]:
        path = tmp_path / "catalog" / "full.yaml"
        path.write_text(text, "utf-8")
        try:
            load_procedure(path)
        except ProcedureError as err:
            return list(err.problems)
        return []

    return problems_of


# ------------------------------------------------------------------------------ the language


def test_declared_reads_pass(load: Callable[[str], list[Problem]]) -> None:
    assert load(WITH_APPLICATION) == []


def test_without_application_any_form_read_passes(load: Callable[[str], list[Problem]]) -> None:
    text = edit(FULL, ('"form.age < 6"', '"form.agee < 6"'))
    assert load(text) == []


def test_a_typo_in_a_condition_is_located_with_a_hint(
    load: Callable[[str], list[Problem]],
) -> None:
    text = edit(WITH_APPLICATION, ('"form.age < 6"', '"form.agee < 6"'))
    assert seen(load(text)) == [
        (
            "steps.route.when[0].if: form.agee is not a declared application field "
            "(declared: age, register)",
            "did you mean `age`?",
            *at(text, '"form.agee < 6"'),
        )
    ]


def test_template_reads_are_checked_in_every_form(load: Callable[[str], list[Problem]]) -> None:
    text = edit(
        WITH_APPLICATION,
        (
            'args: {register: "{{ form.register }}"}',
            "args: {register: \"{{ form.registr }}{{ form['flag'] }}{{ form.get('zone') }}"
            '{{ form.items() | length }}"}',
        ),
    )
    found = load(text)
    assert [p.message.split(": ", 1)[1] for p in found] == [
        f"form.{name} is not a declared application field (declared: age, register)"
        for name in ("flag", "registr", "zone")
    ]
    assert found[1].hint == "did you mean `register`?" and found[0].hint is None
    assert {(p.line, p.column) for p in found} == {at(text, '"{{ form.registr')}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("form.age >= 'six'", "form.age is declared `integer` but compared with the text `six`"),
        (
            "6 < form.register",
            "form.register is declared `string` but compared with the number `6`",
        ),
        ("form.age == true", "form.age is declared `integer` but compared with `true`"),
    ],
)
def test_a_comparison_across_types_is_reported(
    load: Callable[[str], list[Problem]], condition: str, message: str
) -> None:
    text = edit(WITH_APPLICATION, ('"form.age < 6"', f'"{condition}"'))
    [problem] = load(text)
    assert problem.message == f"steps.route.when[0].if: {message}"
    assert (problem.line, problem.column) == at(text, f'"{condition}"')


def test_choice_fields_list_their_choices(load: Callable[[str], list[Problem]]) -> None:
    text = edit(
        WITH_APPLICATION,
        ("  register: {type: string,", "  register: {type: choice,"),
        ('"form.age < 6"', "\"form.register == 'birth'\""),
        ("    share: 0.5\n", "    share: 0.5\n    fields: {note: {type: string, choices: [a]}}\n"),
    )
    assert seen(load(text)) == [
        (
            "application.register.choices: a `choice` field needs a non-empty `choices` list",
            "e.g. `choices: [new, renewal]`",
            *at(text, "{type: choice"),
        ),
        (
            "steps.receive.fields.note.choices: only a `choice` field has `choices`; "
            "this one is `string`",
            "write `type: choice`, or remove `choices`",
            *at(text, "[a]"),
        ),
    ]
    with_choices = edit(text, ("{type: choice,", "{type: choice, choices: [birth_cert, death],"))
    assert seen(load(with_choices))[1:] == [
        (
            "steps.route.when[0].if: form.register is compared with the text `birth`, "
            "not one of its choices (birth_cert, death)",
            "did you mean `birth_cert`?",
            *at(with_choices, "\"form.register == 'birth'\""),
        ),
    ]


def test_the_catalogue_declares_what_its_conditions_read() -> None:
    permit = load_catalog()["1.009974"].procedure
    assert permit.application["in_heritage_zone"].type is FieldType.BOOLEAN
    assert permit.application["floors"].type is FieldType.INTEGER
    assert all(spec.label and spec.required for spec in permit.application.values())


def test_recorded_inputs_decode_and_keep_their_content_hash() -> None:
    """Inputs recorded before `application` existed (versions 1 and 2) decode to an empty one,
    and an empty one stays out of the hash: every recorded hash is still its procedure's."""
    converter = pydantic_data_converter.payload_converter
    for path in sorted(HISTORIES.glob("*.json")):
        started = read_file(path).history.events[0].workflow_execution_started_event_attributes
        [inp] = converter.from_payloads([started.input.payloads[0]], [DossierInput])
        frozen = inp.procedure
        version = re.search(r"\.v(\d+)\.", path.name)
        if version is None or int(version[1]) < 3:
            assert frozen.procedure.application == {}, path.name
        assert content_hash(frozen.procedure, frozen.subprocedures) == frozen.content_hash


# ------------------------------------------------------------------------------ form values

APPLICATION = {
    "heritage": FormField(type=FieldType.BOOLEAN, required=True),
    "floors": FormField(type=FieldType.INTEGER, required=True),
    "area_m2": FormField(type=FieldType.NUMBER),
    "owner": FormField(type=FieldType.STRING),
    "started_on": FormField(type=FieldType.DATE),
    "kind": FormField(type=FieldType.CHOICE, choices=("new", "renovation")),
}
VALID = {"heritage": True, "floors": 3, "area_m2": 120, "kind": "new"}
DATE = "started_on: expected a date YYYY-MM-DD"


@pytest.mark.parametrize(
    ("form", "problems"),
    [
        (VALID, []),
        ({**VALID, "area_m2": 120.5, "started_on": "2026-01-15", "owner": ""}, []),
        ({"floors": "8"}, ["heritage: required", "floors: expected an integer, got a string"]),
        ({**VALID, "flors": 3}, ["flors: not a declared field (did you mean `floors`?)"]),
        ({**VALID, "heritage": 1}, ["heritage: expected true or false, got an integer"]),
        ({**VALID, "floors": 3.0}, ["floors: expected an integer, got a number"]),
        ({**VALID, "floors": True}, ["floors: expected an integer, got a boolean"]),
        ({**VALID, "area_m2": "120"}, ["area_m2: expected a number, got a string"]),
        ({**VALID, "owner": ["a"]}, ["owner: expected a string, got a list"]),
        ({**VALID, "kind": "villa"}, ["kind: expected one of: new, renovation"]),
        ({**VALID, "started_on": "15/01/2026"}, [f"{DATE}, got a string that is not one"]),
        ({**VALID, "started_on": "2026-02-30"}, [f"{DATE}, got a string that is not one"]),
        ({**VALID, "started_on": 20260115}, [f"{DATE}, got an integer"]),
        ({**VALID, "floors": None}, ["floors: required"]),
    ],
)  # fmt: skip
def test_form_values_are_checked_against_the_application(
    form: dict[str, Any], problems: list[str]
) -> None:
    assert fields.application_problems(APPLICATION, form) == problems


def test_problems_never_repeat_a_value() -> None:
    secret = "Nguyễn Văn Bí Mật 079200001234"
    form = {"heritage": secret, "floors": secret, "kind": secret, "note": 1}
    text = "; ".join(fields.application_problems(APPLICATION, form))
    assert secret not in text and "079200001234" not in text


def test_officers_fields_keep_their_messages() -> None:
    """`complete` judges task fields with the same `fields.faults`, in its own words."""
    declared = {"floors": APPLICATION["floors"], "kind": APPLICATION["kind"]}
    with pytest.raises(rules.Rejected) as info:
        rules.check_fields(declared, {"kind": "villa", "extra": 1})
    assert str(info.value) == (
        "unknown field 'extra'; field 'floors' is required; "
        "field 'kind' must be one of new, renovation"
    )


# ------------------------------------------------------------------------------ submission

PROCEDURE = """\
code: "{code}"
name: "Thủ tục thử nghiệm có tờ khai ({code})"
version: "test.1"
legal_basis: ["Test fixture, not a real procedure"]
effective_from: 2025-07-01
sector: "Thử nghiệm"
level: commune
channels: [online, in_person]
time_limit: {{amount: 5, unit: working_days}}
receiving_agency: desk
agencies:
  desk:
    code: "{desk}"
    name: "Bộ phận Một cửa (thử)"
    task_queue: "{queue}"
    roles: [one_stop, culture_officer]
    hours: {{periods: [["00:00", "23:59:59"]], cutoff: "23:59:59"}}
documents:
  - {{id: application, name: "Đơn đề nghị"}}
application:
  in_heritage_zone: {{type: boolean, required: true, label: "Trong khu vực di sản"}}
  floors: {{type: integer, required: true, label: "Số tầng"}}
  kind: {{type: choice, choices: [new, renovation], label: "Loại công trình"}}
  started_on: {{type: date, label: "Ngày khởi công dự kiến"}}
forms:
{forms}
start: route
steps:
  route:
    kind: choice
    when:
      - {{if: "form.in_heritage_zone and form.floors < 7", then: consult}}
    otherwise: receive
  consult:
    kind: task
    agency: desk
    role: culture_officer
    share: 1
    decisions: {{agree: receive, object: refused}}
  receive:
    kind: task
    agency: desk
    role: one_stop
    share: 1
    decisions: {{accept: approved, refuse: refused}}
  approved: {{kind: end, result: approved, form: result}}
  refused: {{kind: end, result: refused, form: refusal}}
"""


def write_procedure(folder: Path) -> tuple[Path, str, str]:
    """A procedure declaring its application, on a fresh agency and queue; (file, desk, queue)."""
    run = uuid.uuid4().hex[:6].upper()
    desk, queue = f"F{run}.01.H26", f"form-{run}"
    code = f"8.{int(run, 16) % 10**6:06d}2"
    path = folder / "with-application.yaml"
    text = PROCEDURE.format(code=code, desk=desk, queue=queue, forms=forms_yaml(folder))
    path.write_text(text, encoding="utf-8")
    return path, desk, queue


async def test_a_bad_form_starts_nothing_and_a_good_one_reaches_the_dossier(
    dev_env: Any, run_worker: Callable[..., Any], data_dir: Path, tmp_path: Path
) -> None:
    path, desk, queue = write_procedure(tmp_path)
    frozen = load_procedure(path)
    calendar = always_open(load_calendar(), (desk,))

    async def submit(form: dict[str, Any]) -> ops.Submitted:
        return await ops.submit(
            dev_env.client,
            frozen,
            APPLICANT,
            Channel.ONLINE,
            form,
            ("application",),
            request_id=uuid.uuid4().hex,
            calendar=calendar,
        )

    bad = {"floors": "8", "kind": "villa", "started_on": "2026-13-01", "flors": 8}
    with pytest.raises(ops.InvalidRequest) as info:
        await submit(bad)
    assert str(info.value) == (
        "form: flors: not a declared field (did you mean `floors`?); in_heritage_zone: required; "
        "floors: expected an integer, got a string; kind: expected one of: new, renovation; "
        "started_on: expected a date YYYY-MM-DD, got a string that is not one"
    )
    async with run_worker(dev_env.client, queue, data_dir):
        done = await submit({"in_heritage_zone": True, "floors": 3, "started_on": "2026-01-15"})
        # The first code of the day: the refused submission never reached the counter.
        assert done.code.endswith("-0001") and not done.existing

        async def consulting() -> bool:
            state = await ops.show(dev_env.client, done.code)
            return any(t.step == "consult" and t.status is TaskStatus.OPEN for t in state.tasks)

        # The choice read the submitted form: a heritage-zone house goes to consultation.
        await eventually(consulting, what="the consultation task")
    handle = dev_env.client.get_workflow_handle(done.code)
    started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    [inp] = await dev_env.client.data_converter.decode([started.input.payloads[0]], [DossierInput])
    assert inp.form == {"in_heritage_zone": True, "floors": 3, "started_on": "2026-01-15"}


def test_check_submission_refuses_before_any_call(tmp_path: Path) -> None:
    frozen = load_procedure(write_procedure(tmp_path)[0])
    valid = {"in_heritage_zone": False, "floors": 2}
    ops.check_submission(frozen.procedure, Channel.ONLINE, valid, ["application"])
    with pytest.raises(ops.InvalidRequest, match=r"^form: floors: required$"):
        ops.check_submission(frozen.procedure, Channel.ONLINE, {"in_heritage_zone": False}, [])


async def test_cli_submit_with_a_bad_form_is_one_line_without_connecting(tmp_path: Path) -> None:
    path = write_procedure(tmp_path)[0]
    applicant = tmp_path / "applicant.json"
    applicant.write_text(APPLICANT.model_dump_json())
    form = tmp_path / "form.json"
    form.write_text('{"floors": "8", "in_heritage_zone": "có"}')
    # Nothing listens on port 1: a connection attempt would be the error instead.
    env = {**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:1", "PYTHONPATH": str(ROOT)}
    argv = ["submit", str(path), "--applicant", str(applicant), "--form", str(form)]
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "motcua", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert [line for line in result.stderr.splitlines() if not line.startswith("{")] == [
        "motcua: form: in_heritage_zone: expected true or false, got a string; "
        "floors: expected an integer, got a string"
    ]
    assert "có" not in result.stderr


def test_cli_submit_without_a_form_names_the_required_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    path = write_procedure(tmp_path)[0]
    applicant = tmp_path / "applicant.json"
    applicant.write_text(APPLICANT.model_dump_json())
    assert cli.main(["submit", str(path), "--applicant", str(applicant)]) == 1
    err = capsys.readouterr().err
    assert "form: in_heritage_zone: required; floors: required" in err
    assert "Traceback" not in err and "cannot reach" not in err
