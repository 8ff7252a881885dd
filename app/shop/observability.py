"""JSON logs with request ids, Prometheus metrics, and the ASGI middleware that produces both."""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# LogRecord internals, and uvicorn's terminal colouring, never become JSON fields.
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed via `extra` become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if "event" not in record.__dict__:
            entry["message"] = record.getMessage()
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if "request_id" not in entry and (rid := request_id_var.get()) is not None:
            entry["request_id"] = rid
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # only when tracing is on (shop/tracing.py): the ids X-Ray and the logs share
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The middleware logs every request with more context than uvicorn's access log.
    logging.getLogger("uvicorn.access").disabled = True


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"event": event, **fields})


class Metrics:
    """Per-app registry, so several apps (tests, two ports) never collide on global state."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "shop_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "shop_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.orders_placed = Counter("shop_orders_placed_total", "Orders paid at checkout", registry=self.registry)
        self.checkout_failures = Counter(
            "shop_checkout_failures_total",
            "Checkouts that did not produce a paid order",
            ["reason"],
            registry=self.registry,
        )
        self.cache = Counter("shop_cache_requests_total", "Cache lookups", ["cache", "result"], registry=self.registry)


#: How long a client should wait before retrying a 503 (a database outage, a missed deadline).
RETRY_AFTER_SECONDS = 5


class BodyTooLarge(Exception):
    """The request body passed the limit; the middleware has already answered 413."""


class RequestMiddleware:
    """Request id, security headers, origin verification, the request deadline and body limit, metrics and the
    access log, as raw ASGI for speed."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        headers: list[tuple[bytes, bytes]],
        origin_token: Callable[[], tuple[str, ...]] | None = None,
        origin_refresh: Callable[[], Awaitable[bool]] | None = None,
        open_paths: frozenset[str] = frozenset(),
        deadline_seconds: float = 15.0,
        max_body_bytes: int = 1024 * 1024,
        unavailable: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.headers = headers
        self.origin_token = origin_token
        self.origin_refresh = origin_refresh
        self.open_paths = open_paths
        self.deadline_seconds = deadline_seconds
        self.max_body_bytes = max_body_bytes
        self.unavailable = unavailable
        self.log = logging.getLogger("shop.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method = scope["method"]
        if method == "HEAD":  # every GET answers HEAD: the same status and headers, no body
            scope = {**scope, "method": "GET"}
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = answered = False
        extra_headers = [(b"x-request-id", request_id.encode()), *self.headers]

        async def emit(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra_headers]
            elif method == "HEAD" and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        async def send_wrapper(message: Message) -> None:
            if not answered:  # once the middleware has answered (deadline, body limit), the app's answer is dropped
                await emit(message)

        def claim() -> bool:
            """True when the middleware may still answer; from then on, the app's messages are dropped."""
            nonlocal answered
            first = not started and not answered
            answered = True
            return first

        async def answer(code: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = []) -> None:  # noqa: B006
            if claim():
                await _send_json(emit, code, body, headers)

        def on_deadline() -> None:
            log_event(self.log, "deadline_exceeded", level=logging.WARNING, path=scope["path"])
            if claim():
                _spawn(_send_json(emit, 503, _unavailable("deadline_exceeded", request_id), _RETRY_AFTER))

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                await answer(413, _too_large(self.max_body_bytes))
                raise BodyTooLarge
            return message

        try:
            if _declared_length(scope) > self.max_body_bytes:
                await answer(413, _too_large(self.max_body_bytes))
            elif await self._origin_allowed(scope):
                await self._within_deadline(scope, receive_limited, send_wrapper, on_deadline)
            else:
                await _send_json(send_wrapper, 403, {"error": "forbidden", "message": "direct access is not allowed"})
        except BodyTooLarge:
            pass  # answered 413 before reading past the limit
        except Exception as exc:
            if answered:
                pass
            elif self.unavailable(exc):
                log_event(self.log, "database_unavailable", level=logging.WARNING, error=type(exc).__name__)
                await answer(503, _unavailable("database_unavailable", request_id), _RETRY_AFTER)
            else:
                self.log.exception("unhandled error", extra={"event": "unhandled_error"})
                await answer(500, {"error": "internal_error", "request_id": request_id})
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            duration = time.perf_counter() - start
            self.metrics.requests.labels(method, route_path, str(status)).inc()
            self.metrics.latency.labels(method, route_path).observe(duration)
            if self.log.isEnabledFor(logging.INFO):
                self.log.info(
                    "request",
                    extra={
                        "event": "request",
                        "request_id": request_id,
                        "method": method,
                        "route": route_path,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(duration * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    async def _within_deadline(self, scope: Scope, receive: Receive, send: Send, expired: Callable[[], None]) -> None:
        """Run the request inline, in the server's task: a task of its own per request cost the p99 at 32
        connections (docs/benchmarks.md). At the deadline, `expired` answers 503 at once from a task of its own and
        the request is cancelled. The request is then not awaited by the client: a database driver may take a
        while to give up a connection to a silent server (psycopg tries to cancel the query first, for seconds),
        and only the server's task waits for that. The cancellation is this deadline's own: it is taken back
        (uncancel) and whatever the cancelled request raises on its way out is dropped; a cancellation from
        outside (a shutdown) still propagates."""
        task = asyncio.current_task()
        assert task is not None
        fired = False

        def on_deadline() -> None:
            nonlocal fired
            fired = True
            expired()
            task.cancel()

        timer = asyncio.get_running_loop().call_later(self.deadline_seconds, on_deadline)
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            if not fired or task.uncancel() > 0 or not isinstance(exc, Exception | asyncio.CancelledError):
                raise
        else:
            if fired:  # finished without awaiting again after the deadline passed; the 503 has gone out
                task.uncancel()
        finally:
            timer.cancel()

    async def _origin_allowed(self, scope: Scope) -> bool:
        if self.origin_token is None or scope["path"] in self.open_paths:
            return True
        presented = next((v for k, v in scope["headers"] if k == b"x-origin-verify"), b"")
        if _any_matches(presented, self.origin_token()):
            return True
        # The CDN may already send a rotated value: re-read the secret (rate-limited) once.
        if self.origin_refresh is not None and await self.origin_refresh():
            return _any_matches(presented, self.origin_token())
        return False


def _any_matches(presented: bytes, accepted: tuple[str, ...]) -> bool:
    """Whether ``presented`` is one of ``accepted`` (the origin header's key ring), each compared in constant time."""
    return any([hmac.compare_digest(presented, value.encode()) for value in accepted])


def _incoming_request_id(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID_RE.match(candidate) else None
    return None


_RETRY_AFTER = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]


def _unavailable(reason: str, request_id: str) -> dict[str, Any]:
    message = {
        "database_unavailable": "the database is not answering; retry shortly",
        "deadline_exceeded": "the request took too long; retry shortly",
    }[reason]
    return {"error": "service_unavailable", "reason": reason, "message": message, "request_id": request_id}


def _too_large(limit: int) -> dict[str, Any]:
    return {"error": "payload_too_large", "message": f"the request body is larger than {limit} bytes"}


def _declared_length(scope: Scope) -> int:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


_ANSWERING: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly: these are kept until they are done


def _spawn(answer: Coroutine[Any, Any, None]) -> None:
    """Send an answer from a task of its own (the request's task is busy); a client gone meanwhile is no error."""
    task = asyncio.ensure_future(answer)
    _ANSWERING.add(task)
    task.add_done_callback(lambda done: _ANSWERING.discard(done) or done.cancelled() or done.exception())


def abandon(task: asyncio.Future[Any]) -> None:
    """Cancel a task without waiting for it to finish; its exception is retrieved (not logged as lost)."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = []) -> None:  # noqa: B006
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
