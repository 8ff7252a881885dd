"""Startup configuration: validation with one clear message, exit code 2, and secrets from Secrets Manager."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import psycopg
import pytest
import shop.server
from moto import mock_aws
from shop import __main__ as shop_main
from shop.runtime import Runtime
from shop.secrets import SecretRef, Secrets
from shop.security import AdminAuth, Signer
from shop.settings import ConfigError, load_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

APP_DIR = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SHOP_") and not name.startswith("SHOP_TEST_"):
            monkeypatch.delenv(name)


def test_prod_requires_database_and_secret_arns():
    with pytest.raises(ConfigError) as exc:
        load_settings()
    message = str(exc.value)
    for variable in (
        "SHOP_DB_HOST",
        "SHOP_DB_NAME",
        "SHOP_DB_SECRET_ARN",
        "SHOP_SESSION_SECRET_ARN",
        "SHOP_ADMIN_TOKEN_SECRET_ARN",
    ):
        assert variable in message


def test_prod_rejects_literal_secrets(monkeypatch):
    monkeypatch.setenv("SHOP_ENV", "prod")
    monkeypatch.setenv("SHOP_ADMIN_TOKEN", "x" * 20)
    with pytest.raises(ConfigError, match="SHOP_ADMIN_TOKEN: not allowed when SHOP_ENV=prod"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SHOP_PORT", "http"),
        ("SHOP_PORT", "70000"),
        ("SHOP_REDIS_URL", "http://x"),
        ("SHOP_ENV", "production"),
        ("SHOP_CURRENCY", "usd"),
        ("SHOP_DATABASE_URL", "mysql://x"),
        ("SHOP_CDN_BASE_URL", "cdn.example.com"),
        ("SHOP_REDIS_TIMEOUT_SECONDS", "0"),
        ("SHOP_REDIS_BREAKER_SECONDS", "-1"),
        ("SHOP_DB_READY_TIMEOUT_SECONDS", "0"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    valid = {"env": "dev", "database_url": "sqlite+aiosqlite:///x", "session_secret": "s" * 32, "admin_token": "a" * 16}
    valid.pop(variable.removeprefix("SHOP_").lower(), None)
    with pytest.raises(ConfigError, match=variable):
        load_settings(**valid)


async def test_redis_timeout_and_breaker_come_from_settings(monkeypatch):
    monkeypatch.setenv("SHOP_REDIS_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("SHOP_REDIS_BREAKER_SECONDS", "7")
    settings = load_settings(
        env="dev", database_url="sqlite+aiosqlite:///x", redis_url="redis://127.0.0.1:1/0", **DEV_SECRETS
    )
    rt = Runtime(settings)
    try:
        assert rt.redis is not None and rt.redis.breaker_seconds == 7.0
        kwargs = rt.redis.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 3.0
    finally:
        await rt.close()
    monkeypatch.delenv("SHOP_REDIS_TIMEOUT_SECONDS")
    monkeypatch.delenv("SHOP_REDIS_BREAKER_SECONDS")
    defaults = load_settings(env="dev", database_url="sqlite+aiosqlite:///x", **DEV_SECRETS)
    assert (defaults.redis_timeout_seconds, defaults.redis_breaker_seconds) == (0.5, 2.0)
    assert defaults.db_ready_timeout_seconds == 2.0


def test_cli_exits_2_with_one_message_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")} | {
        "SHOP_ENV": "staging",
        "SHOP_PORT": "not-a-port",
    }
    result = subprocess.run(
        [sys.executable, "-m", "shop", "serve"], cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SHOP_PORT" in lines[0]
    assert "Traceback" not in result.stderr


async def _must_not_serve(*args, **kwargs):
    raise AssertionError("the shop started serving with an invalid secret")


DEV_SECRETS = {"session_secret": "s" * 32, "admin_token": "a" * 16}
SECRET_ARNS = ("session_secret_arn", "admin_token_secret_arn")


def _secret(client, name, value):
    return client.create_secret(Name=name, SecretString=value)["ARN"]


def _prod_settings(client, **extra):
    values = {
        "env": "prod",
        "db_host": "127.0.0.1",
        "db_name": "shop",
        "aws_region": "us-east-1",
        "db_secret_arn": _secret(client, f"db-{uuid.uuid4().hex}", json.dumps({"username": "u", "password": "p"})),
        "session_secret_arn": _secret(client, f"session-{uuid.uuid4().hex}", "s" * 40),
        "admin_token_secret_arn": _secret(client, f"admin-{uuid.uuid4().hex}", "first-admin-token"),
    }
    return load_settings(**(values | extra))


def test_secrets_come_from_secrets_manager_and_admin_token_rotates():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        settings = _prod_settings(client)
        now = [0.0]
        secrets = Secrets(settings, client=client, clock=lambda: now[0])
        secrets.load_all()
        assert secrets.db_credentials().username == "u" and secrets.session.get() == "s" * 40
        auth = AdminAuth(secrets.admin_token)
        assert asyncio.run(auth.check("first-admin-token"))
        client.put_secret_value(SecretId=settings.admin_token_secret_arn, SecretString="second-admin-token")
        assert not asyncio.run(auth.check("second-admin-token"))  # re-reads are rate-limited...
        now[0] += 31
        assert asyncio.run(auth.check("second-admin-token"))  # ...then the rotated token works
        assert asyncio.run(auth.check("first-admin-token"))  # and the previous one until the next rotation
        client.put_secret_value(SecretId=settings.admin_token_secret_arn, SecretString="third-admin-token")
        now[0] += 31
        assert asyncio.run(auth.check("third-admin-token"))
        assert not asyncio.run(auth.check("first-admin-token"))  # two rotations: gone
        assert asyncio.run(auth.check("second-admin-token"))


def test_session_key_ring_signs_with_the_current_key_and_accepts_the_previous_one():
    """After a rotation, cookies and CSRF tokens from before it still verify; new ones use the new key only."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        settings = _prod_settings(client)
        now = [0.0]
        signer = Signer(Secrets(settings, client=client, clock=lambda: now[0]).session)
        old_cookie, old_csrf = signer.dumps("session", {"sid": "a"}), signer.csrf_token("a")
        client.put_secret_value(SecretId=settings.session_secret_arn, SecretString="t" * 40)
        now[0] += 31
        assert signer.key.refresh() and signer.key.ring() == ("t" * 40, "s" * 40)
        new_cookie = signer.dumps("session", {"sid": "a"})
        assert new_cookie != old_cookie and signer.csrf_token("a") != old_csrf  # signed with the current key
        assert asyncio.run(signer.loads("session", old_cookie)) == {"sid": "a"} and signer.csrf_valid("a", old_csrf)
        client.put_secret_value(SecretId=settings.session_secret_arn, SecretString="u" * 40)
        now[0] += 31
        assert signer.key.refresh() and signer.key.ring() == ("u" * 40, "t" * 40)
        assert asyncio.run(signer.loads("session", new_cookie)) == {"sid": "a"}
        assert asyncio.run(signer.loads("session", old_cookie)) is None and not signer.csrf_valid("a", old_csrf)


def test_a_never_rotated_secret_has_a_ring_of_one():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        secrets = Secrets(_prod_settings(client), client=client)
        assert secrets.session.ring() == ("s" * 40,) and secrets.admin_token.ring() == ("first-admin-token",)


def test_a_rotation_to_a_too_short_secret_keeps_the_value_in_use():
    values, now = iter(["s" * 32, "s" * 31, "t" * 32]), [0.0]
    ref = SecretRef("SHOP_SESSION_SECRET_ARN", lambda: next(values), lambda: now[0], min_length=32)
    assert ref.get() == "s" * 32
    now[0] += 31
    assert not ref.refresh() and ref.get() == "s" * 32
    assert not ref.refresh()  # a failed read is rate-limited like any other
    now[0] += 31
    assert ref.refresh() and ref.get() == "t" * 32


def test_unreadable_secret_is_a_config_error_naming_the_variable():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        settings = _prod_settings(client, admin_token_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:gone")
        with pytest.raises(ConfigError, match="SHOP_ADMIN_TOKEN_SECRET_ARN: cannot read secret"):
            Secrets(settings, client=client).load_all()


@pytest.mark.parametrize(
    ("literal", "arn", "minimum"),
    [("session_secret", "session_secret_arn", 32), ("admin_token", "admin_token_secret_arn", 16)],
)
def test_a_secret_from_secrets_manager_meets_the_literal_length_rule(monkeypatch, capsys, literal, arn, minimum):
    """A value one character short fails startup with exit 2 and one line naming the variable, as a literal does."""
    short = "x" * (minimum - 1)
    with pytest.raises(ConfigError, match=f"SHOP_{literal.upper()}: String should have at least {minimum} char"):
        load_settings(env="dev", database_url="sqlite+aiosqlite:///x", **(DEV_SECRETS | {literal: short}))
    monkeypatch.setattr(shop_main, "configure_logging", lambda level: None)  # keep the test process's logging
    monkeypatch.setattr(shop.server, "serve", _must_not_serve)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        settings = _prod_settings(client, **{arn: _secret(client, "short", short)})
        for name in ("env", "db_host", "db_name", "aws_region", "db_secret_arn", *SECRET_ARNS):
            monkeypatch.setenv(f"SHOP_{name.upper()}", str(getattr(settings, name)))
        assert shop_main.main(["serve"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"shop: SHOP_{arn.upper()}: the secret must be at least {minimum} characters long"


@pytest.mark.services
async def test_database_password_rotation_is_picked_up(postgres_database):
    """RDS rotates the master password: new connections fail auth, re-read the secret, and succeed."""
    url = make_url(postgres_database)
    role = f"shoptest_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'first-pass'")
    try:
        with mock_aws():
            client = boto3.client("secretsmanager", region_name="us-east-1")
            settings = _prod_settings(
                client, db_host=url.host, db_port=url.port or 5432, db_name=url.database, db_sslmode="disable"
            )
            client.put_secret_value(
                SecretId=settings.db_secret_arn, SecretString=json.dumps({"username": role, "password": "first-pass"})
            )
            now = [0.0]
            rt = Runtime(settings, secrets=Secrets(settings, client=client, clock=lambda: now[0]))
            async with rt.engine.connect() as conn:
                assert (await conn.execute(text("SELECT current_user"))).scalar_one() == role
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"ALTER ROLE {role} PASSWORD 'second-pass'")
            client.put_secret_value(
                SecretId=settings.db_secret_arn, SecretString=json.dumps({"username": role, "password": "second-pass"})
            )
            await rt.engine.dispose()  # force new connections, as after a pod restart or pool recycle
            now[0] += 31
            async with rt.engine.connect() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            await rt.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")
