"""The smoke test (ci/smoke.py) against the real shop running locally, and against a broken one."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ci import smoke
from tests.cicd import ROOT, make_dry_run


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def shop_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shop")


@pytest.fixture(scope="module")
def shop_url(shop_data: Path) -> Iterator[str]:
    """The reference shop in local mode (SQLite, seeded catalog, test payment provider) on a free port."""
    data = shop_data
    port = _free_port()
    env = {
        **os.environ,
        "SHOP_PORT": str(port),
        "SHOP_INTERNAL_PORT": str(_free_port()),
        "SHOP_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'shop.sqlite3'}",
        "SHOP_MEDIA_DIR": str(data / "media"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "shop", "serve", "--dev"],
        cwd=ROOT / "app",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data / "shop.log").open("w"),
    )
    try:
        _wait_for_port(port, server, data / "shop.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def _wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    state = f"exited with {server.returncode}" if server.poll() is not None else f"not listening after {seconds:g} s"
    raise AssertionError(f"the shop on port {port} {state}:\n{log.read_text()[-4000:]}")


def _orders_and_stock(shop_data: Path) -> tuple[int, int]:
    """Orders placed and items in stock, from the shop's database (its API caches the catalog)."""
    with contextlib.closing(sqlite3.connect(shop_data / "shop.sqlite3")) as database:
        (orders,) = database.execute("SELECT count(*) FROM orders").fetchone()
        (stock,) = database.execute("SELECT sum(stock) FROM products").fetchone()
    return orders, stock


def test_by_default_it_browses_and_fills_a_cart_but_orders_nothing(
    shop_url: str, shop_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prod's smoke test: a deploy must not place real orders nor take stock."""
    before = _orders_and_stock(shop_data)
    assert smoke.main([shop_url, "--wait", "60"]) == 0
    report = capsys.readouterr().out
    for name, _ in smoke.CHECKS["cart"]:
        assert f"✓ {name}" in report
    assert "(cart)" in report and "nothing ordered" in report
    assert _orders_and_stock(shop_data) == before


def test_the_checkout_mode_places_one_paid_order(
    shop_url: str, shop_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Staging's smoke test: an API checkout with the test card, and its idempotent retry."""
    orders, stock = _orders_and_stock(shop_data)
    assert smoke.main([shop_url, "--wait", "60", "--mode", "checkout"]) == 0
    report = capsys.readouterr().out
    for name, _ in smoke.CHECKS["checkout"]:
        assert f"✓ {name}" in report
    assert "order SO-" in report and "paid" in report
    assert _orders_and_stock(shop_data) == (orders + 1, stock - 1), "one order of one item, despite the retry"


class _NotReady(BaseHTTPRequestHandler):
    """Alive but not ready: what a pod without its database looks like."""

    def do_GET(self) -> None:
        status = 200 if self.path == "/healthz" else 503
        body = b'{"status":"ok"}' if status == 200 else b'{"status":"database unreachable"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Unstyled(_NotReady):
    """Ready, but the stylesheet its page links is missing (S3 answers 403 for a key it does not have)."""

    def do_GET(self) -> None:
        page = b'<!doctype html><link rel="stylesheet" href="/static/0123456789ab/shop.css"><h1>Shop</h1>'
        status, kind, body = {
            "/healthz": (200, "application/json", b'{"status":"ok"}'),
            "/readyz": (200, "application/json", b'{"status":"ok"}'),
            "/": (200, "text/html", page),
        }.get(self.path, (403, "application/xml", b"<Error><Code>AccessDenied</Code></Error>"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def broken_shop_url() -> Iterator[str]:
    with _serving(_NotReady) as url:
        yield url


def test_the_smoke_test_fails_and_names_the_failed_check(
    broken_shop_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smoke.main([broken_shop_url, "--wait", "0"]) == 1
    report = capsys.readouterr().out
    assert "✓ health" in report
    assert "✗ readiness: /readyz (database reachable, schema current): HTTP 503" in report
    assert "SMOKE TEST FAILED" in report and "catalog" not in report


def test_a_storefront_whose_stylesheet_is_missing_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with _serving(_Unstyled) as url:
        assert smoke.main([url, "--wait", "0"]) == 1
    report = capsys.readouterr().out
    assert "✓ catalog page" in report and "✗ stylesheet: stylesheet /static/0123456789ab/shop.css: HTTP 403" in report


def test_an_unreachable_shop_fails_after_the_wait(capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke.main([f"http://127.0.0.1:{_free_port()}", "--wait", "0"]) == 1
    assert "✗ health" in capsys.readouterr().out


def test_it_refuses_a_url_that_is_not_http(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        smoke.main([f"file://{tmp_path}"])


def test_make_smoke_orders_nothing_unless_told_to() -> None:
    assert "-m ci.smoke --stack prod --mode cart" in make_dry_run("smoke", "STACK=prod")
    assert "-m ci.smoke --stack prod --mode checkout" in make_dry_run("smoke", "STACK=prod", "SMOKE_MODE=checkout")
