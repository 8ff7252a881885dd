"""Traces: off unless an OTLP endpoint is configured; when on, a request is a server span with the database and
Redis calls below it, and the JSON log lines written inside it carry its trace id."""

import json
import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from shop import tracing
from shop.app import create_apps
from shop.observability import JsonFormatter

pytestmark = [pytest.mark.anyio]


async def test_tracing_is_off_without_an_endpoint(monkeypatch, sqlite_shop):
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert tracing.configure([], sqlite_shop.rt.engine) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing.enabled()


async def test_fastapi_native_telemetry_is_off(monkeypatch, sqlite_shop):
    """One instrumentation: the official one, with its own provider. FastAPI's native telemetry would look up the
    global providers on every request (its cost is in docs/benchmarks.md) and, were one configured, trace twice."""
    import httpx
    from opentelemetry import trace

    looked_up: list[bool] = []
    global_provider = trace.get_tracer_provider
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: looked_up.append(True) or global_provider())
    public, internal = create_apps(sqlite_shop.rt)
    for app in (public, internal):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://shop.test") as c:
            assert (await c.get("/healthz")).status_code == 200
    assert looked_up == []


@pytest.mark.services
async def test_a_request_is_traced_down_to_the_database_and_redis(pg_shop):
    import httpx

    lines: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(JsonFormatter().format(record)))  # formatted when written, as on stdout

    handler = Collect(level=logging.WARNING)
    logging.getLogger("shop.orders").addHandler(handler)

    public, internal = create_apps(pg_shop.rt)
    exporter = InMemorySpanExporter()
    traces = tracing.configure([public, internal], pg_shop.rt.engine, exporter=exporter, batch=False)
    assert traces is not None
    try:
        await pg_shop.product("MUG-A")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=public), base_url="https://shop.test") as c:
            cart = (await c.post("/api/v1/carts")).json()["id"]
            assert (await c.get(f"/api/v1/carts/{cart}")).status_code == 200
            failed = await c.post(
                "/api/v1/orders",
                json=pg_shop.order_body("00000000-0000-4000-8000-000000000000"),
                headers={"Idempotency-Key": "t"},
            )
            assert failed.status_code == 404
            assert (await c.get("/healthz")).status_code == 200
        spans = exporter.get_finished_spans()
        servers = [s for s in spans if s.kind.name == "SERVER"]
        routes = {str(_attr(s, "http.route")) for s in servers}
        assert routes >= {"/api/v1/carts", "/api/v1/carts/{cart_id}", "/api/v1/orders"}
        assert "/healthz" not in routes
        checkout = next(s for s in servers if _attr(s, "http.route") == "/api/v1/orders")
        below = [s for s in spans if _trace(s) == _trace(checkout) and s is not checkout]
        assert any(_attr(s, "db.system") == "postgresql" for s in below)
        assert any(_attr(s, "db.system") == "redis" for s in spans)
        line = next(line for line in lines if line.get("event") == "checkout_failed")
        assert line["trace_id"] == format(_trace(checkout), "032x")
    finally:
        logging.getLogger("shop.orders").removeHandler(handler)
        traces.shutdown()


def _attr(span, name: str) -> object:
    return (span.attributes or {}).get(name)


def _trace(span) -> int:
    assert span.context is not None
    return span.context.trace_id
