"""The operations centre's dashboard: a page of the web app, drawn on the server.

Trends over the last days, the on-time rate by agency, the province's Decision 766 score per
component, the indicator table, and the overdue dossiers with links to their pages. All of it
comes from visibility counts (`figures`) and one listing of overdue dossiers; the page reloads
itself every `REFRESH_SECONDS`. Mount with `app.include_router(dashboard.router(get_client))`;
pass `dependencies=` to keep it for officers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.params import Depends
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from temporalio.client import Client

from motcua.indicators import charts, feedback, figures
from motcua.indicators import queries as q
from motcua.indicators.scoring import Score, components, not_counted, score
from procedures.loader import load_catalog
from procedures.models import Procedure
from runtime.errors import UserError
from workflows import search_attributes as sa
from workflows.forms import VIETNAM

REFRESH_SECONDS = 60
TREND_DAYS = 14
OVERDUE_SHOWN = 50
DOSSIER_URL = "/officer/dossiers/{code}"
"""Where a dossier's page is in the web app (issue 17's officer pages)."""

_ENV = Environment(
    loader=PackageLoader("motcua.indicators", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class OverdueDossier:
    code: str
    procedure: str
    agency: str
    waiting_on: tuple[str, ...]
    due_at: datetime | None
    url: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the page shows, for one scope."""

    scope: q.Scope
    rows: list[figures.Row]
    scores: list[Score]
    days: list[date]
    received: list[int]
    ended: list[int]
    overdue: list[OverdueDossier]
    overdue_total: int


def local_day_start(day: date) -> datetime:
    return datetime.combine(day, time(), VIETNAM).astimezone(UTC)


async def snapshot(
    client: Client,
    scope: q.Scope,
    procedures: Sequence[Procedure],
    dossier_url: str = DOSSIER_URL,
    trend_days: int = TREND_DAYS,
    portal_feed: Path | None = None,
    feedback_codes: Iterable[str] | None = None,
) -> Snapshot:
    """Count everything the page shows, the table, the trend and the overdue list together;
    `feedback_codes`, the feedback procedures (default: decision766.yaml's)."""
    last = (scope.end - timedelta(microseconds=1)).astimezone(VIETNAM).date()
    days = [last - timedelta(days=n) for n in range(trend_days - 1, -1, -1)]
    procedures, channels = feedback.split(procedures, feedback_codes)
    codes = tuple(sorted(p.code for p in procedures))
    base = replace(scope, catalogue=codes)

    def per_day(day: date) -> q.Scope:
        start = local_day_start(day)
        return replace(base, start=start, end=start + timedelta(days=1))

    trend = [q.dossiers(per_day(d), q.received(per_day(d), by_period=True)) for d in days]
    trend += [q.dossiers(per_day(d), q.ended(per_day(d))) for d in days]
    late = q.dossiers(base, q.RUNNING, f"{sa.OVERDUE.name} = true")
    rows, counts, listed = await asyncio.gather(
        figures.table(client, scope, procedures, by="agency", portal_feed=portal_feed),
        figures.count_all(client, [*trend, late]),
        _overdue(client, late, dossier_url),
    )
    rows = await feedback.add(client, rows, scope, channels)
    return Snapshot(
        scope=scope,
        rows=rows,
        scores=score(rows[-1]),
        days=days,
        received=counts[:trend_days],
        ended=counts[trend_days : 2 * trend_days],
        overdue=listed,
        overdue_total=counts[-1],
    )


async def _overdue(client: Client, query: str, dossier_url: str) -> list[OverdueDossier]:
    out = []
    async for wf in client.list_workflows(query, page_size=OVERDUE_SHOWN, limit=OVERDUE_SHOWN):
        found = wf.typed_search_attributes
        out.append(
            OverdueDossier(
                code=wf.id,
                procedure=found.get(sa.PROCEDURE_CODE) or "",
                agency=found.get(sa.RECEIVING_AGENCY) or "",
                waiting_on=tuple(found.get(sa.PENDING_AGENCIES) or ()),
                due_at=found.get(sa.NEXT_DUE_AT),
                url=dossier_url.format(code=wf.id),
            )
        )
    return sorted(out, key=lambda d: d.due_at or datetime.max.replace(tzinfo=UTC))


def render(snap: Snapshot) -> str:
    """The page's HTML."""
    agencies = snap.rows[:-1]
    target = next((c.target for c in components() if c.indicator == "on_time_rate"), None)
    on_time = charts.hbars(
        [(r.label, r.rates()["on_time_rate"]) for r in agencies],
        "Tỷ lệ giải quyết trước và đúng hạn theo đơn vị",
        target=target,
    )
    score_chart = charts.hbars(
        [
            (s.name.split(" (")[0], None if s.score is None else s.score / s.points)
            for s in snap.scores
        ],
        "Điểm Quyết định 766 theo thành phần (tỷ lệ điểm đạt được)",
    )
    trend = charts.columns(
        [f"{d:%d/%m}" for d in snap.days],
        [
            ("Tiếp nhận", charts.ACCENT, snap.received),
            ("Đã kết thúc", charts.GOOD, snap.ended),
        ],
        "Hồ sơ tiếp nhận và kết thúc mỗi ngày",
    )
    total = sum(s.score or 0 for s in snap.scores)
    return _ENV.get_template("dashboard.html").render(
        snap=snap,
        scope=snap.scope,
        start=snap.scope.start.astimezone(VIETNAM),
        end=snap.scope.end.astimezone(VIETNAM),
        refresh=REFRESH_SECONDS,
        on_time=on_time,
        score_chart=score_chart,
        trend=trend,
        total_score=round(total, 2),
        total_points=sum(s.points for s in snap.scores),
        not_counted=not_counted(),
        now=datetime.now(VIETNAM),
        vn=VIETNAM,
    )


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{name}={text[:20]!r}: expected YYYY-MM-DD") from None


def scope_of(start: str | None, end: str | None, agency: str | None, now: datetime) -> q.Scope:
    """The page's period: from `start` (default: 30 days back) to the end of `end` (or now)."""
    local = now.astimezone(VIETNAM).date()
    first = _day(start, "from") if start else local - timedelta(days=29)
    stop = local_day_start(_day(end, "to") + timedelta(days=1)) if end else now
    begin = local_day_start(first)
    if not begin < stop or stop - begin > timedelta(days=3660):
        raise UserError("the period must end after it starts, within ten years")
    return q.Scope(begin, stop, agency=agency or None)


def router(
    get_client: Callable[[], Awaitable[Client]],
    procedures: Iterable[Procedure] | None = None,
    *,
    dossier_url: str = DOSSIER_URL,
    dependencies: Sequence[Depends] = (),
    portal_feed: Path | None = None,
    feedback_codes: Iterable[str] | None = None,
) -> APIRouter:
    """GET /dashboard[?from=YYYY-MM-DD&to=YYYY-MM-DD&agency=CODE] as server-rendered HTML;
    `portal_feed` (the worker's portal outbox) scores the portal synchronisation."""
    procs = (
        list(procedures)
        if procedures is not None
        else [f.procedure for f in load_catalog().values()]
    )
    api = APIRouter(dependencies=list(dependencies))

    @api.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(
        start: str | None = Query(None, alias="from", max_length=10),
        end: str | None = Query(None, alias="to", max_length=10),
        agency: str | None = Query(None, max_length=64),
    ) -> HTMLResponse:
        try:
            scope = scope_of(start, end, agency, datetime.now(UTC))
        except UserError as err:
            return HTMLResponse(f"<p>{_ENV.from_string('{{ e }}').render(e=str(err))}</p>", 400)
        snap = await snapshot(
            await get_client(),
            scope,
            procs,
            dossier_url,
            portal_feed=portal_feed,
            feedback_codes=feedback_codes,
        )
        return HTMLResponse(render(snap))

    return api
