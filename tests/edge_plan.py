"""Look-ups the edge tests share: the distribution, web ACLs and their rules, records, providers."""

from __future__ import annotations

from typing import Any

from stacks.offline.plan import Plan, PlannedResource
from tests.conftest import plan_for

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
HEADERS_POLICY = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
#: What each stack's Pulumi.<stack>.yaml asks for.
SHOP_HOSTS = {
    "staging": ["shop.staging.shop.example.com"],
    "prod": ["shop.example.com", "www.shop.example.com"],
}
ORIGIN_HOST = {"staging": "origin.shop.staging.shop.example.com", "prod": "origin.shop.example.com"}
STACK_REGION = "eu-west-1"
EXISTING_ZONE = "Z0EXISTINGZONE00001"


def existing_zone_variant() -> Plan:
    """The one edge variant: staging in a hosted zone that already exists, serving only Germany and Austria, in the
    middle of a DNSSEC key rollover (two key-signing keys)."""
    return plan_for(
        "staging",
        {
            "edgeZoneId": EXISTING_ZONE,
            "edgeGeoRestriction": "whitelist",
            "edgeGeoLocations": ["DE", "AT"],
            "edgeDnssecKeys": ["ksk1", "ksk2"],
        },
    )


def distribution(plan: Plan) -> PlannedResource:
    return plan.one(DISTRIBUTION, "edge-cdn")


def cloudfront_acl(plan: Plan) -> PlannedResource:
    return plan.one(WEB_ACL, "edge-cdn-acl")


def origin_acl(plan: Plan) -> PlannedResource:
    return plan.one(WEB_ACL, "edge-origin-acl")


def rules(acl: PlannedResource) -> dict[str, dict[str, Any]]:
    return {rule["name"]: rule for rule in acl.inputs["rules"]}


def region_of(plan: Plan, resource: PlannedResource) -> str:
    """The region a resource is created in: its own ``region``, else its explicit provider's, else the stack's."""
    if "region" in resource.inputs:
        return resource.inputs["region"]
    if resource.provider is None:
        return STACK_REGION
    return plan.by_urn(resource.provider).inputs["region"]


def edge_records(plan: Plan) -> list[PlannedResource]:
    edge = plan.one("shop:edge:Edge")
    return [r for r in plan.descendants(edge) if r.type == RECORD]
