"""Edge settings: bad values get one clear message naming the key, and prod refuses staging-only savings."""

from __future__ import annotations

import pytest

from stacks.offline.engine import load_config
from stacks.settings import SettingsError, parse
from stacks.settings.edge import fqdn

P = "shop-platform"
#: Prod's configuration without its edge settings, so that every edge setting starts at its default.
PROD = {key: value for key, value in load_config("prod")[1].items() if not key.startswith(f"{P}:edge")}


def problems(**settings: str) -> str:
    values = {**PROD, **{f"{P}:{key}": value for key, value in settings.items()}}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack="prod")
    return str(raised.value)


def test_defaults_are_prod_grade() -> None:
    edge = parse(PROD, project=P, stack="prod").edge
    assert edge.hosts == ("@", "www")
    assert edge.zone_id == ""  # the zone is created
    assert edge.origin_health_check is True
    assert edge.admin_allowed_cidrs == ()
    assert edge.origin_host == "origin"


def test_host_names_relative_to_the_domain() -> None:
    assert fqdn("@", "shop.example.com") == "shop.example.com"
    assert fqdn("www", "shop.example.com") == "www.shop.example.com"
    edge = parse({**PROD, f"{P}:edgeHosts": '["shop", "@"]'}, project=P, stack="prod").edge
    assert edge.origin_host == "origin.shop"


@pytest.mark.parametrize("host", ["Shop", "-shop", "shop.", "*.shop", "shop_eu", ""])
def test_hosts_must_be_dns_labels_or_the_apex(host: str) -> None:
    assert f"{P}:edgeHosts: item 0: String should match pattern" in problems(edgeHosts=f'["{host}"]')


def test_hosts_are_listed_once_and_at_least_one() -> None:
    assert f"{P}:edgeHosts: lists a name twice" in problems(edgeHosts='["www", "www"]')
    assert f"{P}:edgeHosts: Tuple should have at least 1 item" in problems(edgeHosts="[]")


def test_origin_needs_a_name_of_its_own() -> None:
    message = problems(edgeHosts='["@", "origin"]')
    assert f"{P}:edgeOriginLabel: names one of the shop hosts" in message


def test_zone_id_looks_like_a_route53_zone_id() -> None:
    assert f"{P}:edgeZoneId: String should match pattern" in problems(edgeZoneId="shop.example.com")


def test_admin_networks_are_never_the_whole_internet() -> None:
    assert "0.0.0.0/0 opens this to the whole internet" in problems(edgeAdminAllowedCidrs='["0.0.0.0/0"]')
    assert f"{P}:edgeAdminAllowedCidrs: item 0:" in problems(edgeAdminAllowedCidrs='["10.0.0.1/8"]')


def test_rate_limit_within_what_waf_accepts() -> None:
    assert f"{P}:edgeWafRateLimit: Input should be greater than or equal to 10" in problems(edgeWafRateLimit="5")


def test_geo_restriction_and_its_countries_go_together() -> None:
    assert "needs at least one country code" in problems(edgeGeoRestriction="whitelist")
    assert "is set but edgeGeoRestriction is 'none'" in problems(edgeGeoLocations='["DE"]')
    assert f"{P}:edgeGeoLocations: item 0: String should match pattern" in problems(
        edgeGeoRestriction="blacklist", edgeGeoLocations='["Germany"]'
    )


def test_price_class_is_one_cloudfront_knows() -> None:
    assert f"{P}:edgePriceClass: Input should be 'PriceClass_All'" in problems(edgePriceClass="PriceClass_50")


def test_prod_refuses_staging_only_savings() -> None:
    message = problems(edgeOriginHealthCheck="false", edgeWafLogRetentionDays="30")
    assert f"{P}:edgeOriginHealthCheck: prod monitors its origin" in message
    assert f"{P}:edgeWafLogRetentionDays: prod keeps every log group at least 365 days" in message
    staging = {**PROD, f"{P}:environment": "staging", f"{P}:edgeOriginHealthCheck": "false"}
    assert (
        parse({**staging, f"{P}:edgeWafLogRetentionDays": "30"}, project=P, stack="staging").edge.waf_log_retention_days
        == 30
    )


def test_log_retention_is_a_cloudwatch_period() -> None:
    assert f"{P}:edgeWafLogRetentionDays: must be one of the CloudWatch Logs retention periods" in problems(
        edgeWafLogRetentionDays="100"
    )
