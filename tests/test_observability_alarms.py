"""Alarms on the offline plan of both stacks: each exists with its metric (or metric math), threshold, evaluation
and actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stacks.offline.plan import Plan
from stacks.settings import PlatformSettings
from tests.observability_plan import (
    alarm_region,
    alarms,
    expression,
    metrics,
    settings,
    shop_load_balancer,
    shop_target_group,
    topics_by_region,
)

GIB, MIB = 1024**3, 1024**2
ABOVE, BELOW = "GreaterThanThreshold", "LessThanThreshold"
#: key -> (namespace, metric, statistic, comparison, threshold from the stack's settings)
EXPECTED: dict[str, tuple[str, str, str, str, Callable[[PlatformSettings], float]]] = {
    "db-cpu": ("AWS/RDS", "CPUUtilization", "Average", ABOVE, lambda s: s.observability.db_cpu_percent),
    "db-free-storage": (
        "AWS/RDS",
        "FreeStorageSpace",
        "Minimum",
        BELOW,
        lambda s: s.observability.db_free_storage_gib * GIB,
    ),
    "db-freeable-memory": (
        "AWS/RDS",
        "FreeableMemory",
        "Minimum",
        BELOW,
        lambda s: s.observability.db_freeable_memory_mib * MIB,
    ),
    "db-connections": ("AWS/RDS", "DatabaseConnections", "Maximum", ABOVE, lambda s: s.observability.db_connections),
    "cache-cpu": ("AWS/ElastiCache", "CPUUtilization", "Average", ABOVE, lambda s: s.observability.cache_cpu_percent),
    "cache-engine-cpu": (
        "AWS/ElastiCache",
        "EngineCPUUtilization",
        "Average",
        ABOVE,
        lambda s: s.observability.cache_engine_cpu_percent,
    ),
    "cache-memory": (
        "AWS/ElastiCache",
        "DatabaseMemoryUsagePercentage",
        "Maximum",
        ABOVE,
        lambda s: s.observability.cache_memory_percent,
    ),
    "cache-evictions": ("AWS/ElastiCache", "Evictions", "Sum", ABOVE, lambda s: s.observability.cache_evictions),
    "cdn-5xx": ("AWS/CloudFront", "5xxErrorRate", "Average", ABOVE, lambda s: s.observability.cdn_errors_percent),
    "waf-blocked-spike": (
        "AWS/WAFV2",
        "BlockedRequests",
        "Sum",
        ABOVE,
        lambda s: s.observability.waf_blocked_requests,
    ),
    "eks-nodes-below-minimum": (
        "ContainerInsights",
        "cluster_node_count",
        "Minimum",
        BELOW,
        lambda s: s.cluster.system_min_size + s.cluster.app_min_size,
    ),
    "shop-latency-p99": (
        "AWS/ApplicationELB",
        "TargetResponseTime",
        "p99",
        ABOVE,
        lambda s: s.observability.target_p99_ms / 1000,  # the metric is in seconds
    ),
    "shop-unhealthy-targets": (
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        "Maximum",
        ABOVE,
        lambda s: s.observability.unhealthy_hosts,
    ),
    "shop-pod-restarts": (
        "ContainerInsights",
        "pod_number_of_container_restarts",
        "Sum",
        ABOVE,
        lambda s: s.observability.pod_restarts,
    ),
}
REPLICATION_LAG = ("AWS/ElastiCache", "ReplicationLag", "Maximum", ABOVE)
#: Rate alarms: key -> (namespace, numerator metric, denominator metric, expression, threshold from settings). Both
#: metrics are Sums; load balancer counts carry its LoadBalancer dimension, checkout counts none (their namespace
#: is the stack's own).
#: Any failed request to the carts table pages, in every stack (tests/test_carts.py).
CARTS_ALARMS = {"carts-throttled", "carts-errors"}
#: Any error of the secrets' rotation function pages, in every stack (tests/test_rotation.py).
ROTATION_ALARMS = {"rotation-errors", "rotation-redis-auth-errors", "rotation-origin-verify-errors"}
RATES: dict[str, tuple[str | None, str, str, str, Callable[[PlatformSettings], float]]] = {
    "alb-5xx": (
        "AWS/ApplicationELB",
        "HTTPCode_ELB_5XX_Count",
        "RequestCount",
        "100 * FILL(m1, 0) / m2",
        lambda s: s.observability.alb_errors_percent,
    ),
    "shop-5xx": (
        "AWS/ApplicationELB",
        "HTTPCode_Target_5XX_Count",
        "RequestCount",
        "100 * FILL(m1, 0) / m2",
        lambda s: s.observability.target_errors_percent,
    ),
    "checkout-failures": (
        None,  # the stack's checkoutMetricNamespace
        "CheckoutsFailed",
        "OrdersPlaced",
        "IF(m1 + m2 > 0, 100 * m1 / (m1 + m2), 0)",
        lambda s: s.observability.checkout_failure_percent,
    ),
}


def resource(plan: Plan, type_: str, name: str) -> dict[str, Any]:
    return plan.one(type_, name).outputs


def expected_dimensions(plan: Plan, key: str) -> list[dict[str, str]]:
    """The dimensions each alarm's metrics must carry: those of the resources this stack creates."""
    if key.startswith("db-"):
        return [
            {"DBInstanceIdentifier": resource(plan, "aws:rds/instance:Instance", "database-postgres")["identifier"]}
        ]
    if key.startswith("cache-"):
        group = resource(plan, "aws:elasticache/replicationGroup:ReplicationGroup", "cache-replication-group")
        return [{"CacheClusterId": member} for member in group["memberClusters"]]
    if key == "cdn-5xx":
        distribution = plan.one("aws:cloudfront/distribution:Distribution", "edge-cdn")
        return [{"DistributionId": distribution.id, "Region": "Global"}]
    if key == "waf-blocked-spike":
        acl = plan.one("aws:wafv2/webAcl:WebAcl", "edge-cdn-acl")
        assert acl.inputs["visibilityConfig"]["metricName"] == acl.inputs["name"]
        return [{"WebACL": acl.inputs["name"], "Rule": "ALL"}]
    if key == "shop-latency-p99":
        return [{"LoadBalancer": shop_load_balancer(plan)}]
    if key == "shop-unhealthy-targets":
        return [{"LoadBalancer": shop_load_balancer(plan), "TargetGroup": shop_target_group(plan)}]
    cluster = {"ClusterName": plan.one("eks:index:Cluster").inputs["name"]}
    if key == "shop-pod-restarts":
        metadata = plan.one("kubernetes:argoproj.io/v1alpha1:Rollout", "shop-rollout").inputs["metadata"]
        return [{**cluster, "Namespace": metadata["namespace"], "PodName": metadata["name"]}]
    return [cluster]


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_each_alarm_watches_its_metric_against_the_stacks_threshold(plan: Plan, key: str) -> None:
    namespace, metric_name, stat, comparison, threshold = EXPECTED[key]
    alarm = alarms(plan)[key]
    read = metrics(alarm)
    assert {(m["namespace"], m["metricName"], m["stat"], m["period"]) for m in read} == {
        (namespace, metric_name, stat, 60)
    }
    assert [m["dimensions"] for m in read] == expected_dimensions(plan, key)
    assert alarm.inputs["comparisonOperator"] == comparison
    assert alarm.inputs["threshold"] == threshold(settings(plan.stack))


@pytest.mark.parametrize("key", sorted(RATES))
def test_each_rate_alarm_divides_failures_by_all_attempts_against_the_stacks_threshold(plan: Plan, key: str) -> None:
    namespace, failures, attempts, math, threshold = RATES[key]
    if namespace is None:
        namespace, dimensions = plan.outputs["observability"]["checkoutMetricNamespace"], {}
    else:
        dimensions = {"LoadBalancer": shop_load_balancer(plan)}
    alarm = alarms(plan)[key]
    assert metrics(alarm) == [
        {"namespace": namespace, "metricName": name, "dimensions": dimensions, "stat": "Sum", "period": 60}
        for name in (failures, attempts)
    ]
    assert expression(alarm) == math
    assert alarm.inputs["comparisonOperator"] == ABOVE
    assert alarm.inputs["threshold"] == threshold(settings(plan.stack))


def test_every_alarm_has_an_expectation(plan: Plan) -> None:
    replicated = settings(plan.stack).cache.node_count > 1
    health_checked = settings(plan.stack).edge.origin_health_check  # tests/test_edge_origin_health.py
    expected = set(EXPECTED) | set(RATES) | ({"cache-replication-lag"} if replicated else set())
    expected |= {"origin-unhealthy"} if health_checked else set()
    expected |= CARTS_ALARMS | ROTATION_ALARMS
    assert set(alarms(plan)) == expected


def test_cache_alarms_take_the_worst_node_and_replica_lag_only_with_replicas(staging: Plan, prod: Plan) -> None:
    assert expression(alarms(staging)["cache-engine-cpu"]) is None, "one node: its own metric"
    assert "cache-replication-lag" not in alarms(staging)
    assert expression(alarms(prod)["cache-engine-cpu"]) == "MAX([m1, m2])"
    assert expression(alarms(prod)["cache-evictions"]) == "SUM([m1, m2])"
    lag = alarms(prod)["cache-replication-lag"]
    assert {(m["namespace"], m["metricName"], m["stat"]) for m in metrics(lag)} == {REPLICATION_LAG[:3]}
    assert expression(lag) == "MAX([m1, m2])"
    assert (lag.inputs["comparisonOperator"], lag.inputs["threshold"]) == (
        ABOVE,
        settings("prod").observability.cache_replication_lag_seconds,
    )


def test_every_alarm_notifies_its_regions_encrypted_topic_on_alarm_and_recovery(plan: Plan) -> None:
    topics = topics_by_region(plan)
    for key, alarm in alarms(plan).items():
        topic = topics[alarm_region(plan, alarm)].outputs["arn"]
        assert alarm.inputs["alarmActions"] == [topic], key
        assert alarm.inputs["okActions"] == [topic], key
        assert alarm.inputs.get("actionsEnabled", True) is True


def test_cloudfront_alarms_live_where_cloudfront_publishes_its_metrics(plan: Plan) -> None:
    regions = {key: alarm_region(plan, alarm) for key, alarm in alarms(plan).items()}
    assert regions.pop("cdn-5xx") == regions.pop("waf-blocked-spike") == "us-east-1"
    regions.pop("origin-unhealthy", None)  # Route 53's metrics are in us-east-1 too: tests/test_edge_origin_health.py
    assert set(regions.values()) == {settings(plan.stack).stack.region}


def test_alarms_evaluate_the_stacks_periods_and_prod_pages_sooner(plan: Plan) -> None:
    periods = settings(plan.stack).observability.alarm_evaluation_periods
    for alarm in alarms(plan).values():
        assert alarm.inputs["evaluationPeriods"] == alarm.inputs["datapointsToAlarm"] == periods
    assert (
        settings("prod").observability.alarm_evaluation_periods
        < settings("staging").observability.alarm_evaluation_periods
    )


def test_prod_thresholds_are_stricter_than_stagings(staging: Plan, prod: Plan) -> None:
    # Connections and node counts follow the instance and node group sizes, not how strict the stack is.
    sized = {"db-connections", "eks-nodes-below-minimum"}
    staging_alarms, prod_alarms = alarms(staging), alarms(prod)
    for key in set(staging_alarms) - sized - CARTS_ALARMS - ROTATION_ALARMS:
        loose, strict = staging_alarms[key].inputs, prod_alarms[key].inputs
        if strict["comparisonOperator"] == ABOVE:
            assert strict["threshold"] < loose["threshold"], key
        else:
            assert strict["threshold"] > loose["threshold"], key


def test_descriptions_say_what_fired_the_threshold_and_where_to_look(plan: Plan) -> None:
    for key, alarm in alarms(plan).items():
        description = alarm.inputs["alarmDescription"]
        assert "Runbook: " in description, key
        assert "Fires when " in description, key
        assert len(description) <= 1024, key
    periods = settings(plan.stack).observability.alarm_evaluation_periods
    assert (
        alarms(plan)["db-cpu"]
        .inputs["alarmDescription"]
        .count(f"> {settings(plan.stack).observability.db_cpu_percent} % for {periods} consecutive minutes.")
        == 1
    )


def test_alarm_names_match_the_deploy_gates_prefix_and_regions(plan: Plan) -> None:
    prefix = plan.outputs["alarmNamePrefix"]
    assert prefix == f"shop-{plan.stack}-alarm-"
    for alarm in alarms(plan).values():
        assert alarm.inputs["name"].startswith(prefix)
    assert {alarm_region(plan, alarm) for alarm in alarms(plan).values()} == set(plan.outputs["alarmRegions"])


def test_nodes_alarm_waits_for_data_rather_than_paging_when_container_insights_is_silent(plan: Plan) -> None:
    """So does the origin's: a status that is always published goes missing only when its source is gone."""
    waiting = {"eks-nodes-below-minimum", "origin-unhealthy"}
    assert {a.inputs["treatMissingData"] for k, a in alarms(plan).items() if k in waiting} == {"missing"}
    others = {a.inputs["treatMissingData"] for k, a in alarms(plan).items() if k not in waiting}
    assert others == {"notBreaching"}
