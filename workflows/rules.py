"""Who may do what to a dossier: the checks behind every update validator.

Pure functions of the procedure, the runtime state and the request. Each raises `Rejected`
with a message an officer can act on; the validator turns it into a rejected update, which
leaves no event in history (so the worker logs it: see `workflows.dossier`).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from procedures import fields
from procedures.models import CitizenStep, FieldType, FormField, Procedure, RepeatStep, TaskStep
from workflows.api import (
    Actor,
    ApproveApology,
    CitizenAct,
    ClaimTask,
    CompleteTask,
    DeliverEvent,
    ReassignTask,
    RequestSupplement,
    SupplementDossier,
    TaskStatus,
)
from workflows.forms import local
from workflows.proof import ProofAttempts
from workflows.state import Repetition, Runtime, Task


class Rejected(ValueError):
    """An update that must not be applied, with the reason shown to the caller."""


def _open_task(state: Runtime, step: str) -> Task:
    task = state.open_task(step)
    if task is not None:
        return task
    done = [t for t in state.tasks if t.step == step]
    if done:
        last = done[-1]
        raise Rejected(
            f"task {step!r} is not open: it was {last.status.value}"
            + (f" by {last.closed_by}" if last.closed_by else "")
        )
    open_steps = ", ".join(t.step for t in state.open_tasks()) or "none"
    raise Rejected(f"no open task {step!r} in this dossier (open tasks: {open_steps})")


def _same_agency(task: Task, actor: Actor) -> None:
    if actor.agency != task.agency:
        raise Rejected(
            f"task {task.step!r} belongs to agency {task.agency} ({task.agency_name}), "
            f"not to {actor.agency or 'the applicant'}"
        )


def _assigned(task: Task, actor: Actor) -> None:
    _same_agency(task, actor)
    if actor.role != task.role:
        raise Rejected(f"task {task.step!r} needs role {task.role!r}, not {actor.role!r}")
    if task.status is TaskStatus.CLAIMED and task.assignee not in (
        None,
        actor.user,
        actor.acting_for,
    ):
        raise Rejected(f"task {task.step!r} is claimed by {task.assignee}")


def check_active(state: Runtime, ended: bool) -> None:
    if ended:
        raise Rejected(f"the dossier is closed (status {state.status.value})")


def check_claim(state: Runtime, req: ClaimTask) -> None:
    task = _open_task(state, req.step)
    _assigned(task, req.actor)
    if task.assignee is not None and task.assignee in (req.actor.user, req.actor.acting_for):
        raise Rejected(f"task {req.step!r} is already claimed by {task.assignee}")


def check_complete(procedure: Procedure, state: Runtime, req: CompleteTask) -> None:
    task = _open_task(state, req.step)
    _assigned(task, req.actor)
    if state.supplement is not None and state.supplement.received is None:
        raise Rejected("the dossier waits for the applicant's supplement; no decision until then")
    step = procedure.steps[req.step]
    assert isinstance(step, TaskStep)
    if req.decision not in step.decisions:
        allowed = ", ".join(step.decisions)
        raise Rejected(f"decision {req.decision!r} is not allowed at {req.step!r} ({allowed})")
    check_fields(step.fields, req.fields)


def check_fields(declared: dict[str, FormField], given: dict[str, Any]) -> None:
    """Every given field is declared and well typed; every required one is there."""
    problems = []
    for name, fault in fields.faults(declared, given):
        if fault is fields.Fault.UNKNOWN:
            problems.append(f"unknown field {name!r}")
        elif fault is fields.Fault.REQUIRED:
            problems.append(f"field {name!r} is required")
        elif fault is fields.Fault.TOO_LONG:
            problems.append(f"field {name!r} has at most {declared[name].longest()} characters")
        else:
            spec = declared[name]
            expected = spec.type.value
            if spec.type is FieldType.CHOICE:
                expected = "one of " + ", ".join(spec.choices)
            # The value itself is not echoed: it may be personal data, and rejections are logged.
            problems.append(f"field {name!r} must be {expected}")
    if problems:
        raise Rejected("; ".join(problems))


def check_reassign(procedure: Procedure, state: Runtime, req: ReassignTask) -> None:
    """Heads reassign, and so does the role the step escalates to (who takes a late task over
    may also hand it on): a head's bulk redistribution is one of these per task."""
    task = _open_task(state, req.step)
    _same_agency(task, req.actor)
    step = procedure.steps.get(req.step)
    escalation = step.escalation if isinstance(step, TaskStep) else None
    escalated_to = escalation.escalate_to if escalation else None
    if req.actor.role not in ("head", escalated_to):
        also = f" or its {escalated_to!r}" if escalated_to not in (None, "head") else ""
        raise Rejected(f"only the agency's head{also} may reassign a task")
    if req.to_user is None and req.to_role is None:
        raise Rejected("say whom to reassign to: to_user, to_role or both")
    roles = procedure.agencies[task.agency_key].roles
    if req.to_role is not None and req.to_role not in roles:
        raise Rejected(f"agency {task.agency} has no role {req.to_role!r} ({', '.join(roles)})")


def check_request_supplement(procedure: Procedure, state: Runtime, req: RequestSupplement) -> None:
    task = _open_task(state, req.step)
    _assigned(task, req.actor)
    step = procedure.steps[req.step]
    if not (isinstance(step, TaskStep) and step.supplement_allowed):
        raise Rejected(f"step {req.step!r} may not request a supplement")
    if procedure.supplement is None:
        raise Rejected("this procedure sets no time for supplements")
    if state.supplement is not None and state.supplement.received is None:
        raise Rejected("a supplement is already requested; the applicant has not answered yet")


def check_applicant(applicant_id: str, given: str | None) -> None:
    """Only the applicant supplements or withdraws; the number is never echoed or logged."""
    if given is None or not hmac.compare_digest(given.strip(), applicant_id):
        raise Rejected("the identity number given is not this dossier's applicant's")


def check_unlocked(proof: ProofAttempts, now: datetime) -> None:
    """Citizen actions wait while too many wrong identity numbers lock the dossier."""
    if proof.locked(now):
        until = local(proof.locked_until)
        raise Rejected(f"too many wrong identity numbers: try again after {until}")


def check_supplement(state: Runtime, req: SupplementDossier) -> None:
    if state.supplement is None or state.supplement.received is not None:
        raise Rejected("no supplement was requested for this dossier")


def check_citizen_act(
    procedure: Procedure,
    awaiting: set[str],
    applicant_id: str,
    req: CitizenAct,
    repetitions: Mapping[str, Repetition],
) -> None:
    """The whole check of an applicant's act at a citizen step, in one place: who (the
    applicant's number), where (a citizen step open now, or when a repeat step's next period
    opens) and what (its declared fields)."""
    check_applicant(applicant_id, req.applicant_id)
    if req.step not in awaiting:
        check_between_reports(repetitions, req.step)
        names = ", ".join(sorted(awaiting)) or "none"
        raise Rejected(f"the dossier does not wait for the applicant at {req.step!r} ({names})")
    step = procedure.steps[req.step]
    assert isinstance(step, CitizenStep | RepeatStep)
    check_fields(step.fields, req.fields)


def check_event(
    waiting: set[str],
    req: DeliverEvent,
    procedure: Procedure,
    repetitions: Mapping[str, Repetition],
) -> None:
    """An event is taken while a step waits for it; a repeat step's between two periods is
    refused with when the next period opens."""
    if req.event not in waiting:
        for name in repetitions:
            step = procedure.steps.get(name)
            if isinstance(step, RepeatStep) and step.event == req.event:
                check_between_reports(repetitions, name)
        names = ", ".join(sorted(waiting)) or "none"
        raise Rejected(f"the dossier is not waiting for {req.event!r} (waiting for: {names})")


def check_between_reports(repetitions: Mapping[str, Repetition], step: str) -> None:
    """Refuse a report at repeat step `step` between two periods, saying when the next opens
    (the generic refusal does not tell the applicant when to come back)."""
    run = repetitions.get(step)
    if run is None or run.awaiting or run.finished or run.opens_at is None:
        return
    raise Rejected(
        f"no report is due at {step!r} now: report {run.number + 1} of {run.times} opens at "
        f"{local(run.opens_at)}"
    )


def check_apology(procedure: Procedure, state: Runtime, req: ApproveApology) -> None:
    if state.apology is None or state.apology.approved_by is not None:
        raise Rejected("there is no apology letter waiting for approval")
    policy = procedure.apology
    agency = procedure.agencies[procedure.receiving_agency]
    assert policy is not None
    if req.actor.agency != agency.code or req.actor.role != policy.role:
        raise Rejected(f"the apology letter is approved by {agency.code}/{policy.role}")
    if state.clock.extensions >= procedure.max_extensions:
        raise Rejected(f"the procedure allows {procedure.max_extensions} extension(s); all used")
