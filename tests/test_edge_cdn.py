"""The CloudFront distribution on the offline plan: origins, behaviours, TLS, headers, logs and restrictions."""

from __future__ import annotations

import json

from stacks.offline.plan import Plan, PlannedResource
from tests.edge_plan import HEADERS_POLICY, SHOP_HOSTS, cloudfront_acl, distribution, existing_zone_variant

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def behaviours(cdn: PlannedResource) -> dict[str, dict]:
    """Every cache behaviour by path pattern; the default one under ``*``."""
    return {"*": cdn.inputs["defaultCacheBehavior"]} | {
        b["pathPattern"]: b for b in cdn.inputs["orderedCacheBehaviors"]
    }


def origins(cdn: PlannedResource) -> dict[str, dict]:
    return {origin["originId"]: origin for origin in cdn.inputs["origins"]}


def headers_policy(plan: Plan, policy_id: str) -> dict:
    (policy,) = [p for p in plan.of_type(HEADERS_POLICY) if p.id == policy_id]
    return policy.inputs


def test_aliases_are_the_shop_hosts(plan: Plan) -> None:
    assert distribution(plan).inputs["aliases"] == SHOP_HOSTS[plan.stack]


def test_no_behaviour_serves_plain_http(plan: Plan) -> None:
    assert {b["viewerProtocolPolicy"] for b in behaviours(distribution(plan)).values()} == {"redirect-to-https"}


def test_viewers_need_tls_1_2_with_sni(plan: Plan) -> None:
    certificate = distribution(plan).inputs["viewerCertificate"]
    assert certificate["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert certificate["sslSupportMethod"] == "sni-only"
    assert not certificate.get("cloudfrontDefaultCertificate")


def test_http2_http3_and_ipv6(plan: Plan) -> None:
    cdn = distribution(plan).inputs
    assert (cdn["httpVersion"], cdn["isIpv6Enabled"], cdn["enabled"]) == ("http2and3", True, True)


def test_load_balancer_origin_is_https_only_with_tls_1_2_and_the_secret_header(plan: Plan) -> None:
    origin = origins(distribution(plan))["shop-load-balancer"]
    config = origin["customOriginConfig"]
    assert config["originProtocolPolicy"] == "https-only"
    assert config["originSslProtocols"] == ["TLSv1.2"]
    assert origin["customHeaders"] == [{"name": "X-Origin-Verify", "value": "[secret]"}]


def test_the_secret_header_is_read_from_the_stored_origin_verify_secret(plan: Plan) -> None:
    """Read back at deploy time (its rotation function changes it), after the version that seeds it exists."""
    version = plan.one("aws:secretsmanager/secretVersion:SecretVersion", "secrets-origin-verify-value")
    generator = plan.one("random:index/randomPassword:RandomPassword", "secrets-origin-verify")
    assert version.urn in distribution(plan).dependencies
    assert generator.urn not in distribution(plan).dependencies, "the generated value is only the first one"


def test_assets_origin_signs_with_origin_access_control(plan: Plan) -> None:
    access = plan.one("aws:cloudfront/originAccessControl:OriginAccessControl", "edge-assets-access")
    assert access.inputs["originAccessControlOriginType"] == "s3"
    assert (access.inputs["signingBehavior"], access.inputs["signingProtocol"]) == ("always", "sigv4")
    origin = origins(distribution(plan))["assets-bucket"]
    assert origin["originAccessControlId"] == access.id
    assets = plan.one("aws:s3/bucket:Bucket", "storage-assets")
    assert origin["domainName"] == assets.outputs["bucketRegionalDomainName"]
    assert "s3OriginConfig" not in origin, "an origin access identity would bypass the access control"


def test_assets_bucket_grants_reads_to_this_distribution_only(plan: Plan) -> None:
    assets = plan.one("aws:s3/bucket:Bucket", "storage-assets")
    (policy,) = [p for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == assets.id]
    reads = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"]
    assert reads == [
        {
            "Sid": "CloudFrontReadsObjects",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{assets.outputs['arn']}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution(plan).outputs["arn"]}},
        }
    ]


def test_the_app_is_not_cached_and_gets_everything_but_the_host_header(plan: Plan) -> None:
    default = behaviours(distribution(plan))["*"]
    assert default["targetOriginId"] == "shop-load-balancer"
    assert default["cachePolicyId"] == CACHING_DISABLED
    assert default["originRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert set(default["allowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}


def test_static_and_media_come_compressed_and_long_cached_from_the_bucket(plan: Plan) -> None:
    """Both are addressed by content (the version or hash is in the path), so the managed policy's year-long TTL
    and path-only cache key are right; the URL path is the object key (no origin path)."""
    cdn = behaviours(distribution(plan))
    for path in ("/static/*", "/media/*"):
        assert cdn[path]["targetOriginId"] == "assets-bucket", path
        assert cdn[path]["compress"] is True, path
        assert set(cdn[path]["allowedMethods"]) == {"GET", "HEAD"}, path
        assert cdn[path]["cachePolicyId"] == CACHING_OPTIMIZED, path
    assert not origins(distribution(plan))["assets-bucket"].get("originPath")


def test_every_response_carries_the_security_headers(plan: Plan) -> None:
    for path, behaviour in behaviours(distribution(plan)).items():
        security = headers_policy(plan, behaviour["responseHeadersPolicyId"])["securityHeadersConfig"]
        hsts = security["strictTransportSecurity"]
        assert hsts["accessControlMaxAgeSec"] >= 31_536_000, path
        assert hsts["includeSubdomains"] is True and hsts["preload"] is True and hsts["override"] is True, path
        assert security["contentTypeOptions"] == {"override": True}, path
        assert security["frameOptions"] == {"frameOption": "DENY", "override": True}, path
        assert security["referrerPolicy"]["referrerPolicy"] == "strict-origin-when-cross-origin", path
        csp = security["contentSecurityPolicy"]["contentSecurityPolicy"]
        assert "default-src 'self'" in csp or "default-src 'none'" in csp, path
        assert "unsafe-eval" not in csp and "script-src 'unsafe-inline'" not in csp, path


def test_storefront_csp_allows_no_scripts_no_framing_and_no_foreign_forms(plan: Plan) -> None:
    default = behaviours(distribution(plan))["*"]
    csp = headers_policy(plan, default["responseHeadersPolicyId"])["securityHeadersConfig"]["contentSecurityPolicy"]
    directives = dict(d.strip().split(" ", 1) for d in csp["contentSecurityPolicy"].split(";") if " " in d.strip())
    assert directives["script-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["object-src"] == "'none'"


def test_assets_are_sandboxed_so_an_upload_can_never_run(plan: Plan) -> None:
    media = behaviours(distribution(plan))["/media/*"]
    csp = headers_policy(plan, media["responseHeadersPolicyId"])["securityHeadersConfig"]["contentSecurityPolicy"]
    assert csp["override"] is True
    assert "sandbox" in csp["contentSecurityPolicy"] and "default-src 'none'" in csp["contentSecurityPolicy"]


def test_access_logs_go_to_the_logs_bucket_through_standard_logging_v2_without_cookies(plan: Plan) -> None:
    cdn = distribution(plan)
    assert "loggingConfig" not in cdn.inputs  # the legacy logging needs the bucket's ACLs
    source = plan.one("aws:cloudwatch/logDeliverySource:LogDeliverySource", "edge-cdn-access-logs")
    assert source.inputs["resourceArn"] == cdn.outputs["arn"]
    assert source.inputs["logType"] == "ACCESS_LOGS"
    assert source.inputs["region"] == "us-east-1"  # CloudFront's delivery sources live there
    destination = plan.one(
        "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination", "edge-cdn-access-logs-bucket"
    )
    logs = plan.one("aws:s3/bucket:Bucket", "storage-logs")
    # A prefix of the distribution's own in the logs bucket.
    prefix = f"cloudfront/shop-{plan.stack}-cdn"
    assert destination.inputs["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"{logs.outputs['arn']}/{prefix}"
    }
    delivery = plan.one("aws:cloudwatch/logDelivery:LogDelivery", "edge-cdn-access-log-delivery")
    assert delivery.inputs["deliverySourceName"] == source.inputs["name"]
    assert delivery.inputs["deliveryDestinationArn"] == destination.outputs["arn"]
    assert delivery.inputs["region"] == "us-east-1"
    assert "cs(Cookie)" not in delivery.inputs["recordFields"]  # cookies carry sessions
    assert {"date", "time", "c-ip", "cs-uri-stem", "sc-status", "x-edge-request-id"} <= set(
        delivery.inputs["recordFields"]
    )
    # Log files arrive as soon as the delivery exists: the bucket must admit the delivery service by then.
    assert plan.one("aws:s3/bucketPolicy:BucketPolicy", "storage-logs-policy").urn in delivery.dependencies


def test_errors_from_the_origin_are_cached_for_seconds_only(plan: Plan) -> None:
    responses = {r["errorCode"]: r for r in distribution(plan).inputs["customErrorResponses"]}
    assert {500, 502, 503, 504} <= set(responses)
    assert all(r["errorCachingMinTtl"] <= 10 for r in responses.values())


def test_the_cloudfront_web_acl_guards_the_distribution(plan: Plan) -> None:
    assert distribution(plan).inputs["webAclId"] == cloudfront_acl(plan).outputs["arn"]


def test_price_class_follows_the_stack(plan: Plan) -> None:
    expected = {"staging": "PriceClass_100", "prod": "PriceClass_All"}[plan.stack]
    assert distribution(plan).inputs["priceClass"] == expected


def test_no_geo_restriction_unless_configured(plan: Plan) -> None:
    assert distribution(plan).inputs["restrictions"] == {"geoRestriction": {"restrictionType": "none", "locations": []}}
    assert distribution(existing_zone_variant()).inputs["restrictions"] == {
        "geoRestriction": {"restrictionType": "whitelist", "locations": ["DE", "AT"]}
    }
