"""Application secrets: generated, CMK-encrypted, recoverable for 30 days in prod, named per stack."""

from __future__ import annotations

import re

import pytest

from stacks.offline.plan import SECRET, Plan
from tests.data_layer import key_arn

SECRET_TYPE = "aws:secretsmanager/secret:Secret"
VERSION_TYPE = "aws:secretsmanager/secretVersion:SecretVersion"
PURPOSES = ("redis-auth", "session", "admin-token", "origin-verify")


@pytest.mark.parametrize("purpose", PURPOSES)
def test_each_secret_is_named_per_stack_and_encrypted_with_the_secrets_key(plan: Plan, purpose: str) -> None:
    secret = plan.one(SECRET_TYPE, f"secrets-{purpose}")
    assert secret.inputs["name"] == f"shop/{plan.stack}/{purpose}"
    assert secret.inputs["kmsKeyId"] == key_arn(plan, "secrets")
    assert secret.inputs["description"]


@pytest.mark.parametrize("purpose", PURPOSES)
def test_each_value_is_generated_and_stored_only_as_a_secret(plan: Plan, purpose: str) -> None:
    generator = plan.one("random:index/randomPassword:RandomPassword", f"secrets-{purpose}")
    assert generator.inputs["length"] >= 48
    secret = plan.one(SECRET_TYPE, f"secrets-{purpose}")
    (version,) = [v for v in plan.of_type(VERSION_TYPE) if v.inputs["secretId"] == secret.id]
    assert version.inputs["secretString"] == SECRET
    assert generator.urn in version.dependencies, "the stored value is the generated one"


def test_prod_secrets_stay_recoverable_30_days_staging_ones_go_at_once(staging: Plan, prod: Plan) -> None:
    """Staging's secrets have fixed names: with a recovery window, a destroyed staging could not be created again
    until the window ended."""
    assert {s.inputs["recoveryWindowInDays"] for s in prod.of_type(SECRET_TYPE)} == {30}
    assert {s.inputs["recoveryWindowInDays"] for s in staging.of_type(SECRET_TYPE)} == {0}
    assert {s.inputs["name"] for s in staging.of_type(SECRET_TYPE)} == {f"shop/staging/{p}" for p in PURPOSES}


def test_secrets_are_protected_in_prod_only(staging: Plan, prod: Plan) -> None:
    assert all(r.options["protect"] for r in prod.of_type(SECRET_TYPE))
    assert not any(r.options["protect"] for r in staging.of_type(SECRET_TYPE))


def test_values_and_their_generators_are_never_protected(plan: Plan) -> None:
    """A rotation replaces both (tests/test_day_two_secrets.py); a version would otherwise inherit its secret's."""
    for resource_type in (VERSION_TYPE, "random:index/randomPassword:RandomPassword"):
        assert not any(r.options["protect"] for r in plan.of_type(resource_type)), resource_type


def test_stack_outputs_carry_the_secret_arns(plan: Plan) -> None:
    arns = plan.outputs["appSecretArns"]
    expected = {
        "redisAuth": "redis-auth",
        "session": "session",
        "adminToken": "admin-token",
        "originVerify": "origin-verify",
    }
    for output, purpose in expected.items():
        assert arns[output] == plan.one(SECRET_TYPE, f"secrets-{purpose}").outputs["arn"]


def test_arns_look_like_secrets_managers(plan: Plan) -> None:
    """IAM policies match these ARNs by name with the six random characters Secrets Manager appends."""
    arn = plan.one(SECRET_TYPE, "secrets-session").outputs["arn"]
    assert re.fullmatch(rf"arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/{plan.stack}/session-\w{{6}}", arn)
