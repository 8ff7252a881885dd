"""The dashboard, parsed from the offline plan of both stacks: one screen, only metrics of this stack's resources."""

from __future__ import annotations

import json
from typing import Any

from stacks.offline.plan import Plan
from tests.observability_plan import ALARM, DASHBOARD, settings


def body(plan: Plan) -> dict[str, Any]:
    return json.loads(plan.one(DASHBOARD).inputs["dashboardBody"])


def metric_lines(plan: Plan) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric, dimensions, options) of every metric on the dashboard."""
    lines = []
    for widget in body(plan)["widgets"]:
        for line in widget["properties"].get("metrics", []):
            *names, options = line
            namespace, metric, *pairs = names
            lines.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options))
    return lines


def created_dimension_values(plan: Plan) -> dict[str, set[str]]:
    """Dimension -> the values that name resources this stack creates."""
    groups = plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    return {
        "DBInstanceIdentifier": {db.outputs["identifier"] for db in plan.of_type("aws:rds/instance:Instance")},
        "CacheClusterId": {member for group in groups for member in group.outputs["memberClusters"]},
        "DistributionId": {d.id for d in plan.of_type("aws:cloudfront/distribution:Distribution")},
        "WebACL": {acl.inputs["visibilityConfig"]["metricName"] for acl in plan.of_type("aws:wafv2/webAcl:WebAcl")},
        "ClusterName": {cluster.inputs["name"] for cluster in plan.of_type("eks:index:Cluster")},
        # Dimensions that qualify rather than name a resource.
        "Rule": {"ALL"},
        "Region": {"Global", settings(plan.stack).stack.region},
    }


def test_the_dashboard_shows_only_metrics_of_resources_the_stack_creates(plan: Plan) -> None:
    created = created_dimension_values(plan)
    lines = metric_lines(plan)
    assert len(lines) >= 15
    for namespace, metric, dimensions, _ in lines:
        assert dimensions, f"{namespace}/{metric} would aggregate resources of other stacks"
        for dimension, value in dimensions.items():
            assert value in created[dimension], f"{namespace}/{metric}: {dimension}={value} is not this stack's"


def test_every_metric_is_read_in_the_region_that_holds_it(plan: Plan) -> None:
    for namespace, metric, _, options in metric_lines(plan):
        global_metric = namespace == "AWS/CloudFront" or (namespace == "AWS/WAFV2" and "Region" not in _)
        expected = "us-east-1" if global_metric else settings(plan.stack).stack.region
        assert options["region"] == expected, f"{namespace}/{metric}"


def test_the_dashboard_covers_the_data_stores_the_edge_and_the_cluster(plan: Plan) -> None:
    namespaces = {namespace for namespace, *_ in metric_lines(plan)}
    assert {"AWS/RDS", "AWS/ElastiCache", "AWS/CloudFront", "AWS/WAFV2", "ContainerInsights"} <= namespaces
    titles = [w["properties"]["markdown"] for w in body(plan)["widgets"] if w["type"] == "text"]
    assert titles == ["## Cluster", "## Database and cache", "## Edge"]


def test_the_dashboard_fits_one_screen_width_and_lists_every_alarm(plan: Plan) -> None:
    widgets = body(plan)["widgets"]
    assert all(w["x"] + w["width"] <= 24 for w in widgets)
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(a.outputs["arn"] for a in plan.of_type(ALARM))
    assert plan.outputs["observability"]["dashboard"] == plan.one(DASHBOARD).inputs["dashboardName"]
