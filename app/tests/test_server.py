"""The real process: two ports, JSON logs on stdout, graceful shutdown, and the migrate/seed jobs."""

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from shop import db

APP_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(database_url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    return (
        base
        | {
            "SHOP_ENV": "dev",
            "SHOP_DATABASE_URL": database_url,
            "SHOP_SESSION_SECRET": "s" * 40,
            "SHOP_ADMIN_TOKEN": "server-test-admin-token",
            "SHOP_HOST": "127.0.0.1",
        }
        | extra
    )


def _run(command: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shop", command], cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_migrate_and_seed_jobs_are_idempotent(tmp_path):
    env = _env(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}", SHOP_MEDIA_DIR=str(tmp_path / "media"))
    for _ in range(2):
        assert _run("migrate", env).returncode == 0
    seeded = [json.loads(line) for line in _run("seed", env).stdout.splitlines()]
    assert next(e for e in seeded if e.get("event") == "seeded")["products"] == 24
    again = [json.loads(line) for line in _run("seed", env).stdout.splitlines()]
    assert next(e for e in again if e.get("event") == "seeded") | {"ts": ""} == {
        "ts": "",
        "level": "info",
        "logger": "shop.seed",
        "event": "seeded",
        "products": 0,
    }
    assert len(list((tmp_path / "media" / "products").glob("*.svg"))) == 24


def test_migrate_leaves_a_database_ahead_of_the_image_alone(tmp_path, sqlite_template):
    """A rollback runs the older image's migrate Job against the newer schema: nothing to do, exit 0."""
    shutil.copy(sqlite_template, tmp_path / "shop.db")
    env = _env(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")

    with contextlib.closing(sqlite3.connect(tmp_path / "shop.db")) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_a_newer_release'")
    ahead = _run("migrate", env)
    assert ahead.returncode == 0
    (skipped,) = [e for e in map(json.loads, ahead.stdout.splitlines()) if e.get("event") == "migrate_skipped"]
    assert skipped["level"] == "warning" and skipped["revision"] == "ffff_from_a_newer_release"
    assert skipped["image_revision"] == max(db.head_revisions()) and '"migrated"' not in ahead.stdout
    with contextlib.closing(sqlite3.connect(tmp_path / "shop.db")) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("ffff_from_a_newer_release",)]


def test_migrate_retries_a_database_that_is_not_up_then_fails_clearly():
    env = _env("postgresql+psycopg://postgres@127.0.0.1:1/shop", SHOP_DB_WAIT_SECONDS="1.5")
    started = time.monotonic()
    result = _run("migrate", env)
    assert result.returncode == 1 and time.monotonic() - started < 30
    events = [json.loads(line) for line in result.stdout.splitlines()]
    attempts = [e for e in events if e.get("event") == "db_unavailable"]
    assert len(attempts) >= 2 and attempts[0]["attempt"] == 1 and "retry_in_s" in attempts[0]
    assert attempts[-1]["level"] == "error"


@pytest.fixture
def server(tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "shop.db")
    for _ in range(5):  # a free port can be taken before the server binds it: then try other ones
        public, internal = _free_port(), _free_port()
        env = _env(
            f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}",
            SHOP_PORT=str(public),
            SHOP_INTERNAL_PORT=str(internal),
            SHOP_MEDIA_DIR=str(tmp_path / "media"),
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "shop", "serve"],
            cwd=APP_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if _wait_serving(process, public, internal):
            break
        stdout, stderr = process.communicate()
        if "address already in use" not in (stdout + stderr).lower():
            pytest.fail(f"the server exited with {process.returncode}:\n{stderr}\n{stdout}")
    else:
        pytest.fail("the server found no free ports in 5 attempts")
    yield process, public, internal
    if process.poll() is None:
        process.kill()
        process.wait()


def _wait_serving(process: subprocess.Popen[str], *ports: int) -> bool:
    """True once every port answers /healthz; False if the process exited; fails the test after 60 s."""
    deadline = time.monotonic() + 60
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            return False
        if time.monotonic() > deadline:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"the server did not answer on ports {waiting} within 60 s:\n{stderr}\n{stdout}")
        try:
            if httpx.get(f"http://127.0.0.1:{waiting[0]}/healthz", timeout=2).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return process.poll() is None


def test_two_ports_json_logs_and_graceful_shutdown(server):
    process, public, internal = server
    pub, inner = f"http://127.0.0.1:{public}", f"http://127.0.0.1:{internal}"
    assert httpx.get(f"{pub}/readyz").status_code == 200
    assert httpx.get(f"{pub}/api/v1/products", headers={"X-Request-ID": "req-42"}).status_code == 200
    for path in ("/metrics", "/admin/login", "/api/v1/admin/orders"):
        assert httpx.get(pub + path).status_code == 404
    assert "shop_http_requests_total" in httpx.get(f"{inner}/metrics").text
    assert httpx.get(f"{inner}/admin/login").status_code == 200
    assert httpx.get(f"{inner}/api/v1/admin/orders").status_code == 401

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    lines = [json.loads(line) for line in process.stdout.read().splitlines()]  # every line is one JSON object
    request = next(e for e in lines if e.get("request_id") == "req-42")
    assert {"method", "route", "status", "duration_ms"} <= request.keys() and request["route"] == "/api/v1/products"
    events = [e.get("event") for e in lines]
    assert events.index("serving") < events.index("shutdown_requested") < events.index("stopped")
    # What start-up made is out of the collector's reach: full collections walk only what requests made.
    assert next(e for e in lines if e.get("event") == "serving")["frozen_objects"] > 10_000
    assert "Traceback" not in process.stderr.read()
