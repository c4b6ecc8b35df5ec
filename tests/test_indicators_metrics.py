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
from motcua.commands.web import settings_for
from motcua.web.app import create_app
from motcua.web.settings import WebSettings
from procedures.loader import load_procedure
from procedures.models import Channel
from runtime.connection import data_converter
from runtime.errors import UserError
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


def _web_app(dev_env: Any, data_dir: Path, token: str) -> FastAPI:
    """The whole web app (its /metrics guarded as deployed), connected to the dev server."""
    settings = WebSettings(data_dir=data_dir, secret_key="t" * 40, metrics_token=token)
    app = create_app(settings, temporal=dev_env.client)
    app.state.web.temporal = dev_env.client  # the lifespan's work: ASGITransport skips it
    return app


async def scrape(app: FastAPI, client: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        return await web.get("/metrics", headers=headers)


async def test_the_web_apps_metrics_need_the_token_or_a_local_client(
    dev_env: Any, data_dir: Path
) -> None:
    token = "scrape-" + uuid.uuid4().hex
    guarded = _web_app(dev_env, data_dir, token)
    assert (await scrape(guarded, "127.0.0.1")).status_code == 401  # a token set: always asked
    wrong = await scrape(guarded, "10.1.2.3", authorization="Bearer not-the-token")
    assert wrong.status_code == 401
    right = await scrape(guarded, "10.1.2.3", authorization=f"Bearer {token}")
    assert right.status_code == 200
    assert "motcua_dossiers_open" in samples(right.text)  # Prometheus' parser reads it

    local_only = _web_app(dev_env, data_dir, "")
    assert (await scrape(local_only, "127.0.0.1")).status_code == 200
    assert (await scrape(local_only, "::1")).status_code == 200
    assert (await scrape(local_only, "10.1.2.3")).status_code == 403
    # A proxy on this machine forwards someone else's request: not a local client.
    proxied = await scrape(local_only, "127.0.0.1", **{"x-forwarded-for": "203.0.113.9"})
    assert proxied.status_code == 403


def test_a_bad_metrics_token_stops_motcua_web_in_one_line(tmp_path: Path) -> None:
    short = tmp_path / "token"
    short.write_text("abc\n")
    with pytest.raises(UserError, match="metrics token must be 16 to 511 printable"):
        settings_for(tmp_path, token_file=short)
    with pytest.raises(UserError, match=r"--metrics-token-file .*missing: No such file"):
        settings_for(tmp_path, token_file=tmp_path / "missing")
    short.write_text("x" * 32 + "\n")
    assert settings_for(tmp_path, token_file=short).metrics_token == "x" * 32
