"""The rotation function of the generated secrets (functions/rotate_generated), its four steps against moto."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

from functions.rotate_generated import rotate

REGION = "us-east-1"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
FIRST = "a" * 48


@pytest.fixture
def client():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def _secret(client) -> str:
    return client.create_secret(Name=f"shop/prod/admin-token-{uuid.uuid4().hex}", SecretString=FIRST)["ARN"]


def _start_rotation(client, secret_id: str) -> str:
    """What RotateSecret does before it calls the function: rotation on, a new version id labelled AWSPENDING.

    moto's RotateSecret would run the function as a moto Lambda (in Docker), so the test sets that state directly.
    """
    secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[
        client.describe_secret(SecretId=secret_id)["Name"]
    ]
    assert isinstance(secret, FakeSecret)
    secret.rotation_requested = secret.rotation_enabled = True
    token = str(uuid.uuid4())
    secret.versions[token] = {"createdate": int(time.time()), "version_id": token, "version_stages": ["AWSPENDING"]}
    return token


def _run(client, secret_id: str, token: str, steps=STEPS) -> None:
    """Secrets Manager's order: each step once, stopping at the first failure."""
    for step in steps:
        rotate.handler({"SecretId": secret_id, "ClientRequestToken": token, "Step": step}, None, client=client)


def _value(client, secret_id: str, stage: str) -> str:
    return client.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"]


def test_a_rotation_makes_a_new_value_current_and_the_old_one_previous(client):
    secret_id = _secret(client)
    token = _start_rotation(client, secret_id)
    _run(client, secret_id, token)
    new = _value(client, secret_id, "AWSCURRENT")
    assert new != FIRST and len(new) == len(FIRST) and new.isalnum()
    assert _value(client, secret_id, "AWSPREVIOUS") == FIRST  # the shop's key ring still accepts it
    assert "AWSCURRENT" in client.describe_secret(SecretId=secret_id)["VersionIdsToStages"][token]


def test_steps_are_idempotent_so_retries_change_nothing(client):
    secret_id = _secret(client)
    token = _start_rotation(client, secret_id)
    _run(client, secret_id, token, ("createSecret",))
    pending = client.get_secret_value(SecretId=secret_id, VersionStage="AWSPENDING")["SecretString"]
    _run(client, secret_id, token)  # Secrets Manager retries a step that timed out
    _run(client, secret_id, token, ("finishSecret",))
    assert _value(client, secret_id, "AWSCURRENT") == pending and _value(client, secret_id, "AWSPREVIOUS") == FIRST


def test_a_failed_test_step_never_promotes_the_pending_value(client):
    secret_id = _secret(client)
    token = _start_rotation(client, secret_id)
    _run(client, secret_id, token, ("createSecret", "setSecret"))
    # A pending value the shop could not use (wrong format) must stop the rotation at testSecret.
    client.put_secret_value(
        SecretId=secret_id, ClientRequestToken=token, SecretString="short!", VersionStages=["AWSPENDING"]
    )
    with pytest.raises(rotate.RotationError, match="is not 48 letters and digits"):
        _run(client, secret_id, token)
    assert _value(client, secret_id, "AWSCURRENT") == FIRST
    stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    assert stages[token] == ["AWSPENDING"]


def test_the_function_refuses_a_secret_without_rotation_or_an_unknown_version(client):
    secret_id = _secret(client)
    with pytest.raises(rotate.RotationError, match="rotation is not enabled"):
        _run(client, secret_id, str(uuid.uuid4()))
    _start_rotation(client, secret_id)
    with pytest.raises(rotate.RotationError, match="has no stage for rotation"):
        _run(client, secret_id, str(uuid.uuid4()))
    assert _value(client, secret_id, "AWSCURRENT") == FIRST
