"""Bounded waits: a database that goes silent or away costs a client at most the request deadline, and answers
503 with Retry-After and a JSON reason; readiness answers within its own timeout; sessions carry server-side
statement and lock timeouts and TCP keepalives."""

import asyncio
import contextlib
import json
import socket
import threading
import time

import anyio
import httpx
import pytest
from shop.observability import Metrics, RequestMiddleware
from sqlalchemy import text
from sqlalchemy.engine import make_url

pytestmark = [pytest.mark.anyio, pytest.mark.services]


class FreezingProxy:
    """A test-owned TCP proxy in front of PostgreSQL. freeze() keeps every connection open but forwards nothing
    (a silent network: nothing is refused, nothing answers); new connections are accepted and left hanging."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.closed = False
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        while self.frozen.is_set() and not self.closed:
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                while self.frozen.is_set() and not self.closed:
                    time.sleep(0.05)
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture
def db_proxy(pg_settings):
    url = make_url(pg_settings.database_url)
    running = FreezingProxy((url.host or "127.0.0.1", url.port or 5432))
    yield running, url.set(host="127.0.0.1", port=running.port).render_as_string(hide_password=False)
    running.close()


def _assert_unavailable(response, reason: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["error"] == "service_unavailable" and body["reason"] == reason, body


async def test_a_silent_database_costs_a_request_at_most_its_deadline(pg_settings, db_proxy, live_server):
    """On a real server: the client gets the 503 at the deadline, while the server's task still waits for the
    driver to give up the silent connection (psycopg tries to cancel the query first, for up to 10 s)."""
    proxy, url = db_proxy
    settings = pg_settings.model_copy(update={"database_url": url, "request_timeout_seconds": 1.5})
    with live_server(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            cart = (await client.post("/api/v1/carts")).json()["id"]
            added = await client.put(f"/api/v1/carts/{cart}/items/MUG-CLASSIC", json={"quantity": 1})
            assert added.status_code == 200, added.text  # the pool is warm
            proxy.freeze()
            started = time.monotonic()
            with anyio.fail_after(10):  # without a deadline: as long as the network stays silent
                responses = await asyncio.gather(
                    *(client.put(f"/api/v1/carts/{cart}/items/MUG-CLASSIC", json={"quantity": n}) for n in (1, 2, 3))
                )
            assert time.monotonic() - started < 3.5
            for response in responses:
                _assert_unavailable(response, "deadline_exceeded")
        proxy.close()  # the abandoned requests fail now, and the server stops without waiting for them


async def test_readiness_answers_within_its_timeout_when_the_database_is_silent(pg_settings, make_shop, db_proxy):
    proxy, url = db_proxy
    shop = await make_shop(pg_settings.model_copy(update={"database_url": url, "db_ready_timeout_seconds": 1.0}))
    assert (await shop.public.get("/readyz")).status_code == 200
    proxy.freeze()
    for _ in range(2):
        started = time.monotonic()
        response = await shop.public.get("/readyz")
        assert response.status_code == 503
        assert time.monotonic() - started < 1.8


async def test_an_unreachable_database_answers_503_with_retry_after(pg_settings, make_shop):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    url = make_url(pg_settings.database_url).set(port=port).render_as_string(hide_password=False)
    shop = await make_shop(pg_settings.model_copy(update={"database_url": url}))
    _assert_unavailable(await shop.public.get("/api/v1/products/MUG-A"), "database_unavailable")
    page = await shop.public.get("/api/v1/orders/SO-00000000", params={"email": "a@example.com"})
    _assert_unavailable(page, "database_unavailable")


async def test_sessions_carry_statement_and_lock_timeouts_and_keepalives(pg_settings, make_shop):
    shop = await make_shop(
        pg_settings.model_copy(update={"db_statement_timeout_seconds": 4.0, "db_lock_timeout_seconds": 0.5})
    )
    async with shop.rt.engine.connect() as conn:
        assert (await conn.exec_driver_sql("SHOW statement_timeout")).scalar_one() == "4s"
        assert (await conn.exec_driver_sql("SHOW lock_timeout")).scalar_one() == "500ms"
        raw = await conn.get_raw_connection()
        params = raw.driver_connection.info.get_parameters()  # pyright: ignore[reportOptionalMemberAccess]
        assert params["keepalives"] == "1" and params["tcp_user_timeout"] == "30000"


async def test_a_lock_held_elsewhere_answers_503_after_the_lock_timeout(pg_settings, make_shop):
    shop = await make_shop(pg_settings.model_copy(update={"db_lock_timeout_seconds": 0.5}))
    await shop.product("MUG-A", stock=5)
    async with shop.rt.engine.connect() as holder:
        await holder.execute(text("SELECT 1 FROM products WHERE sku = 'MUG-A' FOR UPDATE"))
        started = time.monotonic()
        with anyio.fail_after(10):
            response = await shop.internal.put(
                "/api/v1/admin/products/MUG-A/stock", json={"stock": 1}, headers=shop.admin
            )
        assert time.monotonic() - started < 3
        _assert_unavailable(response, "database_unavailable")
        await holder.rollback()


def _middleware(app, deadline: float) -> RequestMiddleware:
    return RequestMiddleware(app, metrics=Metrics(), headers=[], deadline_seconds=deadline)


_SCOPE = {"type": "http", "method": "GET", "path": "/slow", "headers": [], "query_string": b""}


async def _no_body():
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_requests_run_inline_in_the_servers_task():
    """No task per request: it cost the p99 at 32 connections (docs/benchmarks.md)."""
    seen = []

    async def app(scope, receive, send):
        seen.append(asyncio.current_task())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        pass

    await _middleware(app, 5.0)(dict(_SCOPE), _no_body, send)
    assert seen == [asyncio.current_task()]


async def test_the_deadline_answers_at_once_even_when_the_request_holds_on_to_its_cancellation():
    """A driver that shields its cancellation (psycopg cancelling a query on a silent server) delays the end of the
    request, never the 503."""
    begin = time.monotonic()
    sent: list[tuple[float, dict]] = []

    async def app(scope, receive, send):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(1.0)  # giving up takes a while
            await send({"type": "http.response.start", "status": 200, "headers": []})  # too late: dropped
            await send({"type": "http.response.body", "body": b"late"})
            raise

    async def send(message):
        sent.append((time.monotonic() - begin, message))

    await _middleware(app, 0.3)(dict(_SCOPE), _no_body, send)  # the deadline's own cancellation is not raised
    finished = time.monotonic() - begin
    assert [m["type"] for _, m in sent] == ["http.response.start", "http.response.body"]
    (answered_at, start), (_, body) = sent
    assert start["status"] == 503 and (b"retry-after", b"5") in start["headers"]
    assert json.loads(body["body"])["reason"] == "deadline_exceeded"
    assert 0.3 <= answered_at < 0.6 and finished >= 1.3
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # taken back: the server's task carries on normally


async def test_a_cancellation_from_outside_is_not_taken_for_the_deadline():
    async def app(scope, receive, send):
        await asyncio.sleep(30)

    sent = []

    async def send(message):
        sent.append(message)

    request = asyncio.ensure_future(_middleware(app, 5.0)(dict(_SCOPE), _no_body, send))
    await asyncio.sleep(0.05)
    request.cancel()  # a server shutting down
    with pytest.raises(asyncio.CancelledError):
        await request
    assert not any(m.get("status") == 503 for m in sent)
