"""Edge rules: CloudFront, WAF, ACM and Route 53."""

from __future__ import annotations

import json
import re
from typing import Any

from pulumi_policy import Severity

from .base import (
    UNKNOWN,
    Resource,
    ResourceReport,
    Rules,
    Stack,
    StackReport,
    dig,
    document,
    given,
    items,
    partly_unknown,
    strings,
)

rules = Rules()

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
CERTIFICATE = "aws:acm/certificate:Certificate"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"
ZONE_DNSSEC = "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
#: Kubernetes objects the AWS Load Balancer Controller provisions a load balancer for.
K8S_LOAD_BALANCED = ("kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:core/v1:Service")

SECURE_VIEWER_POLICIES = ("https-only", "redirect-to-https")
#: S3 REST endpoints (website endpoints, "s3-website", are custom origins and need no OAC).
S3_REST_ORIGIN = re.compile(r"\.s3([.-][a-z0-9-]+)?\.amazonaws\.com$")
#: Host names of AWS services a DNS record can point at and someone else could later claim.
AWS_HOSTED_TARGET = re.compile(r"(\.cloudfront\.net|\.elb\.amazonaws\.com|\.s3-website[.-][a-z0-9.-]+)\.?$")


def _behaviours(distribution: Resource) -> list[dict[str, Any]]:
    default = distribution.get("defaultCacheBehavior")
    ordered = items(distribution.get("orderedCacheBehaviors"))
    return [behaviour for behaviour in [default, *ordered] if isinstance(behaviour, dict)]


# ---------------------------------------------------------------------------------------------- CloudFront


@rules.resource(Severity.HIGH, (DISTRIBUTION,))
def cloudfront_viewer_https(resource: Resource, report: ResourceReport) -> None:
    """CloudFront serves viewers over HTTPS only (every cache behaviour redirects or refuses HTTP).

    Fix: set viewer_protocol_policy='redirect-to-https' (or 'https-only') on every cache behaviour.
    """
    for behaviour in _behaviours(resource):
        policy = behaviour.get("viewerProtocolPolicy")
        if policy is not UNKNOWN and policy not in SECURE_VIEWER_POLICIES:
            where = behaviour.get("pathPattern") or "the default behaviour"
            report(f"viewerProtocolPolicy is {policy!r} for {where}.")


@rules.resource(
    Severity.HIGH,
    (DISTRIBUTION,),
    config={
        "allowedMinimumProtocolVersions": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "default": ["TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"],
        }
    },
)
def cloudfront_tls_policy(resource: Resource, report: ResourceReport) -> None:
    """CloudFront uses our ACM certificate (SNI) with a minimum of TLS 1.2 (TLSv1.2_2021 or newer).

    Fix: set viewer_certificate to acm_certificate_arn=<us-east-1 certificate>, ssl_support_method='sni-only',
    minimum_protocol_version='TLSv1.2_2021'.
    """
    certificate = resource.get("viewerCertificate")
    if certificate is UNKNOWN:
        return
    if dig(certificate, "cloudfrontDefaultCertificate") is True:
        report("The default *.cloudfront.net certificate allows TLS 1.0.")
        return
    version = dig(certificate, "minimumProtocolVersion")
    allowed = resource.config["allowedMinimumProtocolVersions"]
    if version is not UNKNOWN and version not in allowed:
        report(f"minimumProtocolVersion is {version!r}; allowed: {', '.join(allowed)}.")


@rules.resource(Severity.HIGH, (DISTRIBUTION,))
def cloudfront_waf_attached(resource: Resource, report: ResourceReport) -> None:
    """CloudFront distributions are protected by a WAF web ACL.

    Fix: set web_acl_id=<the ARN of the CLOUDFRONT-scope wafv2 WebAcl (created in us-east-1)>.
    """
    if not given(resource.get("webAclId")):
        report("webAclId is not set.")


@rules.resource(Severity.HIGH, (DISTRIBUTION,))
def cloudfront_origin_access_control(resource: Resource, report: ResourceReport) -> None:
    """CloudFront reads S3 origins through Origin Access Control (not the legacy origin access identity).

    Fix: create an aws.cloudfront.OriginAccessControl (signing_behavior='always', signing_protocol='sigv4') and set
    origin_access_control_id on the S3 origin; drop s3_origin_config.origin_access_identity.
    """
    for origin in items(resource.get("origins")):
        origin_id = dig(origin, "originId")
        domain = dig(origin, "domainName")
        if given(dig(origin, "s3OriginConfig", "originAccessIdentity")):
            report(f"Origin {origin_id!r} uses a legacy origin access identity.")
        elif (
            isinstance(domain, str)
            and S3_REST_ORIGIN.search(domain)
            and dig(origin, "customOriginConfig") is None
            and not given(dig(origin, "originAccessControlId"))
        ):
            report(f"S3 origin {origin_id!r} has no originAccessControlId.")


@rules.resource(Severity.HIGH, (DISTRIBUTION,))
def cloudfront_origin_https(resource: Resource, report: ResourceReport) -> None:
    """CloudFront talks to custom origins over HTTPS with TLS 1.2 only.

    Fix: set custom_origin_config origin_protocol_policy='https-only' and origin_ssl_protocols=['TLSv1.2'].
    """
    for origin in items(resource.get("origins")):
        custom = dig(origin, "customOriginConfig")
        if not isinstance(custom, dict):
            continue
        origin_id = dig(origin, "originId")
        policy = custom.get("originProtocolPolicy")
        if policy is not UNKNOWN and policy != "https-only":
            report(f"Origin {origin_id!r} has originProtocolPolicy {policy!r}.")
        weak = [protocol for protocol in strings(custom.get("originSslProtocols")) if protocol != "TLSv1.2"]
        if weak:
            report(f"Origin {origin_id!r} allows {', '.join(weak)}.")


@rules.require_attached(
    owners=(DISTRIBUTION,),
    attached=(LOG_DELIVERY_SOURCE,),
    prop="resourceArn",
    exempt=lambda stack: (
        {
            distribution.urn
            for distribution in stack.of_type(DISTRIBUTION)
            if given(distribution.get("loggingConfig", "bucket"))
        },
        [],
    ),
    missing="The distribution has no access logging.",
    severity=Severity.MEDIUM,
)
def cloudfront_access_logging() -> None:
    """CloudFront distributions log every request (standard logging to S3 or a log delivery source).

    Fix: set logging_config with bucket=<the logs bucket's domain name>, or add an aws.cloudwatch.LogDeliverySource
    with resource_arn=<the distribution ARN> and log_type='ACCESS_LOGS'.
    """


# ---------------------------------------------------------------------------------------------- WAF


def _waf_rules(acl: Resource) -> list[dict[str, Any]] | None:
    """The web ACL's rules in the provider's shape (``rules``) or AWS's (``ruleJson``); None if unknown."""
    if given(acl.get("ruleJson")):
        parsed = document(acl.get("ruleJson"))
        return (
            None if parsed is UNKNOWN else [_provider_shape(rule) for rule in items(parsed) if isinstance(rule, dict)]
        )
    listed = acl.get("rules")
    return None if partly_unknown(listed) else [rule for rule in items(listed) if isinstance(rule, dict)]


def _provider_shape(value: Any) -> Any:
    """AWS API JSON (``ManagedRuleGroupStatement``) in the provider's camelCase (``managedRuleGroupStatement``)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _provider_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_provider_shape(item) for item in value]
    return value


@rules.resource(
    Severity.HIGH,
    (WEB_ACL,),
    config={
        "requiredRuleGroups": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"],
        }
    },
)
def waf_managed_rule_groups(resource: Resource, report: ResourceReport) -> None:
    """WAF web ACLs run the required AWS managed rule groups in blocking mode.

    Fix: add a rule per required group with statement.managed_rule_group_statement (vendor_name='AWS', name=...) and
    override_action none={} (count={} only observes).
    """
    waf_rules = _waf_rules(resource)
    if waf_rules is None:
        return
    blocking: set[str] = set()
    undecided = []
    for rule in waf_rules:
        group = dig(rule, "statement", "managedRuleGroupStatement")
        override = dig(rule, "overrideAction")
        if UNKNOWN in (group, override, dig(group, "vendorName"), dig(group, "name")):
            undecided.append(f"{resource.name} rule {dig(rule, 'name')}")
        elif isinstance(group, dict) and group.get("vendorName") == "AWS":
            if dig(override, "count") is not None:
                report(f"Managed rule group {group.get('name')} only counts (overrideAction count).")
            else:
                blocking.add(str(group.get("name")))
    missing = [name for name in resource.config["requiredRuleGroups"] if name not in blocking]
    if missing and undecided:
        report.undecided(f"whether {', '.join(undecided)} run {', '.join(missing)}")
    elif missing:
        report(f"Required managed rule groups missing: {', '.join(missing)}.")


@rules.resource(Severity.HIGH, (WEB_ACL,), config={"maximumLimit": {"type": "integer", "minimum": 10, "default": 2000}})
def waf_rate_limit(resource: Resource, report: ResourceReport) -> None:
    """WAF web ACLs block clients that exceed a request rate (per IP, per 5 minutes).

    Fix: add a rule with statement.rate_based_statement (aggregate_key_type='IP') and action block={}.
    """
    waf_rules = _waf_rules(resource)
    if waf_rules is None:
        return
    maximum = resource.config["maximumLimit"]
    if any(
        UNKNOWN in (dig(rule, "statement"), dig(rule, "action"), dig(rule, "statement", "rateBasedStatement"))
        for rule in waf_rules
    ):
        return
    limits = [
        dig(rule, "statement", "rateBasedStatement", "limit")
        for rule in waf_rules
        if isinstance(dig(rule, "statement", "rateBasedStatement"), dict) and dig(rule, "action", "block") is not None
    ]
    if UNKNOWN in limits:
        return
    if not limits:
        report("No rate-based rule blocks.")
    elif not any(isinstance(limit, int | float) and limit <= maximum for limit in limits):
        report(f"Every blocking rate limit is above {maximum} requests per 5 minutes.")


@rules.require_attached(
    owners=(WEB_ACL,),
    attached=(WEB_ACL_LOGGING,),
    prop="resourceArn",
    missing="The web ACL has no logging configuration.",
    severity=Severity.MEDIUM,
)
def waf_logging() -> None:
    """WAF web ACLs log their decisions.

    Fix: add an aws.wafv2.WebAclLoggingConfiguration with resource_arn=<the web ACL ARN> and a log group named
    aws-waf-logs-* in log_destination_configs.
    """


# ---------------------------------------------------------------------------------------------- ACM, Route 53


def _private_zones(stack: Stack) -> tuple[set[str], list[str]]:
    """URNs of private hosted zones (associated with a VPC): DNSSEC and query logging are for public zones."""
    zones = stack.of_type(ZONE)
    return {zone.urn for zone in zones if items(zone.get("vpcs"))}, [
        f"{zone.name}.vpcs" for zone in zones if zone.get("vpcs") is UNKNOWN
    ]


def _signing(_stack: Stack, _zone: Resource, dnssec: Resource) -> bool | None:
    status = dnssec.get("signingStatus")
    return None if status is UNKNOWN else status in (None, "SIGNING")  # the provider's default is SIGNING


@rules.require_attached(
    owners=(ZONE,),
    attached=(ZONE_DNSSEC,),
    prop="hostedZoneId",
    counts=_signing,
    exempt=_private_zones,
    missing="The public hosted zone is not signed with DNSSEC.",
    severity=Severity.MEDIUM,
)
def route53_zone_dnssec() -> None:
    """Public hosted zones are signed with DNSSEC, so that resolvers can tell forged answers for the shop's names.

    Fix: add an aws.route53.KeySigningKey (an ECC_NIST_P256 SIGN_VERIFY KMS key in us-east-1) and an
    aws.route53.HostedZoneDnsSec with hosted_zone_id=<the zone id> and signing_status='SIGNING'; publish the key's
    DS record at the parent zone.
    """


@rules.require_attached(
    owners=(ZONE,),
    attached=(QUERY_LOG,),
    prop="zoneId",
    exempt=_private_zones,
    missing="The public hosted zone has no DNS query logging.",
    severity=Severity.MEDIUM,
)
def route53_zone_query_logging() -> None:
    """Public hosted zones log the DNS queries they answer (who asked for which name, and what they got).

    Fix: add an aws.route53.QueryLog with zone_id=<the zone id> and a us-east-1 log group named /aws/route53/...,
    with an aws.cloudwatch.LogResourcePolicy that lets route53.amazonaws.com write to it.
    """


@rules.resource(Severity.MEDIUM, (CERTIFICATE,))
def acm_dns_validation(resource: Resource, report: ResourceReport) -> None:
    """ACM certificates are validated through DNS (renewals then need no human).

    Fix: set validation_method='DNS' and create the validation records in Route 53.
    """
    if given(resource.get("certificateBody")) or given(resource.get("certificateAuthorityArn")):
        return  # imported or private-CA certificates are not validated by ACM
    method = resource.get("validationMethod")
    if method is not UNKNOWN and method != "DNS":
        report(f"validationMethod is {method!r}.")


def _targets(record: Resource) -> list[str] | None:
    """Host names a record points at (alias names, CNAME values); None if any is unknown."""
    aliases = [dig(alias, "name") for alias in items(record.get("aliases"))]
    cnames = strings(record.get("records")) if record.get("type") == "CNAME" else []
    if UNKNOWN in aliases or record.get("records") is UNKNOWN:
        return None
    names = [name.rstrip(".").lower() for name in [*aliases, *cnames] if isinstance(name, str)]
    # Alias records to a load balancer may use its dual-stack name.
    return [name.removeprefix("dualstack.") for name in names]


def _own_host_names(stack: Stack) -> set[str] | None:
    """Host names of the stack's distributions and load balancers -- including those the AWS Load Balancer
    Controller creates for its Ingresses and LoadBalancer Services (their ``status``); None if any is unknown."""
    names: list[Any] = [
        resource.get(key)
        for resource in stack.of_type(DISTRIBUTION, *LOAD_BALANCERS)
        for key in ("domainName", "dnsName")
    ]
    for resource in stack.of_type(*K8S_LOAD_BALANCED):
        entries = resource.get("status", "loadBalancer", "ingress")
        names += [UNKNOWN] if partly_unknown(entries) else [dig(entry, "hostname") for entry in items(entries)]
    if UNKNOWN in names:
        return None
    return {name.rstrip(".").lower() for name in names if isinstance(name, str)}


@rules.stack(Severity.HIGH)
def route53_no_dangling_aws_targets(stack: Stack, report: StackReport) -> None:
    """Route 53 records that point at AWS-hosted names (CloudFront, load balancers, S3 websites) point at distributions
    or load balancers of this stack, its Ingresses' included (a record left on a released name invites subdomain
    takeover).

    Fix: point the record at the resource's output (e.g. distribution.domain_name) or remove the record.
    """
    hosted = _own_host_names(stack)
    if hosted is None:
        return  # the stack's own host names are not known yet
    for record in stack.of_type(RECORD):
        targets = _targets(record)
        if targets is None:
            continue
        for target in targets:
            if AWS_HOSTED_TARGET.search(target) and target not in hosted:
                report(f"{target} is not a CloudFront distribution or load balancer of this stack.", record)


# ---------------------------------------------------------------------------------------------- the ALB

K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
#: The AWS Load Balancer Controller's Ingress annotations (kubernetes-sigs/aws-load-balancer-controller,
#: docs/guide/ingress/annotations.md).
ALB = "alb.ingress.kubernetes.io/"
#: ELB security policies that accept TLS 1.2 at the least with forward-secret ciphers only (TLS13 family).
MODERN_SSL_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
]


def _listeners(annotations: dict[str, Any]) -> list[tuple[str, Any]] | None:
    """(protocol, port) of each listener; the controller's default is HTTPS:443 with a certificate, else HTTP:80."""
    listen = annotations.get(ALB + "listen-ports")
    if listen is None:
        return [("HTTPS", 443)] if given(annotations.get(ALB + "certificate-arn")) else [("HTTP", 80)]
    entries = _json_list(listen)
    if entries is None:
        return None
    return [(str(key).upper(), port) for entry in entries if isinstance(entry, dict) for key, port in entry.items()]


def _json_list(text: Any) -> list[Any] | None:
    """A JSON list annotation (``listen-ports``); None if unknown or unreadable."""
    try:
        parsed = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def _attributes(annotations: dict[str, Any]) -> dict[str, str]:
    listed = annotations.get(ALB + "load-balancer-attributes")
    pairs = [part.split("=", 1) for part in listed.split(",")] if isinstance(listed, str) else []
    return {pair[0].strip(): pair[1].strip() for pair in pairs if len(pair) == 2}


@rules.resource(
    Severity.HIGH,
    (K8S_INGRESS,),
    fix=f"annotate the Ingress with {ALB}wafv2-acl-arn, ssl-policy=ELBSecurityPolicy-TLS13-1-2-2021-06, "
    "listen-ports='[{\"HTTPS\": 443}]' (or ssl-redirect with HTTP) and load-balancer-attributes "
    "access_logs.s3.enabled=true.",
    config={"allowedSslPolicies": {"type": "array", "items": {"type": "string"}, "default": MODERN_SSL_POLICIES}},
)
def alb_ingress_annotations(resource: Resource, report: ResourceReport) -> None:
    """Ingresses of the AWS Load Balancer Controller (class alb) get an internet-facing ALB only with a WAF web ACL, a
    TLS13 SSL policy, HTTPS listeners (HTTP only to redirect) and access logs."""
    annotations = resource.get("metadata", "annotations")
    class_name = resource.get("spec", "ingressClassName") or dig(annotations, "kubernetes.io/ingress.class")
    if class_name != "alb" or not isinstance(annotations, dict):
        if UNKNOWN in (class_name, annotations):
            report.undecided(f"whether {resource.name} is an ALB Ingress (its class or annotations)")
        return
    unknown = sorted(key for key, value in annotations.items() if value is UNKNOWN and key.startswith(ALB))
    if unknown:
        report.undecided(f"{resource.name}'s annotations {', '.join(unknown)}")
    if annotations.get(ALB + "scheme") == "internet-facing" and annotations.get(ALB + "wafv2-acl-arn") is None:
        report(f"The internet-facing ALB has no {ALB}wafv2-acl-arn.")
    policy = annotations.get(ALB + "ssl-policy")
    if policy is not UNKNOWN and policy not in resource.config["allowedSslPolicies"]:
        report(f"{ALB}ssl-policy is {policy or 'unset (ELBSecurityPolicy-2016-08, TLS 1.0)'}.")
    listeners = _listeners(annotations)
    redirects = given(annotations.get(ALB + "ssl-redirect"))
    if listeners is not None and any(protocol == "HTTP" for protocol, _ in listeners) and not redirects:
        report("An HTTP listener serves plain text (only an ssl-redirect may listen on HTTP).")
    attributes = annotations.get(ALB + "load-balancer-attributes")
    if attributes is not UNKNOWN and _attributes(annotations).get("access_logs.s3.enabled") != "true":
        report("Access logs are off (load-balancer-attributes has no access_logs.s3.enabled=true).")
