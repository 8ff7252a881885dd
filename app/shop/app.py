"""The two ASGI apps of one process: the public storefront/API and the internal admin/metrics port."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.telemetry import TelemetryConfig
from jinja2 import Environment
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from shop.api import admin as admin_api
from shop.api import public as public_api
from shop.db import is_unavailable
from shop.http import error_response, install_error_handlers, json_response, runtime
from shop.media import MAX_IMAGE_BYTES, content_type_for, valid_key
from shop.observability import RequestMiddleware
from shop.runtime import Runtime
from shop.security import security_headers
from shop.static_files import static_files
from shop.web import CsrfFailed, StaticAssets, csrf_failed, make_templates, storefront
from shop.web import admin as admin_pages

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
_OK = b'{"status":"ok"}'
# The internal port takes image uploads: the largest image plus room for the multipart framing and form fields.
MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES + 64 * 1024
# Traces come from the official instrumentation (shop.tracing) with a provider of its own. FastAPI's native
# telemetry would ask the global OpenTelemetry providers on every request whether they are configured (3 % of the
# catalog page's CPU in bench/shop.py) only to find they are not.
NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
_NOT_FOUND_PAGE = b"<!doctype html><title>Not found</title><h1>Not found</h1><p><a href='/'>Back to the shop</a></p>"


def create_apps(rt: Runtime) -> tuple[FastAPI, FastAPI]:
    """(public, internal). The internal app must only ever be bound to the internal port."""
    assets = StaticAssets(static_files(), rt.settings.cdn_base_url)
    templates = make_templates(rt.settings, assets)
    return _public_app(rt, templates, assets), _internal_app(rt, templates, assets)


def _base_app(rt: Runtime, title: str, templates: Environment, assets: StaticAssets, *, public: bool) -> FastAPI:
    app = FastAPI(
        title=title,
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        redirect_slashes=False,
        telemetry=NO_NATIVE_TELEMETRY,
    )
    app.state.runtime = rt
    _publish_currency(app, rt.settings.currency)
    app.state.templates = templates
    install_error_handlers(app, _NOT_FOUND_PAGE)
    app.add_exception_handler(CsrfFailed, csrf_failed)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        """Liveness: the process answers. Also the hello-world baseline of the benchmark."""
        return Response(_OK, media_type="application/json")

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        """Readiness: database reachable and schema at the migration head. Redis is deliberately not checked."""
        ready, detail = await runtime(request).ready()
        return json_response({"status": "ok" if ready else "unavailable", "detail": detail}, 200 if ready else 503)

    @app.get("/static/{path:path}", include_in_schema=False)
    async def static(path: str) -> Response:
        """Both ports: the storefront's pages and the admin pages link the same stylesheet."""
        response = assets.response(path)
        return response if response is not None else error_response(404, "not_found", "no such file")

    origin = rt.secrets.origin_verify if public else None
    app.add_middleware(
        RequestMiddleware,  # pyright: ignore[reportArgumentType]
        metrics=rt.metrics,
        headers=security_headers(rt.settings.cdn_base_url, hsts=rt.settings.deployed),
        origin_token=origin.ring if origin else None,
        origin_refresh=origin.arefresh if origin else None,
        open_paths=HEALTH_PATHS,
        deadline_seconds=rt.settings.request_timeout_seconds,
        max_body_bytes=rt.settings.max_body_bytes if public else max(rt.settings.max_body_bytes, MAX_UPLOAD_BYTES),
        unavailable=is_unavailable,
    )
    return app


def _publish_currency(app: FastAPI, currency: str) -> None:
    """Amounts sent to the shop must be in its currency (SHOP_CURRENCY): the document says so, as an enum."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().get("components", {}).get("schemas", {})
            if "MoneyIn" in schemas:
                schemas["MoneyIn"]["properties"]["currency"]["enum"] = [currency]
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _public_app(rt: Runtime, templates: Environment, assets: StaticAssets) -> FastAPI:
    app = _base_app(rt, "Shop API", templates, assets, public=True)
    app.include_router(public_api.router)
    app.include_router(storefront.router)

    @app.get("/media/{key:path}", include_in_schema=False)
    async def media(request: Request, key: str) -> Response:
        """Images from local disk or S3; in production the CDN serves /media straight from the bucket."""
        data = await runtime(request).media.get(key) if valid_key(key) else None
        if data is None:
            return error_response(404, "not_found", "no such image")
        return Response(
            data,
            media_type=content_type_for(key),
            headers={
                "cache-control": "public, max-age=31536000, immutable",  # keys are content hashes
                "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            },
        )

    return app


def _internal_app(rt: Runtime, templates: Environment, assets: StaticAssets) -> FastAPI:
    app = _base_app(rt, "Shop admin API", templates, assets, public=False)
    app.include_router(admin_api.router)
    app.include_router(admin_pages.router)
    app.add_exception_handler(admin_pages.LoginRequired, admin_pages.login_redirect)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
