"""Bounded waits: a database that goes silent or away costs a client at most the request deadline, and answers
503 with Retry-After and a JSON reason; readiness answers within its own timeout; sessions carry server-side
statement and lock timeouts and TCP keepalives."""

import asyncio
import contextlib
import socket
import threading
import time

import anyio
import pytest
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


async def test_a_silent_database_costs_a_request_at_most_its_deadline(pg_settings, make_shop, db_proxy):
    proxy, url = db_proxy
    shop = await make_shop(pg_settings.model_copy(update={"database_url": url, "request_timeout_seconds": 1.5}))
    await shop.product("MUG-A", stock=5)
    cart = await shop.cart_with(**{"MUG-A": 1})  # the pool is warm
    proxy.freeze()
    started = time.monotonic()
    with anyio.fail_after(10):  # today's code would wait as long as the network stays silent
        responses = await asyncio.gather(
            *(shop.public.put(f"/api/v1/carts/{cart}/items/MUG-A", json={"quantity": n}) for n in (1, 2, 3))
        )
    assert time.monotonic() - started < 3.5
    for response in responses:
        _assert_unavailable(response, "deadline_exceeded")


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
