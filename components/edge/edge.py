"""The edge: the DNS zone (signed with DNSSEC, its queries logged: ``dns.py``), TLS certificates, the CloudFront
distribution in front of the shop (``cdn.py``), and two web ACLs (``waf.py``).

Traffic: viewer --TLS 1.2+--> CloudFront (CLOUDFRONT web ACL) --TLS 1.2+, secret header--> origin.<host>, the
shop's load balancer (REGIONAL web ACL, which drops requests without the header); /static and /media go to the
assets bucket through origin access control.

The load balancer is created by the AWS Load Balancer Controller from the shop's Ingress, not by Pulumi, so the
origin is a name we own (``origin.<canonical host>``) with a regional certificate; the shop deployment points it
at the load balancer with ``Edge.route_origin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext
from components.edge import cdn, dns
from components.edge.waf import (
    ANONYMOUS_IP,
    BLOCKED_BODY_KEY,
    CONTENT_RULE_GROUPS,
    IP_REPUTATION,
    WebAclLogging,
    admin_only_from,
    allow_header,
    allow_path,
    log_group_name,
    managed_rule_group,
    rate_limit_per_ip,
    web_acl,
)
from components.kms import customer_managed_key, logs_service_statement
from components.secrets import RotatedValues
from stacks.settings import EdgeSettings, KeySettings
from stacks.settings.edge import APEX, fqdn

#: CloudFront reads its certificate, and CLOUDFRONT-scope WAF resources live, only in this region. Resources there
#: say so with `region=` on the stack's own provider, so that they inherit its configuration (assumed roles,
#: allowed accounts, profile): an explicit provider would not.
CLOUDFRONT_REGION = "us-east-1"
#: The origin web ACL's rule that admits CloudFront's requests (by the secret header): the rotation function edits it.
THROUGH_CLOUDFRONT_RULE = "through-cloudfront"
#: The only path the origin answers without the header: Route 53's health check cannot send it.
READINESS_PATH = "/readyz"


@dataclass(frozen=True, kw_only=True)
class EdgeArgs:
    settings: EdgeSettings
    context: StackContext
    domain: str
    """The stack's DNS domain: the hosted zone's name and the parent of every shop host."""
    key_settings: KeySettings
    """Deletion window and rotation of the us-east-1 key that encrypts the CloudFront web ACL's logs."""
    logs_key_arn: pulumi.Input[str]
    """KMS key (stack region) of the origin web ACL's log group."""
    assets_bucket_regional_domain_name: pulumi.Input[str]
    logs_bucket_arn: pulumi.Input[str]
    """The logs bucket, where CloudFront's access logs are delivered (standard logging v2)."""
    logs_prefix: str
    """Key prefix of CloudFront's logs in the logs bucket; each distribution writes under a prefix of its own."""
    logs_bucket_policy: pulumi.Resource
    """The logs bucket's policy, which must admit the log delivery before the delivery is created."""
    origin_verify: RotatedValues
    """The origin header's values as Secrets Manager holds them (its rotation function changes them): CloudFront
    sends the current one, the origin web ACL accepts the current and the previous one."""


class Edge(PlatformComponent):
    """DNS, certificates, CloudFront and WAF for the shop; see the module docstring for the request path.

    Protected in prod: the hosted zone (a new one has new name servers), the DNSSEC signing keys (the parent's DS
    records point at them), the us-east-1 logs key, the WAF and DNS query log groups."""

    pulumi_type = "shop:edge:Edge"
    component = "edge"

    zone_id: pulumi.Output[str]
    name_servers: pulumi.Output[Sequence[str]] | None
    """Name servers of the created zone, to delegate the domain to; None when the zone already existed."""
    shop_hostnames: list[str]
    shop_urls: list[str]
    shop_url: str
    """The canonical URL, on the first configured host."""
    origin_hostname: str
    cloudfront_certificate_arn: pulumi.Output[str]
    origin_certificate_arn: pulumi.Output[str]
    """Regional certificate of ``origin_hostname``: the Ingress's ``alb.ingress.kubernetes.io/certificate-arn``."""
    cloudfront_web_acl_arn: pulumi.Output[str]
    origin_web_acl_arn: pulumi.Output[str]
    """REGIONAL web ACL for the load balancer: the Ingress's ``alb.ingress.kubernetes.io/wafv2-acl-arn``."""
    origin_web_acl_id: pulumi.Output[str]
    """What the origin header's rotation function edits, with ``origin_web_acl_name`` and its rule
    ``THROUGH_CLOUDFRONT_RULE``."""
    cloudfront_web_acl_name: str
    origin_web_acl_name: str
    """Each web ACL's name is also its CloudWatch metric name (the ``WebACL`` dimension)."""
    distribution_id: pulumi.Output[str]
    distribution_arn: pulumi.Output[str]
    distribution_domain_name: pulumi.Output[str]
    origin_health_check_id: pulumi.Output[str] | None
    dnssec_ds_records: dict[str, pulumi.Output[str]]
    """Key-signing key name -> the DS record to add at the parent zone; empty when the zone is not signed here."""
    query_log_group_name: str | None

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self._name = name
        self._args = args
        settings = args.settings
        self.shop_hostnames = [fqdn(host, args.domain) for host in settings.hosts]
        self.shop_urls = [f"https://{host}" for host in self.shop_hostnames]
        self.shop_url = self.shop_urls[0]
        self.origin_hostname = fqdn(settings.origin_host, args.domain)
        self.cloudfront_web_acl_name = self.naming.physical("cdn")
        self.origin_web_acl_name = self.naming.physical("origin")

        self.zone_id, self.name_servers = self._zone()
        self.dnssec_ds_records = (
            dns.sign_zone(
                f"{name}-zone",
                zone_id=self.zone_id,
                key_labels=settings.dnssec_keys,
                key_settings=args.key_settings,
                component=self,
            ).ds_records
            if settings.dnssec
            else {}
        )
        self.cloudfront_certificate_arn = self._certificate("cdn", settings.hosts, CLOUDFRONT_REGION)
        self.origin_certificate_arn = self._certificate("origin", (settings.origin_host,), None)
        us_east_logs_key_arn = self._us_east_logs_key()
        self.query_log_group_name = None
        if settings.query_logging:
            dns.log_queries(
                f"{name}-zone",
                zone_id=self.zone_id,
                kms_key_arn=us_east_logs_key_arn,
                retention_days=settings.query_log_retention_days,
                component=self,
            )
            self.query_log_group_name = dns.query_log_group_name(self.naming)
        self.cloudfront_web_acl_arn = self._cloudfront_web_acl(us_east_logs_key_arn)
        origin_web_acl = self._origin_web_acl()
        self.origin_web_acl_arn = origin_web_acl.arn
        self.origin_web_acl_id = origin_web_acl.id
        distribution = cdn.distribution(
            name,
            cdn.DistributionArgs(
                settings=settings,
                aliases=self.shop_hostnames,
                certificate_arn=self.cloudfront_certificate_arn,
                web_acl_arn=self.cloudfront_web_acl_arn,
                origin_hostname=self.origin_hostname,
                origin_verify_token=args.origin_verify.current,
                assets_bucket_regional_domain_name=args.assets_bucket_regional_domain_name,
                logs_bucket_arn=args.logs_bucket_arn,
                logs_prefix=args.logs_prefix,
                logs_bucket_policy=args.logs_bucket_policy,
            ),
            component=self,
        )
        self.distribution_id = distribution.id
        self.distribution_arn = distribution.arn
        self.distribution_domain_name = distribution.domain_name
        for host in settings.hosts:
            self._alias_records(host, distribution)
        self.origin_health_check_id = self._origin_health_check() if settings.origin_health_check else None

        self.register_outputs(
            {
                "zone_id": self.zone_id,
                "dnssec_ds_records": self.dnssec_ds_records,
                "shop_urls": self.shop_urls,
                "origin_hostname": self.origin_hostname,
                "cloudfront_certificate_arn": self.cloudfront_certificate_arn,
                "origin_certificate_arn": self.origin_certificate_arn,
                "cloudfront_web_acl_arn": self.cloudfront_web_acl_arn,
                "origin_web_acl_arn": self.origin_web_acl_arn,
                "distribution_id": self.distribution_id,
                "distribution_arn": self.distribution_arn,
                "distribution_domain_name": self.distribution_domain_name,
            }
        )

    def route_origin(self, load_balancer_hostname: pulumi.Input[str]) -> aws.route53.Record:
        """Point ``origin_hostname`` at the shop's load balancer (the Ingress's ``status.loadBalancer`` hostname).

        A CNAME rather than an alias: an alias needs the load balancer's hosted zone id, which only a lookup of a
        load balancer that may not exist yet could provide.
        """
        return aws.route53.Record(
            f"{self._name}-origin",
            zone_id=self.zone_id,
            name=self.origin_hostname,
            type="CNAME",
            ttl=60,
            records=[load_balancer_hostname],
            opts=pulumi.ResourceOptions(parent=self),
        )

    # ------------------------------------------------------------------------------------------------ DNS + TLS

    def _zone(self) -> tuple[pulumi.Output[str], pulumi.Output[Sequence[str]] | None]:
        args = self._args
        if args.settings.zone_id:
            return pulumi.Output.from_input(args.settings.zone_id), None
        zone = aws.route53.Zone(
            f"{self._name}-zone",
            name=args.domain,
            comment=f"{self.naming.physical('zone')}: the shop's public domain",
            tags=self.tags("zone"),
            # Replacing a zone changes its name servers and breaks the delegation to it.
            opts=self.child(holds_data=True),
        )
        return zone.zone_id, zone.name_servers

    def _certificate(self, purpose: str, hosts: Sequence[str], region: str | None) -> pulumi.Output[str]:
        """A DNS-validated certificate for ``hosts`` (in ``region``, the stack's when None); its ARN once ACM has
        issued it."""
        names = [fqdn(host, self._args.domain) for host in hosts]
        certificate = aws.acm.Certificate(
            f"{self._name}-{purpose}-certificate",
            domain_name=names[0],
            subject_alternative_names=names[1:] or None,
            validation_method="DNS",
            options={"certificate_transparency_logging_preference": "ENABLED"},
            tags=self.tags(f"{purpose}-certificate"),
            region=region,
            opts=self.child(),
        )
        records = [
            self._validation_record(f"{purpose}-validation-{_label(host)}", certificate, name)
            for host, name in zip(hosts, names, strict=True)
        ]
        validation = aws.acm.CertificateValidation(
            f"{self._name}-{purpose}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn for record in records],
            region=region,
            opts=self.child(),
        )
        return validation.certificate_arn

    def _validation_record(self, name: str, certificate: aws.acm.Certificate, domain: str) -> aws.route53.Record:
        """The CNAME that proves to ACM that we control ``domain``."""
        record = certificate.domain_validation_options.apply(lambda options: _validation(options, domain))
        return aws.route53.Record(
            f"{self._name}-{name}",
            zone_id=self.zone_id,
            name=record.apply(lambda r: r[0]),
            type=record.apply(lambda r: r[1]),
            records=[record.apply(lambda r: r[2])],
            ttl=300,
            opts=self.child(),
        )

    def _alias_records(self, host: str, distribution: aws.cloudfront.Distribution) -> None:
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{self._name}-{_label(host)}-{record_type.lower()}",
                zone_id=self.zone_id,
                name=fqdn(host, self._args.domain),
                type=record_type,
                aliases=[
                    {
                        "name": distribution.domain_name,
                        "zone_id": distribution.hosted_zone_id,
                        "evaluate_target_health": False,  # CloudFront aliases cannot evaluate target health
                    }
                ],
                opts=self.child(),
            )

    def _origin_health_check(self) -> pulumi.Output[str]:
        check = aws.route53.HealthCheck(
            f"{self._name}-origin-health",
            type="HTTPS",
            fqdn=self.origin_hostname,
            port=443,
            resource_path=READINESS_PATH,
            enable_sni=True,
            request_interval=30,
            failure_threshold=3,
            measure_latency=True,
            tags=self.tags("origin-health"),
            opts=self.child(),
        )
        return check.id

    # ------------------------------------------------------------------------------------------------ WAF

    def _cloudfront_web_acl(self, logs_key_arn: pulumi.Output[str]) -> pulumi.Output[str]:
        args = self._args
        settings = args.settings
        allowed = None
        if settings.admin_allowed_cidrs:
            allowed = aws.wafv2.IpSet(
                f"{self._name}-admin-allowlist",
                name=self.naming.physical("admin-allowlist"),
                description="Networks that may reach /admin through CloudFront",
                scope="CLOUDFRONT",
                ip_address_version="IPV4",
                addresses=[str(cidr) for cidr in settings.admin_allowed_cidrs],
                tags=self.tags("admin-allowlist"),
                region=CLOUDFRONT_REGION,
                opts=self.child(),
            ).arn
        rules = [
            *([rate_limit_per_ip(settings.waf_rate_limit)] if settings.waf_rate_limit_enabled else []),
            admin_only_from(allowed),
            managed_rule_group(IP_REPUTATION),
            # In every stack: staging saves on size and redundancy, never on security.
            managed_rule_group(ANONYMOUS_IP),
            *(managed_rule_group(group) for group in CONTENT_RULE_GROUPS),
        ]
        acl = web_acl(
            f"{self._name}-cdn-acl",
            physical_name=self.cloudfront_web_acl_name,
            scope="CLOUDFRONT",
            description="Viewer requests to the shop's CloudFront distribution",
            default_action={"allow": {}},
            rules=rules,
            logging=WebAclLogging(
                account=self.context.account,
                region=CLOUDFRONT_REGION,
                kms_key_arn=logs_key_arn,
                retention_days=settings.waf_log_retention_days,
            ),
            tags=self.tags("cdn-acl"),
            component=self,
        )
        return acl.arn

    def _origin_web_acl(self) -> aws.wafv2.WebAcl:
        """Only CloudFront gets through (the secret header), plus, with the health check, Route 53's readiness probe.

        The content rule groups run first, so that a leaked header value does not also bypass them. IP-based
        rules would be pointless here: behind CloudFront every client address is a CloudFront edge.
        """
        args = self._args
        acl = web_acl(
            f"{self._name}-origin-acl",
            physical_name=self.origin_web_acl_name,
            scope="REGIONAL",
            description="Requests to the shop's load balancer: only those that came through CloudFront",
            default_action={
                "block": {"custom_response": {"response_code": 403, "custom_response_body_key": BLOCKED_BODY_KEY}}
            },
            rules=[
                *(managed_rule_group(group) for group in CONTENT_RULE_GROUPS),
                self._through_cloudfront(),
                # Every request from here on did not come through CloudFront: the limit is per prober.
                rate_limit_per_ip(args.settings.waf_rate_limit),
                # Route 53's checkers cannot send the header: they may read the readiness path only.
                *([allow_path("readiness-probe", READINESS_PATH)] if args.settings.origin_health_check else []),
            ],
            logging=WebAclLogging(
                account=self.context.account,
                region=self.context.account.region,
                kms_key_arn=args.logs_key_arn,
                retention_days=args.settings.waf_log_retention_days,
            ),
            tags=self.tags("origin-acl"),
            component=self,
        )
        return acl

    def _through_cloudfront(self) -> aws.wafv2.WebAclRuleArgsDict:
        """The header is the current value or, after a rotation, the previous one: edges that have not received
        the new value yet still get through. The rotation function writes the same rule (pending OR current, which
        become current OR previous), so the program renders what the function left: no drift."""
        values = self._args.origin_verify
        rule = allow_header(THROUGH_CLOUDFRONT_RULE, cdn.ORIGIN_VERIFY_HEADER, values.current)
        # Only whether there is a previous value decides the rule's shape; the values stay secret inside it.
        rule["statement"] = values.rotated.apply(
            lambda rotated: allow_header(
                THROUGH_CLOUDFRONT_RULE,
                cdn.ORIGIN_VERIFY_HEADER,
                values.current,
                cast("pulumi.Output[str]", values.previous) if rotated else None,  # a value once rotated
            )["statement"]
        )
        return rule

    def _us_east_logs_key(self) -> pulumi.Output[str]:
        """A us-east-1 key for the edge's log groups there (the CloudFront web ACL's and the DNS query log): a log
        group can only use a key of its own region."""
        args = self._args
        account = self.context.account
        groups = {"CloudWatchLogsEncryptsTheWafLogGroup": log_group_name(self.cloudfront_web_acl_name)}
        if args.settings.query_logging:
            groups["CloudWatchLogsEncryptsTheQueryLogGroup"] = dns.query_log_group_name(self.naming)
        key = customer_managed_key(
            f"{self._name}-cdn-logs-key",
            alias=f"alias/{self.naming.physical('cdn-logs')}",
            description=f"{self.naming.physical('cdn-logs')}: the edge's log groups in {CLOUDFRONT_REGION} "
            "(CloudFront web ACL, DNS queries)",
            settings=args.key_settings,
            account=account,
            tags=self.tags("cdn-logs"),
            parent=self,
            protect=self.context.protect,
            service_statements=[
                logs_service_statement(sid, account, group, region=CLOUDFRONT_REGION) for sid, group in groups.items()
            ],
            region=CLOUDFRONT_REGION,
        )
        return key.arn


def _label(host: str) -> str:
    """A host as it appears in logical names: ``apex``, ``www``, ``shop-eu``."""
    return "apex" if host == APEX else host.replace(".", "-")


def _validation(
    options: Sequence[aws.acm.outputs.CertificateDomainValidationOption], name: str
) -> tuple[str, str, str]:
    """(record name, type, value) that proves control of ``name`` to ACM."""
    for option in options:
        if option.domain_name == name and option.resource_record_name and option.resource_record_type:
            return option.resource_record_name, option.resource_record_type, option.resource_record_value or ""
    raise ValueError(f"ACM returned no DNS validation record for {name}")
