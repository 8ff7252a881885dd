"""A resource that changes provider, and the inputs a provider fills in (``stacks.offline.changes``): the engine
replaces it only when the provider's package changes or the new provider's configuration forces it (pulumi/pulumi
``step_generator.go`` ``providerChanged``); otherwise it diffs the resource's inputs as the provider sees them, a
Region-aware AWS resource without a ``region`` being in its provider's region.

The case that motivated it: the edge's us-east-1 resources moved from an explicit ``aws.Provider`` for us-east-1 to
``region="us-east-1"`` on the stack's provider. Both variants come from prod's plan, the explicit one built here."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from stacks.offline import changes
from stacks.offline.changes import PROVIDER, ChangeSet, Difference
from stacks.offline.plan import Plan, PlannedResource

AWS_PROVIDER = "pulumi:providers:aws"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def _json_round_trip(plan: Plan) -> Plan:
    """The plan as ``--against`` reads the base revision's."""
    return Plan.from_json(json.loads(json.dumps(plan.to_json())))


def _in_us_east_1(plan: Plan) -> list[PlannedResource]:
    return [r for r in plan.resources if r.inputs.get("region") == "us-east-1" and not r.provider]


def explicit_provider_variant(prod: Plan, region: str = "us-east-1") -> Plan:
    """Prod as it was before: the resources it puts in us-east-1 through ``region=`` use an explicit AWS provider for
    ``region`` instead, a child of the edge component, and set no region of their own."""
    edge = prod.one("shop:edge:Edge")
    prefix, parent_type = edge.urn.rsplit("::", 2)[0], edge.urn.split("::")[2]
    provider = PlannedResource(
        urn=f"{prefix}::{parent_type}${AWS_PROVIDER}::edge-us-east-1",
        type=AWS_PROVIDER,
        name="edge-us-east-1",
        parent=edge.urn,
        dependencies=[],
        provider=None,
        options={},
        inputs={"region": region, "skipCredentialsValidation": "false", "skipRegionValidation": "true"},
        custom=True,
    )
    moved = {r.urn for r in _in_us_east_1(prod)}
    resources = [
        dataclasses.replace(
            r, provider=provider.urn, inputs={key: value for key, value in r.inputs.items() if key != "region"}
        )
        if r.urn in moved
        else r
        for r in prod.resources
    ]
    return dataclasses.replace(prod, resources=[*resources, provider])


@pytest.fixture(scope="module")
def moved(prod: Plan) -> list[PlannedResource]:
    found = _in_us_east_1(prod)
    # Those that used the explicit provider before (3cd40e3), among others in us-east-1 since.
    assert {r.name for r in found} >= {
        "edge-cdn-certificate",
        "edge-cdn-certificate-validation",
        "edge-cdn-acl",
        "edge-cdn-acl-logs",
        "edge-cdn-acl-log-delivery",
        "edge-cdn-acl-logging",
    }
    return found


def _ops(change_set: ChangeSet) -> dict[str, str]:
    return {change.name: change.op for change in change_set.changes}


def test_moving_from_an_explicit_provider_to_region_on_the_default_one_replaces_nothing(
    prod: Plan, moved: list[PlannedResource]
) -> None:
    """The provider's region was us-east-1 and the resource's own region is us-east-1: no input changes, and the
    AWS provider's configuration change (region, skip flags) does not replace a provider in pulumi-aws v7."""
    change_set = changes.compare(_json_round_trip(explicit_provider_variant(prod)), prod, "0" * 40)
    assert _ops(change_set) == {**{r.name: "update" for r in moved}, "edge-us-east-1": "delete"}
    for change in change_set.changes:
        if change.op == "update":
            assert change.diffs == (
                Difference(PROVIDER, f"{AWS_PROVIDER}::edge-us-east-1", f"{AWS_PROVIDER}::default", PROVIDER),
            )
            assert change.replace_keys == ()
    # The protected log group of the viewer web ACL is not destroyed, and `pulumi up` does not fail on it.
    assert change_set.warnings == []
    assert "pulumi up` would fail" not in changes.render(change_set, width=200)
    assert '~ provider: "pulumi:providers:aws::edge-us-east-1" → "pulumi:providers:aws::default"' in (
        changes.render(change_set, width=200)
    )


def test_the_move_back_to_an_explicit_provider_replaces_nothing_either(
    prod: Plan, moved: list[PlannedResource]
) -> None:
    change_set = changes.compare(_json_round_trip(prod), explicit_provider_variant(prod), "0" * 40)
    assert _ops(change_set) == {**{r.name: "update" for r in moved}, "edge-us-east-1": "create"}


def test_an_explicit_provider_in_another_region_replaces_what_it_manages(
    prod: Plan, moved: list[PlannedResource]
) -> None:
    """The provider change itself does not replace, but the effective region does: us-west-2 -> us-east-1."""
    change_set = changes.compare(_json_round_trip(explicit_provider_variant(prod, "us-west-2")), prod, "0" * 40)
    replaced = {change.name: change for change in change_set.changes if change.op == "replace"}
    assert {r.name for r in moved} <= set(replaced)
    log_group = replaced["edge-cdn-acl-logs"]
    assert log_group.replace_keys == ("region",)
    assert Difference("region", "us-west-2", "us-east-1", "region") in log_group.diffs
    assert log_group in change_set.warnings and log_group.protected


def test_a_new_stack_region_replaces_region_aware_resources_and_leaves_global_ones(prod: Plan) -> None:
    """A resource without ``region`` is in its provider's: the default provider's is the stack's ``aws:region``,
    which the plan records. IAM is global (no ``region``)."""
    assert prod.region == "eu-west-1"
    change_set = changes.compare(_json_round_trip(prod), dataclasses.replace(prod, region="eu-central-1"), "0" * 40)
    ops = {(change.type, change.name): change for change in change_set.changes}
    flow_logs = prod.one(LOG_GROUP, "network-flow-logs")
    assert ops[LOG_GROUP, flow_logs.name].op == "replace"
    assert ops[LOG_GROUP, flow_logs.name].replace_keys == ("region",)
    assert not [change for change in change_set.changes if change.type == ROLE and change.op == "replace"]
    # What sets region="us-east-1" itself does not move (it may still follow a replaced resource it refers to, such
    # as CloudFront's log delivery to the logs bucket).
    moved_us_east_1 = [
        change
        for change in change_set.changes
        if change.name in {r.name for r in _in_us_east_1(prod)} and "region" in change.replace_keys
    ]
    assert not moved_us_east_1


def test_a_plan_without_a_region_is_taken_to_be_in_the_other_plans(prod: Plan) -> None:
    """Plans written by revisions that did not record the region (``--against`` reads it from that revision's
    ``Pulumi.STACK.yaml``; any other caller gets no region change invented)."""
    document = prod.to_json()
    del document["region"]
    older = Plan.from_json(document)
    assert older.region is None
    assert changes.compare(older, prod, "0" * 40).changes == []
    assert changes.compare(prod, older, "0" * 40).changes == []
    assert _json_round_trip(prod).region == "eu-west-1"


# ---------------------------------------------------------------------------------------------- replacing moves


def _resource(urn: str, type_: str, provider: str | None, inputs: dict[str, Any]) -> PlannedResource:
    return PlannedResource(urn, type_, urn.rpartition("::")[2], None, [], provider, {}, inputs, True)


def _provider(type_: str, name: str, inputs: dict[str, Any]) -> PlannedResource:
    return _resource(f"urn:pulumi:s::p::{type_}::{name}", type_, None, inputs)


def _moved_config_map(old_provider: PlannedResource, new_provider: PlannedResource) -> ChangeSet:
    urn = f"urn:pulumi:s::p::{CONFIG_MAP}::settings"
    inputs = {"data": {"a": "b"}}
    old = Plan("p", "s", [old_provider, _resource(urn, CONFIG_MAP, old_provider.urn, inputs)], {})
    new = Plan("p", "s", [old_provider, new_provider, _resource(urn, CONFIG_MAP, new_provider.urn, inputs)], {})
    return changes.compare(old, new, "0" * 40)


def test_a_provider_whose_configuration_forces_a_replacement_replaces_its_resources() -> None:
    """The Kubernetes provider's DiffConfig replaces on a new cluster identifier (kubernetes.yaml)."""
    old = _provider(KUBERNETES_PROVIDER, "a", {"clusterIdentifier": "one"})
    change_set = _moved_config_map(old, _provider(KUBERNETES_PROVIDER, "b", {"clusterIdentifier": "two"}))
    (change,) = [c for c in change_set.changes if c.type == CONFIG_MAP]
    assert (change.op, change.replace_keys) == ("replace", (PROVIDER,))


def test_a_provider_with_the_same_configuration_only_updates() -> None:
    old = _provider(KUBERNETES_PROVIDER, "a", {"clusterIdentifier": "one"})
    change_set = _moved_config_map(old, _provider(KUBERNETES_PROVIDER, "b", {"clusterIdentifier": "one"}))
    (change,) = [c for c in change_set.changes if c.type == CONFIG_MAP]
    assert (change.op, [diff.path for diff in change.diffs]) == ("update", [PROVIDER])


def test_a_provider_of_another_package_replaces() -> None:
    old = _provider(KUBERNETES_PROVIDER, "a", {})
    change_set = _moved_config_map(old, _provider("pulumi:providers:other", "b", {}))
    (change,) = [c for c in change_set.changes if c.type == CONFIG_MAP]
    assert (change.op, change.replace_keys) == ("replace", (PROVIDER,))
