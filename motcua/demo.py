"""The product's main job, shown: real dossiers of catalogue procedures, played to the end.

Officers are played by a small script that acts through the same client operations a person
uses (claim, then complete with a decision and the required fields), so the demo exercises the
real workflow, its validators, activities and documents; nothing is simulated.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from motcua import client as ops
from motcua.play import DEFAULT_PLAN, Plan, play
from procedures.models import Channel
from workflows.api import Applicant, DossierState
from workflows.forms import local


@dataclass(frozen=True)
class Case:
    """One demo dossier: which procedure, who applies, and decisions that differ from 'yes'."""

    procedure: str
    story: str
    applicant: Applicant
    channel: Channel = Channel.ONLINE
    form: dict[str, Any] = field(default_factory=dict)
    plan: Plan = DEFAULT_PLAN


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
        plan=Plan(decisions={"review": ("refuse",)}),
    ),
)


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
        documents = tuple(d.id for d in frozen.procedure.documents if d.needed(case.form))
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
