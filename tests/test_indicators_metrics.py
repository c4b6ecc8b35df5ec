"""Operators' metrics: the web app's /metrics and a worker's --metrics-port both parse with
Prometheus' own text parser and carry motcua's series (real dev server and worker)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from motcua import client as ops
from motcua import metrics
from procedures.loader import load_procedure
from procedures.models import Channel
from runtime.connection import data_converter
from runtime.metrics import TRACING_ENV, telemetry_runtime, tracing_interceptors
from workflows.api import Actor, Applicant

FIXTURES = Path(__file__).with_name("fixtures") / "indicators"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample by name, parsed as Prometheus parses a scrape."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_web_metrics_parse_and_count_open_dossiers_per_agency(dev_env: Any) -> None:
    procs = [load_procedure(FIXTURES / "second.yaml").procedure]

    async def get_client() -> Client:
        return dev_env.client

    app = FastAPI()
    app.include_router(metrics.router(get_client, procs))
    metrics.record_rejection("complete", "task 'decide' needs role 'head', not 'one_stop'")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        response = await web.get("/metrics")
    assert response.status_code == 200
    found = samples(response.text)
    assert [labels for labels, _ in found["motcua_dossiers_open"]] == [{"agency": "T76.00.02.H26"}]
    assert "motcua_dossiers_overdue" in found and "motcua_inbox_dossiers" in found
    assert ({"action": "complete", "reason": "task needs role not"}, 1.0) in found[
        "motcua_web_update_rejections_total"
    ]


async def test_a_worker_exports_motcua_series_next_to_temporal_s(
    dev_env: Any, run_worker: Any, data_dir: Path
) -> None:
    port = free_port()
    temporal = await Client.connect(
        dev_env.client.service_client.config.target_host,
        runtime=telemetry_runtime(port),
        data_converter=data_converter(),
    )
    frozen = load_procedure(FIXTURES / "second.yaml")
    applicant = Applicant(full_name="Người thử", id_number=uuid.uuid4().hex[:12])
    async with run_worker(temporal, ["ind-second"], data_dir):
        done = await ops.submit(temporal, frozen, applicant, Channel.ONLINE, {}, ("application",))
        officer = Actor.parse("officer9@T76.00.02.H26/officer")
        for _ in range(100):
            if (await ops.show(temporal, done.code)).tasks:
                break
            await asyncio.sleep(0.1)
        with contextlib.suppress(ops.UpdateRejected):
            await ops.complete(temporal, done.code, "check", officer, "no-such-decision")
        await ops.complete(temporal, done.code, "check", officer, "confirm")
        await temporal.get_workflow_handle(done.code).result()
        url = f"http://127.0.0.1:{port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read().decode())
    found = samples(text)
    procedure = {"procedure": "9.000767"}
    assert any(
        procedure.items() <= tags.items() and v >= 1
        for tags, v in found["motcua_dossiers_started_total"]
    )
    finished = found["motcua_dossiers_finished_total"]
    assert any(tags.get("result") == "approved" and tags.get("timeliness") for tags, _ in finished)
    assert any(
        tags.get("agency") == "T76.00.02.H26" for tags, _ in found["motcua_tasks_opened_total"]
    )
    assert any(
        tags.get("update") == "complete" for tags, _ in found["motcua_update_rejections_total"]
    )
    assert any(tags.get("activity") for tags, _ in found["motcua_activity_latency_count"])
    assert any(name.startswith("temporal_") for name in found)


def test_the_grafana_dashboard_names_only_series_the_code_defines() -> None:
    root = Path(__file__).resolve().parents[1]
    panels = (root / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8")
    named = set(re.findall(r"motcua_[a-z_]+", panels))
    sources = "".join(
        (root / f).read_text(encoding="utf-8")
        for f in ("workflows/metrics.py", "runtime/metrics.py", "motcua/metrics.py")
    )
    bases = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in named}
    assert len(bases) >= 8
    assert {b for b in bases if f'"{b}"' not in sources} == set()


async def test_tracing_to_the_console_shows_the_dossier_s_workflow_runs(
    dev_env: Any,
    run_worker: Any,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TRACING_ENV, "console")
    interceptors = tracing_interceptors()
    assert [type(i).__name__ for i in interceptors] == ["TracingInterceptor"]
    provider: Any = trace.get_tracer_provider()
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    temporal = dev_env.client
    frozen = load_procedure(FIXTURES / "second.yaml")
    applicant = Applicant(full_name="Người thử", id_number=uuid.uuid4().hex[:12])
    async with run_worker(temporal, ["ind-second"], data_dir, interceptors=interceptors):
        done = await ops.submit(
            temporal, frozen, applicant, Channel.IN_PERSON, {}, ("application",)
        )
        for _ in range(100):
            if (await ops.show(temporal, done.code)).tasks:
                break
            await asyncio.sleep(0.1)
        officer = Actor.parse("officer9@T76.00.02.H26/officer")
        await ops.complete(temporal, done.code, "check", officer, "deny")
        await temporal.get_workflow_handle(done.code).result()
    provider.force_flush()
    names = {s.name for s in spans.get_finished_spans()}
    assert names & {"RunWorkflow:Dossier", "RunActivity:render_form", "RunActivity:sync_portal"}
    recorded = repr([(s.name, dict(s.attributes or {})) for s in spans.get_finished_spans()])
    assert applicant.full_name not in recorded and applicant.id_number not in recorded
    provider.shutdown()  # its console exporter writes now, not at exit to a closed stream


def test_an_unknown_tracing_exporter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRACING_ENV, "zipkin")
    with pytest.raises(ValueError, match="MOTCUA_TRACING='zipkin': expected console or otlp"):
        tracing_interceptors()
