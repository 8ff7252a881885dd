"""Distributed traces with OpenTelemetry: the web framework (both ports), SQLAlchemy, Redis and boto3, exported over
OTLP (HTTP/protobuf) to the endpoint of the standard variable OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
OTEL_EXPORTER_OTLP_ENDPOINT (in the cluster, the CloudWatch agent: X-Ray / Application Signals). Off, with nothing
imported or patched, when neither is set. Every JSON log line written inside a span carries its trace_id and
span_id (observability.JsonFormatter)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
#: Probes and scrapes would drown the traces that matter.
UNTRACED_URLS = "healthz,readyz,metrics,static/.*"


def enabled() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


@dataclass
class Tracing:
    provider: Any
    instrumentors: list[Any]
    apps: list[Any]

    def shutdown(self) -> None:
        """Flush what is buffered and undo the instrumentation (tests start several shops in one process)."""
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        for app in self.apps:
            FastAPIInstrumentor.uninstrument_app(app)
        for instrumentor in self.instrumentors:
            instrumentor.uninstrument()
        self.provider.shutdown()


def configure(apps: Iterable[Any], engine: Any, *, exporter: Any = None, batch: bool = True) -> Tracing | None:
    """Instrument the apps and libraries when an OTLP endpoint is configured (or an exporter is given: tests).
    Must run before the apps serve their first request (their middleware stack is built then)."""
    if exporter is None and not enabled():
        return None
    # Imported here: a shop without tracing pays nothing for it.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still apply (Resource.create reads them).
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "shop")}))
    span_exporter = exporter or OTLPSpanExporter()  # endpoint, headers and timeout from the OTEL_* variables
    provider.add_span_processor(BatchSpanProcessor(span_exporter) if batch else SimpleSpanProcessor(span_exporter))
    instrumented = list(apps)
    for app in instrumented:
        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=UNTRACED_URLS)
    sqlalchemy = SQLAlchemyInstrumentor()
    # The instrumentation declares "sqlalchemy < 2.1" and would silently do nothing on the pinned 2.1; it works
    # through the engine's cursor events, which 2.1 keeps (tests/test_tracing.py checks the spans).
    sqlalchemy.instrument(engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True)
    redis, botocore = RedisInstrumentor(), BotocoreInstrumentor()
    redis.instrument(tracer_provider=provider)
    botocore.instrument(tracer_provider=provider)
    return Tracing(provider, [sqlalchemy, redis, botocore], instrumented)
