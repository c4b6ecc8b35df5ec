"""validate on the language of interpreter 6: payment before receipt, repeat steps, and
`received` / `channel` in argument templates (each mistake one located line with a hint)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import FIXTURES, FULL, at, edit, seen

from procedures.errors import Problem, ProcedureError
from procedures.loader import load_procedure
from procedures.models import MAX_TIMES, CitizenStep, RepeatStep
from procedures.schema import procedure_schema

Load = Callable[[str], list[Problem]]

PAY_FIRST = (
    "  pay_first:\n    kind: citizen\n    title: Nộp phí\n    before_receipt: BEFORE\n"
    "    deadline: {amount: 2, unit: working_days}\n    event: payment_confirmed\n"
    "    next: receive\n    on_timeout: TIMEOUT\n"
)
FEES = 'fees:\n  - {name: "Lệ phí", amount_vnd: 50000}\nforms:\n'
REPORTS = (
    "  reports:\n    kind: repeat\n    title: Thông báo hằng tháng\n    times: TIMES\n"
    "    every: {amount: 30, unit: calendar_days}\n    next: child\nMISSES"
)


@pytest.fixture
def load(tmp_path: Path) -> Callable[[str], list[Problem]]:
    """The problems of a variant of `full.yaml`, loaded next to the fixture catalogue."""
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


def paying_first(before: str = "true", timeout: str = "stopped", fees: bool = True) -> str:
    """`full.yaml` whose start is a payment before receipt."""
    step = PAY_FIRST.replace("BEFORE", before).replace("TIMEOUT", timeout)
    text = edit(FULL, ("start: receive", "start: pay_first"), ("steps:\n", "steps:\n" + step))
    return text.replace("forms:\n", FEES, 1) if fees else text


def repeating(times: str = "3", misses: str = "") -> str:
    """`full.yaml` whose payment wait is followed by a repeat step."""
    step = REPORTS.replace("TIMES", times).replace("MISSES", misses)
    text = edit(
        FULL,
        ("    next: child\n    on_timeout: stopped", "    next: reports\n    on_timeout: stopped"),
    )
    return text.replace("  child:\n", step + "  child:\n", 1)


def test_a_payment_before_receipt_loads_with_its_channels(load: Load, tmp_path: Path) -> None:
    assert load(paying_first("[online]")) == []
    frozen = load_procedure(tmp_path / "catalog" / "full.yaml")
    step = frozen.procedure.steps["pay_first"]
    assert isinstance(step, CitizenStep)
    assert step.before_receipt_on("online") and not step.before_receipt_on("in_person")


def test_a_payment_before_receipt_is_the_start_ends_unpaid_and_has_something_to_pay(
    load: Load,
) -> None:
    text = paying_first("[post]", timeout="review", fees=False)
    assert seen(load(text)) == [
        (
            "steps.pay_first.before_receipt: a payment before receipt with nothing to pay: no "
            "`amounts` and no `fees`",
            "declare the procedure's `fees` (asked for by default) or the step's `amounts`",
            *at(text, "[post]"),
        ),
        (
            "steps.pay_first.before_receipt[0]: channel `post` is not one of the procedure's "
            "`channels` (online, in_person)",
            None,
            *at(text, "post"),
        ),
        (
            "steps.pay_first.on_timeout: `review` is not an end step: a dossier unpaid by the "
            "deadline is never received, so it ends there",
            "lead `on_timeout` to an end step, e.g. `{kind: end, result: stopped}`",
            *at(text, "review\n  receive"),
        ),
    ]
    elsewhere = edit(
        paying_first(),
        ("start: pay_first", "start: receive"),
        ("{accept: route,", "{accept: pay_first,"),
        ("    next: receive\n    on_timeout: stopped", "    next: route\n    on_timeout: stopped"),
    )
    [problem] = load(elsewhere)
    assert problem.message == (
        "steps.pay_first.before_receipt: only the `start` step can come before receipt "
        "(start: `receive`)"
    )
    assert problem.hint == "make `pay_first` the procedure's `start`, or remove `before_receipt`"


def test_a_wrong_before_receipt_is_one_line_naming_the_channels(load: Load) -> None:
    """Not one line per member of the union, naming pydantic's types."""
    text = paying_first("[online, email]")
    [problem] = load(text)
    assert problem.message == (
        "steps.pay_first.before_receipt: `email` is not a channel: in_person, online, post"
    )
    assert (problem.line, problem.column) == at(text, "[online, email]")
    [problem] = load(paying_first("online"))
    assert problem.message == (
        "steps.pay_first.before_receipt: `online` is not true, false or a list of channels "
        "(in_person, online, post), e.g. `[online]`"
    )


def test_a_payment_before_receipt_is_in_no_phase(load: Load) -> None:
    """No clock runs before receipt, but a phase's would: an unpaid dossier was rated late."""
    phases = "phases:\n  intake:\n    limit: {amount: 1, unit: working_days}\n"
    text = paying_first("[online]").replace(
        "start: pay_first", phases + "    steps: [pay_first, receive]\nstart: pay_first", 1
    )
    [problem] = load(text)
    assert problem.message == (
        "phases.intake.steps[0]: `pay_first` is a payment before receipt, when no clock runs: "
        "the phase's would, and rate a dossier late for a payment it waits for"
    )
    assert problem.hint == "leave it out: the phase then starts at the step after it, on receipt"
    assert (problem.line, problem.column) == at(text, "pay_first, receive")
    assert load(text.replace("[pay_first, receive]", "[receive]")) == []


def test_a_repeat_step_loads_with_a_number_or_an_expression(load: Load, tmp_path: Path) -> None:
    assert load(repeating("3", "    end_after_missed: 2\n    on_missed: stopped\n")) == []
    assert load(repeating("'fields.review.months'")) != []  # review declares no `months`
    text = repeating("'form.age + 1'")
    assert load(text) == []
    step = load_procedure(tmp_path / "catalog" / "full.yaml").procedure.steps["reports"]
    assert isinstance(step, RepeatStep) and step.times == "form.age + 1"


def test_a_repeat_steps_mistakes_are_located_with_hints(load: Load) -> None:
    text = repeating("2", "    end_after_missed: 3\n")
    assert seen(load(text)) == [
        (
            "steps.reports.end_after_missed: 3 misses in a row can never happen in 2 period(s)",
            "at most `times` (2)",
            *at(text, "3\n  child"),
        ),
        (
            "steps.reports.end_after_missed: `end_after_missed` without `on_missed`: where do "
            "the misses lead?",
            "add `on_missed: <step>`, e.g. an end step that stops the benefit",
            *at(text, "3\n  child"),
        ),
    ]
    text = repeating("3", "    on_missed: stoped\n")
    messages = [m for m, *_ in seen(load(text))]
    assert messages == [
        "steps.reports.on_missed: `on_missed` without `end_after_missed`: misses never end the "
        "repetitions",
        "steps.reports.on_missed: unknown step `stoped`",
    ]
    text = repeating("'fields.review.months +'")
    [problem] = load(text)
    assert problem.message.startswith("steps.reports.times: expression does not parse")
    [problem] = load(repeating("0"))
    assert problem.message == (
        "steps.reports.times: `0` is neither a number of periods from 1 to 120 nor an "
        "expression giving one"
    )


def test_argument_templates_read_the_receipt_day_and_the_channel(load: Load) -> None:
    ok = edit(
        FULL,
        (
            'args: {register: "{{ form.register }}"}',
            'args: {register: "{{ received }} {{ channel }}"}',
        ),
    )
    assert load(ok) == []
    text = edit(ok, ("{{ received }}", "{{ recieved }}"))
    [problem] = load(text)
    assert problem.message == (
        "steps.check_records.args.register: template reads unknown name `recieved` (it may "
        "read form, decisions, code, fields, received, channel)"
    )


def test_the_json_schema_offers_repeat_steps_and_payment_before_receipt() -> None:
    """Editors complete and document the new keys (`motcua schema`)."""
    schema = procedure_schema()
    defs = schema["$defs"]
    repeat = defs["RepeatStep"]["properties"]
    assert {"times", "every", "end_after_missed", "on_missed", "next"} <= set(repeat)
    kinds = [option["type"] for option in repeat["times"]["anyOf"]]
    assert kinds == ["integer", "string"]
    assert repeat["times"]["anyOf"][0]["maximum"] == MAX_TIMES
    before = defs["CitizenStep"]["properties"]["before_receipt"]
    assert "only on the `start`" in before["description"]
    steps = schema["properties"]["steps"]["additionalProperties"]
    assert "repeat" in steps["discriminator"]["mapping"]
