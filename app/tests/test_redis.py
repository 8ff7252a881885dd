"""Redis as a cache only: outages degrade to the database, and TLS + AUTH (with rotation) work when configured."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
import redis as redis_sync
from moto import mock_aws
from shop import cache
from shop.secrets import Secrets

pytestmark = [pytest.mark.anyio, pytest.mark.services]


class TcpProxy:
    """A test-owned TCP proxy in front of the shared Redis; cut() simulates Redis going down, restore() its return."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.sockets: list[socket.socket] = []
        self.up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        self.up = False
        sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.listener.close()


@pytest.fixture
def proxy(pg_settings):
    """A proxy in front of the test's Redis, closed afterwards."""
    real = redis_sync.Redis.from_url(pg_settings.redis_url).connection_pool.connection_kwargs
    running = TcpProxy((real["host"], real["port"]))
    yield running
    running.close()


async def test_redis_stopped_mid_test_still_serving(pg_settings, make_shop, proxy):
    shop = await make_shop(pg_settings.model_copy(update={"redis_url": proxy.url}))
    await shop.product("MUG-A", stock=5)
    redis_cart = await shop.cart_with(**{"MUG-A": 1})
    stored = await shop.rt.carts.get(redis_cart)
    assert stored is not None and stored.stored_in == "redis"  # else the 404 at the end would prove nothing
    assert (await shop.public.get("/api/v1/products")).status_code == 200

    proxy.cut()
    started = time.monotonic()
    assert (await shop.public.get("/api/v1/products")).json()["total"] == 1
    assert (await shop.public.get("/api/v1/products/MUG-A")).status_code == 200
    assert (await shop.public.get("/")).status_code == 200
    assert (await shop.public.get("/readyz")).json()["status"] == "ok"  # readiness ignores Redis
    db_cart = await shop.cart_with(**{"MUG-A": 2})  # carts fall back to the database
    assert (await shop.public.get(f"/api/v1/carts/{db_cart}")).json()["items"][0]["quantity"] == 2
    order = await shop.checkout(db_cart)
    assert order.status_code == 201 and await shop.stock("MUG-A") == 3
    body = {"name": "Mug", "category": "mugs", "price": {"amount": 500, "currency": "USD"}}
    assert (await shop.internal.put("/api/v1/admin/products/MUG-A", json=body, headers=shop.admin)).status_code == 200
    assert (await shop.public.get("/api/v1/products/MUG-A")).json()["price"]["amount"] == 500
    assert time.monotonic() - started < 5  # the breaker keeps an outage from costing a timeout per request
    # a cart that lived only in Redis is unavailable during the outage, and says so cleanly
    assert (await shop.public.get(f"/api/v1/carts/{redis_cart}")).status_code == 404


async def test_a_redis_cart_moves_to_the_database_when_a_write_fails(pg_settings, make_shop, proxy):
    shop = await make_shop(pg_settings.model_copy(update={"redis_url": proxy.url, "redis_breaker_seconds": 0.0}))
    await shop.product("MUG-A", stock=5)
    cart = await shop.rt.carts.create()
    await shop.rt.carts.set_quantity(cart, "MUG-A", 1)
    assert cart.stored_in == "redis"
    proxy.cut()
    await shop.rt.carts.set_quantity(cart, "MUG-A", 2)
    assert cart.stored_in == "db"
    assert (await shop.public.get(f"/api/v1/carts/{cart.id}")).json()["items"][0]["quantity"] == 2


async def test_an_admin_change_made_while_redis_is_down_wins_when_it_returns(
    pg_settings, make_shop, proxy, monkeypatch
):
    """The pod that took the edit publishes its newer catalog version once Redis answers: neither it nor the other
    pods go back to the entries Redis cached under the older version."""
    monkeypatch.setattr(cache, "VERSION_CHECK_SECONDS", 0.0)
    edited, other = (
        await make_shop(pg_settings.model_copy(update={"redis_url": proxy.url, "redis_breaker_seconds": 0.0})),
        await make_shop(pg_settings),
    )

    async def prices() -> list[int]:
        return [(await s.public.get("/api/v1/products/MUG-A")).json()["price"]["amount"] for s in (edited, other)]

    await other.product("MUG-A", price=1000)
    assert await prices() == [1000, 1000]  # cached in Redis under the current version
    proxy.cut()
    body = {"name": "Mug", "category": "mugs", "price": {"amount": 2000, "currency": "USD"}}
    assert (
        await edited.internal.put("/api/v1/admin/products/MUG-A", json=body, headers=edited.admin)
    ).status_code == 200
    assert (await edited.public.get("/api/v1/products/MUG-A")).json()["price"]["amount"] == 2000
    proxy.restore()
    assert await prices() == [2000, 2000]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *args: subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        ca_key,
        "-out",
        ca,
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "1",
        "-extfile",
        ext,
    )
    return ca, cert, key


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> bool:
    """True once redis-server listens; False if it exited; fails the test if it is not up within 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "Ready to accept connections" in log.read_text():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    process.kill()
    pytest.fail("redis-server did not start within 30 s: " + _redis_failure(process, log))


def _redis_failure(process: subprocess.Popen[bytes], log: Path) -> str:
    process.wait()
    output = log.with_suffix(".out").read_text(errors="replace")
    return f"exit code {process.returncode}\n--- log\n{log.read_text()}\n--- stdout/stderr\n{output}"


@pytest.fixture
def tls_redis(tmp_path):
    """A test-owned redis-server with TLS and AUTH (ElastiCache in-transit encryption), killed afterwards."""
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        message = "redis-server and openssl are needed for the TLS test"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    ca, cert, key = _certificates(tmp_path)
    log = tmp_path / "redis.log"
    for _ in range(5):  # the free port can be taken before redis-server binds it: then try another one
        port = _free_port()
        log.write_text("")
        output = log.with_suffix(".out").open("wb")  # errors from before the log file is open
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                "0",
                "--tls-port",
                str(port),
                "--tls-cert-file",
                str(cert),
                "--tls-key-file",
                str(key),
                "--tls-ca-cert-file",
                str(ca),
                "--tls-auth-clients",
                "no",
                "--requirepass",
                "first-token-123",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
                "--logfile",
                str(log),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        output.close()
        if _wait_ready(process, log):
            break
        if "Failed listening on port" not in log.read_text():
            pytest.fail("redis-server exited: " + _redis_failure(process, log))
    else:
        pytest.fail(f"redis-server found no free TLS port in 5 attempts:\n{log.read_text()}")
    yield port, ca
    process.kill()
    process.wait()


async def test_tls_and_auth_from_secrets_manager_with_rotation(pg_settings, make_shop, tls_redis):
    port, ca = tls_redis
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name=f"redis-{uuid.uuid4().hex}", SecretString="first-token-123")["ARN"]
        settings = pg_settings.model_copy(
            update={
                "redis_url": f"rediss://localhost:{port}/0?ssl_ca_certs={ca}",
                "redis_auth_secret_arn": arn,
                "redis_breaker_seconds": 0.0,
            }
        )
        now = [0.0]
        shop = await make_shop(settings, secrets=Secrets(settings, client=client, clock=lambda: now[0]))
        cart = await shop.rt.carts.create()
        assert cart.stored_in == "redis"

        admin = redis_sync.Redis(
            host="localhost", port=port, password="first-token-123", ssl=True, ssl_ca_certs=str(ca)
        )
        admin.config_set("requirepass", "second-token-456")
        client.put_secret_value(SecretId=arn, SecretString="second-token-456")
        admin.client_kill_filter(_type="normal", skipme=True)
        admin.close()
        now[0] += 31
        with contextlib.suppress(Exception):
            await shop.rt.carts.create()  # the first attempt hits the old token and triggers a re-read
        assert (await shop.rt.carts.create()).stored_in == "redis"
        assert json.loads(await shop.rt.catalog.categories_json()) == []
