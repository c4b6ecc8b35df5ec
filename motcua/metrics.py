"""The web app's `/metrics` for Prometheus (prometheus-client): the dossiers' state now, from
visibility, and what this process saw.

Gauges (`motcua_dossiers_open`, `motcua_dossiers_overdue`, `motcua_inbox_dossiers`, per
receiving or waiting agency) are visibility counts, the same for every replica; they are
counted at most once per `REFRESH` whatever the scrape rate. Counters are per process:
`motcua_web_update_rejections_total` (actions the workflow refused, by action and reason).
The workers' own series (dossiers started/finished, tasks, activity latency and Temporal's)
are on each worker's `--metrics-port` (runtime/metrics.py).

Mount with `app.include_router(metrics.router(get_client))`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from temporalio.client import Client

from motcua.indicators import queries as q
from procedures.loader import load_catalog
from procedures.models import Procedure
from workflows import search_attributes as sa
from workflows.api import DOSSIER_WORKFLOW
from workflows.metrics import reason_label

REFRESH = 15.0
"""Seconds between two rounds of visibility counts."""

REGISTRY = CollectorRegistry()
OPEN = Gauge(
    "motcua_dossiers_open", "Dossiers open, by receiving agency", ["agency"], registry=REGISTRY
)
OVERDUE = Gauge(
    "motcua_dossiers_overdue",
    "Open dossiers past a due instant, by receiving agency",
    ["agency"],
    registry=REGISTRY,
)
INBOX = Gauge(
    "motcua_inbox_dossiers",
    "Open dossiers with a task waiting on the agency",
    ["agency"],
    registry=REGISTRY,
)
REJECTIONS = Counter(
    "motcua_web_update_rejections",
    "Officers' and citizens' actions the workflow refused, seen by this process",
    ["action", "reason"],
    registry=REGISTRY,
)
COUNT_SECONDS = Histogram(
    "motcua_visibility_count_seconds",
    "Time of one round of the gauges' visibility counts",
    registry=REGISTRY,
)


def record_rejection(action: str, reason: str) -> None:
    """Count a refused action (`client.UpdateRejected`), its reason without particulars."""
    REJECTIONS.labels(action=action, reason=reason_label(reason)).inc()


def agencies(procedures: Iterable[Procedure]) -> list[str]:
    """Every agency code of the catalogue, receiving or taking part."""
    return sorted({a.code for p in procedures for a in p.agencies.values()})


class Gauges:
    """The visibility gauges, refreshed at most once per `REFRESH` seconds."""

    def __init__(self, codes: list[str], refresh: float = REFRESH) -> None:
        self.codes, self.refresh = codes, refresh
        self._at = -refresh
        self._lock = asyncio.Lock()

    async def update(self, client: Client) -> None:
        async with self._lock:
            if time.monotonic() - self._at < self.refresh:
                return
            with COUNT_SECONDS.time():
                await self._count(client)
            self._at = time.monotonic()

    async def _count(self, client: Client) -> None:
        running = f"WorkflowType = '{DOSSIER_WORKFLOW}' AND {q.RUNNING}"
        queries = []
        for code in self.codes:
            mine = f"{running} AND ParentWorkflowId IS NULL AND "
            mine += f"{sa.RECEIVING_AGENCY.name} = {q.literal(code)}"
            queries += [
                mine,
                f"{mine} AND {sa.OVERDUE.name} = true",
                f"{running} AND {sa.PENDING_AGENCIES.name} = {q.literal(code)}",
            ]
        counts = await asyncio.gather(*(client.count_workflows(x) for x in queries))
        for i, code in enumerate(self.codes):
            OPEN.labels(agency=code).set(counts[3 * i].count)
            OVERDUE.labels(agency=code).set(counts[3 * i + 1].count)
            INBOX.labels(agency=code).set(counts[3 * i + 2].count)


def router(
    get_client: Callable[[], Awaitable[Client]],
    procedures: Iterable[Procedure] | None = None,
    *,
    dependencies: Sequence[Any] = (),
) -> APIRouter:
    """GET /metrics in Prometheus' text format; `dependencies` decide who may read it (the
    web app's: `motcua.web.operators`)."""
    procs = (
        list(procedures)
        if procedures is not None
        else [f.procedure for f in load_catalog().values()]
    )
    gauges = Gauges(agencies(procs))
    api = APIRouter(dependencies=list(dependencies))

    @api.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        await gauges.update(await get_client())
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return api
