"""Cross-cutting HTTP behaviour: security headers, origin verification, request ids, logs, error hygiene."""

import json
import logging

import pytest
from shop import db
from shop.observability import JsonFormatter
from sqlalchemy import text

pytestmark = pytest.mark.anyio


async def test_security_headers_on_every_kind_of_response(sqlite_shop):
    for path in ("/", "/api/v1/products", "/nowhere", "/healthz"):
        headers = (await sqlite_shop.public.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in headers  # dev is plain http


async def test_hsts_when_deployed(settings, make_shop):
    shop = await make_shop(settings.model_copy(update={"env": "prod"}))
    assert "max-age=" in (await shop.public.get("/healthz")).headers["strict-transport-security"]


async def test_origin_verify_header_is_required_on_the_public_port(settings, make_shop):
    shop = await make_shop(settings.model_copy(update={"origin_verify_token": "cdn-shared-secret-123"}))
    blocked = await shop.public.get("/api/v1/products")
    assert blocked.status_code == 403 and blocked.json()["error"] == "forbidden"
    assert (await shop.public.get("/", headers={"X-Origin-Verify": "wrong-value-123456"})).status_code == 403
    ok = await shop.public.get("/api/v1/products", headers={"X-Origin-Verify": "cdn-shared-secret-123"})
    assert ok.status_code == 200
    for probe in ("/healthz", "/readyz"):  # kubelet and ALB health checks carry no CDN header
        assert (await shop.public.get(probe)).status_code == 200
    assert (await shop.internal.get("/api/v1/admin/orders", headers=shop.admin)).status_code == 200


async def test_request_id_is_propagated_or_generated(sqlite_shop, caplog):
    with caplog.at_level(logging.INFO, logger="shop.access"):
        given = await sqlite_shop.public.get("/api/v1/products", headers={"X-Request-ID": "abc-123"})
        generated = await sqlite_shop.public.get("/api/v1/products")
        hostile = await sqlite_shop.public.get("/api/v1/products", headers={"X-Request-ID": "x\ny" * 100})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "x\ny" * 100
    record = next(r for r in caplog.records if getattr(r, "request_id", None) == "abc-123")
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "request" and line["method"] == "GET" and line["route"] == "/api/v1/products"
    assert line["status"] == 200 and isinstance(line["duration_ms"], float) and line["request_id"] == "abc-123"


async def test_log_lines_are_single_json_objects_with_context():
    record = logging.LogRecord("shop.orders", logging.WARNING, __file__, 1, "checkout_failed", (), None)
    record.event, record.reason = "checkout_failed", "card_declined"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["event"] == "checkout_failed" and parsed["reason"] == "card_declined" and parsed["level"] == "warning"


async def test_unexpected_errors_are_500_json_without_internals(sqlite_shop, monkeypatch):
    async def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(sqlite_shop.rt.catalog, "list_json", boom)
    for path in ("/api/v1/products", "/"):
        response = await sqlite_shop.public.get(path)
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error" and response.json()["request_id"]
        assert "secret internal detail" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    ("revision", "status", "detail"),
    [
        ("0001", 503, "migrations not at head"),  # behind this image: its migrate Job has not run
        ("ffff_from_a_newer_release", 200, "schema ahead of this image"),  # mid-rollout old pods, or a rollback
    ],
)
async def test_readiness_needs_the_schema_at_head_or_ahead_of_it(shop, caplog, revision, status, detail):
    assert (await shop.public.get("/readyz")).json() == {"status": "ok", "detail": "ok"}
    async with shop.rt.sessions.begin() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    try:
        with caplog.at_level(logging.WARNING, logger="shop.db"):
            for _ in range(3):
                response = await shop.public.get("/readyz")
                assert response.status_code == status and response.json()["detail"] == detail
        ahead = [vars(r) for r in caplog.records if getattr(r, "event", None) == "schema_ahead"]
        expected = {"revision": revision, "image_revision": max(db.head_revisions())}
        assert ahead == ([ahead[0] | expected] if status == 200 else [])  # logged once, not on every probe
    finally:
        async with shop.rt.sessions.begin() as session:
            await session.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": max(db.head_revisions())}
            )
    assert (await shop.public.get("/healthz")).status_code == 200


async def test_readiness_fails_when_the_database_is_unreachable(sqlite_settings, make_shop):
    shop = await make_shop(
        sqlite_settings.model_copy(update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    )
    response = await shop.public.get("/readyz")
    assert response.status_code == 503 and "database unreachable" in response.json()["detail"]
    assert (await shop.public.get("/healthz")).status_code == 200


async def test_openapi_is_published_with_the_contract(shop):
    spec = (await shop.public.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/api/v1/products",
        "/api/v1/products/{sku}",
        "/api/v1/carts",
        "/api/v1/carts/{cart_id}",
        "/api/v1/carts/{cart_id}/items/{sku}",
        "/api/v1/orders",
        "/api/v1/orders/{number}",
    ):
        assert path in paths
    assert not [p for p in paths if "admin" in p]  # admin is documented on the internal port only
    assert set(paths["/api/v1/orders"]["post"]["responses"]) >= {"201", "400", "402", "409", "422"}
    internal = (await shop.internal.get("/openapi.json")).json()
    assert {"/api/v1/admin/products/{sku}", "/api/v1/admin/country-rules/{country}"} <= internal["paths"].keys()
