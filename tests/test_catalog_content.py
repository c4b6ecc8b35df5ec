"""The procedure catalogue as data: what the real procedures must contain, checked with the
pydantic models directly (independent of the loader's own checks).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jinja2 import Environment
from jinja2.sandbox import ImmutableSandboxedEnvironment

from procedures.legaltime.calendar import TimeUnit
from procedures.models import (
    AutoStep,
    ChoiceStep,
    CitizenStep,
    EndStep,
    FormKind,
    Level,
    ParallelStep,
    Procedure,
    RepeatStep,
    ResultType,
    Step,
    SubprocedureStep,
    TaskStep,
    WaitStep,
)

CATALOG = Path(__file__).resolve().parent.parent / "procedures" / "catalog"
FILES = sorted(CATALOG.glob("*.yaml"))
AGENCY_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.H\d{2}$")
EPSILON = 1e-9


def _load(path: Path) -> Procedure:
    return Procedure.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


CATALOGUE: dict[Path, Procedure] = {path: _load(path) for path in FILES}
BY_CODE: dict[str, Procedure] = {p.code: p for p in CATALOGUE.values()}


def by_name(fragment: str) -> Procedure:
    """The one procedure whose Vietnamese name contains `fragment`."""
    found = [p for p in CATALOGUE.values() if fragment in p.name]
    assert len(found) == 1, f"{len(found)} procedures named like {fragment!r}"
    return found[0]


def successors(step: Step) -> list[str]:
    if isinstance(step, TaskStep):
        return list(step.decisions.values())
    if isinstance(step, AutoStep):
        return [step.next]
    if isinstance(step, ParallelStep):
        return [*step.branches.values(), step.next]
    if isinstance(step, ChoiceStep):
        return [*(rule.then for rule in step.when), step.otherwise]
    if isinstance(step, SubprocedureStep):
        return list(step.results.values())
    if isinstance(step, WaitStep | CitizenStep):
        return [step.next, step.on_timeout]
    if isinstance(step, RepeatStep):
        return [step.next, *([step.on_missed] if step.on_missed else [])]
    return []


def reachable(proc: Procedure, start: str | None = None) -> set[str]:
    seen: set[str] = set()
    todo = [start or proc.start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(successors(proc.steps[name]))
    return seen


def longest(
    proc: Procedure, name: str, stop: str | None = None, path: frozenset[str] = frozenset()
) -> float:
    """The largest sum of shares from `name` to an end (or to `stop`, a parallel join).

    A step already on the path (a rework loop) counts once; of parallel branches only the
    longest counts; waits that suspend the clock and automatic steps take no share.
    """
    if name == stop or name in path:
        return 0.0
    step = proc.steps[name]
    path = path | {name}
    if isinstance(step, ParallelStep):
        branches = max(longest(proc, first, step.next, path) for first in step.branches.values())
        return branches + longest(proc, step.next, stop, path)
    own = step.share if isinstance(step, TaskStep | SubprocedureStep) else 0.0
    nexts = successors(step)
    return own + max((longest(proc, n, stop, path) for n in nexts), default=0.0)


def steps_of(kind: type) -> Iterator[tuple[Procedure, str, Step]]:
    for proc in CATALOGUE.values():
        for name, step in proc.steps.items():
            if isinstance(step, kind):
                yield proc, name, step


ids = [path.stem for path in FILES]


def test_catalogue_holds_the_required_procedures() -> None:
    assert len(FILES) >= 5
    by_name("khai sinh")
    by_name("Giấy chứng nhận quyền sử dụng đất")
    by_name("giấy phép xây dựng")
    by_name("hộ kinh doanh")


def test_procedure_codes_are_distinct() -> None:
    codes = [p.code for p in CATALOGUE.values()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_identity_is_complete(path: Path) -> None:
    proc = CATALOGUE[path]
    assert re.fullmatch(r"\d\.\d{6}", proc.code)
    assert proc.name and proc.version and proc.sector
    assert proc.legal_basis
    assert proc.level in (Level.PROVINCE, Level.COMMUNE)
    assert proc.channels
    assert proc.effective_to is None or proc.effective_to > proc.effective_from
    assert proc.documents and proc.results
    assert proc.supplement is not None and proc.apology is not None
    assert proc.apology.role in proc.agencies[proc.receiving_agency].roles


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_agencies_have_national_codes_of_one_province(path: Path) -> None:
    proc = CATALOGUE[path]
    for agency in proc.agencies.values():
        assert AGENCY_CODE.match(agency.code), agency.code
        assert agency.code.endswith(".H26"), "the catalogue models Thái Nguyên"
        assert re.fullmatch(r"[a-z_]+", agency.task_queue)


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_every_form_is_declared_and_its_template_exists(path: Path) -> None:
    proc = CATALOGUE[path]
    assert set(FormKind) <= set(proc.forms)  # and any documents of the procedure's own
    for form in proc.forms.values():
        assert (path.parent / form.template).resolve().is_file(), form.template
        assert form.source is None, "the loader fills `source`; authors must not"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_fees_are_whole_vnd(path: Path) -> None:
    for fee in CATALOGUE[path].fees:
        assert isinstance(fee.amount_vnd, int) and fee.amount_vnd >= 0


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_graph_is_closed_and_every_step_reachable(path: Path) -> None:
    proc = CATALOGUE[path]
    for name, step in proc.steps.items():
        for target in successors(step):
            assert target in proc.steps, f"{name} → unknown {target}"
    assert reachable(proc) == set(proc.steps)
    for name in proc.steps:
        ends = {n for n in reachable(proc, name) if isinstance(proc.steps[n], EndStep)}
        assert ends, f"no end reachable from {name}"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_shares_fit_the_legal_time_limit(path: Path) -> None:
    proc = CATALOGUE[path]
    limit = max([proc.time_limit.amount, *(case.limit.amount for case in proc.time_limits)])
    assert longest(proc, proc.start) <= limit + EPSILON  # the longest case's, when it varies


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_receipt_task_allows_supplement_and_ends_carry_their_form(path: Path) -> None:
    proc = CATALOGUE[path]
    first = proc.steps[proc.start]
    unpaid = set()
    while not isinstance(first, TaskStep):  # a filing-date check, a payment before receipt
        if isinstance(first, CitizenStep) and first.before_receipt:
            unpaid.add(first.on_timeout)  # never received: nothing to notify of stopping
            first = proc.steps[first.next]
        else:
            assert isinstance(first, ChoiceStep)
            first = proc.steps[first.when[0].then]
    assert first.supplement_allowed
    assert first.agency == proc.receiving_agency
    for name, step in ((n, s) for n, s in proc.steps.items() if isinstance(s, EndStep)):
        if step.result is ResultType.APPROVED:
            assert step.form is FormKind.RESULT
        if step.result is ResultType.REFUSED:
            assert step.form is FormKind.REFUSAL
        if step.result is ResultType.STOPPED and name not in unpaid:
            assert step.form is FormKind.STOP_NOTICE
    results = {s.result for s in proc.steps.values() if isinstance(s, EndStep)}
    assert {ResultType.APPROVED, ResultType.REFUSED} <= results


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_most_tasks_escalate_to_a_role_of_their_agency(path: Path) -> None:
    proc = CATALOGUE[path]
    tasks = [s for s in proc.steps.values() if isinstance(s, TaskStep)]
    escalating = [t for t in tasks if t.escalation and t.escalation.escalate_to]
    assert len(escalating) * 2 >= len(tasks)
    for task in escalating:
        assert task.escalation is not None
        assert task.escalation.escalate_to in proc.agencies[task.agency].roles


def test_catalogue_uses_every_kind_of_step() -> None:
    kinds = {type(s) for p in CATALOGUE.values() for s in p.steps.values()}
    assert kinds == {
        TaskStep,
        AutoStep,
        ParallelStep,
        ChoiceStep,
        SubprocedureStep,
        WaitStep,
        CitizenStep,
        RepeatStep,
        EndStep,
    }


def test_birth_procedure_has_three_agencies_and_a_parallel_step() -> None:
    birth = by_name("khai sinh")
    assert len(birth.agencies) == 3
    assert any(isinstance(s, ParallelStep) for s in birth.steps.values())
    assert birth.time_limit.amount == 3


def test_land_procedure_waits_for_payment_with_the_clock_stopped() -> None:
    land = by_name("Giấy chứng nhận quyền sử dụng đất")
    waits = [s for s in land.steps.values() if isinstance(s, WaitStep)]
    assert waits and all(w.suspends_clock for w in waits)
    assert any(w.event == "payment_received" for w in waits)
    assert {"land_office", "tax"} <= {a.task_queue for a in land.agencies.values()}
    # the tax authority decides before the wait
    tax_tasks = [s for s in land.steps.values() if isinstance(s, TaskStep) and s.agency == "tax"]
    assert tax_tasks


def test_construction_permit_has_a_choice_and_a_rework_loop_with_an_exit() -> None:
    permit = by_name("giấy phép xây dựng")
    assert permit.time_limit.amount == 15
    assert any(isinstance(s, ChoiceStep) for s in permit.steps.values())
    loops = [
        (name, target)
        for name, step in permit.steps.items()
        for target in successors(step)
        if name in reachable(permit, target)
    ]
    assert loops, "no step sends the dossier back to an earlier one"
    for _, target in loops:
        assert any(isinstance(permit.steps[n], EndStep) for n in reachable(permit, target))


def test_choice_conditions_compile_in_the_sandbox() -> None:
    env = ImmutableSandboxedEnvironment()
    for _, _, step in steps_of(ChoiceStep):
        assert isinstance(step, ChoiceStep)
        for rule in step.when:
            env.compile_expression(rule.if_)


def test_household_business_has_an_auto_step_that_notifies() -> None:
    business = by_name("hộ kinh doanh")
    assert business.time_limit.amount == 3
    notify = [
        s
        for s in business.steps.values()
        if isinstance(s, AutoStep) and s.activity == "notify_applicant"
    ]
    assert notify
    env = Environment()
    for step in notify:
        assert {"subject", "body"} <= set(step.args)
        env.parse(step.args["subject"])
        env.parse(step.args["body"])


def test_a_subprocedure_runs_another_catalogue_file_on_the_agency_queue() -> None:
    subs = list(steps_of(SubprocedureStep))
    assert subs
    for parent, _, step in subs:
        assert isinstance(step, SubprocedureStep)
        assert step.procedure != parent.code
        child = BY_CODE[step.procedure]
        receiving = child.agencies[child.receiving_agency]
        assert parent.agencies[step.agency].task_queue == receiving.task_queue
        assert {ResultType.APPROVED, ResultType.REFUSED} <= set(step.results)
        assert step.share <= child.time_limit.amount + EPSILON


def test_one_procedure_counts_calendar_days() -> None:
    units = {p.time_limit.unit for p in CATALOGUE.values()}
    assert TimeUnit.CALENDAR_DAYS in units
    assert TimeUnit.WORKING_DAYS in units
