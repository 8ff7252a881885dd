"""The AUTH token's rotation function (functions/rotate_generated/redis_auth.py) and the shop across a rotation.

The function runs its four steps against moto (Secrets Manager), a botocore Stubber for ElastiCache (moto's
ModifyReplicationGroup ignores AuthToken; the Stubber checks each call against botocore's service model and the
exact parameters) and a test-owned redis-server speaking TLS with a self-signed certificate, so the function's
own RESP-over-``ssl`` code is what authenticates. A ROTATE adds the token to that server (``ACL SETUSER default
>token``), as ElastiCache keeps both tokens valid. The shop's side uses a second, plain-TCP test-owned server: its
TLS path is app/tests/test_redis.py's.
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis as redis_sync
from botocore.stub import Stubber
from moto import mock_aws
from shop.cache import RedisStore, RedisUnavailable
from shop.secrets import SecretRef

from components.rotation import FUNCTION_SOURCE
from tests.test_rotation_function import REGION, STEPS, _start_rotation, _value

sys.path.insert(0, str(FUNCTION_SOURCE))  # the archive's layout: its modules import each other by name
redis_auth = importlib.import_module("redis_auth")
rotate = importlib.import_module("rotate")

GROUP = "shop-prod-cache"
FIRST = "F" * 64

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_server(directory: Path, password: str, tls: Path | None) -> Iterator[int]:
    """A test-owned redis-server (never the shared one) requiring ``password``; TLS-only with ``tls``'s cert."""
    port = _free_port()
    listen = ["--port", "0", "--tls-port", str(port)] if tls else ["--port", str(port)]
    certificate = ["--tls-cert-file", str(tls / "cert.pem"), "--tls-key-file", str(tls / "key.pem")] if tls else []
    common = ["--requirepass", password, "--save", "", "--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(
        ["redis-server", *listen, *certificate, "--tls-auth-clients", "no", *common],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on {port}")
            time.sleep(0.05)
    yield port
    process.kill()
    process.wait()


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost", "-keyout", str(tmp_path / "key.pem")),
            *("-out", str(tmp_path / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    return tmp_path


@pytest.fixture
def tls_port(tmp_path: Path, certificate: Path) -> Iterator[int]:
    yield from _redis_server(tmp_path, FIRST, certificate)


@pytest.fixture
def secrets():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def _admin(port: int, certificate: Path, password: str = FIRST) -> redis_sync.Redis:
    return redis_sync.Redis(
        host="localhost", port=port, password=password, ssl=True, ssl_ca_certs=str(certificate / "cert.pem")
    )


def _group(port: int, status: str = "available") -> dict[str, Any]:
    endpoint = {"Address": "localhost", "Port": port}
    return {
        "ReplicationGroups": [
            {"ReplicationGroupId": GROUP, "Status": status, "NodeGroups": [{"PrimaryEndpoint": endpoint}]}
        ]
    }


class Rotation:
    """One rotation of a ``redis-auth`` secret holding FIRST against the TLS server, ElastiCache stubbed."""

    def __init__(self, secrets: Any, port: int, certificate: Path, deadline: float = float("inf")) -> None:
        self.secrets, self.port, self.certificate = secrets, port, certificate
        self.secret_id = secrets.create_secret(Name=f"shop/prod/redis-auth-{uuid.uuid4().hex}", SecretString=FIRST)[
            "ARN"
        ]
        self.token = _start_rotation(secrets, self.secret_id)
        self.elasticache = boto3.client("elasticache", region_name=REGION)
        self.stubber = Stubber(self.elasticache)
        self.sleeps: list[float] = []
        self.cache = redis_auth.Cache(
            elasticache=self.elasticache,
            group_id=GROUP,
            tls=ssl.create_default_context(cafile=str(certificate / "cert.pem")),
            deadline=deadline,
            sleep=self.sleeps.append,
        )

    def describe(self, status: str = "available") -> None:
        self.stubber.add_response(
            "describe_replication_groups", _group(self.port, status), {"ReplicationGroupId": GROUP}
        )

    def rotate_on_the_server(self, params: dict[str, Any], **_: Any) -> None:
        """What ElastiCache's ROTATE does: the new token is accepted beside the one in use."""
        with _admin(self.port, self.certificate) as admin:
            admin.execute_command("ACL", "SETUSER", "default", f">{params['AuthToken']}")

    def expect_modify(self, applied: bool = True) -> None:
        pending = self.secrets.get_secret_value(SecretId=self.secret_id, VersionStage="AWSPENDING")["SecretString"]
        exact = {
            "ReplicationGroupId": GROUP,
            "AuthToken": pending,
            "AuthTokenUpdateStrategy": "ROTATE",
            "ApplyImmediately": True,
        }
        self.stubber.add_response(
            "modify_replication_group", {"ReplicationGroup": {"ReplicationGroupId": GROUP}}, exact
        )
        if applied:
            self.elasticache.meta.events.register(
                "provide-client-params.elasticache.ModifyReplicationGroup", self.rotate_on_the_server
            )

    def run(self, steps: tuple[str, ...] = STEPS) -> None:
        steps_by_name = rotate.steps_for(self.cache)
        with self.stubber:
            for step in steps:
                event = {"SecretId": self.secret_id, "ClientRequestToken": self.token, "Step": step}
                rotate.run(event, self.secrets, steps_by_name)
            self.stubber.assert_no_pending_responses()


def _accepts(port: int, certificate: Path, password: str) -> bool:
    try:
        with _admin(port, certificate, password) as client:
            return bool(client.ping())
    except redis_sync.AuthenticationError:
        return False


def test_a_rotation_adds_the_new_token_with_rotate_tests_it_over_tls_and_promotes_it(secrets, tls_port, certificate):
    rotation = Rotation(secrets, tls_port, certificate)
    rotation.run(("createSecret",))
    rotation.describe()  # setSecret: available, the cache refuses the pending token yet
    rotation.expect_modify()
    rotation.describe("modifying")  # ... then waited for
    rotation.describe()
    rotation.describe()  # testSecret
    rotation.run(("setSecret", "testSecret", "finishSecret"))
    new = _value(secrets, rotation.secret_id, "AWSCURRENT")
    assert new != FIRST and len(new) == len(FIRST) and new.isalnum()
    assert _value(secrets, rotation.secret_id, "AWSPREVIOUS") == FIRST
    assert rotation.sleeps == [redis_auth.POLL_SECONDS]
    # Both tokens work: the shop's connections with the old one are not cut off.
    assert _accepts(tls_port, certificate, new) and _accepts(tls_port, certificate, FIRST)


def test_a_token_the_cache_refuses_is_never_promoted(secrets, tls_port, certificate):
    rotation = Rotation(secrets, tls_port, certificate)
    rotation.run(("createSecret",))
    rotation.describe()
    rotation.expect_modify(applied=False)  # the modification did not take
    rotation.describe()
    rotation.describe()
    with pytest.raises(rotate.RotationError, match=f"{GROUP} refuses version"):
        rotation.run(("setSecret", "testSecret", "finishSecret"))
    assert _value(secrets, rotation.secret_id, "AWSCURRENT") == FIRST
    assert secrets.describe_secret(SecretId=rotation.secret_id)["VersionIdsToStages"][rotation.token] == ["AWSPENDING"]


def test_a_retried_set_step_does_not_rotate_twice(secrets, tls_port, certificate):
    """A second ROTATE would make the pending token both tokens and cut off the shop's."""
    rotation = Rotation(secrets, tls_port, certificate)
    rotation.run(("createSecret",))
    rotation.describe()
    rotation.expect_modify()
    rotation.describe()
    rotation.run(("setSecret",))
    rotation.describe()  # the retry: the cache accepts the pending token already, no modify
    rotation.run(("setSecret",))


def test_a_group_that_stays_modifying_fails_the_step_before_lambda_kills_it(secrets, tls_port, certificate):
    """Less than one poll left: the step fails now, with the reason logged, rather than being killed mid-wait."""
    rotation = Rotation(secrets, tls_port, certificate, deadline=time.monotonic() + redis_auth.POLL_SECONDS / 2)
    rotation.run(("createSecret",))
    rotation.describe("modifying")  # another modification is under way: no ModifyReplicationGroup now
    with pytest.raises(rotate.RotationError, match="is still modifying"):
        rotation.run(("setSecret",))
    assert rotation.sleeps == []


def test_the_function_verifies_the_caches_certificate(secrets, tls_port, certificate):
    rotation = Rotation(secrets, tls_port, certificate)
    rotation.cache.tls = ssl.create_default_context()  # the public CAs only: the self-signed cert is refused
    rotation.run(("createSecret",))
    rotation.describe()
    with pytest.raises(rotate.RotationError, match="cannot reach localhost"):
        rotation.run(("setSecret",))


def test_the_handler_reads_the_group_from_its_environment(monkeypatch):
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 60_000

    seen: list[Any] = []
    monkeypatch.setenv("REPLICATION_GROUP_ID", GROUP)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(rotate, "run", lambda event, client, steps: seen.append(steps["setSecret"].__self__))
    redis_auth.handler({}, Context(), client=object())
    (cache,) = seen
    assert cache.group_id == GROUP and cache.tls.verify_mode == ssl.CERT_REQUIRED
    assert 0 < cache.deadline - time.monotonic() <= 60 - rotate.MARGIN_SECONDS


# The shop across a rotation: a test-owned plain-TCP server (the shared Redis's password is never touched).


@pytest.fixture
def plain_port(tmp_path: Path) -> Iterator[int]:
    yield from _redis_server(tmp_path, FIRST, None)


def _store(port: int, secrets: Any, secret_id: str, now: list[float]) -> RedisStore:
    client_secrets = secrets

    def read(stage: str) -> str:
        return client_secrets.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"]

    def previous() -> str | None:
        try:
            return read("AWSPREVIOUS")
        except client_secrets.exceptions.ResourceNotFoundException:
            return None

    ref = SecretRef("SHOP_REDIS_AUTH_SECRET_ARN", lambda: read("AWSCURRENT"), lambda: now[0], 16, previous)
    return RedisStore(f"redis://127.0.0.1:{port}/0", "t:", ref, lambda: now[0], breaker_seconds=0.0)


async def _ping(store: RedisStore) -> bool:
    try:
        return bool(await store.run(lambda r: r.ping()))
    except RedisUnavailable:
        return False


def test_the_shop_rereads_the_token_when_the_next_rotation_drops_its_own(secrets, plain_port):
    second = "S" * 64
    secret_id = secrets.create_secret(Name=f"redis-{uuid.uuid4().hex}", SecretString=FIRST)["ARN"]
    admin = redis_sync.Redis(port=plain_port, password=FIRST)
    now = [0.0]

    async def scenario() -> list[bool]:
        store = _store(plain_port, secrets, secret_id, now)
        results = [await _ping(store)]
        admin.execute_command("ACL", "SETUSER", "default", f">{second}", f"<{FIRST}")  # rotated, FIRST dropped
        secrets.put_secret_value(SecretId=secret_id, SecretString=second)
        admin.client_kill_filter(_type="normal", skipme=True)
        now[0] += 60
        results += [await _ping(store), await _ping(store)]  # the reconnect fails once, re-reads, then works
        await store.close()
        return results

    assert asyncio.run(scenario()) == [True, False, True]
    admin.close()


def test_the_shop_tries_the_previous_token_when_the_current_one_is_refused(secrets, plain_port):
    """AWSCURRENT moved to a token the cache does not accept (yet): AWSPREVIOUS, which it does, keeps the shop up."""
    secret_id = secrets.create_secret(Name=f"redis-{uuid.uuid4().hex}", SecretString=FIRST)["ARN"]
    secrets.put_secret_value(SecretId=secret_id, SecretString="N" * 64)
    now = [0.0]

    async def scenario() -> list[bool]:
        store = _store(plain_port, secrets, secret_id, now)
        results = [await _ping(store), await _ping(store), await _ping(store)]
        await store.close()
        return results

    assert asyncio.run(scenario()) == [False, True, True]
