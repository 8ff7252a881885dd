"""Fixtures: a shop on SQLite (in-process cache) and on the real PostgreSQL + Redis of this machine.

Service URLs come from SHOP_TEST_POSTGRES_URL / SHOP_TEST_REDIS_URL. An unreachable service skips its tests
with the reason shown, except under CI=true, where it fails them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis as redis_sync
import uvicorn
from shop import db
from shop.app import create_apps
from shop.catalog import ProductInput
from shop.runtime import Runtime
from shop.seed import seed
from shop.settings import Settings, load_settings
from sqlalchemy import column, create_engine, insert, table, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("SHOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_TOKEN = "test-admin-token-0123456789"
SESSION_SECRET = "test-session-secret-0123456789abcdef"
TABLES = (
    "order_events",
    "order_lines",
    "orders",
    "cart_items",
    "carts",
    "idempotency_keys",
    "products",
    "country_rules",
)
VALID_CARD = {"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url} (set SHOP_TEST_{name.upper()}_URL)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " and CI=true requires it")
    pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# The rows the migrations install (the default country rules), by database URL: each test starts from them.
_MIGRATED_RULES: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One migrated database for the whole run (created here, dropped at the end); tests truncate it back to
    what the migrations left (see _truncate)."""
    require_service("postgres", POSTGRES_URL, 5432)
    name = f"shoptest_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql")
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    rt = Runtime(_settings(url))
    asyncio.run(_migrate_and_close(rt))
    engine = create_engine(url)
    with engine.connect() as conn:
        _MIGRATED_RULES[url] = [dict(row) for row in conn.execute(text("SELECT * FROM country_rules")).mappings()]
    engine.dispose()
    yield url
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _migrate_and_close(rt: Runtime) -> None:
    await db.migrate(rt.engine)
    await rt.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "shop.sqlite3"
    asyncio.run(_migrate_and_close(Runtime(_settings(f"sqlite+aiosqlite:///{path}"))))
    return path


def _settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "dev",
        "database_url": database_url,
        "session_secret": SESSION_SECRET,
        "admin_token": ADMIN_TOKEN,
        "media_dir": Path("/tmp/shop-test-media"),
        "log_level": "WARNING",
        # Generous on a loaded CI machine: one stall of the shared Redis (or the database) must not turn a test
        # that asserts Redis storage (or readiness) into a silent fallback. Production keeps 0.5 s and 2 s.
        "redis_timeout_seconds": 5.0,
        "db_ready_timeout_seconds": 10.0,
    }
    return load_settings(**(values | overrides))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix owned by one test; its keys are deleted afterwards (never FLUSHDB: Redis is shared)."""
    require_service("redis", REDIS_URL, 6379)
    prefix = f"shoptest:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@dataclass
class Shop:
    """A running shop: its runtime plus clients for the public and internal ports."""

    rt: Runtime
    public: httpx.AsyncClient
    internal: httpx.AsyncClient

    ADMIN_TOKEN = ADMIN_TOKEN
    VALID_CARD = VALID_CARD
    ADDRESS = ADDRESS

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def product(
        self,
        sku: str,
        *,
        price: int = 1000,
        stock: int = 10,
        name: str | None = None,
        category: str = "things",
        description: str = "",
    ) -> None:
        await self.rt.catalog.upsert(
            sku, ProductInput(name or sku.title(), description, category, price, "USD", True, stock)
        )

    async def admin_login(self) -> str:
        """Sign the internal client in to the admin pages; returns its session's CSRF token for form posts."""
        login = await self.internal.get("/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]*)"', login.text).group(1)  # pyright: ignore[reportOptionalMemberAccess]
        signed_in = await self.internal.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN})
        assert signed_in.status_code == 303, signed_in.text
        return token

    async def stock(self, sku: str) -> int:
        async with self.rt.sessions() as session:
            return (await session.execute(text("SELECT stock FROM products WHERE sku = :s"), {"s": sku})).scalar_one()

    async def cart_with(self, **items: int) -> str:
        cart_id = (await self.public.post("/api/v1/carts")).json()["id"]
        for sku, quantity in items.items():
            response = await self.public.put(f"/api/v1/carts/{cart_id}/items/{sku}", json={"quantity": quantity})
            assert response.status_code == 200, response.text
        return cart_id

    @staticmethod
    def order_body(cart_id: str, /, **overrides: Any) -> dict[str, Any]:
        body = {"cart_id": cart_id, "email": "ada@example.com", "shipping_address": ADDRESS, "payment": VALID_CARD}
        return body | overrides

    async def checkout(self, cart_id: str, /, key: str | None = None, **overrides: Any) -> httpx.Response:
        return await self.public.post(
            "/api/v1/orders",
            json=self.order_body(cart_id, **overrides),
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
        )


async def start_shop(settings: Settings, **runtime_args: Any) -> Shop:
    rt = Runtime(settings, **runtime_args)
    public, internal = create_apps(rt)
    return Shop(
        rt,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=public), base_url="https://shop.test"),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=internal), base_url="https://internal.test"),
    )


async def stop_shop(shop: Shop) -> None:
    await shop.public.aclose()
    await shop.internal.aclose()
    await shop.rt.close()


def backend_settings(request: pytest.FixtureRequest, backend: str, tmp_path: Path, **overrides: Any) -> Settings:
    if backend == "sqlite":
        path = tmp_path / "shop.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return _settings(f"sqlite+aiosqlite:///{path}", media_dir=tmp_path / "media", **overrides)
    url = request.getfixturevalue("postgres_database")
    prefix = request.getfixturevalue("redis_prefix")
    return _settings(url, redis_url=REDIS_URL, redis_key_prefix=prefix, media_dir=tmp_path / "media", **overrides)


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for the shop under test: SQLite with in-process cache, or PostgreSQL with Redis."""
    result = backend_settings(request, request.param, tmp_path)
    if request.param == "postgres":
        _truncate(result.database_url or "")
    return result


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        conn.execute(insert(table("country_rules", *map(column, _MIGRATED_RULES[url][0]))), _MIGRATED_RULES[url])
    engine.dispose()


@pytest.fixture
def pg_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """PostgreSQL + Redis only: for properties that need real concurrency."""
    result = backend_settings(request, "postgres", tmp_path)
    _truncate(result.database_url or "")
    return result


@pytest.fixture
def sqlite_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return backend_settings(request, "sqlite", tmp_path)


@pytest.fixture
async def make_shop() -> AsyncIterator[Any]:
    """Factory for extra shops (other settings, several instances); all are closed afterwards."""
    started: list[Shop] = []

    async def make(settings: Settings, **runtime_args: Any) -> Shop:
        running = await start_shop(settings, **runtime_args)
        started.append(running)
        return running

    yield make
    for running in started:
        await stop_shop(running)


@pytest.fixture
async def shop(settings: Settings, make_shop: Any) -> Shop:
    """The shop under test, once on SQLite and once on PostgreSQL + Redis."""
    return await make_shop(settings)


@pytest.fixture
async def sqlite_shop(sqlite_settings: Settings, make_shop: Any) -> Shop:
    """For backend-independent behaviour (validation, authentication): SQLite only, to keep the suite fast."""
    return await make_shop(sqlite_settings)


@pytest.fixture
async def pg_shop(pg_settings: Settings, make_shop: Any) -> Shop:
    return await make_shop(pg_settings)


@pytest.fixture
def live_server() -> Any:
    """Factory: `with live_server(settings, internal=..., seeded=...) as url:` runs one app on a real server."""
    return _live_server


@contextlib.contextmanager
def _live_server(settings: Settings, *, internal: bool = False, seeded: bool = True) -> Iterator[str]:
    """One of the shop's apps on a real uvicorn server in a thread (migrated, optionally seeded); yields its URL."""
    sock = socket.create_server(("127.0.0.1", 0))  # bound here and handed over: no other process can take the port
    port = sock.getsockname()[1]
    rt = Runtime(settings)
    public, admin = create_apps(rt)
    server = uvicorn.Server(uvicorn.Config(admin if internal else public, lifespan="off", log_config=None))
    failure: list[BaseException] = []

    async def run() -> None:
        try:
            await db.migrate(rt.engine)
            if seeded:
                await seed(rt)
            await server.serve(sockets=[sock])
        except BaseException as exc:  # reported by the wait below instead of dying silently in the thread
            failure.append(exc)
            raise
        finally:
            await rt.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if failure or not thread.is_alive():
            sock.close()
            pytest.fail(f"the live shop did not start: {failure[0]!r}" if failure else "the live shop did not start")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=30)
            pytest.fail("the live shop did not start within 60 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
