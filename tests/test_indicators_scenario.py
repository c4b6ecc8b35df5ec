"""200 dossiers with outcomes chosen in advance give exactly the planned indicators.

Real dev server (visibility counts need it), real worker, real updates. Lateness without
waiting: some dossiers are received 30 days ago with a 2-working-day limit, started as the
client starts them (same start attributes). The test calendar makes the days around today
non-working, so the working time a dossier used does not grow while the test runs, and every
dossier received today and finished today is early (its clock starts on the next working day).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import signed
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from motcua import client as ops
from motcua.indicators import feedback, figures, portal
from motcua.indicators.queries import RATING_WORKFLOW, Scope
from motcua.indicators.scoring import score
from procedures.legaltime.calendar import WorkCalendar, load_calendar
from procedures.legaltime.clock import DossierClock
from procedures.loader import load_procedure
from procedures.models import Channel, FrozenProcedure
from workflows import search_attributes as sa
from workflows.api import (
    DELIVER_EVENT,
    DOSSIER_WORKFLOW,
    Actor,
    Applicant,
    DeliverEvent,
    DossierInput,
    PortalStatus,
    TaskStatus,
)
from workflows.forms import VIETNAM

FIXTURES = Path(__file__).with_name("fixtures") / "indicators"
FORMS = Path(__file__).resolve().parents[1] / "procedures" / "forms"
TEMPLATE_CODES = ("T76.00.01.H26", "T76.00.02.H26", "9.000766", "9.000767", "9.000768")
"""The fixtures' agency and procedure codes, replaced by fresh ones in each test (`fresh`)."""
N = 200


@dataclass(frozen=True)
class Codes:
    """One test's own agencies and procedures, so tests sharing a server never count each
    other's dossiers."""

    desk: str
    second: str
    main: str
    other: str
    feedback: str


def fresh(folder: Path) -> tuple[Codes, dict[str, FrozenProcedure]]:
    """The fixture procedures under new agency and procedure codes, written to `folder`."""
    n = uuid.uuid4().int % 90000 + 10000
    codes = Codes(f"T{n}.00.01.H26", f"T{n}.00.02.H26", f"8.{n}766", f"8.{n}767", f"8.{n}768")
    shutil.copytree(FORMS, folder / "forms")  # templates must sit in the catalogue
    for name in ("one-desk.yaml", "second.yaml", "feedback.yaml"):
        # The feedback procedure sits apart: tests use FIXTURES as a catalogue of dossiers.
        source = FIXTURES.with_name("feedback") if name == "feedback.yaml" else FIXTURES
        text = (source / name).read_text(encoding="utf-8")
        for old, new in zip(
            TEMPLATE_CODES,
            (codes.desk, codes.second, codes.main, codes.other, codes.feedback),
            strict=True,
        ):
            text = text.replace(old, new)
        text = text.replace("../../../procedures/forms/", "forms/")
        (folder / name).write_text(text, encoding="utf-8")
    procs = {
        codes.main: load_procedure(folder / "one-desk.yaml"),
        codes.other: load_procedure(folder / "second.yaml"),
        codes.feedback: load_procedure(folder / "feedback.yaml"),
    }
    return codes, procs


POLL = 0.2


@dataclass(frozen=True)
class Plan:
    """One dossier's fate, decided before it starts."""

    codes: Codes
    i: int
    procedure: str
    channel: Channel
    backdated: bool
    outcome: str  # approve / refuse / withdraw / handover / open / supplement
    pays: str | None  # None, "online" or "cash"
    apology: bool
    documents: tuple[str, ...]

    @property
    def agency(self) -> str:
        return self.codes.desk if self.procedure == self.codes.main else self.codes.second

    @property
    def officer(self) -> str:
        return f"officer{self.i % 3}@{self.agency}"

    @property
    def stars(self) -> int | None:
        """The applicant's rating of an approved dossier, for one in three."""
        return 1 + (self.i // 3) % 5 if self.result == "approved" and self.i % 3 == 0 else None

    @property
    def result(self) -> str | None:
        return {
            "approve": "approved",
            "supplement": "approved",
            "handover": "approved",
            "refuse": "refused",
            "withdraw": "withdrawn",
        }.get(self.outcome)


def plans(codes: Codes) -> list[Plan]:
    out = []
    for i in range(N):
        main = i % 5 != 4
        outcome = ["approve"] * 4 + ["refuse", "withdraw", "handover", "open", "supplement", "open"]
        fate = outcome[(i // 5) % 10]
        backdated = i % 7 == 0
        if (fate == "handover" and not main) or (fate == "supplement" and (backdated or not main)):
            fate = "approve"
        channel = [Channel.ONLINE, Channel.POST, Channel.IN_PERSON][i % 3]
        if not main and channel is Channel.POST:
            channel = Channel.IN_PERSON
        pays = ("online" if i % 8 == 1 else "cash") if main and i % 4 == 1 else None
        documents = ("application", "deed") if main and i % 6 == 0 else ("application",)
        apology = main and backdated and fate == "approve" and i % 2 == 0
        out.append(
            Plan(
                codes,
                i,
                codes.main if main else codes.other,
                channel,
                backdated,
                fate,
                pays,
                apology,
                documents,
            )
        )
    return out


def calendar() -> WorkCalendar:
    """The national calendar with the days around today off: used time stands still."""
    today = datetime.now(VIETNAM).date()
    off = {today + timedelta(days=d) for d in range(-1, 3)}
    cal = load_calendar()
    return cal.model_copy(
        update={
            "non_working": tuple(sorted(set(cal.non_working) | off)),
            "working": tuple(d for d in cal.working if d not in off),
        }
    )


def ago(days: int) -> datetime:
    """10:00 local time `days` days ago, in UTC."""
    day = datetime.now(VIETNAM).date() - timedelta(days=days)
    return datetime.combine(day, time(10), VIETNAM).astimezone(UTC)


async def _open(temporal: Client, code: str, step: str) -> None:
    for _ in range(300):
        try:
            state = await ops.show(temporal, code)
        except ops.DossierNotFound:  # a sub-procedure the parent has not started yet
            await asyncio.sleep(POLL)
            continue
        if any(t.step == step and t.status is TaskStatus.OPEN for t in state.tasks):
            return
        await asyncio.sleep(POLL)
    raise AssertionError(f"{code}: {step} never opened")


async def _apology_open(temporal: Client, code: str) -> None:
    for _ in range(300):
        if (await ops.show(temporal, code)).apology is not None:
            return
        await asyncio.sleep(POLL)
    raise AssertionError(f"{code}: no apology task")


async def start(
    temporal: Client,
    frozen: FrozenProcedure,
    cal: WorkCalendar,
    channel: Channel,
    backdated: bool,
    form: dict[str, Any],
    documents: tuple[str, ...] = (),
) -> tuple[str, Applicant]:
    """Start a dossier received now (as the client submits it) or 30 days ago (started as the
    client starts one, same start attributes); its code and applicant."""
    applicant = Applicant(full_name="Người thử", id_number=uuid.uuid4().hex[:12])
    proc = frozen.procedure
    if not backdated:
        submitted = await ops.submit(
            temporal, frozen, applicant, channel, form, documents, calendar=cal
        )
        return submitted.code, applicant
    agency = proc.agencies[proc.receiving_agency]
    code = f"{agency.code}-IND-{uuid.uuid4().hex[:8]}"
    inp = DossierInput(
        code=code,
        procedure=frozen,
        calendar=cal,
        received_at=ago(30),
        channel=channel,
        applicant=applicant,
        form=form,
        documents=documents,
        request_id=code,
    )
    await temporal.start_workflow(
        DOSSIER_WORKFLOW,
        inp,
        id=code,
        task_queue=agency.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.PROCEDURE_CODE, proc.code),
                SearchAttributePair(sa.PORTAL_STATUS, PortalStatus.RECEIVED.value),
                SearchAttributePair(sa.OVERDUE, False),
                SearchAttributePair(sa.INTERPRETER_VERSION, inp.interpreter),
                *sa.at_start(proc, channel, inp.received_at, documents),
            ]
        ),
    )
    return code, applicant


async def play(temporal: Client, p: Plan, frozen: FrozenProcedure, cal: WorkCalendar) -> str:
    """Start the dossier as planned and drive it to its planned end; its code."""
    form: dict[str, Any] = {"pays": p.pays is not None}
    code, applicant = await start(temporal, frozen, cal, p.channel, p.backdated, form, p.documents)
    c = p.codes
    step = "decide" if p.procedure == c.main else "check"
    me = Actor.parse(f"{p.officer}/one_stop" if p.procedure == c.main else f"{p.officer}/officer")
    if p.pays:
        payment = signed(
            DeliverEvent(
                event="payment_received",
                actor=Actor.parse(f"bank@{p.agency}/one_stop"),
                data={"method": p.pays},
            )
        )
        handle = temporal.get_workflow_handle(code)
        for _ in range(300):
            try:
                await handle.execute_update(DELIVER_EVENT, payment, result_type=str)
                break
            except WorkflowUpdateFailedError:  # not waiting for it yet
                await asyncio.sleep(POLL)
    await _open(temporal, code, step)
    if p.apology:
        await _apology_open(temporal, code)
        head = Actor.parse(f"head1@{c.desk}/head")
        await ops.approve_apology(temporal, code, head, "quá tải (thử)")
    if p.outcome == "open":
        return code
    if p.outcome == "withdraw":
        await ops.withdraw(temporal, code, applicant_id=applicant.id_number)
    elif p.outcome == "supplement":
        await ops.request_supplement(temporal, code, step, me, ["deed"])
        await ops.supplement(temporal, code, ["deed"], applicant_id=applicant.id_number)
        await _open(temporal, code, step)
        await ops.complete(temporal, code, step, me, "approve")
    else:
        decision = {"approve": "approve", "refuse": "refuse", "handover": "handover"}[p.outcome]
        if p.procedure == c.other:
            decision = {"approve": "confirm", "refuse": "deny"}[decision]
        await ops.complete(temporal, code, step, me, decision)
        if p.outcome == "handover":
            child = f"{code}.second"
            await _open(temporal, child, "check")
            other = Actor.parse(f"officer{p.i % 3}@{c.second}/officer")
            await ops.complete(temporal, child, "check", other, "confirm")
    await temporal.get_workflow_handle(code).result()
    if p.stars is not None:
        await rate(temporal, code, p.procedure, p.stars)
    return code


async def rate(temporal: Client, code: str, procedure: str, stars: int) -> None:
    """Rate a dossier as the web app does (issue 17): a `Rating` workflow started with the
    procedure code and the score, here on a queue no worker serves (its start is the record)."""
    await temporal.start_workflow(
        RATING_WORKFLOW,
        {"dossier_code": code, "procedure_code": procedure, "score": stars},
        id=f"rating-{code}",
        task_queue="ind-ratings",
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.PROCEDURE_CODE, procedure),
                SearchAttributePair(sa.RATING, stars),
            ]
        ),
    )


@dataclass(frozen=True)
class Feedback:
    """One feedback's fate (phản ánh, kiến nghị), decided before it is sent: about the desk or
    the second agency; answered, declined at receipt, withdrawn there, or left open with the
    agency concerned; received today (answered early) or 30 days ago (answered late)."""

    codes: Codes
    i: int
    about_second: bool
    outcome: str  # answer / refuse / withdraw / open
    backdated: bool

    @property
    def agency(self) -> str:
        return self.codes.second if self.about_second else self.codes.desk

    @property
    def forwarded(self) -> bool:
        """Routed to the agency concerned (its answer task opened)."""
        return self.outcome in ("answer", "open")

    @property
    def decided(self) -> bool:
        return self.outcome in ("answer", "refuse")


FEEDBACK_N = 30


def feedback_plans(codes: Codes) -> list[Feedback]:
    fates = ["answer", "answer", "refuse", "open", "withdraw", "answer"]
    return [
        Feedback(codes, i, i % 2 == 1, fates[i % len(fates)], i % 5 == 0) for i in range(FEEDBACK_N)
    ]


async def play_feedback(
    temporal: Client, f: Feedback, frozen: FrozenProcedure, cal: WorkCalendar
) -> str:
    """Send the feedback as planned and drive it to its planned end; its code."""
    form = {"content": f"Phản ánh thử số {f.i}: chờ lâu", "agency": f.agency}
    code, applicant = await start(temporal, frozen, cal, Channel.ONLINE, f.backdated, form)
    c = f.codes
    desk = Actor.parse(f"officer{f.i % 2}@{c.desk}/one_stop")
    await _open(temporal, code, "receive")
    if f.outcome == "withdraw":
        await ops.withdraw(temporal, code, applicant_id=applicant.id_number)
    elif f.outcome == "refuse":
        await ops.complete(temporal, code, "receive", desk, "refuse")
    else:
        await ops.complete(temporal, code, "receive", desk, "forward")
        step = "answer_second" if f.about_second else "answer_desk"
        await _open(temporal, code, step)
        if f.outcome == "open":
            return code
        who = Actor.parse(f"officer@{c.second}/officer") if f.about_second else desk
        await ops.complete(temporal, code, step, who, "answer", {"answer": f"Trả lời {f.i}"})
    await temporal.get_workflow_handle(code).result()
    return code


def feedback_expected(fs: list[Feedback], agency: str | None) -> dict[str, int]:
    """The feedback figures of `agency`'s row (every feedback passes the desk; the second agency
    has those forwarded to it), or of the province (None), from the plan alone."""
    mine = [f for f in fs if agency in (None, f.codes.desk) or (f.agency == agency and f.forwarded)]
    return {
        "feedback_received": sum(not f.backdated for f in mine),
        "feedback_ended": sum(f.decided for f in mine),
        "feedback_on_time": sum(f.decided and not f.backdated for f in mine),
        "feedback_overdue": sum(f.outcome == "open" and f.backdated for f in mine),
    }


def used_days(frozen: FrozenProcedure, cal: WorkCalendar, received: datetime) -> float:
    """What a dossier received at `received` and ended today counted, by the clock's rules."""
    proc = frozen.procedure
    hours = proc.agencies[proc.receiving_agency].office_hours(cal)
    clock = DossierClock(budget=proc.time_limit, max_extensions=1, hours=hours).start(received)
    now = datetime.now(UTC)
    return round(clock.finish(now).used(cal, now) / hours.day_minutes, 2)


def decided_days(
    ps: list[Plan], agency: str, procs: dict[str, FrozenProcedure], cal: WorkCalendar
) -> list[float]:
    """The working days of each dossier of `agency` approved or refused, from the plan."""
    decided = [p for p in ps if p.agency == agency and p.result in ("approved", "refused")]
    return [used_days(procs[p.procedure], cal, ago(30)) if p.backdated else 0.0 for p in decided]


def estimated(days: list[float]) -> float:
    """What counting per range of days makes of `days`: each at its range's middle, the last,
    open range at its lower edge."""
    edges = [0.0, *map(float, figures.DAY_BUCKETS)]
    total = 0.0
    for d in days:
        i = max(k for k, edge in enumerate(edges) if d >= edge)
        total += edges[i] if i == len(edges) - 1 else (edges[i] + edges[i + 1]) / 2
    return round(total, 2)


def expected(
    ps: list[Plan], agency: str, procs: dict[str, FrozenProcedure], cal: WorkCalendar
) -> dict[str, Any]:
    """The row of `agency`, worked out from the plan alone."""
    mine = [p for p in ps if p.agency == agency]
    today = [p for p in mine if not p.backdated]
    ended = [p for p in mine if p.result]
    approved = [p for p in ended if p.result == "approved"]
    days = decided_days(ps, agency, procs, cal)
    open_ = [p for p in mine if not p.result]
    c = ps[0].codes
    children = [p for p in ps if p.outcome == "handover"] if agency == c.second else []
    return {
        "carried_over": sum(p.backdated for p in mine),
        "received": len(today),
        "received_by_channel": {ch.value: sum(p.channel is ch for p in today) for ch in Channel},
        "finished_early": sum(not p.backdated for p in approved),
        "finished_on_time": 0,
        "finished_late": sum(p.backdated for p in approved),
        "refused": sum(p.result == "refused" for p in ended),
        "withdrawn": sum(p.result == "withdrawn" for p in ended),
        "stopped": 0,
        "in_progress_on_time": sum(not p.backdated for p in open_),
        "in_progress_overdue": sum(p.backdated for p in open_),
        "supplement_requested": sum(p.outcome == "supplement" for p in today),
        "apologies": sum(p.apology for p in ended),
        "digitised": sum(p.documents == ("application",) for p in today),
        "paid_online": sum(p.pays == "online" for p in today),
        "with_fees": sum(p.procedure == c.main for p in today),
        "ratings": {k: sum(p.stars == k for p in mine) for k in range(1, 6)},
        "processing_days_total": round(sum(days), 2),
        "processing_days_count": len(days),
        "portal_synced": sum(p.result in ("approved", "refused", "withdrawn") for p in ended),
        "handled": len(ended) + len(children),
        "handled_late": 0,
    }


@pytest.mark.timeout(600)
async def test_two_hundred_planned_dossiers_give_exactly_the_planned_indicators(
    dev_env: Any, run_worker: Any, data_dir: Path, tmp_path: Path
) -> None:
    temporal = dev_env.client
    c, procs = fresh(tmp_path)
    cal = calendar()
    ps = plans(c)
    gate = asyncio.Semaphore(16)

    async def one(p: Plan) -> str:
        async with gate:
            return await play(temporal, p, procs[p.procedure], cal)

    fs = feedback_plans(c)

    async def sent(f: Feedback) -> str:
        async with gate:
            return await play_feedback(temporal, f, procs[c.feedback], cal)

    async with run_worker(temporal, ["ind-desk", "ind-second"], data_dir):
        await asyncio.gather(*map(one, ps), *map(sent, fs))
        scope = Scope(start=ago(10), end=datetime.now(UTC) + timedelta(hours=1))
        # The feedback procedure is in the catalogue; every dossier figure leaves it out.
        catalogue, channels = feedback.split((f.procedure for f in procs.values()), [c.feedback])
        assert channels == (c.feedback,)
        want = {a: expected(ps, a, procs, cal) for a in (c.desk, c.second)}
        heard = {a: feedback_expected(fs, a) for a in (c.desk, c.second, None)}
        rows: list[figures.Row] = []
        for _ in range(100):  # visibility catches up within a few seconds
            rows = await figures.table(
                temporal, scope, catalogue, by="agency", portal_feed=portal.feed_of(data_dir)
            )
            rows = await feedback.add(temporal, rows, scope, channels)
            got = {r.agency: r.model_dump(include=set(want[c.desk])) for r in rows[:2]}
            news = {r.agency: r.model_dump(include=set(feedback.FIGURES)) for r in rows}
            if got == want and news == heard:
                break
            await asyncio.sleep(0.5)
        assert got == want
        assert news == heard
        # Planned: 30 feedback, 24 of them sent today; 20 answered or declined, 4 of those late
        # (sent 30 days ago); 5 open with the agency concerned, 1 of them overdue.
        assert heard[None] == {
            "feedback_received": 24,
            "feedback_ended": 20,
            "feedback_on_time": 16,
            "feedback_overdue": 1,
        }
        assert rows[-1].rates()["feedback_on_time_rate"] == round(16 / 21, 4)
        assert [s.score for s in score(rows[-1]) if s.component == "feedback"] == [6.86]
        total = rows[-1]
        assert total.received == want[c.desk]["received"] + want[c.second]["received"]
        assert (
            total.finished_late == want[c.desk]["finished_late"] + want[c.second]["finished_late"]
        )
        codes = tuple(sorted(p.code for p in catalogue))
        fees = [p.code for p in catalogue if p.fees]
        counted = await figures.row(
            temporal, replace(scope, catalogue=codes), "province", fees, procedures=codes
        )
        kept = {"label", "processing_days_total", "processing_days_count", "portal_synced"}
        kept |= set(feedback.FIGURES)  # counted on their own, by `feedback.add`
        assert total.model_dump(exclude=kept) == counted.model_dump(exclude=kept)
        assert total.rates()["portal_sync_rate"] == 1.0

        many = await figures.table(temporal, scope, catalogue, by="agency", exact_up_to=0)
        assert all(r.processing_days_estimated for r in many)
        assert [(r.processing_days_total, r.processing_days_count) for r in many[:2]] == [
            (estimated(decided_days(ps, a, procs, cal)), want[a]["processing_days_count"])
            for a in (c.desk, c.second)
        ]

        desk = rows[0].rates()
        today_desk = [p for p in ps if p.agency == c.desk and not p.backdated]
        assert desk["online_rate"] == round(
            sum(p.channel is Channel.ONLINE for p in today_desk) / len(today_desk), 4
        )
        # As `motcua indicators --officers` counts them: the catalogue's dossiers, no feedback.
        people = await figures.officers(temporal, replace(scope, catalogue=codes), c.desk)
        decided_by = Counter(
            p.officer for p in ps if p.agency == c.desk and p.result in ("approved", "refused")
        )
        late_by = Counter(
            p.officer
            for p in ps
            if p.agency == c.desk and p.result in ("approved", "refused") and p.backdated
        )
        assert {o.officer: (o.decided, o.ended_late) for o in people} == {
            who: (n, late_by[who]) for who, n in decided_by.items()
        }
