"""A PostgreSQL major-version upgrade in prod: the instance is modified in place (RDS's in-place major upgrade)
and moved to a parameter group of the new family, created before the old one is deleted."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan
from tests.conftest import plan_for
from tests.day_two import Change, changes

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
#: The version prod ran before the upgrade to the default (the settings' engine_major_version).
PREVIOUS_MAJOR = 17


@pytest.fixture(scope="module")
def upgrade(prod: Plan) -> dict[str, Change]:
    return changes(plan_for("prod", {"dbEngineMajorVersion": PREVIOUS_MAJOR}), prod)


def test_the_instance_is_upgraded_in_place(upgrade: dict[str, Change]) -> None:
    (change,) = [c for c in upgrade.values() if c.type == INSTANCE]
    assert change.op == "update"
    assert change.keys == {"engineVersion", "parameterGroupName"}
    assert change.before is not None and change.after is not None
    assert change.before.inputs["engineVersion"] == str(PREVIOUS_MAJOR)
    assert int(change.after.inputs["engineVersion"]) == PREVIOUS_MAJOR + 1


def test_rds_is_allowed_the_major_upgrade_and_applies_it_during_the_update(prod: Plan) -> None:
    """Without AllowMajorVersionUpgrade RDS refuses the new engine version. Without ApplyImmediately the change
    waits for the maintenance window: the old parameter group, still in use, then cannot be deleted at the end of
    the same `pulumi up`, and every preview until the window shows the upgrade again."""
    instance = prod.one(INSTANCE, "database-postgres")
    assert instance.inputs["allowMajorVersionUpgrade"] is True
    assert instance.inputs["applyImmediately"] is True


def test_the_parameter_group_of_the_new_family_is_created_before_the_old_goes(upgrade: dict[str, Change]) -> None:
    (change,) = [c for c in upgrade.values() if c.type == PARAMETER_GROUP]
    assert change.op == "replace"
    assert change.before is not None and change.after is not None
    assert change.after.inputs["family"] == f"postgres{PREVIOUS_MAJOR + 1}"
    # Create-before-delete: two groups exist at once, so they need different names (the family is in the name).
    assert not change.after.options.get("deleteBeforeReplace")
    assert change.after.inputs["name"] != change.before.inputs["name"]


def test_nothing_else_changes_and_nothing_protected_is_replaced(upgrade: dict[str, Change]) -> None:
    assert {(c.type, c.op) for c in upgrade.values()} == {(INSTANCE, "update"), (PARAMETER_GROUP, "replace")}
    assert not [c for c in upgrade.values() if c.op in ("replace", "delete") and c.protected]


# ---------------------------------------------------------------------------------------------- the cache

CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_PARAMETERS = "aws:elasticache/parameterGroup:ParameterGroup"


@pytest.fixture(scope="module")
def cache_upgrade(prod: Plan) -> dict[str, Change]:
    """Valkey 7.2 to the default 8.2: a new major version, so a parameter group of a new family."""
    return changes(plan_for("prod", {"cacheEngineVersion": "7.2"}), prod)


def test_a_cache_engine_upgrade_modifies_the_group_in_place_and_swaps_its_parameter_group(
    cache_upgrade: dict[str, Change],
) -> None:
    assert {(c.type, c.op) for c in cache_upgrade.values()} == {(CACHE, "update"), (CACHE_PARAMETERS, "replace")}
    (group,) = [c for c in cache_upgrade.values() if c.type == CACHE]
    assert group.keys == {"engineVersion", "parameterGroupName", "description"}
    (parameters,) = [c for c in cache_upgrade.values() if c.type == CACHE_PARAMETERS]
    assert parameters.before is not None and parameters.after is not None
    assert parameters.after.inputs["name"] != parameters.before.inputs["name"]
    assert not parameters.after.options.get("deleteBeforeReplace")
    assert not [c for c in cache_upgrade.values() if c.op in ("replace", "delete") and c.protected]


def test_the_cache_applies_changes_during_the_update(prod: Plan) -> None:
    """As for the database: a deferred upgrade would keep the old parameter group in use when `pulumi up` deletes
    it at the end."""
    assert prod.one(CACHE, "cache-replication-group").inputs["applyImmediately"] is True
