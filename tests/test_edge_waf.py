"""The two web ACLs on the offline plan: rules, regions, block responses, metrics and redacted, encrypted logs."""

from __future__ import annotations

import json

import pytest

from stacks.offline.plan import Plan, PlannedResource
from tests.edge_plan import (
    KMS_KEY,
    LOG_GROUP,
    STACK_REGION,
    cloudfront_acl,
    origin_acl,
    region_of,
    rules,
)

LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
BASELINE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
ACLS = {"cdn": cloudfront_acl, "origin": origin_acl}


def managed_groups(acl: PlannedResource) -> dict[str, dict]:
    return {
        rule["statement"]["managedRuleGroupStatement"]["name"]: rule
        for rule in acl.inputs["rules"]
        if "managedRuleGroupStatement" in rule["statement"]
    }


def log_group_of(plan: Plan, acl: PlannedResource) -> PlannedResource:
    (logging,) = [c for c in plan.of_type(LOGGING) if c.inputs["resourceArn"] == acl.outputs["arn"]]
    (destination,) = logging.inputs["logDestinationConfigs"]
    (group,) = [g for g in plan.of_type(LOG_GROUP) if g.outputs["arn"] == destination]
    return group


def test_cloudfront_acl_is_cloudfront_scoped_in_us_east_1(plan: Plan) -> None:
    acl = cloudfront_acl(plan)
    assert acl.inputs["scope"] == "CLOUDFRONT"
    assert region_of(plan, acl) == "us-east-1"
    assert acl.outputs["arn"].startswith("arn:aws:wafv2:us-east-1:") and ":global/webacl/" in acl.outputs["arn"]


def test_origin_acl_is_regional_in_the_stacks_region(plan: Plan) -> None:
    acl = origin_acl(plan)
    assert acl.inputs["scope"] == "REGIONAL"
    assert region_of(plan, acl) == STACK_REGION
    assert plan.outputs["edge"]["originWebAclArn"] == acl.outputs["arn"]


def test_cloudfront_acl_runs_the_baseline_aws_managed_rule_groups_in_blocking_mode(plan: Plan) -> None:
    groups = managed_groups(cloudfront_acl(plan))
    assert set(BASELINE_GROUPS) <= set(groups)
    for name, rule in groups.items():
        assert rule["statement"]["managedRuleGroupStatement"]["vendorName"] == "AWS"
        assert rule["overrideAction"] == {"none": {}}, f"{name} only counts"


def test_staging_web_acls_carry_the_same_rule_groups_as_prods(staging: Plan, prod: Plan) -> None:
    """Staging saves on size and redundancy, never on security: the same managed rule groups, in the same order."""
    for acl in (cloudfront_acl, origin_acl):
        assert list(managed_groups(acl(staging))) == list(managed_groups(acl(prod)))
    assert "AWSManagedRulesAnonymousIpList" in managed_groups(cloudfront_acl(staging))


def test_every_client_ip_is_rate_limited(plan: Plan) -> None:
    rule = rules(cloudfront_acl(plan))["rate-limit-per-ip"]
    statement = rule["statement"]["rateBasedStatement"]
    assert (statement["aggregateKeyType"], statement["limit"]) == ("IP", 2000)
    assert rule["action"]["block"]["customResponse"]["responseCode"] == 429
    assert rule["priority"] == 0, "counted before any other rule ends the evaluation"


def test_admin_is_blocked_except_from_the_allowed_networks(staging: Plan) -> None:
    rule = rules(cloudfront_acl(staging))["admin-allowlist"]
    assert "block" in rule["action"]
    admin, outsider = rule["statement"]["andStatement"]["statements"]
    match = admin["byteMatchStatement"]
    assert (match["positionalConstraint"], match["searchString"], match["fieldToMatch"]) == (
        "STARTS_WITH",
        "/admin",
        {"uriPath": {}},
    )
    assert [t["type"] for t in match["textTransformations"]] == ["URL_DECODE", "NORMALIZE_PATH", "LOWERCASE"]
    allowed = staging.one("aws:wafv2/ipSet:IpSet", "edge-admin-allowlist")
    assert outsider == {"notStatement": {"statement": {"ipSetReferenceStatement": {"arn": allowed.outputs["arn"]}}}}
    assert allowed.inputs["addresses"] == ["203.0.113.0/24"]
    assert (allowed.inputs["scope"], region_of(staging, allowed)) == ("CLOUDFRONT", "us-east-1")


def test_without_allowed_networks_admin_is_blocked_for_everyone(prod: Plan) -> None:
    rule = rules(cloudfront_acl(prod))["admin-allowlist"]
    assert rule["statement"]["byteMatchStatement"]["searchString"] == "/admin"
    assert "block" in rule["action"]
    assert prod.of_type("aws:wafv2/ipSet:IpSet") == []


@pytest.mark.parametrize("which", ACLS)
def test_blocks_answer_with_the_custom_body(plan: Plan, which: str) -> None:
    acl = ACLS[which](plan)
    bodies = {body["key"]: body for body in acl.inputs["customResponseBodies"]}
    assert bodies["blocked"]["contentType"] == "TEXT_PLAIN" and bodies["blocked"]["content"]
    blocks = [rule["action"]["block"] for rule in acl.inputs["rules"] if "block" in rule.get("action", {})]
    blocks += [acl.inputs["defaultAction"]["block"]] if "block" in acl.inputs["defaultAction"] else []
    assert blocks and all(block["customResponse"]["customResponseBodyKey"] == "blocked" for block in blocks)


@pytest.mark.parametrize("which", ACLS)
def test_metrics_and_sampled_requests_are_on_for_the_acl_and_every_rule(plan: Plan, which: str) -> None:
    acl = ACLS[which](plan)
    for config in [acl.inputs["visibilityConfig"], *(rule["visibilityConfig"] for rule in acl.inputs["rules"])]:
        assert config["cloudwatchMetricsEnabled"] is True and config["sampledRequestsEnabled"] is True


@pytest.mark.parametrize("which", ACLS)
def test_rule_priorities_are_unique(plan: Plan, which: str) -> None:
    priorities = [rule["priority"] for rule in ACLS[which](plan).inputs["rules"]]
    assert sorted(priorities) == list(range(len(priorities)))


def ordered_rules(acl: PlannedResource) -> list[dict]:
    return sorted(acl.inputs["rules"], key=lambda rule: rule["priority"])


def test_origin_admits_only_cloudfront_and_the_readiness_probe(prod: Plan) -> None:
    acl = origin_acl(prod)
    assert "block" in acl.inputs["defaultAction"]
    ordered = ordered_rules(acl)[-3:]
    assert [rule["name"] for rule in ordered] == ["through-cloudfront", "rate-limit-per-ip", "readiness-probe"]
    header = ordered[0]["statement"]["byteMatchStatement"]
    assert header["fieldToMatch"] == {"singleHeader": {"name": "x-origin-verify"}}
    assert (header["positionalConstraint"], header["searchString"]) == ("EXACTLY", "[secret]")
    assert ordered[0]["action"] == {"allow": {}}
    probe = ordered[2]["statement"]["byteMatchStatement"]
    assert (probe["positionalConstraint"], probe["searchString"]) == ("EXACTLY", "/readyz")
    version = prod.one("aws:secretsmanager/secretVersion:SecretVersion", "secrets-origin-verify-value")
    assert version.urn in acl.dependencies, "the header must match the secret CloudFront sends"


def test_origin_inspects_content_before_it_trusts_the_header(plan: Plan) -> None:
    """A leaked header value must not bypass the content rules that CloudFront's web ACL applies."""
    ordered = ordered_rules(origin_acl(plan))
    trusted = [rule["name"] for rule in ordered].index("through-cloudfront")
    before = {rule["name"]: rule for rule in ordered[:trusted]}
    assert set(before) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    }
    assert all(rule["overrideAction"] == {"none": {}} for rule in before.values())


@pytest.mark.parametrize("which", ACLS)
def test_logs_redact_credentials_and_go_to_an_aws_waf_logs_group(plan: Plan, which: str) -> None:
    acl = ACLS[which](plan)
    (logging,) = [c for c in plan.of_type(LOGGING) if c.inputs["resourceArn"] == acl.outputs["arn"]]
    redacted = {field["singleHeader"]["name"] for field in logging.inputs["redactedFields"]}
    assert {"authorization", "cookie", "x-origin-verify"} <= redacted
    group = log_group_of(plan, acl)
    assert group.inputs["name"].startswith("aws-waf-logs-")
    assert region_of(plan, group) == region_of(plan, acl) == region_of(plan, logging)
    assert group.inputs["retentionInDays"] == {"staging": 30, "prod": 365}[plan.stack]
    assert group.options["protect"] is (plan.stack == "prod")


def test_log_groups_are_encrypted_with_a_key_of_their_region(plan: Plan) -> None:
    origin_logs = log_group_of(plan, origin_acl(plan))
    assert origin_logs.inputs["kmsKeyId"] == plan.one(KMS_KEY, "logs-key").outputs["arn"]
    cdn_logs = log_group_of(plan, cloudfront_acl(plan))
    key = plan.one(KMS_KEY, "edge-cdn-logs-key")
    assert cdn_logs.inputs["kmsKeyId"] == key.outputs["arn"]
    assert region_of(plan, key) == "us-east-1"
    assert key.inputs["enableKeyRotation"] is True
    assert key.options["protect"] is (plan.stack == "prod")


def test_us_east_1_logs_key_admits_cloudwatch_logs_for_the_edge_log_groups_only(plan: Plan) -> None:
    key = plan.one(KMS_KEY, "edge-cdn-logs-key")
    group = log_group_of(plan, cloudfront_acl(plan))
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["AccountRootDelegatesToIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    logs = statements["CloudWatchLogsEncryptsTheWafLogGroup"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group.outputs["arn"]}}
    queries = plan.one("aws:cloudwatch/logGroup:LogGroup", "edge-zone-query-logs")
    assert statements["CloudWatchLogsEncryptsTheQueryLogGroup"]["Condition"] == {
        "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": queries.outputs["arn"]}
    }
    assert set(statements) == {
        "AccountRootDelegatesToIam",
        "CloudWatchLogsEncryptsTheWafLogGroup",
        "CloudWatchLogsEncryptsTheQueryLogGroup",
    }


@pytest.mark.parametrize("which", ACLS)
def test_log_delivery_may_write_only_to_its_log_group(plan: Plan, which: str) -> None:
    acl = ACLS[which](plan)
    group = log_group_of(plan, acl)
    (policy,) = [
        p
        for p in plan.of_type("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
        if group.outputs["arn"] in p.inputs["policyDocument"]
    ]
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Resource"] == f"{group.outputs['arn']}:log-stream:*"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert region_of(plan, policy) == region_of(plan, acl)
    logging = [c for c in plan.of_type(LOGGING) if c.inputs["resourceArn"] == acl.outputs["arn"]]
    assert policy.urn in logging[0].dependencies, "WAF would otherwise write its own account-wide policy"
