"""A procedure drawn as a Mermaid flowchart, for reviewing it with the people who run it.

Agencies are subgraphs holding their steps; decisions label the edges with the time share
the step they leave may use (`accept · 0.25d`); a parallel step forks to its branches and a
join node gathers them before `next`; choices are diamonds, waits parallelograms,
sub-procedures subroutine boxes and ends stadiums. Node ids are prefixed so that step names
such as `end` cannot clash with Mermaid's keywords, and every label is quoted and escaped.
"""

from __future__ import annotations

from procedures.checks import edges
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
    by_agency: dict[str, list[str]] = {}
    outside: list[str] = []
    for name, step in procedure.steps.items():
        shape = _shape(name, step, frozen)
        agency = getattr(step, "agency", None)
        if agency in procedure.agencies:
            by_agency.setdefault(agency, []).append(shape)
        else:
            outside.append(shape)
    for agency, shapes in by_agency.items():
        lines.append(f"  subgraph a_{agency}[{label(procedure.agencies[agency].name)}]")
        lines.extend(f"    {shape}" for shape in shapes)
        lines.append("  end")
    lines.extend(f"  {shape}" for shape in outside)
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
        return f"{node}[/{label(title + _BR + f'🔁 applicant × {step.times}')}/]"
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
            timeout = f"{limit.amount:g}{_UNITS.get(str(limit.unit), '')}"
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
