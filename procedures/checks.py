"""Semantic checks of a procedure that the models alone cannot express, all located.

Pydantic checks each value on its own; these checks look at the procedure as a whole: every
name refers to something declared, every step can be reached and can still reach an end, the
step shares fit in the legal time limit, expressions and argument templates compile in the
sandbox, the effective period is a period, declared fields are well formed and, once the
procedure declares its `application`, every `form.*` read names one of its fields. They return
every problem, never only the first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from procedures import templates
from procedures.errors import Problem
from procedures.legaltime.clock import SuspendReason
from procedures.messages import close_match, describe, dotted
from procedures.models import (
    ACTIVITY_NAMES,
    AutoStep,
    ChoiceStep,
    CitizenStep,
    EndStep,
    FieldType,
    FormField,
    FormKind,
    ParallelStep,
    Procedure,
    RepeatStep,
    Step,
    SubprocedureStep,
    TaskStep,
    WaitStep,
)
from procedures.yamlnodes import Locator

_TOLERANCE = 1e-9
_NONE = float("-inf")

Edge = tuple[tuple[str | int, ...], str]
"""Where in a step a next step is named (e.g. `("decisions", "accept")`) and that step."""


def edges(step: Step) -> list[Edge]:
    """Every step this one may lead to, with where it names it."""
    if isinstance(step, TaskStep):
        return [(("decisions", decision), to) for decision, to in step.decisions.items()]
    if isinstance(step, SubprocedureStep):
        return [(("results", str(result)), to) for result, to in step.results.items()]
    if isinstance(step, AutoStep):
        return [(("next",), step.next)]
    if isinstance(step, WaitStep | CitizenStep):
        return [(("next",), step.next), (("on_timeout",), step.on_timeout)]
    if isinstance(step, RepeatStep):
        missed = [(("on_missed",), step.on_missed)] if step.on_missed is not None else []
        return [(("next",), step.next), *missed]
    if isinstance(step, ParallelStep):
        return [(("branches", name), to) for name, to in step.branches.items()] + [
            (("next",), step.next)
        ]
    if isinstance(step, ChoiceStep):
        return [(("when", i, "then"), rule.then) for i, rule in enumerate(step.when)] + [
            (("otherwise",), step.otherwise)
        ]
    return []


def check(procedure: Procedure, locator: Locator) -> list[Problem]:
    """Every semantic problem of a validated procedure, located in its file."""
    checker = _Checker(procedure, locator)
    checker.references()
    checker.required_forms()
    checker.declared_fields()
    checker.expressions()
    checker.conditional_documents()
    checker.computed_fees()
    checker.before_receipt()
    checker.repeats()
    checker.graph()
    checker.unstoppable_loops()
    checker.time_limits()
    checker.time_shares()
    checker.phases()
    checker.supplement_clock()
    return checker.problems


class _Checker:
    def __init__(self, procedure: Procedure, locator: Locator) -> None:
        self.procedure = procedure
        self.steps = procedure.steps
        self.locator = locator
        self.problems: list[Problem] = []
        self.edges = {name: edges(step) for name, step in self.steps.items()}
        self.after = {
            name: [to for _, to in found if to in self.steps] for name, found in self.edges.items()
        }

    def report(
        self, path: Sequence[str | int], message: str, hint: str | None = None, *, key: bool = False
    ) -> None:
        self.problems.append(
            self.locator.problem(path, f"{dotted(path)}: {message}", hint, key=key)
        )

    # -- references -----------------------------------------------------------------------

    def references(self) -> None:
        proc = self.procedure
        if proc.start not in self.steps:
            self.report(
                ("start",),
                f"unknown step `{proc.start}`",
                close_match(proc.start, list(self.steps)),
            )
        self.agency(("receiving_agency",), proc.receiving_agency)
        for name, step in self.steps.items():
            if isinstance(step, WaitStep | CitizenStep) and (
                step.suspends_clock is SuspendReason.SUPPLEMENT
            ):
                self.report(
                    ("steps", name, "suspends_clock"),
                    "`supplement` is the reason of an officer's supplement request, not of a step",
                    "financial_obligation, citizen_appointment, verification or other",
                )
        if proc.apology is not None:
            self.role(("apology", "role"), proc.receiving_agency, proc.apology.role)
        if proc.effective_to is not None and proc.effective_to < proc.effective_from:
            self.report(
                ("effective_to",),
                f"the effective period ends ({proc.effective_to}) before it starts "
                f"({proc.effective_from})",
            )
        for name, step in self.steps.items():
            where = ("steps", name)
            for suffix, to in self.edges[name]:
                if to not in self.steps:
                    self.report(
                        (*where, *suffix), f"unknown step `{to}`", close_match(to, list(self.steps))
                    )
            if isinstance(step, TaskStep):
                if self.agency((*where, "agency"), step.agency):
                    self.role((*where, "role"), step.agency, step.role)
                    if step.escalation is not None and step.escalation.escalate_to is not None:
                        path = (*where, "escalation", "escalate_to")
                        self.role(path, step.agency, step.escalation.escalate_to)
            elif isinstance(step, SubprocedureStep):
                self.agency((*where, "agency"), step.agency)
            elif isinstance(step, AutoStep):
                if step.agency is not None:
                    self.agency((*where, "agency"), step.agency)
                if step.activity not in ACTIVITY_NAMES:
                    hint = close_match(step.activity, sorted(ACTIVITY_NAMES))
                    self.report((*where, "activity"), f"unknown activity `{step.activity}`", hint)
                elif step.activity == "render_form":
                    self.rendered_form(where, step)
            elif isinstance(step, EndStep) and step.form and step.form not in proc.forms:
                self.report(
                    (*where, "form"),
                    f"form `{step.form}` is not declared in `forms`",
                    f"add `forms: {{{step.form}: {{number: …, title: …, template: …}}}}`",
                )

    def rendered_form(self, where: Sequence[str | int], step: AutoStep) -> None:
        """A `render_form` step names a declared form: a fixed kind or one of the procedure's
        own, whose template the loader has frozen with it."""
        form = step.args.get("form")
        declared = [str(kind) for kind in self.procedure.forms]
        if form is None:
            self.report(
                (*where, "args"),
                "`render_form` needs `args: {form: …}`, the form to issue",
                f"one of: {', '.join(declared)}" if declared else "declare it under `forms`",
            )
        elif not isinstance(form, str) or form not in declared:
            self.report(
                (*where, "args", "form"),
                f"form `{form}` is not declared in `forms`",
                close_match(str(form), declared, listing=False)
                or f"add `{form}: {{number: …, title: …, template: …}}` under `forms`",
            )

    def required_forms(self) -> None:
        """Forms the dossier issues on its own: the receipt always, others with their policy."""
        proc = self.procedure
        needed = {FormKind.RECEIPT: "every dossier gets a receipt and appointment slip"}
        if proc.supplement is not None or any(
            isinstance(s, TaskStep) and s.supplement_allowed for s in self.steps.values()
        ):
            needed[FormKind.SUPPLEMENT_REQUEST] = "supplements may be requested"
        if proc.supplement is not None:
            needed[FormKind.STOP_NOTICE] = "a dossier without its supplement is stopped"
        if proc.apology is not None:
            needed[FormKind.APOLOGY] = "the procedure has an `apology` policy"
        for kind, why in needed.items():
            if kind not in proc.forms:
                self.report(
                    ("forms",),
                    f"form `{kind}` is missing: {why}",
                    f"add `{kind}: {{number: …, title: …, template: …}}` under `forms`",
                )

    def agency(self, path: Sequence[str | int], agency: str) -> bool:
        if agency in self.procedure.agencies:
            return True
        hint = close_match(agency, list(self.procedure.agencies))
        self.report(path, f"unknown agency `{agency}`", hint)
        return False

    def role(self, path: Sequence[str | int], agency: str, role: str) -> None:
        declared = self.procedure.agencies.get(agency)
        if declared is not None and role not in declared.roles:
            hint = close_match(role, list(declared.roles))
            self.report(path, f"`{role}` is not a role of agency `{agency}`", hint)

    # -- expressions and templates --------------------------------------------------------

    def expressions(self) -> None:
        checked = bool(self.procedure.application)
        for name, step in self.steps.items():
            if isinstance(step, ChoiceStep):
                for i, rule in enumerate(step.when):
                    self.condition(("steps", name, "when", i, "if"), rule.if_)
            elif isinstance(step, RepeatStep) and isinstance(step.times, str):
                self.condition(("steps", name, "times"), step.times)
            elif isinstance(step, CitizenStep):
                for i, item in enumerate(step.amounts):
                    self.condition(("steps", name, "amounts", i, "amount"), item.amount)
            elif isinstance(step, AutoStep | EndStep):
                if isinstance(step, AutoStep):
                    found = _strings(step.args, ("steps", name, "args"))
                else:
                    found = _strings(step.reason, ("steps", name, "reason"))
                for path, text in found:
                    message = templates.template_problem(text)
                    if message:
                        self.report(path, message)
                        continue
                    self.template_names(path, text)
                    if checked:
                        self.form_uses(path, templates.form_uses(text, template=True))

    def conditional_documents(self) -> None:
        """A `required_if` is an expression on `form` alone (nothing else exists at
        submission) over declared application fields."""
        for i, doc in enumerate(self.procedure.documents):
            if doc.required_if is not None:
                where = ("documents", i, "required_if")
                self.on_form_only(where, doc.required_if, "`required_if`", "a document's condition")

    def computed_fees(self) -> None:
        """A fee's `amount` is an expression on `form` alone (computed at receipt) over
        declared application fields."""
        for i, fee in enumerate(self.procedure.fees):
            if fee.amount is not None:
                where = ("fees", i, "amount")
                self.on_form_only(where, fee.amount, "`amount`", "an amount", ("form", "channel"))

    def before_receipt(self) -> None:
        """A payment before receipt is the `start` step, on the procedure's channels, with
        something to pay, and ends the dossier (never received) when unpaid."""
        proc = self.procedure
        for name, step in self.steps.items():
            if not isinstance(step, CitizenStep) or step.before_receipt is False:
                continue
            where = ("steps", name, "before_receipt")
            if name != proc.start:
                self.report(
                    where,
                    f"only the `start` step can come before receipt (start: `{proc.start}`)",
                    f"make `{name}` the procedure's `start`, or remove `before_receipt`",
                )
                continue
            if isinstance(step.before_receipt, tuple):
                for i, channel in enumerate(step.before_receipt):
                    if channel not in proc.channels:
                        accepted = ", ".join(c.value for c in proc.channels)
                        self.report(
                            (*where, i),
                            f"channel `{channel.value}` is not one of the procedure's "
                            f"`channels` ({accepted})",
                        )
            if not step.amounts and not proc.fees:
                self.report(
                    where,
                    "a payment before receipt with nothing to pay: no `amounts` and no `fees`",
                    "declare the procedure's `fees` (asked for by default) or the step's `amounts`",
                )
            target = self.steps.get(step.on_timeout)
            if target is not None and not isinstance(target, EndStep):
                self.report(
                    ("steps", name, "on_timeout"),
                    f"`{step.on_timeout}` is not an end step: a dossier unpaid by the deadline "
                    "is never received, so it ends there",
                    "lead `on_timeout` to an end step, e.g. `{kind: end, result: stopped}`",
                )

    def repeats(self) -> None:
        """A repeat step's misses: `end_after_missed` and `on_missed` come together, and a
        number of periods leaves room for that many misses in a row."""
        for name, step in self.steps.items():
            if not isinstance(step, RepeatStep):
                continue
            where = ("steps", name)
            if step.end_after_missed is not None and step.on_missed is None:
                self.report(
                    (*where, "end_after_missed"),
                    "`end_after_missed` without `on_missed`: where do the misses lead?",
                    "add `on_missed: <step>`, e.g. an end step that stops the benefit",
                )
            elif step.on_missed is not None and step.end_after_missed is None:
                self.report(
                    (*where, "on_missed"),
                    "`on_missed` without `end_after_missed`: misses never end the repetitions",
                    "add `end_after_missed: N` (misses in a row), or remove `on_missed`",
                )
            if (
                isinstance(step.times, int)
                and step.end_after_missed is not None
                and step.end_after_missed > step.times
            ):
                self.report(
                    (*where, "end_after_missed"),
                    f"{step.end_after_missed} misses in a row can never happen in "
                    f"{step.times} period(s)",
                    f"at most `times` ({step.times})",
                )

    def on_form_only(
        self,
        where: Sequence[str | int],
        text: str,
        key: str,
        what: str,
        readable: tuple[str, ...] = ("form",),
    ) -> None:
        """An expression evaluated at submission: it parses, reads only what a submission has
        (`readable`) and only declared `form` fields."""
        problem = templates.expression_problem(text)
        if problem:
            self.report(where, *problem)
            return
        names, _ = templates.names_read(text, template=False)
        others = [n for n in names if n not in readable]
        if others:
            self.report(
                where,
                f"{key} reads `{others[0]}`, which a submission does not have",
                f"{what} reads only {' and '.join(f'`{n}`' for n in readable)}",
            )
        elif "form" not in names:
            return
        elif not self.procedure.application:
            self.report(
                where,
                f"{key} reads `form`, but the procedure declares no `application`",
                "declare the fields it reads under `application`",
            )
        else:
            self.form_uses(where, templates.form_uses(text, template=False))

    def template_names(self, path: Sequence[str | int], text: str) -> None:
        """Each `fields.STEP.FIELD` a template reads names a field a task declares (the names
        it may read at all are `template_problem`'s): a misspelt one would print nothing."""
        _, refs = templates.names_read(text, template=True)
        self.field_refs(path, refs)

    def field_refs(self, path: Sequence[str | int], refs: Sequence[templates.FieldRef]) -> None:
        """Each `fields.STEP.FIELD` names a task (or citizen) step and a field it declares."""
        tasks = {
            n: s
            for n, s in self.steps.items()
            if isinstance(s, TaskStep | CitizenStep | RepeatStep)
        }
        for step, field in refs:
            task = tasks.get(step)
            if task is None:
                what = "a step of another kind" if step in self.steps else "no such step"
                self.report(
                    path,
                    f"fields.{step}: `{step}` is not a task step ({what}); officers enter "
                    "fields only at tasks (applicants at citizen steps)",
                    close_match(step, list(tasks), listing=False),
                )
            elif field is not None and field not in task.fields:
                declared = ", ".join(task.fields) or "none"
                self.report(
                    path,
                    f"fields.{step}.{field}: step `{step}` declares no field `{field}` "
                    f"(declared: {declared})",
                    close_match(field, list(task.fields), listing=False)
                    or f"declare it under steps.{step}.fields",
                )

    def form_uses(self, path: Sequence[str | int], uses: templates.FormUses) -> None:
        """`form.*` reads name declared application fields, compared with their own type."""
        declared = self.procedure.application
        reads, comparisons = uses
        for field in reads:
            if field not in declared:
                self.report(
                    path,
                    f"form.{field} is not a declared application field "
                    f"(declared: {', '.join(declared)})",
                    close_match(field, list(declared), listing=False),
                )
        for field, literal in comparisons:
            spec = declared.get(field)
            if spec is None or not _mismatch(spec, literal):
                continue
            if spec.type is FieldType.CHOICE:
                self.report(
                    path,
                    f"form.{field} is compared with {describe(literal)}, not one of its choices "
                    f"({', '.join(spec.choices)})",
                    close_match(literal, spec.choices, listing=False),
                )
            else:
                self.report(
                    path,
                    f"form.{field} is declared `{spec.type}` but compared with {describe(literal)}",
                    "compare it with a value of its type: across types the comparison is false "
                    "or an error at run time",
                )

    # -- declared fields ------------------------------------------------------------------

    def declared_fields(self) -> None:
        """A `choice` field lists its choices, and only a `choice` field has any."""
        declared: list[tuple[tuple[str, ...], FormField]] = [
            (("application", name), spec) for name, spec in self.procedure.application.items()
        ]
        for name, step in self.steps.items():
            if isinstance(step, TaskStep | CitizenStep):
                declared += [
                    (("steps", name, "fields", field), spec) for field, spec in step.fields.items()
                ]
        for path, spec in declared:
            if spec.type is FieldType.CHOICE and not spec.choices:
                self.report(
                    (*path, "choices"),
                    "a `choice` field needs a non-empty `choices` list",
                    "e.g. `choices: [new, renewal]`",
                )
            elif spec.type is not FieldType.CHOICE and spec.choices:
                self.report(
                    (*path, "choices"),
                    f"only a `choice` field has `choices`; this one is `{spec.type}`",
                    "write `type: choice`, or remove `choices`",
                )
            if spec.max_length is not None and spec.type is not FieldType.STRING:
                self.report(
                    (*path, "max_length"),
                    f"only a `string` field has `max_length`; this one is `{spec.type}`",
                )

    # -- the step graph -------------------------------------------------------------------

    def targets(self, name: str) -> list[str]:
        return self.after.get(name, [])  # an unknown step (reported as such) leads nowhere

    def graph(self) -> None:
        start = self.procedure.start
        if start not in self.steps:
            return
        reached = _closure([start], self.targets)
        for name in self.steps:
            if name not in reached:
                self.report(
                    ("steps", name),
                    f"step `{name}` is never reached from `start` ({start})",
                    "no decision, branch, result or next leads to it",
                    key=True,
                )
        ends = self.can_end()
        self.dead_ends(reached - ends, ends, start)
        for name, step in self.steps.items():
            if name in reached and isinstance(step, ParallelStep):
                self.branches(name, step)

    def can_end(self) -> set[str]:
        """Steps from which some end can be reached; an unknown step gets the benefit of the
        doubt (it is reported once, as unknown)."""
        before: dict[str, list[str]] = {name: [] for name in self.steps}
        seeds = []
        for name, step in self.steps.items():
            if isinstance(step, EndStep):
                seeds.append(name)
            for _, to in self.edges[name]:
                if to in before:
                    before[to].append(name)
                else:
                    seeds.append(name)
        return _closure(seeds, before.__getitem__)

    def dead_ends(self, stuck: set[str], finishing: set[str], start: str) -> None:
        """Report each loop with no exit once, and each step where a path stops leading to
        any end (a path that never ends)."""
        reported: set[str] = set()
        before: dict[str, list[str]] = {name: [] for name in stuck}
        for name in stuck:
            for to in self.targets(name):
                if to in stuck:
                    before[to].append(name)
        for name in self.steps:
            if name not in stuck or name in reported:
                continue
            cycle = _cycle(name, lambda n: [t for t in self.targets(n) if t in stuck])
            if cycle:
                onward = _closure([name], lambda n: [t for t in self.targets(n) if t in stuck])
                reported |= onward & _closure([name], before.__getitem__)
                self.report(
                    ("steps", name),
                    "loop with no exit: " + " → ".join(cycle) + " never reaches an end step",
                    "give one of these steps a decision or next that leads towards an end",
                    key=True,
                )
        for name in self.steps:
            if name in stuck and name not in reported:
                entered = name == start or any(name in self.targets(n) for n in finishing)
                if entered:
                    self.report(
                        ("steps", name),
                        f"path that never ends: no end step can be reached from `{name}`",
                        "every path must lead to an `end` step",
                        key=True,
                    )

    def unstoppable_loops(self) -> None:
        """Report each loop on which no human task, wait or sub-procedure stops the walk.

        Choices read only the form, decisions and fields, which nothing changes while the
        dossier goes round such a loop, so it goes round without end: a choice whose only way
        out is `if: "false"`, a notify ↔ choice loop sending mail after mail. Loops with no
        way out at all are `dead_ends`' to report.
        """
        start = self.procedure.start
        if start not in self.steps:
            return
        reached, ends = _closure([start], self.targets), self.can_end()
        stops = TaskStep | WaitStep | CitizenStep | RepeatStep | SubprocedureStep
        free = {
            name
            for name, step in self.steps.items()
            if name in reached and name in ends and not isinstance(step, stops)
        }

        def following(name: str) -> list[str]:
            return [to for to in self.targets(name) if to in free]

        reported: set[str] = set()
        for name in self.steps:
            if name not in free or name in reported:
                continue
            cycle = _cycle(name, following)
            if cycle:
                reported |= set(cycle)
                self.report(
                    ("steps", name),
                    "loop nothing can stop: " + " → ".join(cycle) + " has no human task, wait "
                    "or sub-procedure, so a dossier would go round it without end",
                    "put a task or wait step on the loop, or lead it out for good",
                    key=True,
                )

    def branches(self, name: str, step: ParallelStep) -> None:
        join = step.next
        leaving = self.block(name, step)
        for branch, first in step.branches.items():
            if first not in self.steps or branch in leaving:
                continue

            def within(n: str, join: str = join) -> list[str]:
                return [] if n == join else self.targets(n)

            seen = _closure([first], within)
            unknown = any(to not in self.steps for n in seen for _, to in self.edges[n])
            if join in seen or unknown:
                continue
            path = ("steps", name, "branches", branch)
            if any(isinstance(self.steps[n], EndStep) for n in seen):
                self.report(
                    path,
                    f"branch `{branch}` never reaches `next` ({join}), only end steps",
                    "the branches could never join; lead the branch to the parallel's `next`",
                )
            else:
                self.report(path, f"branch `{branch}` can never reach `next` ({join}) nor an end")

    def block(self, name: str, step: ParallelStep) -> set[str]:
        """Report each path of a branch that leaves its block (its own steps, the join, end
        steps); return those branches. A path that leaves would run a step after the join (or in
        a sibling branch, or the fork again) while the other branches still run, and the join
        would not wait for it."""
        join = step.next
        leaving: set[str] = set()
        if join not in self.steps:  # reported once, as an unknown step
            return leaving

        def inside(n: str) -> list[str]:
            return [] if n in (join, name) else self.targets(n)

        after = _closure([join], lambda n: [] if n == name else self.targets(n))
        own = {b: _closure([first], inside) for b, first in step.branches.items()}
        for branch, steps in own.items():
            others = {s: b for b, found in own.items() if b != branch for s in found}
            for n in sorted(steps - after - set(others)):
                for where, to in self.edges.get(n, []):  # a branch may name an unknown step
                    target = self.steps.get(to)
                    if to == join or target is None or isinstance(target, EndStep):
                        continue
                    if to == name:
                        what = f"back to the parallel step `{name}` itself"
                    elif to in after:
                        what = f"to `{to}`, a step after the join `{join}`"
                    elif to in others:
                        what = f"to `{to}`, a step of branch `{others[to]}`"
                    else:
                        continue
                    leaving.add(branch)
                    self.report(
                        ("steps", n, *where),
                        f"branch `{branch}` of parallel `{name}` leaves its block: `{n}` leads "
                        + what,
                        f"a branch leads only to its own steps, to `{join}` (where the branches "
                        "join) or to an end step",
                    )
        return leaving

    # -- time -----------------------------------------------------------------------------

    def time_limits(self) -> None:
        """Each case of a variable limit: a condition that parses and reads what exists, and a
        limit in the procedure's unit (the step shares count in it)."""
        unit = self.procedure.time_limit.unit
        for i, case in enumerate(self.procedure.time_limits):
            where = ("time_limits", i)
            self.condition((*where, "if"), case.if_)
            if case.limit.unit is not unit:
                self.report(
                    (*where, "limit", "unit"),
                    f"`{case.limit.unit}` is not the unit of `time_limit` (`{unit}`)",
                    f"write every case's limit in {unit}: the step shares count in it",
                )

    def condition(self, where: Sequence[str | int], text: str) -> bool:
        """An expression on `form`, `decisions` and `fields` (a choice's `if`, a case of a
        variable limit): it parses, and what it reads is declared. False when it does not
        parse."""
        problem = templates.expression_problem(text)
        if problem:
            self.report(where, *problem)
            return False
        _, refs = templates.names_read(text, template=False)
        self.field_refs(where, refs)
        if self.procedure.application:
            self.form_uses(where, templates.form_uses(text, template=False))
        return True

    def supplement_clock(self) -> None:
        """A restarting supplement's `basis` says why it restarts: it belongs with `restart`."""
        policy = self.procedure.supplement
        if policy is not None and policy.basis is not None and policy.clock != "restart":
            self.report(
                ("supplement", "basis"),
                "`basis` says why a supplement restarts the limit, but `clock` is `suspend`",
                "add `clock: restart` if the law counts the limit from the complete dossier, "
                "else remove `basis`",
            )

    def phases(self) -> None:
        """Each phase names existing steps that are not end steps, no step is in two phases,
        and a parallel step's whole block is in its phase: a phase then begins and ends only
        between top-level steps, never while branches run."""
        owner: dict[str, str] = {}
        for name, phase in self.procedure.phases.items():
            for i, step in enumerate(phase.steps):
                where = ("phases", name, "steps", i)
                if step not in self.steps:
                    hint = close_match(step, list(self.steps))
                    self.report(where, f"unknown step `{step}`", hint)
                elif isinstance(self.steps[step], EndStep):
                    self.report(
                        where,
                        f"`{step}` is an end step, which takes no time",
                        "leave it out: reaching an end step ends every phase",
                    )
                elif _pays_before_receipt(self.steps[step]):
                    self.report(
                        where,
                        f"`{step}` is a payment before receipt, when no clock runs: the phase's "
                        "would, and rate a dossier late for a payment it waits for",
                        "leave it out: the phase then starts at the step after it, on receipt",
                    )
                elif step in owner:
                    where_else = (
                        "earlier in this phase"
                        if owner[step] == name
                        else f"in phase `{owner[step]}`"
                    )
                    self.report(
                        where,
                        f"step `{step}` is already {where_else}",
                        "a step belongs to one phase at most",
                    )
                else:
                    owner[step] = name
        for fork, kind in self.steps.items():
            if isinstance(kind, ParallelStep) and kind.next in self.steps:
                self.phase_block(fork, kind, owner)

    def phase_block(self, name: str, step: ParallelStep, owner: dict[str, str]) -> None:
        """Every step of the parallel's branches (up to its join) is in the parallel's phase."""
        join, phase = step.next, owner.get(name)

        def inside(n: str) -> list[str]:
            return [] if n in (join, name) else self.targets(n)

        block = _closure([f for f in step.branches.values() if f in self.steps], inside)
        said = f"phase `{phase}`" if phase else "no phase"
        for inner in sorted(block - {join, name}):
            if isinstance(self.steps.get(inner), EndStep) or owner.get(inner) == phase:
                continue
            if owner.get(inner) is not None:
                i = self.procedure.phases[owner[inner]].steps.index(inner)
                where: tuple[str | int, ...] = ("phases", owner[inner], "steps", i)
            else:
                assert phase is not None
                where = ("phases", phase, "steps", self.procedure.phases[phase].steps.index(name))
            self.report(
                where,
                f"step `{inner}` runs in a branch of parallel `{name}` ({said}) but is in "
                + (f"phase `{owner[inner]}`" if owner.get(inner) else "no phase"),
                f"a parallel block is in one phase: put `{name}` and its branches' steps in the "
                "same phase, or none of them",
            )

    def time_shares(self) -> None:
        limit = max(
            (self.procedure.time_limit, *(case.limit for case in self.procedure.time_limits)),
            key=lambda limit: limit.amount,
        )
        if self.procedure.start not in self.steps:
            return
        try:
            longest = _Longest(self.steps, self.edges)
            _, _, total, path = longest.longest(self.procedure.start, None)
        except RecursionError:
            self.report(("steps",), "too many steps in a row to add up their shares")
            return
        if total > limit.amount + _TOLERANCE:
            unit = str(limit.unit).replace("_", " ")
            self.report(
                ("time_limit", "amount"),
                f"step shares add up to {total:g} {unit} on the path {' → '.join(path)} "
                f"(rework loops counted once), more than the legal {limit.amount:g} {unit}",
                "lower the shares of these steps; of parallel branches only the longest counts",
            )


class _Longest:
    """Longest share sums from a step, to a join step (`stop`) and to an end.

    Edges back to a step on the current path are rework loops: counted once, i.e. skipped.
    """

    Result = tuple[float, tuple[str, ...], float, tuple[str, ...]]

    def __init__(self, steps: dict[str, Step], found: dict[str, list[Edge]]) -> None:
        self.steps = steps
        self.edges = found
        self.memo: dict[tuple[str, str | None], _Longest.Result] = {}
        self.active: set[str] = set()

    def longest(self, name: str, stop: str | None) -> _Longest.Result:
        if name == stop:
            return 0.0, (), _NONE, ()
        if name not in self.steps or name in self.active:
            return _NONE, (), _NONE, ()
        key = (name, stop)
        if key not in self.memo:
            self.active.add(name)
            try:
                self.memo[key] = self._longest(name, stop)
            finally:
                self.active.discard(name)
        return self.memo[key]

    def _longest(self, name: str, stop: str | None) -> _Longest.Result:
        step = self.steps[name]
        if isinstance(step, EndStep):
            return _NONE, (), 0.0, (name,)
        if isinstance(step, ParallelStep):
            return self._parallel(name, step, stop)
        share = step.share if isinstance(step, TaskStep | SubprocedureStep) else 0.0
        join, end = _NONE, _NONE
        join_path: tuple[str, ...] = ()
        end_path: tuple[str, ...] = ()
        for _, to in self.edges[name]:
            to_join, to_join_path, to_end, to_end_path = self.longest(to, stop)
            if to_join > join:
                join, join_path = to_join, to_join_path
            if to_end > end:
                end, end_path = to_end, to_end_path
        return share + join, (name, *join_path), share + end, (name, *end_path)

    def _parallel(self, name: str, step: ParallelStep, stop: str | None) -> _Longest.Result:
        longest_branch, label = _NONE, name
        end = _NONE
        end_path: tuple[str, ...] = ()
        for branch, first in step.branches.items():
            to_join, join_path, to_end, to_end_path = self.longest(first, step.next)
            if to_join > longest_branch:
                longest_branch = to_join
                label = f"{name} [{branch}: {' → '.join(join_path)}]"
            if to_end > end:
                end, end_path = to_end, (f"{name} [{branch}: {' → '.join(to_end_path)}]",)
        after_join, after_join_path, after_end, after_end_path = self.longest(step.next, stop)
        if longest_branch + after_end > end:
            end, end_path = longest_branch + after_end, (label, *after_end_path)
        return longest_branch + after_join, (label, *after_join_path), end, end_path


def _closure(seeds: list[str], following: Any) -> set[str]:
    """Everything reachable from `seeds` through `following(name) -> names`."""
    seen = set(seeds)
    todo = list(seeds)
    while todo:
        for nxt in following(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle(start: str, following: Any) -> list[str]:
    """The shortest cycle from `start` back to it, as `[start, …, start]`, or []."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for name in frontier:
            for nxt in following(name):
                if nxt == start:
                    path = [name]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parents:
                    parents[nxt] = name
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return []


def _strings(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[Sequence[str | int], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _mismatch(spec: FormField, literal: Any) -> bool:
    """Whether comparing the field with this literal compares across types (or, for a
    `choice`, with a value it can never hold)."""
    if isinstance(literal, bool):
        return spec.type is not FieldType.BOOLEAN
    if isinstance(literal, int | float):
        return spec.type not in (FieldType.INTEGER, FieldType.NUMBER)
    if isinstance(literal, str):
        if spec.type is FieldType.CHOICE:  # without choices, `declared_fields` reports it
            return bool(spec.choices) and literal not in spec.choices
        return spec.type not in (FieldType.STRING, FieldType.DATE)
    return False


def _pays_before_receipt(step: Step) -> bool:
    """A citizen step the dossier waits at before it is received (`before_receipt`)."""
    return isinstance(step, CitizenStep) and bool(step.before_receipt)
