"""The cost estimate: every resource type priced or free, the arithmetic of each rule, and the stacks' totals."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest

from stacks.offline import cost
from stacks.offline.engine import PROJECT_DIR
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import CostSettings

PRICES = cost.load_prices()
USAGE = CostSettings()
REGION = "eu-west-1"
HOURS = 730


def _resource(type_: str, name: str, inputs: dict[str, Any], **fields: Any) -> PlannedResource:
    return PlannedResource(
        urn=f"urn:pulumi:test::shop-platform::{type_}::{name}",
        type=type_,
        name=name,
        parent=fields.get("parent"),
        dependencies=fields.get("dependencies", []),
        provider=fields.get("provider"),
        options={},
        inputs=inputs,
        custom=True,
    )


def _estimate(*resources: PlannedResource, usage: CostSettings = USAGE) -> cost.Estimate:
    plan = Plan(project="shop-platform", stack="test", resources=list(resources), outputs={})
    return cost.estimate(plan, usage, REGION, PRICES)


def _monthly(*resources: PlannedResource, usage: CostSettings = USAGE) -> float:
    return _estimate(*resources, usage=usage).total


def _hourly(name: str, region: str = REGION) -> float:
    return PRICES.price(name, region)


@pytest.fixture(scope="module")
def estimates(staging: Plan, prod: Plan) -> dict[str, cost.Estimate]:
    found = {}
    for plan in (staging, prod):
        usage, region = cost.stack_usage(plan.stack, PROJECT_DIR)
        found[plan.stack] = cost.estimate(plan, usage, region, PRICES)
    return found


# ---------------------------------------------------------------------------------------------- the price table


def test_every_resource_type_of_the_stacks_has_a_rule_or_a_free_entry(plan: Plan) -> None:
    assert cost.unpriced_types((resource.type for resource in plan.resources), PRICES) == []


def test_a_type_with_neither_stops_the_estimate() -> None:
    with pytest.raises(cost.PriceError, match="no rule and no free entry for aws:opensearch/domain:Domain"):
        _estimate(_resource("aws:opensearch/domain:Domain", "search", {}))


def test_a_missing_price_names_what_and_where() -> None:
    group = _resource("eks:index:ManagedNodeGroup", "gpu", {"instanceTypes": ["p5.48xlarge"]})
    with pytest.raises(cost.PriceError, match=r"no price for ec2\.instance\.p5\.48xlarge in eu-west-1"):
        _estimate(group)


def test_every_price_names_its_source_and_the_date_it_was_read() -> None:
    document = cost.json.loads(cost.PRICES.read_text())
    for entry in document["prices"]:
        assert entry["source"].strip(), entry
        date.fromisoformat(entry["read"])
        assert entry["region"] in ("global", "us-east-1", "eu-west-1"), entry


def test_the_table_covers_every_region_a_stack_names_and_us_east_1() -> None:
    regions = {cost.stack_usage(stack, PROJECT_DIR)[1] for stack in ("staging", "prod")} | {"us-east-1"}
    names = {name for name, region in PRICES.prices if region != cost.GLOBAL}
    for region in regions:
        assert {name for name, where in PRICES.prices if where == region} == names, region


def test_an_old_table_warns() -> None:
    assert cost.stale_warning(PRICES, PRICES.date + timedelta(days=cost.STALE_AFTER_DAYS)) == []
    (warning,) = cost.stale_warning(PRICES, PRICES.date + timedelta(days=cost.STALE_AFTER_DAYS + 1))
    assert "91 days old" in warning and "make cost-prices" in warning


# ---------------------------------------------------------------------------------------------- arithmetic


def test_a_month_is_730_hours() -> None:
    assert PRICES.hours_per_month == HOURS
    control_plane = _resource("eks:index:Cluster", "eks", {})
    assert _monthly(control_plane) == round(_hourly("eks.cluster") * HOURS, 2) == 73.0


def test_multi_az_doubles_the_instance_and_its_storage() -> None:
    inputs = {"instanceClass": "db.m7g.large", "engine": "postgres", "allocatedStorage": 50}
    single = _monthly(_resource("aws:rds/instance:Instance", "db", {**inputs, "multiAz": False}))
    multi = _monthly(_resource("aws:rds/instance:Instance", "db", {**inputs, "multiAz": True}))
    instance = _hourly("rds.postgres.db.m7g.large") * HOURS
    storage = _hourly("rds.gp3.storage") * 50
    assert single == round(round(instance, 2) + round(storage, 2), 2)
    assert multi == round(2 * single, 2)


def test_iops_above_the_gp3_baseline_are_charged() -> None:
    inputs = {"instanceClass": "db.t4g.small", "allocatedStorage": 100}
    baseline = _monthly(_resource("aws:rds/instance:Instance", "db", {**inputs, "iops": 3000}))
    more = _monthly(_resource("aws:rds/instance:Instance", "db", {**inputs, "iops": 5000}))
    assert more - baseline == pytest.approx(2000 * _hourly("rds.gp3.iops"), abs=0.01)


def test_interface_endpoints_are_charged_per_zone_and_gateway_endpoints_are_free() -> None:
    def endpoint(zones: int) -> PlannedResource:
        subnets = [f"subnet-{zone}" for zone in range(zones)]
        return _resource(
            "aws:ec2/vpcEndpoint:VpcEndpoint", "sts", {"vpcEndpointType": "Interface", "subnetIds": subnets}
        )

    no_traffic = dataclasses.replace(USAGE, endpoint_gb=0)
    two, three = _monthly(endpoint(2), usage=no_traffic), _monthly(endpoint(3), usage=no_traffic)
    assert three == round(3 * _hourly("endpoint.interface.hour") * HOURS, 2)
    assert three / two == pytest.approx(1.5, rel=1e-3)
    gateway = _resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"})
    assert _estimate(gateway).resources == ()


def test_node_groups_are_charged_at_their_desired_size_with_their_volumes() -> None:
    template = _resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "node",
        {"blockDeviceMappings": [{"ebs": {"volumeSize": 50, "volumeType": "gp3"}}]},
    )
    group = _resource(
        "eks:index:ManagedNodeGroup",
        "apps",
        {"instanceTypes": ["m7i.large", "m6i.large"], "scalingConfig": {"minSize": 1, "desiredSize": 3, "maxSize": 6}},
        dependencies=[template.urn],
    )
    (priced,) = _estimate(template, group).resources
    assert [charge.monthly for charge in priced.charges] == [
        round(3 * _hourly("ec2.instance.m7i.large") * HOURS, 2),
        round(3 * 50 * _hourly("ebs.gp3.storage"), 2),
    ]


def test_spot_nodes_cost_the_assumed_share_of_on_demand() -> None:
    inputs = {"instanceTypes": ["m7i.large"], "scalingConfig": {"desiredSize": 2}, "diskSize": 0}
    on_demand = _monthly(_resource("eks:index:ManagedNodeGroup", "apps", inputs))
    spot = _monthly(_resource("eks:index:ManagedNodeGroup", "apps", {**inputs, "capacityType": "SPOT"}))
    assert spot == pytest.approx(on_demand * USAGE.spot_percent / 100, abs=0.01)


def test_a_metric_math_alarm_is_charged_per_metric_it_reads() -> None:
    def query(name: str, period: int = 60) -> dict[str, Any]:
        return {"id": name, "metric": {"metricName": "X", "period": period}}

    alarm = _resource(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "errors",
        {"metricQueries": [query("m1"), query("m2"), {"id": "e1", "expression": "m1 / m2"}]},
    )
    assert _monthly(alarm) == round(2 * _hourly("cloudwatch.alarm.metric"), 2)
    fast = _resource("aws:cloudwatch/metricAlarm:MetricAlarm", "fast", {"metricQueries": [query("m1", 10)]})
    assert _monthly(fast) == _hourly("cloudwatch.alarm.metric.high_resolution")


def test_log_groups_share_the_daily_logs_and_store_them_for_their_retention() -> None:
    usage = dataclasses.replace(USAGE, log_gb_per_day=4)
    short = _resource("aws:cloudwatch/logGroup:LogGroup", "short", {"retentionInDays": 30})
    long = _resource("aws:cloudwatch/logGroup:LogGroup", "long", {"retentionInDays": 365})
    priced = {resource.name: resource for resource in _estimate(short, long, usage=usage).resources}
    ingestion = 2 * 365 / 12 * _hourly("logs.ingestion")
    assert priced["short"].monthly == round(round(ingestion, 2) + round(2 * 30 * _hourly("logs.storage"), 2), 2)
    assert priced["long"].monthly == round(round(ingestion, 2) + round(2 * 365 * _hourly("logs.storage"), 2), 2)


def test_a_resource_is_priced_in_its_own_region() -> None:
    provider = _resource("pulumi:providers:aws", "us-east-1", {"region": "us-east-1"})
    via_provider = _resource("aws:cloudwatch/logGroup:LogGroup", "cdn", {}, provider=provider.urn)
    by_input = _resource("aws:cloudwatch/logGroup:LogGroup", "alarm", {"region": "us-east-1"})
    here = _resource("aws:cloudwatch/logGroup:LogGroup", "app", {})
    priced = {r.name: r for r in _estimate(provider, via_provider, by_input, here).resources}
    assert priced["cdn"].charges[0].basis.endswith(f"x ${_hourly('logs.ingestion', 'us-east-1'):g}")
    assert priced["alarm"].charges[0].basis == priced["cdn"].charges[0].basis
    assert priced["app"].charges[0].basis.endswith(f"x ${_hourly('logs.ingestion'):g}")


def test_the_regional_web_acl_inspects_only_what_cloudfront_forwards() -> None:
    usage = dataclasses.replace(USAGE, requests_millions=10, origin_percent=30)
    edge = _resource("aws:wafv2/webAcl:WebAcl", "cdn", {"scope": "CLOUDFRONT", "rules": [{}, {}]})
    origin = _resource("aws:wafv2/webAcl:WebAcl", "origin", {"scope": "REGIONAL", "rules": [{}]})
    priced = {r.name: r for r in _estimate(edge, origin, usage=usage).resources}
    assert priced["cdn"].fixed == 5 + 2 and priced["cdn"].usage == 6.0
    assert priced["origin"].fixed == 5 + 1 and priced["origin"].usage == 1.8


# ---------------------------------------------------------------------------------------------- the stacks


def test_the_parts_add_up_to_the_totals(estimates: dict[str, cost.Estimate]) -> None:
    for estimate in estimates.values():
        assert estimate.total == round(estimate.fixed + estimate.usage, 2)
        assert estimate.total == round(sum(resource.monthly for resource in estimate.resources), 2)
        components = estimate.by_component().values()
        assert estimate.total == round(sum(r.monthly for resources in components for r in resources), 2)
        for resource in estimate.resources:
            assert resource.monthly == round(sum(charge.monthly for charge in resource.charges), 2)


def test_prod_costs_more_than_staging_for_the_documented_reasons(estimates: dict[str, cost.Estimate]) -> None:
    staging, prod = estimates["staging"], estimates["prod"]
    assert prod.total > staging.total

    def component(estimate: cost.Estimate, name: str) -> float:
        return round(sum(resource.monthly for resource in estimate.by_component()[name]), 2)

    def count(estimate: cost.Estimate, type_: str) -> int:
        return sum(1 for resource in estimate.resources if resource.type == type_)

    # Multi-AZ database on a larger class, a NAT gateway per zone, interface endpoints, bigger and on-demand nodes,
    # and a two-node cache: docs/cost.md lists these reasons.
    assert any("Multi-AZ" in resource.basis for resource in prod.by_component()["database"])
    assert not any("Multi-AZ" in resource.basis for resource in staging.by_component()["database"])
    assert count(prod, "aws:ec2/natGateway:NatGateway") == 3 > count(staging, "aws:ec2/natGateway:NatGateway") == 1
    assert (
        count(prod, "aws:ec2/vpcEndpoint:VpcEndpoint") == 6 and count(staging, "aws:ec2/vpcEndpoint:VpcEndpoint") == 0
    )
    for name in ("cluster", "database", "cache", "network"):
        assert component(prod, name) > component(staging, name), name


def test_three_resources_checked_by_hand_against_the_published_prices(estimates: dict[str, cost.Estimate]) -> None:
    """docs/cost.md, each against a price read on AWS's own pages: the EKS control plane ($0.10 per cluster-hour x
    730 h), CloudFront's data out (200 GB x $0.085, United States/Europe first 10 TB) and a KMS key ($1 a month)."""

    def charge(estimate: cost.Estimate, name: str) -> float:
        (resource,) = (r for r in estimate.resources if r.name == name)
        return resource.charges[0].monthly

    assert charge(estimates["prod"], "cluster-eks") == 73.00
    assert charge(estimates["prod"], "edge-cdn") == 17.00
    assert charge(estimates["prod"], "data-key") == 1.00


def test_the_json_has_the_documented_shape(estimates: dict[str, cost.Estimate]) -> None:
    document = estimates["staging"].to_json()
    assert {"stack", "currency", "priceDate", "monthly", "resources"} <= set(document)
    assert document["stack"] == "staging" and document["currency"] == "USD"
    assert document["priceDate"] == PRICES.date.isoformat()
    assert set(document["monthly"]) == {"fixed", "usage", "total"}
    for resource in document["resources"]:
        assert {"urn", "type", "monthly", "basis"} <= set(resource)
        assert isinstance(resource["monthly"], float) and resource["basis"]


def test_a_change_shows_its_delta_per_resource_and_in_total(staging: Plan) -> None:
    usage, region = cost.stack_usage("staging", PROJECT_DIR)
    database = staging.one("aws:rds/instance:Instance")
    multi_az = dataclasses.replace(database, inputs={**database.inputs, "multiAz": True})
    changed = dataclasses.replace(
        staging, resources=[multi_az if resource is database else resource for resource in staging.resources]
    )
    before, after = cost.estimate(staging, usage, region, PRICES), cost.estimate(changed, usage, region, PRICES)
    (change,) = cost.changes(before, after)
    assert change.urn == database.urn and change.delta == round(after.total - before.total, 2) > 0
    document = cost.delta_json(before, after, "main")
    assert document["delta"]["total"] == change.delta and document["resources"][0]["delta"] == change.delta
    assert "+$" in cost.render_change(before, after, "main")


def test_staging_states_its_own_traffic() -> None:
    staging, _ = cost.stack_usage("staging", PROJECT_DIR)
    prod, _ = cost.stack_usage("prod", PROJECT_DIR)
    assert prod == CostSettings()
    assert staging.requests_millions < prod.requests_millions


def test_a_log_metric_filter_pays_for_the_metric_it_publishes() -> None:
    metric_filter = _resource("aws:cloudwatch/logMetricFilter:LogMetricFilter", "orders", {"metricTransformation": {}})
    assert _monthly(metric_filter) == _hourly("cloudwatch.custom_metric") == 0.30


def test_the_totals_in_the_docs_are_the_estimates(estimates: dict[str, cost.Estimate]) -> None:
    """docs/cost.md's totals table is the one place the figures live: a change to the stacks that moves them fails
    here until the page says what `python -m stacks cost STACK` says."""
    page = (PROJECT_DIR / "docs" / "cost.md").read_text()
    for stack, estimate in estimates.items():
        row = f"| {stack} | ${estimate.fixed:,.2f} | ${estimate.usage:,.2f} | **${estimate.total:,.2f}** |"
        assert row in page, f"docs/cost.md's totals are stale for {stack}: expected the row {row}"
