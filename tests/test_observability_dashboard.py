"""The dashboard, parsed from the offline plan of both stacks: one screen, only metrics of this stack's resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.offline.plan import Plan
from tests.observability_plan import (
    ALARM,
    DASHBOARD,
    alarms,
    expression,
    metrics,
    settings,
    shop_load_balancer,
    shop_target_group,
)

#: Alarms on metric math whose own series the dashboard draws.
RATE_ALARMS = ("alb-5xx", "shop-5xx", "checkout-failures")


def body(plan: Plan) -> dict[str, Any]:
    return json.loads(plan.one(DASHBOARD).inputs["dashboardBody"])


def _metric(line: list[Any]) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    *names, options = line
    namespace, metric, *pairs = names
    return namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options


def metric_lines(plan: Plan) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric, dimensions, options) of every metric on the dashboard (metric math left out)."""
    return [
        _metric(line)
        for widget in body(plan)["widgets"]
        for line in widget["properties"].get("metrics", [])
        if not isinstance(line[0], dict)
    ]


def created_dimension_values(plan: Plan) -> dict[str, set[str]]:
    """Dimension -> the values that name resources this stack creates."""
    groups = plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    shop = plan.one("kubernetes:argoproj.io/v1alpha1:Rollout", "shop-rollout").inputs["metadata"]
    return {
        "DBInstanceIdentifier": {db.outputs["identifier"] for db in plan.of_type("aws:rds/instance:Instance")},
        "CacheClusterId": {member for group in groups for member in group.outputs["memberClusters"]},
        "DistributionId": {d.id for d in plan.of_type("aws:cloudfront/distribution:Distribution")},
        "WebACL": {acl.inputs["visibilityConfig"]["metricName"] for acl in plan.of_type("aws:wafv2/webAcl:WebAcl")},
        "ClusterName": {cluster.inputs["name"] for cluster in plan.of_type("eks:index:Cluster")},
        # The load balancer and target group the controller builds for the stack's Ingress.
        "LoadBalancer": {shop_load_balancer(plan)},
        "TargetGroup": {shop_target_group(plan)},
        "Namespace": {shop["namespace"]},
        "PodName": {shop["name"]},
        # Dimensions that qualify rather than name a resource.
        "Rule": {"ALL"},
        "Region": {"Global", settings(plan.stack).stack.region},
        "cache": {"catalog_local", "catalog_redis"},
        "result": {"hit", "miss"},
    }


def test_the_dashboard_shows_only_metrics_of_resources_the_stack_creates(plan: Plan) -> None:
    created = created_dimension_values(plan)
    own_namespace = plan.outputs["observability"]["checkoutMetricNamespace"]
    lines = metric_lines(plan)
    assert len(lines) >= 30
    for namespace, metric, dimensions, _ in lines:
        assert dimensions or namespace == own_namespace, f"{namespace}/{metric} would aggregate other stacks' data"
        for dimension, value in dimensions.items():
            assert value in created[dimension], f"{namespace}/{metric}: {dimension}={value} is not this stack's"


def test_every_metric_is_read_in_the_region_that_holds_it(plan: Plan) -> None:
    for namespace, metric, _, options in metric_lines(plan):
        global_metric = namespace == "AWS/CloudFront" or (namespace == "AWS/WAFV2" and "Region" not in _)
        expected = "us-east-1" if global_metric else settings(plan.stack).stack.region
        assert options["region"] == expected, f"{namespace}/{metric}"


def test_the_dashboard_covers_the_shops_golden_signals_the_data_stores_the_edge_and_the_cluster(plan: Plan) -> None:
    namespaces = {namespace for namespace, *_ in metric_lines(plan)}
    assert {"AWS/RDS", "AWS/ElastiCache", "AWS/CloudFront", "AWS/WAFV2", "ContainerInsights"} <= namespaces
    assert {"AWS/ApplicationELB", "ContainerInsights/Prometheus"} <= namespaces
    assert plan.outputs["observability"]["checkoutMetricNamespace"] in namespaces
    titles = [w["properties"]["markdown"] for w in body(plan)["widgets"] if w["type"] == "text"]
    assert titles == [
        "## Shop: traffic and errors",
        "## Shop: latency and saturation",
        "## Cluster",
        "## Database and cache",
        "## Edge",
    ]
    shop_metrics = {(namespace, metric) for namespace, metric, *_ in metric_lines(plan)}
    golden = {"RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime", "UnHealthyHostCount"}
    assert {("AWS/ApplicationELB", metric) for metric in golden} <= shop_metrics
    assert ("ContainerInsights", "pod_cpu_utilization_over_pod_limit") in shop_metrics
    assert ("ContainerInsights/Prometheus", "shop_cache_requests_total") in shop_metrics


@pytest.mark.parametrize("key", RATE_ALARMS)
def test_rate_graphs_draw_exactly_what_their_alarm_compares(plan: Plan, key: str) -> None:
    alarm = alarms(plan)[key]
    watched = [(m["namespace"], m["metricName"], m["dimensions"], m["stat"]) for m in metrics(alarm)]
    graphs = []
    for widget in body(plan)["widgets"]:
        lines = widget["properties"].get("metrics", [])
        drawn = [line[0] for line in lines if isinstance(line[0], dict)]
        if drawn and drawn[0]["expression"] == expression(alarm):
            inputs = [_metric(line) for line in lines if not isinstance(line[0], dict)]
            graphs.append([(ns, name, dims, options["stat"]) for ns, name, dims, options in inputs])
            assert all(options["visible"] is False for *_, options in inputs), "inputs are hidden"
    assert watched in graphs


def test_the_dashboard_fits_one_screen_width_and_lists_every_alarm(plan: Plan) -> None:
    widgets = body(plan)["widgets"]
    assert all(w["x"] + w["width"] <= 24 for w in widgets)
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(a.outputs["arn"] for a in plan.of_type(ALARM))
    assert plan.outputs["observability"]["dashboard"] == plan.one(DASHBOARD).inputs["dashboardName"]
