"""Settings of the edge: DNS, certificates, CloudFront and WAF (components/edge.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from stacks.settings.base import AllowedCidr, Environment, Problem, RetentionDays, section

APEX = "@"
_LABELS = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
#: A host name relative to the stack's domain (`shop`, `www`), or `@` for the domain itself.
HostLabel = Annotated[str, StringConstraints(pattern=rf"^(@|{_LABELS})$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
#: A key-signing key's name as Route 53 accepts it (CreateKeySigningKey: letters, digits, underscores; 3-128).
SigningKeyLabel = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{3,64}$")]


def fqdn(host: str, domain: str) -> str:
    """The full name of ``host`` (relative to ``domain``, ``@`` for the domain itself)."""
    return domain if host == APEX else f"{host}.{domain}"


@section(prefix="edge")
class EdgeSettings:
    """Route 53, ACM, CloudFront in front of the shop, and the WAF web ACLs."""

    zone_id: str = Field(
        default="",
        pattern=r"^(Z[A-Z0-9]{4,31})?$",
        description="Existing Route 53 hosted zone of the stack's domain (e.g. Z0123456789ABCDEFGHIJ); "
        "empty creates the zone, whose name servers are then a stack output to delegate to.",
    )
    dnssec: bool = Field(
        default=True,
        description="Sign the hosted zone with DNSSEC (KMS keys in us-east-1). Always on for a zone the stack "
        "creates; for an existing zone (edgeZoneId) turn it off only when something else signs that zone.",
    )
    dnssec_keys: tuple[SigningKeyLabel, ...] = Field(
        default=("ksk1",),
        min_length=1,
        max_length=2,
        description="Names of the zone's key-signing keys, each with its own KMS key; two only while rolling "
        "the key (docs/operations.md, DNSSEC). The stack outputs each key's DS record for the parent zone.",
    )
    query_logging: bool = Field(
        default=True,
        description="Log the zone's DNS queries to CloudWatch Logs (us-east-1). Always on for a zone the stack "
        "creates; for an existing zone (edgeZoneId) turn it off only when the zone already has a query log.",
    )
    query_log_retention_days: RetentionDays = Field(
        default=365, description="Retention of the DNS query log group, in days (a CloudWatch Logs period)."
    )
    hosts: tuple[HostLabel, ...] = Field(
        default=(APEX, "www"),
        min_length=1,
        max_length=10,
        description="Shop host names relative to the domain ('@' is the domain itself); the first is the "
        "canonical one. Each gets A/AAAA aliases to CloudFront and a name on the CloudFront certificate.",
    )
    origin_label: str = Field(
        default="origin",
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        description="DNS label of the load balancer origin under the canonical host (origin.<host>).",
    )
    price_class: Literal["PriceClass_All", "PriceClass_200", "PriceClass_100"] = Field(
        default="PriceClass_All", description="CloudFront price class: which edge locations serve the shop."
    )
    geo_restriction: Literal["none", "whitelist", "blacklist"] = Field(
        default="none",
        description="CloudFront geo restriction: serve only (whitelist) or never (blacklist) the edgeGeoLocations.",
    )
    geo_locations: tuple[CountryCode, ...] = Field(
        default=(), description="ISO 3166-1 alpha-2 country codes of the geo restriction, e.g. [DE, FR]."
    )
    waf_rate_limit: int = Field(
        default=2000,
        ge=10,
        le=2_000_000_000,
        description="Requests one client IP may send in 5 minutes before WAF blocks it (10-2000000000).",
    )
    waf_rate_limit_enabled: bool = Field(
        default=True,
        description="Block clients over edgeWafRateLimit at CloudFront; turn off only for a planned surge (a load "
        "test, a sale) with the WAF metrics watched.",
    )
    admin_allowed_cidrs: tuple[AllowedCidr, ...] = Field(
        default=(),
        max_length=50,
        description="IPv4 networks allowed to reach /admin through CloudFront; empty blocks /admin at the edge.",
    )
    waf_log_retention_days: RetentionDays = Field(
        default=365, description="Retention of the WAF log groups, in days (a CloudWatch Logs period)."
    )
    origin_health_check: bool = Field(
        default=True, description="Route 53 health check of https://origin.<host>/readyz; required in prod."
    )

    @property
    def origin_host(self) -> str:
        """The origin's name relative to the domain: ``origin_label`` under the canonical host."""
        canonical = self.hosts[0]
        return self.origin_label if canonical == APEX else f"{self.origin_label}.{canonical}"

    @field_validator("hosts", "dnssec_keys")
    @classmethod
    def _distinct(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(names)) != len(names):
            raise ValueError("lists a name twice")
        return names

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if self.geo_restriction == "none" and self.geo_locations:
            yield "geo_locations", "is set but edgeGeoRestriction is 'none'; choose whitelist or blacklist"
        if self.geo_restriction != "none" and not self.geo_locations:
            yield "geo_locations", f"a {self.geo_restriction} geo restriction needs at least one country code"
        if self.origin_host in self.hosts:
            yield "origin_label", "names one of the shop hosts; the origin needs a name of its own"
        if not self.zone_id:
            # Staging saves on size, never on security: a zone of the stack's own is signed and logged everywhere.
            if not self.dnssec:
                yield (
                    "dnssec",
                    "a zone the stack creates always signs with DNSSEC; the setting is for an existing edgeZoneId",
                )
            if not self.query_logging:
                yield (
                    "query_logging",
                    "a zone the stack creates always logs its queries; the setting is for an existing edgeZoneId",
                )
        if environment != "prod":
            return
        if not self.origin_health_check:
            yield "origin_health_check", "prod monitors its origin; disabling the health check is a staging-only saving"
