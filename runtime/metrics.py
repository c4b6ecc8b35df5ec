"""The worker's telemetry: Prometheus metrics from the SDK's runtime, activity latency, and
optional OpenTelemetry tracing.

One endpoint per worker process (`worker.py --metrics-port`): Temporal's own series
(`temporal_…`: task latencies, slots, polls) and motcua's (`motcua_…`: dossiers started and
finished, tasks opened and overdue, update rejections from `workflows.metrics`, and activity
latency from `ActivityLatency`), all through the SDK's meter, which records nothing while a
history replays. Counters are per process: sum them over workers in Prometheus.

Tracing is off unless `MOTCUA_TRACING` says where spans go: `console` (stderr) or `otlp`
(the standard `OTEL_EXPORTER_OTLP_*` variables; needs `opentelemetry-exporter-otlp`).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from temporalio import activity
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

TRACING_ENV = "MOTCUA_TRACING"


def telemetry_runtime(port: int, host: str = "127.0.0.1") -> Runtime:
    """A Temporal runtime serving Prometheus metrics on host:port, counters with `_total` and
    durations in seconds as Prometheus names them."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"{host}:{port}",
                counters_total_suffix=True,
                durations_as_seconds=True,
            )
        )
    )


class ActivityLatency(Interceptor):
    """Times every activity: `motcua_activity_latency` by activity and outcome (ok / error)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimedActivity(next)


class _TimedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        started = time.monotonic()
        outcome = "error"
        try:
            result = await super().execute_activity(input)
            outcome = "ok"
            return result
        finally:
            histogram = activity.metric_meter().create_histogram_float(
                "motcua_activity_latency", "Activity run time", "s"
            )
            labels = {"activity": activity.info().activity_type, "outcome": outcome}
            histogram.record(time.monotonic() - started, labels)


def tracing_interceptors() -> list[Interceptor]:
    """Temporal's OpenTelemetry interceptor when `MOTCUA_TRACING` is set, else none."""
    where = os.environ.get(TRACING_ENV, "").strip().lower()
    if not where:
        return []
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    from temporalio.contrib.opentelemetry import TracingInterceptor

    exporter: SpanExporter
    if where == "console":
        exporter = ConsoleSpanExporter(out=sys.stderr)
    elif where == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ValueError(
                f"{TRACING_ENV}=otlp needs the opentelemetry-exporter-otlp-proto-http package"
            ) from None
        exporter = OTLPSpanExporter()
    else:
        raise ValueError(f"{TRACING_ENV}={where!r}: expected console or otlp")
    provider = TracerProvider(resource=Resource.create({"service.name": "motcua-worker"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return [TracingInterceptor()]
