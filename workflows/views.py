"""How the dossier's tasks look to officers: `TaskView`s drawn from its state, for queries.

Pure functions of the state, so the queries stay one line each in `workflows.handlers`.
"""

from __future__ import annotations

from datetime import datetime

from procedures.legaltime.calendar import WorkCalendar
from procedures.models import Agency, FormKind, Procedure, TaskStep
from workflows.api import APOLOGY_STEP, PhaseView, TaskStatus, TaskView
from workflows.state import PhaseRun, Runtime, Task


def task(proc: Procedure, cal: WorkCalendar, task: Task, now: datetime) -> TaskView:
    """A human task as officers see it at `now`."""
    step = proc.steps[task.step]
    assert isinstance(step, TaskStep)
    due = task.clock.due(cal, task.closed_at or now)
    return TaskView(
        step=task.step,
        title=task.title,
        agency=task.agency,
        agency_name=task.agency_name,
        role=task.role,
        status=task.status,
        assignee=task.assignee,
        opened_at=task.opened_at,
        due_at=due,
        overdue=task.overdue or (task.closed_at is None and now > due),
        remaining_minutes=task.clock.remaining(cal, now),
        decision=task.decision,
        decisions=tuple(step.decisions),
        supplement_allowed=step.supplement_allowed,
    )


def apology(
    proc: Procedure,
    rt: Runtime,
    cal: WorkCalendar,
    receiving: Agency,
    due: datetime,
    now: datetime,
) -> TaskView | None:
    """The pending apology letter as a task of the receiving agency's head (none if not pending)."""
    pending, policy = rt.apology, proc.apology
    if pending is None or pending.approved_by is not None or policy is None:
        return None
    return TaskView(
        step=APOLOGY_STEP,
        title=proc.forms[FormKind.APOLOGY].title,
        agency=receiving.code,
        agency_name=receiving.name,
        role=policy.role,
        status=TaskStatus.OPEN,
        opened_at=pending.opened_at,
        due_at=due,
        overdue=now > due,
        remaining_minutes=rt.clock.remaining(cal, now),
        decisions=("approve",),
    )


def phase(proc: Procedure, cal: WorkCalendar, run: PhaseRun, now: datetime) -> PhaseView:
    """A run of a phase at `now`: its due instant, what is left, and how it stands."""
    spec = proc.phases.get(run.phase)
    finished = run.clock.finished_at
    due = run.clock.due(cal, finished or now)
    return PhaseView(
        phase=run.phase,
        title=(spec.title if spec is not None else None) or run.phase,
        visit=run.visit,
        step=run.step,
        started_at=run.started_at,
        due_at=due,
        finished_at=finished,
        limit=run.clock.budget,
        remaining_minutes=run.clock.remaining(cal, now),
        suspended=run.clock.suspended,
        overdue=run.overdue or (finished is None and now > due),
        status=run.on_time or run.clock.status(cal, now).value,
    )
