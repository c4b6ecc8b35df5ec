"""The product's main job, shown: real dossiers of catalogue procedures, played to the end.

Officers are played by a small script that acts through the same client operations a person
uses (claim, then complete with a decision and the required fields), so the demo exercises the
real workflow, its validators, activities and documents; nothing is simulated.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from temporalio.client import Client

from motcua import client as ops
from procedures.models import Channel, EndStep, FieldType, FormField, FrozenProcedure, TaskStep
from workflows.api import DELIVER_EVENT, Actor, Applicant, DeliverEvent, DossierState, TaskStatus
from workflows.forms import local

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Case:
    """One demo dossier: which procedure, who applies, and decisions that differ from 'yes'."""

    procedure: str
    story: str
    applicant: Applicant
    channel: Channel = Channel.ONLINE
    form: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, str] = field(default_factory=dict)


CASES: tuple[Case, ...] = (
    Case(
        procedure="1.001193",
        story="birth + residence + health insurance: three agencies, two at once",
        applicant=Applicant(full_name="Trần Thị Mai", id_number="019190000123", phone="0912000111"),
    ),
    Case(
        procedure="1.006714",
        story="death registration, residence deregistration handed to the police",
        applicant=Applicant(full_name="Lê Văn Hùng", id_number="019080000456", phone="0912000222"),
        channel=Channel.IN_PERSON,
    ),
    Case(
        procedure="2.000720",
        story="household business registration, refused at review",
        applicant=Applicant(
            full_name="Phạm Quốc Anh", id_number="019095000789", phone="0912000333"
        ),
        plan={"review": "refuse"},
    ),
)


def _sample(spec: FormField) -> Any:
    """A plausible value an officer would type for a required field."""
    match spec.type:
        case FieldType.INTEGER:
            return 1
        case FieldType.NUMBER:
            return 1.0
        case FieldType.BOOLEAN:
            return True
        case FieldType.DATE:
            return date.today().isoformat()
        case FieldType.CHOICE:
            return spec.choices[0]
    return "DEMO-001"


def _decision(frozen: FrozenProcedure, step_id: str, plan: dict[str, str]) -> str:
    """The planned decision, else the first one that does not end the dossier badly."""
    step = frozen.procedure.steps[step_id]
    assert isinstance(step, TaskStep)
    if step_id in plan and plan[step_id] in step.decisions:
        return plan[step_id]
    for decision, target in step.decisions.items():
        end = frozen.procedure.steps[target]
        if not isinstance(end, EndStep) or end.result.value == "approved":
            return decision
    return next(iter(step.decisions))


async def _act_on(
    client: Client, frozen: FrozenProcedure, state: DossierState, plan: dict[str, str]
) -> bool:
    """Decide every open task of one dossier; deliver awaited events. True if anything moved."""
    moved = False
    for task in state.tasks:
        if task.status not in (TaskStatus.OPEN, TaskStatus.CLAIMED):
            continue
        step = frozen.procedure.steps[task.step]
        assert isinstance(step, TaskStep)
        actor = Actor(user=f"demo.{task.role}", agency=task.agency, role=task.role)
        fields = {name: _sample(spec) for name, spec in step.fields.items() if spec.required}
        if task.status is TaskStatus.OPEN:
            await ops.claim(client, state.code, task.step, actor)
        await ops.complete(
            client, state.code, task.step, actor, _decision(frozen, task.step, plan), fields
        )
        moved = True
    waiting = awaited(state)
    if waiting:
        agency = frozen.procedure.agencies[frozen.procedure.receiving_agency]
        actor = Actor(user="demo.cashier", agency=agency.code, role="one_stop")
        handle = client.get_workflow_handle(state.code)
        await handle.execute_update(DELIVER_EVENT, DeliverEvent(event=waiting, actor=actor))
        moved = True
    return moved


def awaited(state: DossierState) -> str | None:
    """The event a wait step is waiting for, read from the timeline."""
    pending: dict[str | None, str] = {}
    for entry in state.timeline:
        if entry.kind == "waiting":
            pending[entry.step] = entry.detail
        elif entry.kind in ("arrived", "timed_out"):
            pending.pop(entry.step, None)
    return next(iter(pending.values()), None)


def children(state: DossierState) -> list[str]:
    """Codes of sub-procedure dossiers still running, from the timeline."""
    running: dict[str, str] = {}
    for entry in state.timeline:
        if entry.kind == "handed_over" and entry.step:
            running[entry.step] = f"{state.code}.{entry.step}"
        elif entry.kind == "returned" and entry.step:
            running.pop(entry.step, None)
    return list(running.values())


async def play(
    client: Client, code: str, frozen: FrozenProcedure, plan: dict[str, str]
) -> DossierState:
    """Act as the officers of every agency until the dossier ends."""
    while True:
        state = await ops.show(client, code)
        if state.result is not None:
            await client.get_workflow_handle(code).result()  # its last documents and statuses
            return await ops.show(client, code)
        moved = await _act_on(client, frozen, state, plan)
        for child in children(state):
            try:
                child_state = await ops.show(client, child)
            except ops.DossierNotFound:  # handed over, but not started yet
                continue
            sub = frozen.subprocedures[child_state.procedure_code]
            if child_state.result is None:
                moved = await _act_on(client, sub, child_state, plan) or moved
        if not moved:
            await asyncio.sleep(POLL_SECONDS)


def report(state: DossierState) -> str:
    """What a person wants to see of a finished dossier: code, timeline, result, documents."""
    lines = [
        f"Dossier {state.code} — {state.procedure_name}",
        f"  result: {state.result.value if state.result else '-'}  portal status: "
        f"{state.status.value}  on time: {state.clock.status}  due: {local(state.clock.due_at)}",
        "  timeline:",
    ]
    for entry in state.timeline:
        who = f" by {entry.actor}" if entry.actor else ""
        step = f" [{entry.step}]" if entry.step else ""
        lines.append(f"    {local(entry.at)}  {entry.kind}{step}{who} {entry.detail}".rstrip())
    lines.append("  documents:")
    lines.extend(f"    {doc.title}: {doc.path}" for doc in state.documents)
    return "\n".join(lines)


async def run_cases(client: Client, cases: tuple[Case, ...] = CASES) -> list[DossierState]:
    """Submit every case, play them all at once, and return their final states."""

    async def one(case: Case) -> DossierState:
        frozen = ops.load_frozen(case.procedure)
        documents = tuple(d.id for d in frozen.procedure.documents if d.required)
        submitted = await ops.submit(
            client,
            frozen,
            case.applicant,
            case.channel,
            case.form,
            documents,
            request_id=f"demo-{uuid.uuid4()}",
        )
        print(f"submitted {submitted.code}: {case.story}; appointment {local(submitted.due_at)}")
        return await play(client, submitted.code, frozen, case.plan)

    return list(await asyncio.gather(*(one(c) for c in cases)))
