"""The CloudFront distribution in front of the shop: the shop's load balancer (by its origin name, with the secret
header) for everything but ``/static`` and ``/media``, which come from the assets bucket through origin access
control and are cached for a year; security headers on every response; access logs to the logs bucket through
CloudFront's standard logging v2 (CloudWatch Logs vended delivery), which, unlike the legacy logging, needs no
bucket ACL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent
from components.naming import Naming
from stacks.settings import EdgeSettings

# AWS managed CloudFront policies, by their documented well-known ids (stable, so no lookup invoke is needed).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # Managed-CachingOptimized: TTL 1 s-1 year, gzip/brotli
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # Managed-AllViewerExceptHostHeader
#: The header CloudFront adds to every origin request; the origin web ACL and the shop reject requests without it.
ORIGIN_VERIFY_HEADER = "X-Origin-Verify"
LOAD_BALANCER_ORIGIN = "shop-load-balancer"
ASSETS_ORIGIN = "assets-bucket"
#: Seconds CloudFront caches a 5xx from the origin: long enough to shield a struggling origin, short enough to
#: recover within seconds.
ERROR_CACHING_SECONDS = 5
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
READ_METHODS = ["GET", "HEAD"]
#: The storefront's policy (the same as the shop's own): no scripts at all, styles and images from this site only.
STOREFRONT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; upgrade-insecure-requests"
)
#: Assets are images and CSS: nothing in them may run or load anything, even if an upload was not what it claimed.
ASSETS_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"
#: CloudFront is a global service whose log delivery sources live in this region.
LOG_DELIVERY_REGION = "us-east-1"
#: The format of the delivered files: W3C, the legacy standard logs' format, so readers of those keep working.
ACCESS_LOG_FORMAT = "w3c"
#: The legacy standard log's fields in their order (CloudFront Developer Guide, "Log file fields"), without
#: ``cs(Cookie)``: cookies carry sessions. Without a list, standard logging v2 would deliver them.
ACCESS_LOG_FIELDS = (
    "date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)", "cs-uri-stem", "sc-status",
    "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "x-edge-result-type", "x-edge-request-id", "x-host-header",
    "cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for", "ssl-protocol", "ssl-cipher",
    "x-edge-response-result-type", "cs-protocol-version", "fle-status", "fle-encrypted-fields", "c-port",
    "time-to-first-byte", "x-edge-detailed-result-type", "sc-content-type", "sc-content-len", "sc-range-start",
    "sc-range-end",
)  # fmt: skip
HSTS_MAX_AGE_SECONDS = 63_072_000  # two years, as the HSTS preload list asks


@dataclass(frozen=True, kw_only=True)
class DistributionArgs:
    settings: EdgeSettings
    aliases: Sequence[str]
    """The shop's host names: each needs a name on ``certificate_arn``."""
    certificate_arn: pulumi.Input[str]
    """A validated us-east-1 certificate (CloudFront reads certificates from there only)."""
    web_acl_arn: pulumi.Input[str]
    origin_hostname: str
    origin_verify_token: pulumi.Input[str]
    """The secret value of ``ORIGIN_VERIFY_HEADER`` (a secret Output)."""
    assets_bucket_regional_domain_name: pulumi.Input[str]
    logs_bucket_arn: pulumi.Input[str]
    logs_prefix: str
    """The logs bucket's prefix for CloudFront; the distribution writes under ``<prefix><distribution name>/``."""
    logs_bucket_policy: pulumi.Resource
    """Must admit CloudWatch Logs' delivery service for the delivery source (``log_delivery_source_name``)."""


def log_delivery_source_name(naming: Naming) -> str:
    """The name of the distribution's log delivery source (1-60 characters), known before it exists."""
    return naming.physical("cdn-access-logs", max_length=60)


def log_delivery_source_arn(account: Account, naming: Naming) -> str:
    """The ARN the distribution's log delivery source will have: what the logs bucket policy admits."""
    return account.arn("logs", f"delivery-source:{log_delivery_source_name(naming)}", region=LOG_DELIVERY_REGION)


def distribution(name: str, args: DistributionArgs, *, component: PlatformComponent) -> aws.cloudfront.Distribution:
    """The distribution with its origin access control and response headers policies, children of ``component``."""
    settings = args.settings
    naming = component.naming
    access_control = aws.cloudfront.OriginAccessControl(
        f"{name}-assets-access",
        name=naming.physical("assets"),
        description="CloudFront signs its requests to the assets bucket (SigV4)",
        origin_access_control_origin_type="s3",
        signing_behavior="always",
        signing_protocol="sigv4",
        opts=component.child(),
    )
    storefront_headers = _response_headers(name, "storefront", STOREFRONT_CSP, override_csp=False, component=component)
    assets_headers = _response_headers(name, "assets", ASSETS_CSP, override_csp=True, component=component)
    distribution = aws.cloudfront.Distribution(
        f"{name}-cdn",
        enabled=True,
        comment=f"{naming.physical('cdn')}: the shop",
        aliases=list(args.aliases),
        http_version="http2and3",
        is_ipv6_enabled=True,
        price_class=settings.price_class,
        web_acl_id=args.web_acl_arn,
        origins=[
            {
                "origin_id": LOAD_BALANCER_ORIGIN,
                "domain_name": args.origin_hostname,
                "custom_origin_config": {
                    "http_port": 80,  # required by the API, never used: the protocol policy is https-only
                    "https_port": 443,
                    "origin_protocol_policy": "https-only",
                    "origin_ssl_protocols": ["TLSv1.2"],
                    "origin_read_timeout": 30,
                    "origin_keepalive_timeout": 5,
                },
                "custom_headers": [{"name": ORIGIN_VERIFY_HEADER, "value": args.origin_verify_token}],
            },
            {
                "origin_id": ASSETS_ORIGIN,
                "domain_name": args.assets_bucket_regional_domain_name,
                "origin_access_control_id": access_control.id,
            },
        ],
        # The app: nothing cached, everything the viewer sent forwarded except Host, which must stay the origin
        # name for TLS to the origin to verify.
        default_cache_behavior={
            "target_origin_id": LOAD_BALANCER_ORIGIN,
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ALL_METHODS,
            "cached_methods": READ_METHODS,
            "cache_policy_id": CACHING_DISABLED,
            "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
            "response_headers_policy_id": storefront_headers,
        },
        # Both are addressed by content (``static/<version>/<name>``, image keys are content hashes): a URL never
        # names other bytes, so a year-long cache needs no versioned cache key.
        ordered_cache_behaviors=[
            _assets_behavior("/static/*", CACHING_OPTIMIZED, assets_headers),
            _assets_behavior("/media/*", CACHING_OPTIMIZED, assets_headers),
        ],
        viewer_certificate={
            "acm_certificate_arn": args.certificate_arn,
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": "TLSv1.2_2021",
        },
        restrictions={
            "geo_restriction": {
                "restriction_type": settings.geo_restriction,
                "locations": list(settings.geo_locations),
            }
        },
        custom_error_responses=[
            {"error_code": code, "error_caching_min_ttl": ERROR_CACHING_SECONDS} for code in (500, 502, 503, 504)
        ],
        tags=component.tags("cdn"),
        opts=component.child(),
    )
    _access_logs(name, distribution, args, component=component)
    return distribution


def _access_logs(
    name: str, distribution: aws.cloudfront.Distribution, args: DistributionArgs, *, component: PlatformComponent
) -> None:
    """Standard logging v2: the distribution as a delivery source, the logs bucket (under a prefix of this
    distribution's own) as the destination, and the delivery between them, all in us-east-1."""
    naming = component.naming
    source = aws.cloudwatch.LogDeliverySource(
        f"{name}-cdn-access-logs",
        name=log_delivery_source_name(naming),
        log_type="ACCESS_LOGS",
        resource_arn=distribution.arn,
        tags=component.tags("cdn-access-logs"),
        region=LOG_DELIVERY_REGION,
        opts=component.child(),
    )
    prefix = f"{args.logs_prefix}{naming.physical('cdn')}"
    destination = aws.cloudwatch.LogDeliveryDestination(
        f"{name}-cdn-access-logs-bucket",
        name=naming.physical("cdn-access-logs-bucket", max_length=60),
        output_format=ACCESS_LOG_FORMAT,
        delivery_destination_configuration={
            "destination_resource_arn": pulumi.Output.concat(args.logs_bucket_arn, "/", prefix)
        },
        tags=component.tags("cdn-access-logs-bucket"),
        region=LOG_DELIVERY_REGION,
        opts=component.child(),
    )
    aws.cloudwatch.LogDelivery(
        f"{name}-cdn-access-log-delivery",
        delivery_source_name=source.name,
        delivery_destination_arn=destination.arn,
        record_fields=list(ACCESS_LOG_FIELDS),
        tags=component.tags("cdn-access-log-delivery"),
        region=LOG_DELIVERY_REGION,
        # Log files arrive as soon as the delivery exists: the bucket policy must admit the delivery service first.
        opts=component.child(depends_on=[args.logs_bucket_policy]),
    )


def _response_headers(
    name: str, purpose: str, csp: str, *, override_csp: bool, component: PlatformComponent
) -> pulumi.Output[str]:
    """Security headers on every response. The storefront's CSP fills in for responses without one
    (``override_csp=False``) so that the shop's own, per-response policies stand."""
    policy = aws.cloudfront.ResponseHeadersPolicy(
        f"{name}-{purpose}-headers",
        name=component.naming.physical(f"{purpose}-headers"),
        comment=f"Security headers of {purpose} responses",
        security_headers_config={
            "strict_transport_security": {
                "access_control_max_age_sec": HSTS_MAX_AGE_SECONDS,
                "include_subdomains": True,
                "preload": True,
                "override": True,
            },
            "content_type_options": {"override": True},
            "frame_options": {"frame_option": "DENY", "override": True},
            "referrer_policy": {"referrer_policy": "strict-origin-when-cross-origin", "override": True},
            "content_security_policy": {"content_security_policy": csp, "override": override_csp},
        },
        custom_headers_config={
            "items": [{"header": "Permissions-Policy", "value": PERMISSIONS_POLICY, "override": True}]
        },
        opts=component.child(),
    )
    return policy.id


def _assets_behavior(
    path_pattern: str, cache_policy_id: pulumi.Input[str], headers_policy_id: pulumi.Input[str]
) -> aws.cloudfront.DistributionOrderedCacheBehaviorArgsDict:
    """Read-only, cached and compressed, from the assets bucket."""
    return {
        "path_pattern": path_pattern,
        "target_origin_id": ASSETS_ORIGIN,
        "viewer_protocol_policy": "redirect-to-https",
        "allowed_methods": READ_METHODS,
        "cached_methods": READ_METHODS,
        "cache_policy_id": cache_policy_id,
        "compress": True,
        "response_headers_policy_id": headers_policy_id,
    }
