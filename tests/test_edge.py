"""The edge's DNS and certificates on the offline plan: zone modes, aliases, DNS validation, regions, outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.offline.engine import preview
from stacks.offline.plan import Plan
from tests.edge_plan import (
    CERTIFICATE,
    EXISTING_ZONE,
    KMS_KEY,
    LOG_GROUP,
    ORIGIN_HOST,
    RECORD,
    SHOP_HOSTS,
    STACK_REGION,
    VALIDATION,
    ZONE,
    distribution,
    edge_records,
    existing_zone_variant,
    region_of,
)


def test_created_zone_is_the_stacks_domain_and_holds_every_edge_record(plan: Plan) -> None:
    zone = plan.one(ZONE, "edge-zone")
    assert zone.inputs["name"] == {"staging": "staging.shop.example.com", "prod": "shop.example.com"}[plan.stack]
    records = edge_records(plan)
    assert records and {r.inputs["zoneId"] for r in records} == {zone.outputs["zoneId"]}
    assert plan.outputs["edge"]["nameServers"] == zone.outputs["nameServers"]


def test_existing_zone_mode_creates_no_zone_and_uses_the_given_one() -> None:
    existing_zone = existing_zone_variant()
    assert existing_zone.of_type(ZONE) == []
    records = edge_records(existing_zone)
    assert records and {r.inputs["zoneId"] for r in records} == {EXISTING_ZONE}
    assert "nameServers" not in existing_zone.outputs["edge"]
    assert existing_zone.outputs["edge"]["zoneId"] == EXISTING_ZONE


def test_only_prod_protects_its_zone(plan: Plan) -> None:
    assert plan.one(ZONE, "edge-zone").options["protect"] is (plan.stack == "prod")


def test_shop_hosts_are_ipv4_and_ipv6_aliases_of_the_distribution(plan: Plan) -> None:
    cdn = distribution(plan)
    aliases = [r for r in edge_records(plan) if r.inputs.get("aliases")]
    assert sorted((r.inputs["name"], r.inputs["type"]) for r in aliases) == sorted(
        (host, record_type) for host in SHOP_HOSTS[plan.stack] for record_type in ("A", "AAAA")
    )
    for record in aliases:
        assert record.inputs["aliases"] == [
            {
                "name": cdn.outputs["domainName"],
                "zoneId": cdn.outputs["hostedZoneId"],
                "evaluateTargetHealth": False,
            }
        ]
    assert cdn.outputs["hostedZoneId"] == "Z2FDTNDATAQYW2"


def test_cloudfront_certificate_covers_the_shop_hosts_and_is_created_in_us_east_1(plan: Plan) -> None:
    certificate = plan.one(CERTIFICATE, "edge-cdn-certificate")
    names = [certificate.inputs["domainName"], *certificate.inputs.get("subjectAlternativeNames", [])]
    assert names == SHOP_HOSTS[plan.stack]
    assert region_of(plan, certificate) == "us-east-1"
    assert region_of(plan, plan.one(VALIDATION, "edge-cdn-certificate-validation")) == "us-east-1"


def test_us_east_1_is_reached_one_way_through_the_stacks_own_provider(plan: Plan) -> None:
    """Every resource outside the stack's region says so with `region`, on the stack's default provider, so that it
    inherits the stack's AWS configuration (aws:assumeRoles, aws:allowedAccountIds, aws:profile): an explicit provider
    would not, and with assumed roles would put e.g. a log group and its key in different accounts."""
    assert plan.of_type("pulumi:providers:aws") == []
    assert [r.name for r in plan.resources if r.type.startswith("aws:") and r.provider is not None] == []
    regions = {r.inputs["region"] for r in plan.resources if r.type.startswith("aws:") and "region" in r.inputs}
    assert regions == {"us-east-1"}


def test_the_cdn_acls_log_group_and_its_key_share_region_and_account(plan: Plan) -> None:
    group = plan.one(LOG_GROUP, "edge-cdn-acl-logs")
    key = plan.one(KMS_KEY, "edge-cdn-logs-key")
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert (group.provider, group.inputs["region"]) == (key.provider, key.inputs["region"]) == (None, "us-east-1")


def test_origin_certificate_is_regional_and_names_only_the_origin(plan: Plan) -> None:
    certificate = plan.one(CERTIFICATE, "edge-origin-certificate")
    assert certificate.inputs["domainName"] == ORIGIN_HOST[plan.stack]
    assert "subjectAlternativeNames" not in certificate.inputs
    assert region_of(plan, certificate) == STACK_REGION
    assert region_of(plan, plan.one(VALIDATION, "edge-origin-certificate-validation")) == STACK_REGION
    assert plan.outputs["edge"]["originHostname"] == ORIGIN_HOST[plan.stack]


@pytest.mark.parametrize("purpose", ["cdn", "origin"])
def test_certificates_are_dns_validated_with_transparency_logging(plan: Plan, purpose: str) -> None:
    certificate = plan.one(CERTIFICATE, f"edge-{purpose}-certificate")
    assert certificate.inputs["validationMethod"] == "DNS"
    assert certificate.inputs["options"] == {"certificateTransparencyLoggingPreference": "ENABLED"}


@pytest.mark.parametrize("purpose", ["cdn", "origin"])
def test_validation_waits_for_one_record_per_name_with_acms_answer(plan: Plan, purpose: str) -> None:
    certificate = plan.one(CERTIFICATE, f"edge-{purpose}-certificate")
    validation = plan.one(VALIDATION, f"edge-{purpose}-certificate-validation")
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
    expected = {
        (option["resourceRecordName"], option["resourceRecordType"], option["resourceRecordValue"])
        for option in certificate.outputs["domainValidationOptions"]
    }
    fqdns = validation.inputs["validationRecordFqdns"]
    records = [r for r in edge_records(plan) if r.outputs["fqdn"] in fqdns]
    assert len(records) == len(fqdns) == len(certificate.outputs["subjectAlternativeNames"])
    assert {(r.inputs["name"], r.inputs["type"], *r.inputs["records"]) for r in records} == expected
    assert all(r.inputs["ttl"] <= 300 for r in records)


def test_distribution_serves_the_validated_us_east_1_certificate(plan: Plan) -> None:
    validation = plan.one(VALIDATION, "edge-cdn-certificate-validation")
    arn = distribution(plan).inputs["viewerCertificate"]["acmCertificateArn"]
    assert arn == validation.outputs["certificateArn"]
    assert arn.startswith("arn:aws:acm:us-east-1:")
    assert validation.urn in distribution(plan).dependencies, "the distribution must wait for the issued certificate"


def test_prod_health_check_probes_the_origins_readiness_over_https(plan: Plan) -> None:
    checks = plan.of_type("aws:route53/healthCheck:HealthCheck")
    if plan.stack == "staging":
        assert checks == []
        return
    (check,) = checks
    assert check.inputs["type"] == "HTTPS"
    assert check.inputs["fqdn"] == ORIGIN_HOST["prod"]
    assert (check.inputs["port"], check.inputs["resourcePath"]) == (443, "/readyz")
    assert check.inputs["enableSni"] is True
    assert plan.outputs["edge"]["originHealthCheckId"] == check.id


def test_outputs_name_what_the_ingress_and_the_pipeline_need(plan: Plan) -> None:
    cdn = distribution(plan)
    edge = plan.outputs["edge"]
    assert plan.outputs["shopUrl"] == f"https://{SHOP_HOSTS[plan.stack][0]}"
    assert edge["shopUrls"] == [f"https://{host}" for host in SHOP_HOSTS[plan.stack]]
    assert (edge["distributionId"], edge["distributionArn"]) == (cdn.id, cdn.outputs["arn"])
    assert edge["cloudfrontDomain"] == cdn.outputs["domainName"]
    assert edge["cloudfrontCertificateArn"] == cdn.inputs["viewerCertificate"]["acmCertificateArn"]
    assert (
        edge["originCertificateArn"]
        == plan.one(VALIDATION, "edge-origin-certificate-validation").outputs["certificateArn"]
    )
    assert edge["originWebAclArn"].startswith(f"arn:aws:wafv2:{STACK_REGION}:")
    assert edge["cloudfrontWebAclArn"] == cdn.inputs["webAclId"]


def test_the_origin_name_leads_to_the_shops_ingress_with_our_certificate_and_web_acl(plan: Plan) -> None:
    ingress = plan.one("kubernetes:networking.k8s.io/v1:Ingress")
    (balancer,) = ingress.outputs["status"]["loadBalancer"]["ingress"]
    record = plan.one(RECORD, "edge-origin")
    assert (record.inputs["name"], record.inputs["type"]) == (ORIGIN_HOST[plan.stack], "CNAME")
    assert record.inputs["records"] == [balancer["hostname"]]
    annotations = ingress.inputs["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == plan.outputs["edge"]["originCertificateArn"]
    assert annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] == plan.outputs["edge"]["originWebAclArn"]
    assert [rule["host"] for rule in ingress.inputs["spec"]["rules"]] == [ORIGIN_HOST[plan.stack]]


# ------------------------------------------------------------------------------------------------ route_origin

LOAD_BALANCER = "k8s-shop-shop-0a1b2c3d4e-1234567890.eu-west-1.elb.amazonaws.com"
ORIGIN_PROGRAM = f'''
import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import StackContext
from components.edge import Edge, EdgeArgs
from components.naming import Naming
from components.secrets import RotatedValues
from stacks.settings import EdgeSettings, KeySettings

account = Account(id="123456789012", partition="aws", region="eu-west-1")

edge = Edge(
    "edge",
    EdgeArgs(
        settings=EdgeSettings(zone_id="{EXISTING_ZONE}", hosts=("shop",)),
        context=StackContext.of_stack(Naming(prefix="shop", stack="origin"), account, bounded=False, protect=False),
        domain="example.com",
        key_settings=KeySettings(),
        logs_key_arn="arn:aws:kms:eu-west-1:123456789012:key/logs",
        assets_bucket_regional_domain_name="assets.s3.eu-west-1.amazonaws.com",
        logs_bucket_arn="arn:aws:s3:::logs",
        logs_prefix="cloudfront/",
        logs_bucket_policy=aws.s3.BucketPolicy("logs-policy", bucket="logs", policy="{{}}"),
        origin_verify=RotatedValues(
            current=pulumi.Output.secret("x" * 48),
            previous=pulumi.Output.secret(None),
            rotated=pulumi.Output.from_input(False),
        ),
    ),
)
edge.route_origin("{LOAD_BALANCER}")
'''


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """The edge alone, with the origin routed to a load balancer as the shop's deployment will do."""
    project = tmp_path_factory.mktemp("origin")
    (project / "Pulumi.yaml").write_text("name: origin\nruntime: python\n")
    (project / "Pulumi.origin.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (project / "__main__.py").write_text(ORIGIN_PROGRAM)
    return preview("origin", project_dir=Path(project))


def test_route_origin_points_the_origin_name_at_the_load_balancer(routed: Plan) -> None:
    record = routed.one(RECORD, "edge-origin")
    assert record.inputs == {
        "zoneId": EXISTING_ZONE,
        "name": "origin.shop.example.com",
        "type": "CNAME",
        "ttl": 60,
        "records": [LOAD_BALANCER],
    }
    assert distribution(routed).inputs["origins"][0]["domainName"] == "origin.shop.example.com"
