"""A procedure drawn as a Mermaid flowchart, for reviewing it with the people who run it.

Phases are subgraphs titled with their own limit (`⏱ Thẩm định · 7d`), holding their steps
by agency; agencies are subgraphs holding their steps; a repeated step says how many times and
how often (`🔁 applicant × 6, every 30 calendar d`); decisions label the edges with the time share
the step they leave may use (`accept · 0.25d`); a parallel step forks to its branches and a
join node gathers them before `next`; choices are diamonds, waits parallelograms,
sub-procedures subroutine boxes and ends stadiums. Node ids are prefixed so that step names
such as `end` cannot clash with Mermaid's keywords, and every label is quoted and escaped.
"""

from __future__ import annotations

from procedures.checks import edges
from procedures.legaltime.calendar import TimeLimit
from procedures.models import (
    AutoStep,
    ChoiceStep,
    CitizenStep,
    EndStep,
    FrozenProcedure,
    ParallelStep,
    RepeatStep,
    Step,
    SubprocedureStep,
    TaskStep,
    WaitStep,
)

_UNITS = {"working_days": "d", "working_hours": "h", "calendar_days": " calendar d"}
_BR = "\n"
_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;", "`": "#96;"}


def label(text: str) -> str:
    """Text quoted for a Mermaid label: entities for the characters Mermaid would parse."""
    escaped = "".join(_ESCAPES.get(char, char) for char in text)
    return '"' + escaped.replace("\n", "<br/>") + '"'


def _node(name: str) -> str:
    return f"s_{name}"


def to_mermaid(frozen: FrozenProcedure) -> str:
    """The Mermaid `flowchart TD` text of a frozen procedure."""
    procedure = frozen.procedure
    unit = _UNITS.get(str(procedure.time_limit.unit), str(procedure.time_limit.unit))
    lines = [
        "flowchart TD",
        f"  %% {procedure.code} v{procedure.version}, {procedure.time_limit.amount:g}{unit} "
        f"in all, content hash {frozen.content_hash[:16]}",
        f"  start(({label('bắt đầu')}))",
    ]
    lines.extend(_clusters(frozen))
    lines.append(f"  start --> {_node(procedure.start)}")
    joins = _joins(frozen)
    for name, step in procedure.steps.items():
        if isinstance(step, ParallelStep):
            lines.append(f"  {_node(name)}__join{{{{{label('∥ hợp nhánh')}}}}}")
            lines.append(f"  {_node(name)}__join --> {_node(step.next)}")
        for text, to in _labelled_edges(step, unit):
            target = joins.get((name, to), _node(to))
            arrow = f" -->|{label(text)}| " if text else " --> "
            lines.append(f"  {_node(name)}{arrow}{target}")
    return "\n".join(lines) + "\n"


def _clusters(frozen: FrozenProcedure) -> list[str]:
    """The steps' shapes in subgraphs: each phase (titled with its limit) holding its steps by
    agency, then the agencies' steps outside any phase, then steps of no agency."""
    procedure = frozen.procedure
    grouped: dict[str | None, dict[str | None, list[str]]] = {}
    for name, step in procedure.steps.items():
        agency = getattr(step, "agency", None)
        agency = agency if agency in procedure.agencies else None
        by_agency = grouped.setdefault(procedure.phase_of(name), {})
        by_agency.setdefault(agency, []).append(_shape(name, step, frozen))

    def agencies(by_agency: dict[str | None, list[str]], suffix: str, indent: str) -> list[str]:
        out: list[str] = []
        for agency, shapes in by_agency.items():
            if agency is None:
                continue
            title = label(procedure.agencies[agency].name)
            out.append(f"{indent}subgraph a_{agency}{suffix}[{title}]")
            out.extend(f"{indent}  {shape}" for shape in shapes)
            out.append(f"{indent}end")
        out.extend(f"{indent}{shape}" for shape in by_agency.get(None, []))
        return out

    lines: list[str] = []
    for phase, spec in procedure.phases.items():
        title = f"⏱ {spec.title or phase} · {_limit(spec.limit)}"
        lines.append(f"  subgraph p_{phase}[{label(title)}]")
        lines.extend(agencies(grouped.get(phase, {}), f"__{phase}", "    "))
        lines.append("  end")
    return lines + agencies(grouped.get(None, {}), "", "  ")


def _limit(limit: TimeLimit) -> str:
    """A time limit in the graph's short units: `7d`, `12 calendar d`."""
    return f"{limit.amount:g}{_UNITS.get(str(limit.unit), ' ' + str(limit.unit))}"


def _shape(name: str, step: Step, frozen: FrozenProcedure) -> str:
    title = step.title or name
    node = _node(name)
    if isinstance(step, TaskStep):
        return f"{node}[{label(title + _BR + step.role)}]"
    if isinstance(step, AutoStep):
        return f"{node}({label(title + _BR + '⚙ ' + step.activity)})"
    if isinstance(step, ChoiceStep):
        return f"{node}{{{label(title)}}}"
    if isinstance(step, ParallelStep):
        return f"{node}{{{{{label('∥ ' + title)}}}}}"
    if isinstance(step, WaitStep):
        return f"{node}[/{label(title + _BR + '⏳ ' + step.event)}/]"
    if isinstance(step, CitizenStep):
        return f"{node}[/{label(title + _BR + '👤 applicant')}/]"
    if isinstance(step, RepeatStep):
        times = step.times if isinstance(step.times, int) else f"({step.times})"
        every = f"every {_limit(step.every)}"
        return f"{node}[/{label(title + _BR + f'🔁 applicant × {times}, {every}')}/]"
    if isinstance(step, SubprocedureStep):
        sub = frozen.subprocedures.get(step.procedure)
        called = f"{step.procedure} {sub.procedure.name}" if sub else step.procedure
        return f"{node}[[{label(title + _BR + '↳ ' + called)}]]"
    if isinstance(step, EndStep):
        return f"{node}([{label(f'{title}: {step.result}')}])"
    raise TypeError(f"unknown step kind {type(step).__name__}")


def _labelled_edges(step: Step, unit: str) -> list[tuple[str, str]]:
    """Each edge of a step with its label: decision or result with the step's share."""
    share = getattr(step, "share", None)
    suffix = f" · {share:g}{unit}" if share is not None else ""
    labelled = []
    for where, to in edges(step):
        if isinstance(step, TaskStep | SubprocedureStep):
            text = f"{where[-1]}{suffix}"
        elif isinstance(step, ChoiceStep):
            text = f"{step.when[int(where[1])].if_}" if where[0] == "when" else "otherwise"
        elif isinstance(step, WaitStep | CitizenStep):
            limit = step.timeout if isinstance(step, WaitStep) else step.deadline
            timeout = _limit(limit)
            done = step.event if isinstance(step, WaitStep) else "done"
            text = done if where[0] == "next" else f"timeout {timeout}"
        elif isinstance(step, RepeatStep):
            text = "done" if where[0] == "next" else f"{step.end_after_missed} missed in a row"
        elif isinstance(step, ParallelStep):
            if where[0] == "next":
                continue
            text = str(where[-1])
        else:
            text = ""
        labelled.append((text, to))
    return labelled


def _joins(frozen: FrozenProcedure) -> dict[tuple[str, str], str]:
    """Edges from a branch step to its parallel's `next`, redirected to the join node."""
    steps = frozen.procedure.steps
    redirected: dict[tuple[str, str], str] = {}
    for name, step in steps.items():
        if not isinstance(step, ParallelStep):
            continue
        todo = [first for first in step.branches.values() if first in steps]
        seen = set(todo)
        while todo:
            current = todo.pop()
            for _, to in edges(steps[current]):
                if to == step.next:
                    redirected[(current, to)] = f"{_node(name)}__join"
                elif to in steps and to not in seen:
                    seen.add(to)
                    todo.append(to)
    return redirected
