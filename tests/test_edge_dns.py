"""DNSSEC and DNS query logging of the shop's hosted zone, on the offline plans of both stacks."""

from __future__ import annotations

import json

import pytest

from stacks.offline.engine import load_config
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import SettingsError, parse
from tests.conftest import plan_for
from tests.edge_plan import EXISTING_ZONE, KMS_KEY, LOG_GROUP, ZONE, existing_zone_variant, region_of

P = "shop-platform"
KEY_SIGNING_KEY = "aws:route53/keySigningKey:KeySigningKey"
ZONE_DNSSEC = "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
RESOURCE_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
ACCOUNT = "123456789012"


def zone_id(plan: Plan) -> str:
    return plan.one(ZONE, "edge-zone").outputs["zoneId"]


def signing_key(plan: Plan, label: str = "ksk1") -> PlannedResource:
    return plan.one(KEY_SIGNING_KEY, f"edge-zone-dnssec-{label}")


def kms_key_of(plan: Plan, arn: str) -> PlannedResource:
    (key,) = [key for key in plan.of_type(KMS_KEY) if key.outputs["arn"] == arn]
    return key


def test_the_zone_is_signed_with_an_active_key_signing_key(plan: Plan) -> None:
    ksk = signing_key(plan)
    assert ksk.inputs["hostedZoneId"] == zone_id(plan)
    assert (ksk.inputs["name"], ksk.inputs["status"]) == ("ksk1", "ACTIVE")
    dnssec = plan.one(ZONE_DNSSEC, "edge-zone-dnssec")
    assert (dnssec.inputs["hostedZoneId"], dnssec.inputs["signingStatus"]) == (zone_id(plan), "SIGNING")
    # Enabling DNSSEC needs an active key-signing key; on destroy, signing stops before the key goes.
    assert ksk.urn in dnssec.dependencies


def test_the_signing_key_is_an_asymmetric_us_east_1_key_route53_may_sign_with(plan: Plan) -> None:
    key = kms_key_of(plan, signing_key(plan).inputs["keyManagementServiceArn"])
    assert (key.inputs["customerMasterKeySpec"], key.inputs["keyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert region_of(plan, key) == "us-east-1"  # Route 53 reads key-signing keys from there only
    assert "enableKeyRotation" not in key.inputs  # asymmetric keys cannot rotate: the key is rolled (operations.md)
    # Deleting it while its DS record is at the parent makes the domain unresolvable for validating resolvers.
    assert key.options["protect"] is (plan.stack == "prod")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    signs = statements["Route53DnssecSigns"]
    assert signs["Principal"] == {"Service": "dnssec-route53.amazonaws.com"}
    assert signs["Action"] == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
    assert signs["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": "arn:aws:route53:::hostedzone/*"},
    }
    grant = statements["Route53DnssecKeepsItsGrant"]
    assert (grant["Action"], grant["Condition"]) == ("kms:CreateGrant", {"Bool": {"kms:GrantIsForAWSResource": "true"}})
    assert set(statements) == {"AccountRootDelegatesToIam", "Route53DnssecSigns", "Route53DnssecKeepsItsGrant"}


def test_the_ds_record_for_the_parent_zone_is_a_stack_output(plan: Plan) -> None:
    ds = plan.outputs["edge"]["dnssecDsRecords"]
    assert ds == {"ksk1": signing_key(plan).outputs["dsRecord"]}


def test_queries_are_logged_to_an_encrypted_us_east_1_log_group(plan: Plan) -> None:
    group = plan.one(LOG_GROUP, "edge-zone-query-logs")
    assert group.inputs["name"] == f"/aws/route53/shop-{plan.stack}-zone"
    assert region_of(plan, group) == "us-east-1"  # Route 53 writes query logs there only
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["logGroupClass"] == "INFREQUENT_ACCESS"  # half the ingestion price, Logs Insights still works
    key = kms_key_of(plan, group.inputs["kmsKeyId"])
    assert region_of(plan, key) == "us-east-1"
    assert group.options["protect"] is (plan.stack == "prod")
    query_log = plan.one(QUERY_LOG, "edge-zone-query-log")
    assert query_log.inputs == {"zoneId": zone_id(plan), "cloudwatchLogGroupArn": group.outputs["arn"]}
    assert plan.outputs["edge"]["queryLogGroup"] == group.inputs["name"]


def test_route53_may_write_this_zones_queries_into_that_group_only(plan: Plan) -> None:
    group = plan.one(LOG_GROUP, "edge-zone-query-logs")
    policy = plan.one(RESOURCE_POLICY, "edge-zone-query-log-delivery")
    assert region_of(plan, policy) == "us-east-1"
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "route53.amazonaws.com"}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == f"{group.outputs['arn']}:*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:route53:::hostedzone/{zone_id(plan)}"},
    }
    # CreateQueryLoggingConfig checks that the resource policy admits Route 53.
    assert policy.urn in plan.one(QUERY_LOG, "edge-zone-query-log").dependencies


def test_an_existing_zone_is_signed_and_logged_too_with_each_key_of_a_rollover() -> None:
    variant = existing_zone_variant()
    keys = [signing_key(variant, label) for label in ("ksk1", "ksk2")]
    assert [key.inputs["hostedZoneId"] for key in keys] == [EXISTING_ZONE, EXISTING_ZONE]
    assert len({key.inputs["keyManagementServiceArn"] for key in keys}) == 2  # a KMS key each
    assert variant.outputs["edge"]["dnssecDsRecords"] == {
        "ksk1": keys[0].outputs["dsRecord"],
        "ksk2": keys[1].outputs["dsRecord"],
    }
    assert variant.one(QUERY_LOG, "edge-zone-query-log").inputs["zoneId"] == EXISTING_ZONE


def test_for_an_existing_zone_a_setting_decides() -> None:
    unsigned = plan_for("staging", {"edgeZoneId": EXISTING_ZONE, "edgeDnssec": False, "edgeQueryLogging": False})
    for kind in (KEY_SIGNING_KEY, ZONE_DNSSEC, QUERY_LOG):
        assert unsigned.of_type(kind) == []
    assert "dnssecDsRecords" not in unsigned.outputs["edge"]
    assert "queryLogGroup" not in unsigned.outputs["edge"]


@pytest.mark.parametrize("key", ["edgeDnssec", "edgeQueryLogging"])
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_zone_the_stack_creates_is_always_signed_and_logged(stack: str, key: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse({**load_config(stack)[1], f"{P}:{key}": "false"}, project=P, stack=stack)
    assert f"{P}:{key}: a zone the stack creates always" in str(raised.value)


def test_a_rollover_holds_two_keys_at_most_each_named_once() -> None:
    prod = load_config("prod")[1]
    for value, message in (
        ('["ksk1", "ksk2", "ksk3"]', "at most 2 items"),
        ('["ksk1", "ksk1"]', "lists a name twice"),
        ('["k-1"]', "should match pattern"),
    ):
        with pytest.raises(SettingsError) as raised:
            parse({**prod, f"{P}:edgeDnssecKeys": value}, project=P, stack="prod")
        assert f"{P}:edgeDnssecKeys: " in str(raised.value) and message in str(raised.value)
