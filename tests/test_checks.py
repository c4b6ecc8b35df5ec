"""Semantic checks: references, reachability, endings, time shares, expressions, periods."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import FIXTURES, FULL, at, edit, seen

from procedures.errors import Problem, ProcedureError
from procedures.loader import load_procedure
from procedures.templates import evaluate

Load = Callable[[str], list[Problem]]
"""Given a variant of `full.yaml`, the problems loading it reports."""


@pytest.fixture
def load(tmp_path: Path) -> Load:
    """Write a variant of `full.yaml` next to the fixture catalogue and return its problems."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)

    def problems_of(text: str) -> list[Problem]:
        path = tmp_path / "catalog" / "full.yaml"
        path.write_text(text, "utf-8")
        with pytest.raises(ProcedureError) as info:
            load_procedure(path)
        return list(info.value.problems)

    return problems_of


def test_unknown_next_step(load: Load) -> None:
    text = edit(
        FULL, ("{approved: approved, refused: refused}", "{approved: aproved, refused: refused}")
    )
    assert seen(load(text)) == [
        (
            "steps.child.results.approved: unknown step `aproved`",
            "did you mean `approved`?",
            *at(text, "aproved"),
        ),
        (
            "steps.approved: step `approved` is never reached from `start` (receive)",
            "no decision, branch, result or next leads to it",
            *at(text, "approved: {kind"),
        ),
    ]


def test_unknown_start_and_receiving_agency(load: Load) -> None:
    text = edit(
        FULL,
        ("start: receive", "start: recieve"),
        ("receiving_agency: commune", "receiving_agency: ward"),
    )
    assert seen(load(text)) == [
        (
            "receiving_agency: unknown agency `ward`",
            "expected one of: commune, police",
            *at(text, "ward"),
        ),
        ("start: unknown step `recieve`", "did you mean `receive`?", *at(text, "recieve")),
    ]


def test_unknown_agency_and_roles(load: Load) -> None:
    text = edit(
        FULL,
        (
            "    agency: police\n    role: officer\n    share: 1\n",
            "    agency: polise\n    role: officer\n    share: 1\n",
        ),
        ("    role: one_stop\n", "    role: one_stop_officer\n"),
        ("escalate_to: head}", "escalate_to: boss}"),
        ("apology:\n  role: head", "apology:\n  role: chief"),
    )
    assert seen(load(text)) == [
        (
            "apology.role: `chief` is not a role of agency `commune`",
            "expected one of: one_stop, officer, head",
            *at(text, "chief"),
        ),
        (
            "steps.receive.role: `one_stop_officer` is not a role of agency `commune`",
            "did you mean `one_stop`?",
            *at(text, "one_stop_officer"),
        ),
        (
            "steps.police_check.agency: unknown agency `polise`",
            "did you mean `police`?",
            *at(text, "polise"),
        ),
        (
            "steps.review.escalation.escalate_to: `boss` is not a role of agency `commune`",
            "expected one of: one_stop, officer, head",
            *at(text, "boss"),
        ),
    ]


def test_undeclared_form_and_unknown_activity(load: Load) -> None:
    text = edit(
        FULL,
        (
            "stopped: {kind: end, result: stopped}",
            "stopped: {kind: end, result: stopped, form: control_slip}",
        ),
        ("activity: notify_applicant", "activity: notify_aplicant"),
    )
    assert seen(load(text)) == [
        (
            "steps.check_records.activity: unknown activity `notify_aplicant`",
            "did you mean `notify_applicant`?",
            *at(text, "notify_aplicant"),
        ),
        (
            "steps.stopped.form: form `control_slip` is not declared in `forms`",
            "add `forms: {control_slip: {number: …, title: …, template: …}}`",
            *at(text, "control_slip"),
        ),
    ]


def test_loop_with_no_exit(load: Load) -> None:
    text = edit(
        FULL,
        ("{approve: pay, rework: receive, refuse: refused}", "{approve: pay, rework: receive}"),
    )
    text = edit(text, ("decisions: {accept: route, refuse: refused}", "decisions: {accept: route}"))
    text = edit(text, ("decisions: {ok: review, refuse: refused}", "decisions: {ok: review}"))
    text = edit(
        text, ("next: child\n", "next: review\n"), ("on_timeout: stopped", "on_timeout: review")
    )
    found = seen(load(text))
    assert found[0] == (
        "steps.receive: loop with no exit: receive → route → review → receive "
        "never reaches an end step",
        "give one of these steps a decision or next that leads towards an end",
        *at(text, "receive:\n"),
    )
    assert [message for message, *_ in found[1:]] == [
        f"steps.{name}: step `{name}` is never reached from `start` (receive)"
        for name in ("child", "approved", "refused", "stopped")
    ]


def test_path_that_never_ends(load: Load) -> None:
    text = edit(
        FULL,
        (
            "decisions: {accept: route, refuse: refused}",
            "decisions: {accept: route, refuse: limbo}",
        ),
        (
            "  approved: {kind",
            "  limbo: {kind: auto, activity: render_form, args: {form: receipt}, next: circle}\n"
            "  circle: {kind: auto, activity: render_form, args: {form: receipt}, next: circle}\n"
            "  approved: {kind",
        ),
    )
    assert seen(load(text)) == [
        (
            "steps.limbo: path that never ends: no end step can be reached from `limbo`",
            "every path must lead to an `end` step",
            *at(text, "limbo: {kind"),
        ),
        (
            "steps.circle: loop with no exit: circle → circle never reaches an end step",
            "give one of these steps a decision or next that leads towards an end",
            *at(text, "circle: {kind"),
        ),
    ]


def test_rework_loop_with_an_exit_is_fine_and_counted_once() -> None:
    frozen = load_procedure(FIXTURES / "catalog" / "full.yaml")
    assert frozen.procedure.steps["review"].decisions["rework"] == "receive"  # type: ignore[union-attr]


def test_shares_over_the_limit_name_the_longest_path(load: Load) -> None:
    text = edit(FULL, ("time_limit: {amount: 5,", "time_limit: {amount: 3.5,"))
    [problem] = load(text)
    assert problem.message == (
        "time_limit.amount: step shares add up to 4 working days on the path receive → route → "
        "both [police: police_check] → review → pay → child → approved (rework loops counted "
        "once), more than the legal 3.5 working days"
    )
    assert (
        problem.hint
        == "lower the shares of these steps; of parallel branches only the longest counts"
    )
    assert (problem.line, problem.column) == at(text, "3.5")


def test_only_the_longest_branch_of_a_parallel_counts(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    text = edit(
        FULL,
        ("time_limit: {amount: 5,", "time_limit: {amount: 4,"),
        (
            "    kind: auto\n    activity: notify_applicant\n",
            "    kind: task\n    agency: police\n    role: officer\n    share: 1\n"
            "    decisions: {done: review}\n",
        ),
        ('    args: {register: "{{ form.register }}"}\n    next: review\n', ""),
    )
    path = tmp_path / "catalog" / "full.yaml"
    path.write_text(text, "utf-8")
    # 0.5 + max(1, 1) + 1.5 + 1 = 4 days: the two one-day branches run at once
    assert load_procedure(path).procedure.time_limit.amount == 4


def test_expression_that_does_not_parse(load: Load) -> None:
    text = edit(FULL, ('{if: "form.age < 6", then: both}', '{if: "form.age < < 6", then: both}'))
    [problem] = load(text)
    assert problem.message.startswith("steps.route.when[0].if: expression does not parse: ")
    assert (problem.line, problem.column) == at(text, '"form.age < < 6"')


def test_expression_reading_an_unknown_name(load: Load) -> None:
    text = edit(FULL, ('{if: "form.age < 6", then: both}', '{if: "dossier.age < 6", then: both}'))
    assert seen(load(text)) == [
        (
            "steps.route.when[0].if: expression reads unknown name `dossier`",
            "expressions see only channel, decisions, fields, form, received",
            *at(text, '"dossier.age < 6"'),
        )
    ]


def test_argument_template_that_does_not_parse(load: Load) -> None:
    text = edit(
        FULL, ('args: {register: "{{ form.register }}"}', 'args: {register: "{{ form.register }"}')
    )
    [problem] = load(text)
    assert problem.message.startswith("steps.check_records.args.register: template does not parse:")
    assert (problem.line, problem.column) == at(text, '"{{ form.register }"')


def test_effective_period_ending_before_it_starts(load: Load) -> None:
    text = edit(
        FULL,
        ("effective_from: 2025-01-01\n", "effective_from: 2025-01-01\neffective_to: 2024-12-31\n"),
    )
    assert seen(load(text)) == [
        (
            "effective_to: the effective period ends (2024-12-31) before it starts (2025-01-01)",
            None,
            *at(text, "2024-12-31"),
        )
    ]


def test_branch_that_never_reaches_the_join_nor_an_end(load: Load) -> None:
    text = edit(
        FULL,
        (
            "    next: review\n  police_check:",
            "    next: review\n  spin: {kind: auto, activity: render_form, next: spin}\n"
            "  police_check:",
        ),
        (
            "branches: {police: police_check, records: check_records}",
            "branches: {police: police_check, records: spin}",
        ),
        ("  check_records:\n", "  unused:\n"),
    )
    found = seen(load(text))
    assert (
        "steps.both.branches.records: branch `records` can never reach `next` (review) nor an end",
        None,
        *at(text, "spin}"),
    ) in found
    assert any(message.startswith("steps.spin: loop with no exit") for message, *_ in found)


def test_branch_that_only_ends(load: Load) -> None:
    text = edit(FULL, ("decisions: {ok: review, refuse: refused}", "decisions: {ok: refused}"))
    assert seen(load(text)) == [
        (
            "steps.both.branches.police: branch `police` never reaches `next` (review), "
            "only end steps",
            "the branches could never join; lead the branch to the parallel's `next`",
            *at(text, "police_check, records"),
        )
    ]


def test_every_problem_is_reported_at_once(load: Load) -> None:
    text = edit(
        FULL,
        ("start: receive", "start: recieve"),
        ("activity: notify_applicant", "activity: fax"),
        ("effective_from: 2025-01-01\n", "effective_from: 2025-01-01\neffective_to: 2024-01-01\n"),
    )
    found = load(text)
    assert len(found) == 3


def test_forms_the_dossier_issues_on_its_own_must_be_declared(load: Load) -> None:
    text = edit(
        FULL,
        (
            '  receipt: {number: "01", title: "Giấy tiếp nhận", '
            "template: ../forms/receipt.html.j2}\n",
            "",
        ),
        (
            '  apology: {number: "04", title: "Phiếu xin lỗi", '
            "template: ../forms/apology.html.j2}\n",
            "",
        ),
    )
    found = seen(load(text))
    line, column = at(text, "  refusal:")
    assert found == [
        (
            "forms: form `apology` is missing: the procedure has an `apology` policy",
            "add `apology: {number: …, title: …, template: …}` under `forms`",
            line,
            column + 2,
        ),
        (
            "forms: form `receipt` is missing: every dossier gets a receipt and appointment slip",
            "add `receipt: {number: …, title: …, template: …}` under `forms`",
            line,
            column + 2,
        ),
    ]


def test_a_branch_that_leads_past_the_join_is_located_where_it_leaves(load: Load) -> None:
    text = edit(FULL, ("decisions: {ok: review, refuse: refused}", "decisions: {ok: pay}"))
    assert seen(load(text)) == [
        (
            "steps.police_check.decisions.ok: branch `police` of parallel `both` leaves its "
            "block: `police_check` leads to `pay`, a step after the join `review`",
            "a branch leads only to its own steps, to `review` (where the branches join) or to "
            "an end step",
            *at(text, "pay}"),
        )
    ]


def test_a_branch_that_leads_into_its_sibling_or_back_to_the_fork_is_refused(load: Load) -> None:
    text = edit(
        FULL,
        ("decisions: {ok: review, refuse: refused}", "decisions: {ok: check_records, again: both}"),
    )
    messages = [message for message, *_ in seen(load(text))]
    assert messages == [
        "steps.police_check.decisions.ok: branch `police` of parallel `both` leaves its block: "
        "`police_check` leads to `check_records`, a step of branch `records`",
        "steps.police_check.decisions.again: branch `police` of parallel `both` leaves its "
        "block: `police_check` leads back to the parallel step `both` itself",
    ]


def test_a_branch_may_loop_inside_itself_and_end_the_dossier(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    text = edit(
        FULL,
        ("decisions: {ok: review, refuse: refused}", "decisions: {ok: review, redo: recheck}"),
        (
            "  check_records:\n",
            "  recheck: {kind: auto, activity: notify_applicant, next: police_check}\n"
            "  check_records:\n",
        ),
    )
    path = tmp_path / "catalog" / "full.yaml"
    path.write_text(text, "utf-8")
    steps = load_procedure(path).procedure.steps
    assert steps["police_check"].decisions == {"ok": "review", "redo": "recheck"}  # type: ignore[union-attr]


def test_a_template_reads_only_its_context_and_declared_officer_fields(load: Load) -> None:
    text = edit(
        FULL,
        (
            'args: {register: "{{ form.register }}"}',
            'args: {a: "{{ fields.police_check.note }}", b: "{{ fieldz.x }}", '
            'c: "{{ fields.route.x }}"}',
        ),
    )
    assert seen(load(text)) == [
        (
            "steps.check_records.args.a: fields.police_check.note: step `police_check` declares "
            "no field `note` (declared: none)",
            "declare it under steps.police_check.fields",
            *at(text, '"{{ fields.police_check'),
        ),
        (
            "steps.check_records.args.b: template reads unknown name `fieldz` (it may read "
            "form, decisions, code, fields, received, channel)",
            None,
            *at(text, '"{{ fieldz'),
        ),
        (
            "steps.check_records.args.c: fields.route: `route` is not a task step (a step of "
            "another kind); officers enter fields only at tasks (applicants at citizen steps)",
            None,
            *at(text, '"{{ fields.route'),
        ),
    ]


def test_an_end_steps_reason_and_a_choice_are_checked_like_templates(load: Load) -> None:
    text = edit(
        FULL,
        (
            "refused: {kind: end, result: refused, form: refusal}",
            "refused: {kind: end, result: refused, form: refusal, "
            'reason: "{{ fields.reviw.why }}"}',
        ),
        ('{if: "form.age < 6", then: both}', '{if: "fields.review.nope", then: both}'),
    )
    messages = [message for message, *_ in seen(load(text))]
    assert messages == [
        "steps.route.when[0].if: fields.review.nope: step `review` declares no field `nope` "
        "(declared: none)",
        "steps.refused.reason: fields.reviw: `reviw` is not a task step (no such step); officers "
        "enter fields only at tasks (applicants at citizen steps)",
    ]


def test_a_wait_names_why_it_suspends_the_clock(load: Load) -> None:
    text = edit(FULL, ("suspends_clock: true", "suspends_clock: payment"))
    [problem] = load(text)
    assert problem.message.startswith("steps.pay.suspends_clock")
    assert "citizen_appointment" in problem.message + (problem.hint or "")
    for odd in ("[]", "{}", "[financial_obligation]"):  # not a crash: a located problem
        [problem] = load(edit(FULL, ("suspends_clock: true", f"suspends_clock: {odd}")))
        assert problem.message.startswith("steps.pay.suspends_clock"), problem.message


def test_a_conditional_document_reads_only_declared_application_fields(load: Load) -> None:
    def with_document(condition: str, application: str = "") -> str:
        return FULL.replace(
            "forms:\n",
            f'documents:\n  - {{id: extra, name: "Giấy tờ khác", required_if: "{condition}"}}\n'
            f"{application}forms:\n",
            1,
        )

    age = "application:\n  age: {type: integer}\n  register: {type: string}\n"
    assert [m for m, *_ in seen(load(with_document("form.agee > 6", age)))] == [
        "documents[0].required_if: form.agee is not a declared application field "
        "(declared: age, register)"
    ]
    assert [m for m, *_ in seen(load(with_document("decisions.receive", age)))] == [
        "documents[0].required_if: `required_if` reads `decisions`, which a submission does not "
        "have"
    ]
    assert [m for m, *_ in seen(load(with_document("form.age > 6")))] == [
        "documents[0].required_if: `required_if` reads `form`, but the procedure declares no "
        "`application`"
    ]


def test_a_variable_time_limit_reads_what_exists_in_the_procedures_unit(
    load: Load, tmp_path: Path
) -> None:
    def with_cases(*cases: str) -> str:
        listed = "".join(f"  - {case}\n" for case in cases)
        return FULL.replace(
            "time_limit: {amount: 5, unit: working_days}\n",
            "time_limit: {amount: 5, unit: working_days}\ntime_limits:\n" + listed,
            1,
        )

    text = with_cases(
        "{if: \"decisions.review == 'approve'\", limit: {amount: 8, unit: calendar_days}}",
        '{if: "fields.reviw.x", limit: {amount: 2}}',
        '{if: "form.age <", limit: {amount: 2}}',
    )
    assert seen(load(text)) == [
        (
            "time_limits[0].limit.unit: `calendar_days` is not the unit of `time_limit` "
            "(`working_days`)",
            "write every case's limit in working_days: the step shares count in it",
            *at(text, "calendar_days}}"),
        ),
        (
            "time_limits[1].if: fields.reviw: `reviw` is not a task step (no such step); "
            "officers enter fields only at tasks (applicants at citizen steps)",
            "did you mean `review`?",
            *at(text, '"fields.reviw.x"'),
        ),
        (
            "time_limits[2].if: expression does not parse: unexpected 'end of template'",
            "e.g. `form.age < 6 and decisions.receive == 'accept'`",
            *at(text, '"form.age <"'),
        ),
    ]
    # the shares may fill the longest case's limit: 4 days of steps, a 1-day default
    fits = with_cases("{if: \"decisions.review == 'approve'\", limit: {amount: 4}}").replace(
        "time_limit: {amount: 5,", "time_limit: {amount: 1,", 1
    )
    path = tmp_path / "catalog" / "full.yaml"
    path.write_text(fits, "utf-8")
    assert load_procedure(path).procedure.time_limits[0].limit.amount == 4
    [problem] = load(fits.replace("limit: {amount: 4}", "limit: {amount: 3.5}"))
    assert problem.message.startswith("time_limit.amount: step shares add up to 4 working days")


def test_a_citizen_step_is_checked_like_a_wait_and_its_fields_like_a_tasks(load: Load) -> None:
    citizen = (
        "  sign:\n    kind: citizen\n    deadline: {amount: 10, unit: calendar_days}\n"
        "    next: aproved\n    on_timeout: stopped\n"
        "    fields: {witness: {type: string, choices: [a]}}\n"
    )
    text = edit(FULL, ("decisions: {approve: pay,", "decisions: {approve: sign,")).replace(
        "  approved: {kind: end", citizen + "  approved: {kind: end", 1
    )
    text = text.replace(
        'args: {register: "{{ form.register }}"}',
        'args: {register: "{{ fields.sign.witness }} {{ fields.sign.wtness }}"}',
    )
    messages = sorted(message for message, *_ in seen(load(text)))
    assert messages == sorted(
        [
            "steps.check_records.args.register: fields.sign.wtness: step `sign` declares no field "
            "`wtness` (declared: witness)",
            "steps.sign.next: unknown step `aproved`",
            "steps.sign.fields.witness.choices: only a `choice` field has `choices`; this one is "
            "`string`",
            "steps.pay: step `pay` is never reached from `start` (receive)",
            "steps.child: step `child` is never reached from `start` (receive)",
            "steps.approved: step `approved` is never reached from `start` (receive)",
        ]
    )


def test_a_computed_fee_reads_the_application_and_a_payments_amounts_the_fields(
    load: Load, tmp_path: Path
) -> None:
    age = "application:\n  age: {type: integer}\n  register: {type: string}\n"
    fee = '  - {name: "Lệ phí", amount_vnd: 0, amount: "AMOUNT"}\n'

    def with_fee(amount: str, application: str = age) -> str:
        return FULL.replace(
            "forms:\n", f"{application}fees:\n" + fee.replace("AMOUNT", amount) + "forms:\n", 1
        )

    assert [m for m, *_ in seen(load(with_fee("fields.review.x * 2")))] == [
        "fees[0].amount: `amount` reads `fields`, which a submission does not have"
    ]
    path = tmp_path / "catalog" / "full.yaml"  # a fee on the channel and the form is valid
    path.write_text(with_fee("14000 if channel == 'online' else form.age * 1000"), "utf-8")
    computed = load_procedure(path).procedure.fees[0]
    on = (computed.for_form({"age": 3}, "online"), computed.for_form({"age": 3}, "post"))
    assert on == (14000, 3000)
    assert [m for m, *_ in seen(load(with_fee("form.agee * 1000")))] == [
        "fees[0].amount: form.agee is not a declared application field (declared: age, register)"
    ]
    payment = edit(FULL, ("decisions: {approve: pay,", "decisions: {approve: sign,")).replace(
        "  approved: {kind: end",
        "  sign:\n    kind: citizen\n    deadline: {amount: 10, unit: calendar_days}\n"
        "    amounts: [{name: Phí, amount: 'fields.review.fee +'}]\n"
        "    next: pay\n    on_timeout: stopped\n  approved: {kind: end",
        1,
    )
    [problem] = load(payment)
    assert problem.message.startswith("steps.sign.amounts[0].amount: expression does not parse")


def test_a_form_issued_by_a_step_is_declared_a_fixed_kind_or_the_procedures_own(
    load: Load, tmp_path: Path
) -> None:
    text = edit(
        FULL,
        (
            "    kind: auto\n    activity: notify_applicant\n",
            "    kind: auto\n    activity: render_form\n",
        ),
        ('args: {register: "{{ form.register }}"}', "args: {form: transfer_slp}"),
    )
    [problem] = load(text)
    assert problem.message == (
        "steps.check_records.args.form: form `transfer_slp` is not declared in `forms`"
    )
    own = text.replace(
        "forms:\n",
        "forms:\n  transfer_slip: {number: '03', title: Phiếu, template: ../forms/result.html.j2}"
        "\n",
        1,
    ).replace("{form: transfer_slp}", "{form: transfer_slip}")
    path = tmp_path / "catalog" / "full.yaml"
    path.write_text(own, "utf-8")
    assert "transfer_slip" in load_procedure(path).procedure.forms


def test_a_condition_on_dates_counts_days_and_whole_months() -> None:
    """Filed within 3 months of the contract's end; registered within 30 days of signing."""
    within = "months_between(form.contract_end, received) < 3"
    assert evaluate(within, {"form": {"contract_end": "2026-01-31"}, "received": "2026-04-30"})
    assert not evaluate(within, {"form": {"contract_end": "2026-01-31"}, "received": "2026-05-01"})
    assert not evaluate(within, {"form": {}, "received": "2026-02-01"})  # no date: false
    assert not evaluate(within, {"form": {"contract_end": "31/01/2026"}, "received": "2026-02-01"})
    late = "days_between(form.signed_on, received) > 30"
    assert evaluate(late, {"form": {"signed_on": "2026-01-01"}, "received": "2026-02-01"})
    assert not evaluate(late, {"form": {"signed_on": "2026-01-02"}, "received": "2026-02-01"})


def test_a_branch_naming_an_unknown_step_is_reported_not_a_crash(load: Load) -> None:
    text = edit(FULL, ("records: check_records", "records: check_recrds"))
    messages = [message for message, *_ in seen(load(text))]
    assert "steps.both.branches.records: unknown step `check_recrds`" in messages


def test_phases_name_steps_once_and_keep_a_parallel_block_whole(load: Load) -> None:
    """Unknown steps, end steps, a step in two phases, and a parallel block split between
    phases are each located in `phases`, with a hint."""
    text = FULL.replace(
        "start: receive\n",
        "phases:\n"
        "  decision:\n"
        "    limit: {amount: 3}\n"
        "    steps: [receive, reveiw, both, police_check, approved]\n"
        "  payment:\n"
        "    limit: {amount: 1, unit: calendar_days}\n"
        "    steps: [pay, receive]\n"
        "start: receive\n",
        1,
    )
    assert seen(load(text)) == [
        (
            "phases.decision.steps[1]: unknown step `reveiw`",
            "did you mean `review`?",
            *at(text, "reveiw"),
        ),
        (
            "phases.decision.steps[2]: step `check_records` runs in a branch of parallel "
            "`both` (phase `decision`) but is in no phase",
            "a parallel block is in one phase: put `both` and its branches' steps in the same "
            "phase, or none of them",
            *at(text, "both, police"),
        ),
        (
            "phases.decision.steps[4]: `approved` is an end step, which takes no time",
            "leave it out: reaching an end step ends every phase",
            *at(text, "approved]"),
        ),
        (
            "phases.payment.steps[1]: step `receive` is already in phase `decision`",
            "a step belongs to one phase at most",
            *at(text, "receive]"),
        ),
    ]


def test_a_restart_basis_needs_a_restarting_supplement(load: Load, tmp_path: Path) -> None:
    text = FULL.replace(
        "  wait: {amount: 10}\n", '  wait: {amount: 10}\n  basis: "Luật A, điều 1"\n', 1
    )
    assert seen(load(text)) == [
        (
            "supplement.basis: `basis` says why a supplement restarts the limit, but `clock` "
            "is `suspend`",
            "add `clock: restart` if the law counts the limit from the complete dossier, else "
            "remove `basis`",
            *at(text, '"Luật A'),
        )
    ]
    [wrong] = load(text.replace("  basis:", "  clock: restrat\n  basis:"))
    assert wrong.message.startswith("supplement.clock: `restrat` is not one of: suspend, restart")
    path = tmp_path / "catalog" / "full.yaml"
    path.write_text(text.replace("  basis:", "  clock: restart\n  basis:"), "utf-8")
    policy = load_procedure(path).procedure.supplement
    assert policy is not None and (policy.clock, policy.basis) == ("restart", "Luật A, điều 1")
