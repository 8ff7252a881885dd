"""The carts table (components/carts.py) on the offline plan: capacity, recovery, encryption, expiry, protection,
who may use it, how the shop reaches it, and what pages when it fails; and the pack's DynamoDB rules."""

from __future__ import annotations

import pytest

from components.carts import ITEM_ACTIONS, KEY, TTL_ATTRIBUTE
from policies.rules import services, stack
from stacks.offline.plan import Plan, PlannedResource
from tests.cluster_plan import ASSOCIATION, inline_statements, key_arn, role_with_arn
from tests.observability_plan import alarms, expression, metrics
from tests.policy_support import check, messages, resource
from tests.shop_plan import CONFIG_MAP, obj

TABLE = "aws:dynamodb/table:Table"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def table(plan: Plan) -> PlannedResource:
    return plan.one(TABLE, "carts-table")


def shop_statements(plan: Plan) -> list[dict]:
    (association,) = [
        a
        for a in plan.of_type(ASSOCIATION)
        if (a.inputs["namespace"], a.inputs["serviceAccount"]) == ("shop", "shop")
        and a.inputs["tags"]["component"] == "cluster"
    ]
    return inline_statements(plan, role_with_arn(plan, association.inputs["roleArn"]))


def test_on_demand_keyed_by_cart_with_ttl_expiry(plan: Plan) -> None:
    inputs = table(plan).inputs
    assert inputs["billingMode"] == "PAY_PER_REQUEST"
    assert inputs["hashKey"] == KEY == "cart_id"
    assert inputs["attributes"] == [{"name": KEY, "type": "S"}]
    assert inputs["ttl"] == {"attributeName": TTL_ATTRIBUTE, "enabled": True}
    assert TTL_ATTRIBUTE == "expires_at", "the shop's attribute (app/shop/cart_table.py)"


def test_point_in_time_recovery_and_the_data_key(plan: Plan) -> None:
    inputs = table(plan).inputs
    assert inputs["pointInTimeRecovery"]["enabled"] is True
    assert inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key_arn(plan, "data")}


def test_prod_protects_the_table_staging_can_be_torn_down(staging: Plan, prod: Plan) -> None:
    assert table(prod).inputs["deletionProtectionEnabled"] is True
    assert table(prod).options.get("protect") is True
    assert table(staging).inputs["deletionProtectionEnabled"] is False
    assert table(staging).options.get("protect", False) is False


def test_the_shop_uses_dynamodb_carts_on_this_table(plan: Plan) -> None:
    data = obj(plan, CONFIG_MAP, "shop-config").inputs["data"]
    assert data["SHOP_CART_STORE"] == "dynamodb"
    assert data["SHOP_CART_TABLE"] == table(plan).outputs["name"]


def test_the_shop_role_may_make_exactly_its_item_calls_on_the_table(plan: Plan) -> None:
    statements = shop_statements(plan)
    on_table = [s for s in statements if any(str(a).startswith("dynamodb:") for a in s["Action"])]
    assert on_table == [
        {"Sid": "CartsTable", "Effect": "Allow", "Action": list(ITEM_ACTIONS), "Resource": table(plan).outputs["arn"]}
    ]
    assert set(ITEM_ACTIONS) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    (key,) = [s for s in statements if s.get("Sid") == "EncryptCarts"]
    assert key["Resource"] == key_arn(plan, "data")
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}}


def test_a_gateway_endpoint_routes_dynamodb_from_the_private_subnets_only(plan: Plan) -> None:
    gateway = plan.one(ENDPOINT, "network-dynamodb")
    assert gateway.inputs["vpcEndpointType"] == "Gateway"
    assert gateway.inputs["serviceName"] == "com.amazonaws.eu-west-1.dynamodb"
    private = {t.id for t in plan.of_type("aws:ec2/routeTable:RouteTable") if t.inputs["tags"]["tier"] == "private"}
    assert set(gateway.inputs["routeTableIds"]) == private


@pytest.mark.parametrize(
    ("key", "metric_names"),
    [
        ("carts-throttled", ["ReadThrottleEvents", "WriteThrottleEvents"]),
        ("carts-errors", ["SystemErrors"] * len(ITEM_ACTIONS)),
    ],
)
def test_any_throttled_or_failed_request_pages(plan: Plan, key: str, metric_names: list[str]) -> None:
    alarm = alarms(plan)[key]
    read = metrics(alarm)
    assert [(m["namespace"], m["metricName"], m["stat"]) for m in read] == [
        ("AWS/DynamoDB", name, "Sum") for name in metric_names
    ]
    assert {m["dimensions"]["TableName"] for m in read} == {table(plan).outputs["name"]}
    assert expression(alarm) == f"SUM([{', '.join(f'm{n}' for n in range(1, len(read) + 1))}])"
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("GreaterThanThreshold", 0)
    if key == "carts-errors":
        assert [m["dimensions"]["Operation"] for m in read] == [a.split(":")[1] for a in ITEM_ACTIONS]


COMPLIANT = {
    "serverSideEncryption": {"enabled": True, "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1"},
    "pointInTimeRecovery": {"enabled": True},
    "deletionProtectionEnabled": True,
}


def test_the_pack_requires_deletion_protection_and_protect_on_tables() -> None:
    rule = services.dynamodb_deletion_protection
    assert messages(rule, resource(TABLE, props=COMPLIANT)) == []
    for unprotected in ({"deletionProtectionEnabled": False}, {"deletionProtectionEnabled": None}):
        assert messages(rule, resource(TABLE, props=COMPLIANT | unprotected)) == [
            "deletionProtectionEnabled is not true. Fix: set deletion_protection_enabled=True."
        ]
    assert messages(stack.stateful_resources_protected, resource(TABLE, props=COMPLIANT, protect=True)) == []
    assert messages(stack.stateful_resources_protected, resource(TABLE, props=COMPLIANT)) != []


def test_the_plans_pass_the_pack_dynamodb_rules(plan: Plan) -> None:
    assert check(services.dynamodb_encryption_pitr, table(plan)) == []
    if plan.stack == "prod":
        assert check(services.dynamodb_deletion_protection, table(plan)) == []
        assert check(stack.stateful_resources_protected, table(plan)) == []
