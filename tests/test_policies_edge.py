"""Edge rules: CloudFront, WAF, ACM and Route 53."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import Policy

from policies.rules import edge
from stacks.offline.plan import UNKNOWN, PlannedResource
from tests.policy_support import assert_compliant_even_when_unknown, flagged, messages, policy_id, resource

CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/abcd"
DISTRIBUTION_ARN = "arn:aws:cloudfront::123456789012:distribution/E2ABC"
DISTRIBUTION = {
    "enabled": True,
    "webAclId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/shop/1",
    "viewerCertificate": {
        "acmCertificateArn": CERTIFICATE_ARN,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    },
    "defaultCacheBehavior": {"targetOriginId": "app", "viewerProtocolPolicy": "redirect-to-https"},
    "orderedCacheBehaviors": [
        {"pathPattern": "/media/*", "targetOriginId": "assets", "viewerProtocolPolicy": "https-only"}
    ],
    "origins": [
        {
            "originId": "assets",
            "domainName": "shop-prod-assets.s3.eu-west-1.amazonaws.com",
            "originAccessControlId": "E3OAC",
        },
        {
            "originId": "app",
            "domainName": "origin.shop.example.com",
            "customOriginConfig": {
                "httpPort": 80,
                "httpsPort": 443,
                "originProtocolPolicy": "https-only",
                "originSslProtocols": ["TLSv1.2"],
            },
        },
    ],
    "loggingConfig": {"bucket": "shop-prod-logs.s3.amazonaws.com", "prefix": "cloudfront/"},
}


def distribution(**change: Any) -> PlannedResource:
    return resource(edge.DISTRIBUTION, "cdn", {**DISTRIBUTION, **change}, outputs={"arn": DISTRIBUTION_ARN})


def origin(index: int, **change: Any) -> list[dict[str, Any]]:
    origins = [dict(o) for o in DISTRIBUTION["origins"]]
    origins[index] = {**origins[index], **change}
    return origins


DISTRIBUTION_CASES: list[tuple[Policy, dict[str, Any], str]] = [
    (edge.cloudfront_viewer_https, {"defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"}}, "'allow-all'"),
    (
        edge.cloudfront_viewer_https,
        {"orderedCacheBehaviors": [{"pathPattern": "/media/*", "viewerProtocolPolicy": "allow-all"}]},
        "/media/*",
    ),
    (edge.cloudfront_tls_policy, {"viewerCertificate": {"cloudfrontDefaultCertificate": True}}, "TLS 1.0"),
    (
        edge.cloudfront_tls_policy,
        {"viewerCertificate": {**DISTRIBUTION["viewerCertificate"], "minimumProtocolVersion": "TLSv1_2016"}},
        "'TLSv1_2016'",
    ),
    (edge.cloudfront_waf_attached, {"webAclId": ""}, "webAclId"),
    (
        edge.cloudfront_origin_access_control,
        {
            "origins": origin(
                0,
                originAccessControlId=None,
                s3OriginConfig={"originAccessIdentity": "origin-access-identity/cloudfront/E1"},
            )
        },
        "legacy origin access identity",
    ),
    (
        edge.cloudfront_origin_access_control,
        {"origins": origin(0, originAccessControlId=None)},
        "no originAccessControlId",
    ),
    (
        edge.cloudfront_origin_https,
        {
            "origins": origin(
                1, customOriginConfig={"originProtocolPolicy": "match-viewer", "originSslProtocols": ["TLSv1.2"]}
            )
        },
        "'match-viewer'",
    ),
    (
        edge.cloudfront_origin_https,
        {
            "origins": origin(
                1, customOriginConfig={"originProtocolPolicy": "https-only", "originSslProtocols": ["TLSv1", "TLSv1.2"]}
            )
        },
        "allows TLSv1",
    ),
]


@pytest.mark.parametrize(
    ("policy", "change", "expected"),
    DISTRIBUTION_CASES,
    ids=[f"{c[0].name}-{i}" for i, c in enumerate(DISTRIBUTION_CASES)],
)
def test_distribution_rule_flags_the_weakened_distribution(
    policy: Policy, change: dict[str, Any], expected: str
) -> None:
    found = messages(policy, distribution(**change))
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "policy", sorted({case[0] for case in DISTRIBUTION_CASES}, key=policy_id), ids=lambda p: p.name
)
def test_distribution_rule_passes_the_compliant_distribution(policy: Policy) -> None:
    assert_compliant_even_when_unknown(policy, distribution())


def test_tls_versions_come_from_the_policy_config() -> None:
    newest_only = {"allowedMinimumProtocolVersions": ["TLSv1.3_2025"]}
    assert flagged(edge.cloudfront_tls_policy, distribution(), config=newest_only) == ["cdn"]


def test_access_logging_accepts_standard_logging_or_a_log_delivery_source() -> None:
    unlogged = distribution(loggingConfig=None)
    assert flagged(edge.cloudfront_access_logging, unlogged) == ["cdn"]
    source = resource(
        edge.LOG_DELIVERY_SOURCE,
        "cdn-logs",
        {"logType": "ACCESS_LOGS", "resourceArn": DISTRIBUTION_ARN},
        dependencies=[unlogged],
    )
    assert_compliant_even_when_unknown(edge.cloudfront_access_logging, unlogged, source)
    assert_compliant_even_when_unknown(edge.cloudfront_access_logging, distribution())


# ---------------------------------------------------------------------------------------------- WAF


def managed(name: str, *, count: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "priority": 1,
        "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": name}},
        "overrideAction": {"count": {}} if count else {"none": {}},
        "visibilityConfig": {"metricName": name, "sampledRequestsEnabled": True, "cloudwatchMetricsEnabled": True},
    }


RATE_RULE = {
    "name": "rate",
    "priority": 0,
    "action": {"block": {}},
    "statement": {"rateBasedStatement": {"limit": 1000, "aggregateKeyType": "IP"}},
}
WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/shop/1"


def web_acl(rules: list[dict[str, Any]] | None = None) -> PlannedResource:
    rules = (
        [RATE_RULE, managed("AWSManagedRulesCommonRuleSet"), managed("AWSManagedRulesKnownBadInputsRuleSet")]
        if rules is None
        else rules
    )
    return resource(edge.WEB_ACL, "waf", {"scope": "CLOUDFRONT", "rules": rules}, outputs={"arn": WEB_ACL_ARN})


@pytest.mark.parametrize("policy", [edge.waf_managed_rule_groups, edge.waf_rate_limit], ids=policy_id)
def test_waf_rule_passes_the_compliant_web_acl(policy: Policy) -> None:
    assert_compliant_even_when_unknown(policy, web_acl())


def test_waf_managed_rule_groups_must_all_be_there_and_block() -> None:
    found = messages(
        edge.waf_managed_rule_groups, web_acl([RATE_RULE, managed("AWSManagedRulesCommonRuleSet", count=True)])
    )
    assert len(found) == 2
    assert "only counts" in found[0]
    assert "AWSManagedRulesCommonRuleSet, AWSManagedRulesKnownBadInputsRuleSet" in found[1]


def test_waf_rate_limit_must_block_at_a_sane_limit() -> None:
    assert "No rate-based rule" in messages(edge.waf_rate_limit, web_acl([managed("AWSManagedRulesCommonRuleSet")]))[0]
    counting = {**RATE_RULE, "action": {"count": {}}}
    assert flagged(edge.waf_rate_limit, web_acl([counting])) == ["waf"]
    lenient = {**RATE_RULE, "statement": {"rateBasedStatement": {"limit": 100000, "aggregateKeyType": "IP"}}}
    assert "above 2000" in messages(edge.waf_rate_limit, web_acl([lenient]))[0]


def test_waf_rules_given_as_aws_json_are_read_too() -> None:
    aws_json = json.dumps(
        [
            {
                "Name": "rate",
                "Priority": 0,
                "Action": {"Block": {}},
                "Statement": {"RateBasedStatement": {"Limit": 500, "AggregateKeyType": "IP"}},
            }
        ]
    )
    acl = resource(edge.WEB_ACL, "waf", {"scope": "CLOUDFRONT", "ruleJson": aws_json})
    assert messages(edge.waf_rate_limit, acl) == []
    assert "missing" in messages(edge.waf_managed_rule_groups, acl)[0]


def test_waf_logging_pairs_the_configuration_with_its_web_acl() -> None:
    acl = web_acl()
    assert flagged(edge.waf_logging, acl) == ["waf"]
    logging = resource(
        edge.WEB_ACL_LOGGING,
        "waf-logging",
        {"resourceArn": WEB_ACL_ARN, "logDestinationConfigs": ["arn:aws:logs:us-east-1:1:log-group:aws-waf-logs-shop"]},
        dependencies=[acl],
    )
    assert_compliant_even_when_unknown(edge.waf_logging, acl, logging)


# ---------------------------------------------------------------------------------------------- ACM, Route 53


def test_acm_certificates_validate_through_dns() -> None:
    email = resource(edge.CERTIFICATE, "cert", {"domainName": "shop.example.com", "validationMethod": "EMAIL"})
    assert flagged(edge.acm_dns_validation, email) == ["cert"]
    dns = resource(edge.CERTIFICATE, "cert", {"domainName": "shop.example.com", "validationMethod": "DNS"})
    assert_compliant_even_when_unknown(edge.acm_dns_validation, dns)
    imported = resource(edge.CERTIFICATE, "cert", {"certificateBody": "-----BEGIN", "privateKey": "[secret]"})
    assert messages(edge.acm_dns_validation, imported) == []


ZONE_ID = "Z0123456789ABCDEFGHIJ"


def zone(**props: Any) -> PlannedResource:
    return resource(edge.ZONE, "zone", {"name": "shop.example.com", **props}, outputs={"zoneId": ZONE_ID}, id=ZONE_ID)


def test_public_zones_are_signed_with_dnssec() -> None:
    public = zone()
    assert flagged(edge.route53_zone_dnssec, public) == ["zone"]
    signing = resource(edge.ZONE_DNSSEC, "dnssec", {"hostedZoneId": ZONE_ID, "signingStatus": "SIGNING"})
    assert_compliant_even_when_unknown(edge.route53_zone_dnssec, public, signing)
    stopped = resource(edge.ZONE_DNSSEC, "dnssec", {"hostedZoneId": ZONE_ID, "signingStatus": "NOT_SIGNING"})
    assert flagged(edge.route53_zone_dnssec, public, stopped) == ["zone"]
    private = zone(vpcs=[{"vpcId": "vpc-1"}])
    assert messages(edge.route53_zone_dnssec, private) == []


def test_public_zones_log_their_queries() -> None:
    public = zone()
    assert flagged(edge.route53_zone_query_logging, public) == ["zone"]
    query_log = resource(
        edge.QUERY_LOG,
        "query-log",
        {"zoneId": ZONE_ID, "cloudwatchLogGroupArn": "arn:aws:logs:us-east-1:1:log-group:/aws/route53/shop"},
    )
    assert_compliant_even_when_unknown(edge.route53_zone_query_logging, public, query_log)
    assert messages(edge.route53_zone_query_logging, zone(vpcs=[{"vpcId": "vpc-1"}])) == []


def record(name: str, props: dict[str, Any], dependencies: list[PlannedResource] | None = None) -> PlannedResource:
    return resource(edge.RECORD, name, {"zoneId": "Z1", **props}, dependencies=dependencies or [])


def test_records_pointing_at_aws_names_outside_the_stack_are_flagged() -> None:
    cdn = distribution()
    stale_alias = record(
        "www",
        {
            "name": "www.shop.example.com",
            "type": "A",
            "aliases": [{"name": "d111old.cloudfront.net", "zoneId": "Z2FDTNDATAQYW2"}],
        },
    )
    stale_cname = record(
        "old", {"name": "old.shop.example.com", "type": "CNAME", "records": ["shop-old.eu-west-1.elb.amazonaws.com"]}
    )
    assert flagged(edge.route53_no_dangling_aws_targets, cdn, stale_alias, stale_cname) == ["www", "old"]


def test_records_pointing_at_this_stacks_distribution_or_elsewhere_pass() -> None:
    cdn = resource(edge.DISTRIBUTION, "cdn", DISTRIBUTION, outputs={"domainName": "d111abc.cloudfront.net"})
    apex = record(
        "apex",
        {
            "name": "shop.example.com",
            "type": "A",
            "aliases": [{"name": "d111abc.cloudfront.net.", "zoneId": "Z2FDTNDATAQYW2"}],
        },
        [cdn],
    )
    validation = record(
        "validation", {"name": "_x.shop.example.com", "type": "CNAME", "records": ["_y.acm-validations.aws."]}
    )
    assert_compliant_even_when_unknown(edge.route53_no_dangling_aws_targets, cdn, apex, validation)


def test_records_pointing_at_the_load_balancer_of_an_ingress_of_this_stack_pass() -> None:
    alb = "k8s-shop-web-1234.eu-west-1.elb.amazonaws.com"
    ingress = resource(
        edge.K8S_LOAD_BALANCED[0],
        "shop",
        {"metadata": {"namespace": "shop"}},
        outputs={"status": {"loadBalancer": {"ingress": [{"hostname": alb}]}}},
    )
    origin = record("origin", {"name": "origin.shop.example.com", "type": "CNAME", "records": [alb]}, [ingress])
    assert_compliant_even_when_unknown(edge.route53_no_dangling_aws_targets, ingress, origin)
    assert flagged(edge.route53_no_dangling_aws_targets, origin) == ["origin"]
    provisioning = resource(edge.K8S_LOAD_BALANCED[0], "shop", {}, outputs={"status": UNKNOWN})
    assert messages(edge.route53_no_dangling_aws_targets, provisioning, origin) == []
