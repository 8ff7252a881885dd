"""Pieces shared by every route: the runtime dependency, JSON responses and error handlers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response

from shop.orders import InvalidTransition, OrderNotFound, OrderRefused, Outcome
from shop.ratelimit import Limit
from shop.runtime import Runtime

JSON = "application/json"
#: The answer to each refusal of the domain: status and error code (the message is the refusal's text).
REFUSALS: dict[type[OrderRefused], tuple[int, str]] = {
    OrderNotFound: (404, "not_found"),
    InvalidTransition: (409, "invalid_transition"),
}


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def runtime_dependency(request: Request) -> Runtime:
    """For Depends(): async, because FastAPI runs plain functions in a thread pool (costly per request)."""
    return request.app.state.runtime


#: The shop's runtime, as a route parameter: ``async def route(rt: RuntimeDep)``.
RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]


def refusal_status(refused: OrderRefused) -> int:
    return REFUSALS[type(refused)][0]


def refusal_response(refused: OrderRefused) -> Response:
    status, code = REFUSALS[type(refused)]
    return error_response(status, code, str(refused))


def json_response(body: bytes | Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(content, status_code=status, media_type=JSON, headers=headers)


def outcome_response(outcome: Outcome) -> Response:
    return json_response(outcome.body, outcome.status)


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response({"error": code, "message": message, **extra}, status)


class QueryParams:
    """Hand-rolled query validation for hot routes; collects errors in the same shape as the 422 handler."""

    _CONTROL = re.compile(r"[\x00-\x1f\x7f]")

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        self.errors: list[dict[str, str]] = []

    def text(self, name: str, max_length: int) -> str:
        value = self.params.get(name, "")
        if len(value) > max_length or self._CONTROL.search(value):
            self.errors.append({"field": name, "message": f"must be printable text of at most {max_length} characters"})
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.params.get(name)
        if raw is None:
            return default
        if re.fullmatch(r"-?[0-9]{1,9}", raw) and low <= int(raw) <= high:
            return int(raw)
        self.errors.append({"field": name, "message": f"must be an integer from {low} to {high}"})
        return default


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def rate_limited(request: Request, limit: Limit) -> Response | None:
    """429 with Retry-After once the client passed `limit`, else None."""
    retry = await runtime(request).limiter.retry_after(limit, client_address(request))
    if retry is None:
        return None
    response = error_response(429, "rate_limited", "too many attempts; retry later")
    response.headers["retry-after"] = str(retry)
    return response


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "header")]
        fields.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", "invalid"))})
    return fields


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI, not_found_page: bytes) -> None:
    """4xx answers are JSON (or a small HTML page for browsers) and never echo input or internals."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(422, "validation_failed", "the request is invalid", fields=field_errors(exc))

    @app.exception_handler(OrderRefused)
    async def _refused(request: Request, exc: OrderRefused) -> Response:
        return refusal_response(exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 400:
            # FastAPI's and Starlette's answer to a body they cannot parse (not UTF-8 JSON, broken multipart):
            # invalid input like any other. The shop's own 400s are responses, never raised.
            fields = [{"field": "body", "message": "cannot be parsed"}]
            return error_response(422, "validation_failed", "the request is invalid", fields=fields)
        if exc.status_code == 404 and _wants_html(request):
            return HTMLResponse(not_found_page, status_code=404)
        codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}
        code = codes.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "error"
        body = {"error": code, "message": message}
        return json_response(body, exc.status_code, headers=exc.headers)
