"""One row of indicators per scope, from visibility counts run together.

Counts only, except the average processing time: visibility has no SUM, so that one figure
lists the ended dossiers' `ProcessingDays` (one page per 1,000 dossiers) when they are few,
and is estimated from counts per range of days when they are many (`EXACT_UP_TO`). Visibility is
eventually consistent: a dossier that changed a moment ago may still be counted as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from motcua.indicators import portal
from motcua.indicators import queries as q
from procedures.models import Channel, Procedure, ResultType
from runtime.errors import UserError
from workflows import search_attributes as sa

CONCURRENCY = 4
"""Count queries in flight at once. SQLite answers them about one at a time anyway, and at
100,000 dossiers 16 in flight made the embedded server fail its own namespace lookup behind
them ("Namespace default is not found", BENCHMARKS.md); Elasticsearch would take more."""
RATINGS = range(1, 6)
SATISFIED = 4
"""A rating of 4 or 5 stars counts as satisfied."""
T = TypeVar("T")


class Row(BaseModel):
    """The indicators of one scope (an agency, a procedure, or the whole province)."""

    label: str
    agency: str | None = None
    procedure: str | None = None
    start: datetime
    end: datetime
    carried_over: int = Field(description="Received before the period, still open at its start.")
    received: int
    received_by_channel: dict[str, int]
    finished_early: int
    finished_on_time: int
    finished_late: int
    refused: int
    withdrawn: int
    stopped: int
    in_progress_on_time: int
    in_progress_overdue: int
    supplement_requested: int = Field(description="Received in the period, asked to supplement.")
    apologies: int = Field(description="Ended in the period, with an apology letter.")
    digitised: int
    paid_online: int
    with_fees: int = Field(description="Received in the period for a procedure with fees.")
    ratings: dict[int, int] = Field(description="Stars -> ratings given in the period.")
    processing_days_total: float
    processing_days_count: int
    processing_days_estimated: bool = Field(
        False, description="The working days total is estimated from counts (`histogram`)."
    )
    portal_synced: int | None = Field(
        None, description="Ended in the period, its end status in the portal feed (portal.py)."
    )
    handled: int | None = Field(None, description="Agency rows: ended dossiers it had a step of.")
    handled_late: int | None = Field(None, description="... of which one of its steps was late.")
    feedback_received: int | None = Field(None, description="Feedback received (feedback.py).")
    feedback_ended: int | None = Field(None, description="Feedback answered or declined.")
    feedback_on_time: int | None = Field(None, description="... of which early or on time.")
    feedback_overdue: int | None = Field(None, description="Feedback open at the end, overdue.")

    @property
    def finished(self) -> int:
        return self.finished_early + self.finished_on_time + self.finished_late

    @property
    def returned(self) -> int:
        """Ended without the result asked for: refused, withdrawn or stopped."""
        return self.refused + self.withdrawn + self.stopped

    def rates(self) -> dict[str, float | None]:
        """The rates Decision 766 scores, None when their denominator is zero."""
        rated = sum(self.ratings.values())
        feedback = (self.feedback_ended or 0) + (self.feedback_overdue or 0)
        return {
            "on_time_rate": _rate(self.finished_early + self.finished_on_time, self.finished),
            "online_rate": _rate(self.received_by_channel.get(Channel.ONLINE, 0), self.received),
            "online_payment_rate": _rate(self.paid_online, self.with_fees),
            "digitised_rate": _rate(self.digitised, self.received),
            "portal_sync_rate": (
                None
                if self.portal_synced is None
                else _rate(self.portal_synced, self.finished + self.refused + self.withdrawn)
            ),
            "feedback_on_time_rate": (
                None if self.feedback_on_time is None else _rate(self.feedback_on_time, feedback)
            ),
            "satisfaction_rate": _rate(
                sum(n for stars, n in self.ratings.items() if stars >= SATISFIED), rated
            ),
            "average_rating": (
                round(sum(s * n for s, n in self.ratings.items()) / rated, 2) if rated else None
            ),
            "average_processing_days": (
                round(self.processing_days_total / self.processing_days_count, 2)
                if self.processing_days_count
                else None
            ),
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def count_all(client: Client, queries: Sequence[str]) -> list[int]:
    """Each query's count, `CONCURRENCY` at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(query: str) -> int:
        async with gate:
            return (await client.count_workflows(query)).count

    return list(await _visibility(client, asyncio.gather(*map(one, queries))))


async def _visibility(client: Client, call: Awaitable[T]) -> T:
    try:
        return await call
    except RPCError as err:
        if err.status is RPCStatusCode.UNAVAILABLE:
            target = client.service_client.config.target_host
            raise UserError(f"cannot reach the Temporal server at {target}") from None
        if err.status is RPCStatusCode.INVALID_ARGUMENT:
            raise UserError(f"the server refused an indicator query: {err.message}") from None
        raise


DECIDED = q.unindexed(f"{sa.RESULT.name} IN ('approved', 'refused')")
"""Dossiers whose processing time counts: decided, not withdrawn or stopped."""


async def processing_days(
    client: Client, query: str, key: SearchAttributeKey[str] = sa.RECEIVING_AGENCY
) -> dict[str, tuple[float, int]]:
    """Working days used and dossiers, per value of `key`, over the listed dossiers: the one
    figure visibility cannot count (it has no SUM), listed once for a whole table."""
    sums: dict[str, list[float]] = {}
    async for wf in client.list_workflows(query, page_size=1000):
        found = wf.typed_search_attributes
        days = found.get(sa.PROCESSING_DAYS)
        if days is not None:
            cell = sums.setdefault(found.get(key) or "", [0.0, 0])
            cell[0] += days
            cell[1] += 1
    return {k: (round(total, 2), int(n)) for k, (total, n) in sums.items()}


EXACT_UP_TO = 2_000
"""Up to this many dossiers decided in a table's period, the average processing time lists
them and is exact (about 0.5 ms a dossier on SQLite visibility); above, `histogram` estimates
it from counts."""
DAY_BUCKETS = (0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90)
"""Bucket edges in working days: [0, 0.5), [0.5, 1) ... [90, ∞)."""


async def histogram(client: Client, scopes: Sequence[q.Scope]) -> list[tuple[float, int]]:
    """Per scope, the decided dossiers' working days (an estimate) and their number (exact):
    counted per `DAY_BUCKETS` bucket, each dossier taken at its bucket's middle (the last,
    open bucket at its lower edge). Off by at most half a bucket's width a dossier.

    Each count is looked up by the range of days (every decided dossier of that range, all
    agencies, all periods), not by the row's agency (the row's dossiers ended in the period,
    once per range): the embedded server keeps closed workflows a day (retention), so there
    the period holds nearly all of them and a range is the smaller set, nothing for an empty
    one (BENCHMARKS.md measures both)."""
    edges = (0.0, *map(float, DAY_BUCKETS))
    bounds = list(zip(edges, (*edges[1:], None), strict=True))
    days = sa.PROCESSING_DAYS.name

    def bucket(lo: float, hi: float | None) -> str:
        return f"{days} >= {lo}" + (f" AND {days} < {hi}" if hi is not None else "")

    queries = [
        q.looked_up_by(bucket(lo, hi), s, q.ended(s), DECIDED) for s in scopes for lo, hi in bounds
    ]
    counts = await count_all(client, queries)
    middles = [lo if hi is None else (lo + hi) / 2 for lo, hi in bounds]
    out = []
    for i in range(len(scopes)):
        cells = counts[i * len(bounds) : (i + 1) * len(bounds)]
        out.append((round(sum(n * m for n, m in zip(cells, middles, strict=True)), 2), sum(cells)))
    return out


async def row(
    client: Client,
    scope: q.Scope,
    label: str,
    fee_procedures: Iterable[str],
    participant: str | None = None,
    procedures: Sequence[str] = (),
) -> Row:
    """Count every figure of `scope` but the processing time and the portal synchronisation
    (`table` adds them); `participant` adds an agency's own steps; `procedures`,
    the codes the row covers, select its ratings (rating workflows carry no agency)."""
    got = q.received(scope)
    end = q.ended(scope)
    mine = q.unindexed  # a figure's own clause: the count stays on the row's index
    # Own clauses come before the period: SQLite tests them in order, and the receipt instant
    # (a Datetime attribute, parsed from text for each dossier) is the dearest to test.
    queries = {
        "carried_over": q.dossiers(scope, q.open_at(scope.start)),
        **{
            f"channel:{c.value}": q.dossiers(scope, mine(f"{sa.CHANNEL.name} = '{c.value}'"), got)
            for c in Channel
        },
        **{
            f"finished:{t}": q.dossiers(
                scope, mine(f"{sa.RESULT.name} = 'approved' AND {sa.TIMELINESS.name} = '{t}'"), end
            )
            for t in ("early", "on_time", "late")
        },
        **{
            f"result:{r.value}": q.dossiers(scope, mine(f"{sa.RESULT.name} = '{r.value}'"), end)
            for r in (ResultType.REFUSED, ResultType.WITHDRAWN, ResultType.STOPPED)
        },
        "open": q.dossiers(scope, q.open_at(scope.end)),
        "open_late": q.dossiers(scope, q.late_at(scope.end), q.open_at(scope.end)),
        "supplement": q.dossiers(scope, mine(f"{sa.SUPPLEMENTS.name} >= 1"), got),
        "apology": q.dossiers(scope, mine(f"{sa.APOLOGIES.name} >= 1"), end),
        "digitised": q.dossiers(scope, q.flag(sa.DIGITISED.name), got),
    }
    covered = [scope.procedure] if scope.procedure else list(procedures)
    if covered:
        queries.update({f"rating:{k}": q.rated(scope, covered, k) for k in RATINGS})
    fees = sorted(fee_procedures)
    if fees:
        in_fees = q.unindexed(f"{sa.PROCEDURE_CODE.name} IN ({', '.join(map(q.literal, fees))})")
        queries["with_fees"] = q.dossiers(scope, in_fees, got)
        queries["paid_online"] = q.dossiers(scope, q.flag(sa.PAID_ONLINE.name), in_fees, got)
    if participant:
        queries["handled"] = q.participated(scope, participant)
        queries["handled_late"] = q.participated(scope, participant, late=True)
    counted = await count_all(client, list(queries.values()))
    n = dict(zip(queries, counted, strict=True))
    by_channel = {c.value: n[f"channel:{c.value}"] for c in Channel}
    return Row(
        label=label,
        agency=scope.agency or participant,
        procedure=scope.procedure,
        start=scope.start,
        end=scope.end,
        carried_over=n["carried_over"],
        received=sum(by_channel.values()),
        received_by_channel=by_channel,
        finished_early=n["finished:early"],
        finished_on_time=n["finished:on_time"],
        finished_late=n["finished:late"],
        refused=n["result:refused"],
        withdrawn=n["result:withdrawn"],
        stopped=n["result:stopped"],
        in_progress_on_time=n["open"] - n["open_late"],
        in_progress_overdue=n["open_late"],
        supplement_requested=n["supplement"],
        apologies=n["apology"],
        digitised=n["digitised"],
        paid_online=n.get("paid_online", 0),
        with_fees=n.get("with_fees", 0),
        ratings={k: n.get(f"rating:{k}", 0) for k in RATINGS},
        processing_days_total=0.0,
        processing_days_count=0,
        handled=n.get("handled"),
        handled_late=n.get("handled_late"),
    )


async def table(
    client: Client,
    scope: q.Scope,
    procedures: Iterable[Procedure],
    by: str = "agency",
    average: bool = True,
    portal_feed: Path | None = None,
    exact_up_to: int = EXACT_UP_TO,
) -> list[Row]:
    """Rows per agency or per procedure of the catalogue (narrowed by `scope`), then the total
    (their sum, `total`).

    The groups come from the catalogue, not from listing dossiers: a count per cell. The
    average processing time is the one listing, up to `exact_up_to` decided dossiers (as the
    rows counted them: finished and refused), then an estimate from counts (`histogram`), run
    after the rows; `average=False` leaves it out (0 dossiers counted).
    `portal_feed`, the worker's portal outbox, gives the portal synchronisation.
    """
    procs = [
        p
        for p in procedures
        if (scope.procedure in (None, p.code))
        and (scope.sector in (None, p.sector))
        and (scope.agency in (None, p.agencies[p.receiving_agency].code))
    ]
    fees = [p.code for p in procs if p.fees]
    scope = replace(scope, catalogue=tuple(sorted(p.code for p in procs)))
    groups: list[tuple[q.Scope, str, str | None, list[str]]]
    group_of: dict[str, str] = {}
    if by == "procedure":
        key = sa.PROCEDURE_CODE
        group_of = {p.code: p.code for p in procs}
        groups = [
            (replace(scope, procedure=p.code), f"{p.code} {p.name}", None, [p.code]) for p in procs
        ]
    elif by == "agency":
        key = sa.RECEIVING_AGENCY
        names: dict[str, str] = {}
        codes: dict[str, list[str]] = {}
        for p in procs:
            a = p.agencies[p.receiving_agency]
            names.setdefault(a.code, a.name)
            codes.setdefault(a.code, []).append(p.code)
            group_of[p.code] = a.code
        groups = [
            (replace(scope, agency=code), f"{code} {name}", code, codes[code])
            for code, name in sorted(names.items())
        ]
    else:
        raise UserError(f"cannot group by {by!r}: agency or procedure")
    total_label = scope.agency or scope.procedure or scope.sector or "Toàn tỉnh (province)"
    feed = (
        asyncio.create_task(
            asyncio.to_thread(portal.synced, portal_feed, scope.start, scope.end, group_of)
        )
        if portal_feed
        else None
    )

    def group(s: q.Scope) -> str:
        return (s.procedure if by == "procedure" else s.agency) or ""

    rows = list(
        await asyncio.gather(
            *(
                row(client, s, label, fees, participant, covered)
                for s, label, participant, covered in groups
            )
        )
    )
    days: dict[str, tuple[float, int]] = {}
    estimated = False
    if average:
        # The rows' own counts say how many were decided (approved with a timeliness, or
        # refused): no count of its own to choose between listing and estimating.
        if sum(r.finished + r.refused for r in rows) <= exact_up_to:
            decided = q.dossiers(scope, q.ended(scope), DECIDED)
            days = await _visibility(client, processing_days(client, decided, key))
        else:
            scopes = [s for s, *_ in groups]
            days = dict(zip(map(group, scopes), await histogram(client, scopes), strict=True))
            estimated = True
    synced = await feed if feed else None
    rows = [
        r.model_copy(
            update={
                "processing_days_total": days.get(group(s), (0.0, 0))[0],
                "processing_days_count": days.get(group(s), (0.0, 0))[1],
                "portal_synced": None if synced is None else synced.get(group(s), 0),
            }
        )
        for r, (s, *_) in zip(rows, groups, strict=True)
    ]
    every = (
        round(sum(r.processing_days_total for r in rows), 2),
        sum(r.processing_days_count for r in rows),
    )
    out = [*rows, total(rows, str(total_label), scope, every)]
    return (
        [r.model_copy(update={"processing_days_estimated": True}) for r in out]
        if estimated
        else out
    )


def total(rows: Sequence[Row], label: str, scope: q.Scope, days: tuple[float, int]) -> Row:
    """The sum of the group rows, without a query of its own: every dossier of the catalogue
    has one receiving agency and one procedure, so agencies (or procedures) partition the
    dossiers and every figure adds up. (A dossier whose receiving agency receives no
    procedure of the catalogue any more is in no agency row, so not in this sum either.)"""
    channels = {c.value: sum(r.received_by_channel[c.value] for r in rows) for c in Channel}
    added = {
        name: sum(getattr(r, name) for r in rows)
        for name in (
            "carried_over",
            "received",
            "finished_early",
            "finished_on_time",
            "finished_late",
            "refused",
            "withdrawn",
            "stopped",
            "in_progress_on_time",
            "in_progress_overdue",
            "supplement_requested",
            "apologies",
            "digitised",
            "paid_online",
            "with_fees",
        )
    }
    return Row(
        label=label,
        agency=scope.agency,
        procedure=scope.procedure,
        start=scope.start,
        end=scope.end,
        received_by_channel=channels,
        ratings={k: sum(r.ratings[k] for r in rows) for k in RATINGS},
        processing_days_total=days[0],
        processing_days_count=days[1],
        portal_synced=(
            None
            if not rows or any(r.portal_synced is None for r in rows)
            else sum(r.portal_synced or 0 for r in rows)
        ),
        **added,
    )


class OfficerFigures(BaseModel):
    """What a head reads of an officer: dossiers ended in the period that the officer decided a
    step of, and how many of those ended late. Officers by user id only."""

    officer: str
    decided: int
    ended_late: int


async def officers(client: Client, scope: q.Scope, agency: str) -> list[OfficerFigures]:
    """Per officer of `agency`, from the `Participants` of the dossier workflows (children
    too) that ended in the period: one listing, as officers are not known in advance."""
    query = q.participated(scope, agency)
    tally: dict[str, list[int]] = {}

    async def scan() -> None:
        async for wf in client.list_workflows(query, page_size=1000):
            found = wf.typed_search_attributes
            late = found.get(sa.TIMELINESS) == "late"
            for who in found.get(sa.PARTICIPANTS) or ():
                if who.endswith(f"@{agency}"):
                    counts = tally.setdefault(who, [0, 0])
                    counts[0] += 1
                    counts[1] += late

    await _visibility(client, scan())
    return [
        OfficerFigures(officer=who, decided=n, ended_late=late)
        for who, (n, late) in sorted(tally.items())
    ]
