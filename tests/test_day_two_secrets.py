"""Rotating the generated secrets that rotate through config (the session key, the admin token) in prod: a config
change that replaces only each generator and its stored value, while every protected resource stays."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan
from tests.conftest import plan_for
from tests.day_two import Change, changes, of_op

PASSWORD = "random:index/randomPassword:RandomPassword"
SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
#: Each generated secret that rotates through config, and its key. The AUTH token and the origin header rotate only
#: with their functions, which own the values (tests/test_rotation_redis.py, tests/test_rotation_origin_verify.py).
ROTATIONS = {
    "session": "secretsSessionRotation",
    "admin-token": "secretsAdminTokenRotation",
}


@pytest.fixture(scope="module")
def rotation(prod: Plan) -> dict[str, Change]:
    """Prod before and after raising every rotation setting by one."""
    return changes(prod, plan_for("prod", dict.fromkeys(ROTATIONS.values(), 1)))


def test_rotation_replaces_each_generator_and_its_stored_value(rotation: dict[str, Change]) -> None:
    replaced = {(change.type, change.name) for change in of_op(rotation, "replace")}
    expected = {(PASSWORD, f"secrets-{purpose}") for purpose in ROTATIONS}
    expected |= {(VERSION, f"secrets-{purpose}-value") for purpose in ROTATIONS}
    assert replaced == expected
    assert not of_op(rotation, "create") and not of_op(rotation, "delete")


def test_rotation_replaces_nothing_protected(rotation: dict[str, Change]) -> None:
    """Prod protects the secrets themselves (their names, recovery window and history), not the values: a
    protected resource that the rotation replaced would fail `pulumi up`."""
    blocked = [f"{c.type} {c.name}" for c in rotation.values() if c.op in ("replace", "delete") and c.protected]
    assert blocked == []


def test_nothing_holds_a_generated_value_in_its_inputs(rotation: dict[str, Change]) -> None:
    """The shop reads the session key and the admin token from Secrets Manager by ARN (and re-reads them when a
    credential no longer verifies): nothing holds them in its own inputs."""
    assert not of_op(rotation, "update")


def test_the_secret_arns_the_shop_reads_stay(prod: Plan, rotation: dict[str, Change]) -> None:
    assert not [change for change in rotation.values() if change.type == SECRET]


def test_the_auth_token_is_rotated_with_the_previous_one_still_valid(prod: Plan) -> None:
    """ROTATE keeps the previous token valid beside the new one (ElastiCache's AuthTokenUpdateStrategy), so clients
    that still hold it keep working until they re-read the secret; SET is only allowed after a ROTATE."""
    group = prod.one("aws:elasticache/replicationGroup:ReplicationGroup", "cache-replication-group")
    assert group.inputs["authTokenUpdateStrategy"] == "ROTATE"


def test_no_rotation_means_no_keepers(prod: Plan) -> None:
    """Adding keepers to a generator replaces it: stacks that never rotated keep their values."""
    assert all("keepers" not in generator.inputs for generator in prod.of_type(PASSWORD))
