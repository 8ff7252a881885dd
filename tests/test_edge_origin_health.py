"""The origin health check earns its openings: where it exists (prod) an alarm pages when Route 53's checkers get no
ready answer from the origin, with or without traffic; where it does not (staging), nothing is opened for it."""

from __future__ import annotations

from stacks.offline.plan import Plan
from tests.edge_plan import origin_acl, rules
from tests.observability_plan import alarm_region, alarms, metrics, topics_by_region

HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"


def test_prod_pages_when_the_origin_is_not_ready(prod: Plan) -> None:
    """CloudFront's 5xx alarm needs shoppers to notice; the health check probes /readyz every 30 s regardless."""
    check = prod.one(HEALTH_CHECK, "edge-origin-health")
    alarm = alarms(prod)["origin-unhealthy"]
    (metric,) = metrics(alarm)
    assert (metric["namespace"], metric["metricName"], metric["stat"]) == (
        "AWS/Route53",
        "HealthCheckStatus",
        "Minimum",
    )
    assert metric["dimensions"] == {"HealthCheckId": check.id}
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("LessThanThreshold", 1)
    # Route 53 publishes health check metrics in us-east-1 only; the alarm notifies the topic there.
    assert alarm_region(prod, alarm) == "us-east-1"
    assert alarm.inputs["alarmActions"] == [topics_by_region(prod)["us-east-1"].outputs["arn"]]


def test_the_readiness_probe_passes_the_origin_web_acl_only_with_a_health_check(staging: Plan, prod: Plan) -> None:
    assert "readiness-probe" in rules(origin_acl(prod))
    assert prod.of_type(HEALTH_CHECK)
    assert not staging.of_type(HEALTH_CHECK)
    assert "readiness-probe" not in rules(origin_acl(staging))
    assert "origin-unhealthy" not in alarms(staging)
