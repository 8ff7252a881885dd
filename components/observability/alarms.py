"""CloudWatch alarms as data: which metric (or metric math), which threshold, what it means and what to do.

Every alarm is an ``Alarm``; ``metric_alarm`` turns one into an ``aws.cloudwatch.MetricAlarm`` that notifies the
alert topic of its region when it fires and when it recovers. The dashboard draws the same ``Metric`` objects,
so it shows exactly what the alarms watch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

#: Every alarm evaluates one-minute periods; settings choose how many consecutive ones must breach.
PERIOD_SECONDS = 60
ABOVE = "GreaterThanThreshold"
BELOW = "LessThanThreshold"
_SYMBOL = {ABOVE: ">", BELOW: "<"}


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric of a resource the stack creates, with the statistic to read it by."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    stat: str
    region: str
    """Where CloudWatch keeps it (CloudFront's and the CloudFront web ACL's metrics: us-east-1 only)."""


@dataclass(frozen=True)
class Alarm:
    key: str
    """Short name, the end of the alarm's name (``<prefix>db-cpu``)."""
    summary: str
    """What firing means, in one sentence."""
    runbook: str
    """The first things to look at."""
    metrics: Sequence[Metric]
    """``m1``, ``m2``, ... in the expression."""
    comparison: str
    threshold: float
    threshold_text: str
    """The threshold as people say it: ``80 %``, ``10 GiB``."""
    expression: str | None = None
    """Metric math over ``m1``...; None alarms on ``m1`` itself."""
    treat_missing_data: str = "notBreaching"
    """No data usually means no traffic or no errors; alarms on a count that must exist say ``missing``."""

    @property
    def region(self) -> str:
        (region,) = {metric.region for metric in self.metrics}
        return region

    def description(self, evaluation_periods: int) -> str:
        minutes = "minute" if evaluation_periods == 1 else f"{evaluation_periods} consecutive minutes"
        return (
            f"{self.summary} Fires when {_SYMBOL[self.comparison]} {self.threshold_text} for {minutes}. "
            f"Runbook: {self.runbook}"
        )


def across(count: int, function: str) -> str | None:
    """``MAX([m1, m2])`` over ``count`` metrics (e.g. one per cache node); None for a single one."""
    if count == 1:
        return None
    return f"{function}([{', '.join(f'm{index}' for index in range(1, count + 1))}])"


def metric_alarm(
    name: str,
    alarm: Alarm,
    *,
    alarm_name: str,
    topic_arn: pulumi.Input[str],
    evaluation_periods: int,
    stack_region: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.MetricAlarm:
    """The alarm, notifying ``topic_arn`` (in the alarm's region) on ALARM and on OK."""
    queries: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] = [
        {
            "id": f"m{index}",
            "metric": {
                "namespace": metric.namespace,
                "metric_name": metric.name,
                "dimensions": dict(metric.dimensions),
                "stat": metric.stat,
                "period": PERIOD_SECONDS,
            },
            "return_data": alarm.expression is None,
        }
        for index, metric in enumerate(alarm.metrics, start=1)
    ]
    if alarm.expression is not None:
        queries.append({"id": "e1", "expression": alarm.expression, "label": alarm.key, "return_data": True})
    return aws.cloudwatch.MetricAlarm(
        name,
        name=alarm_name,
        alarm_description=alarm.description(evaluation_periods),
        metric_queries=queries,
        comparison_operator=alarm.comparison,
        threshold=alarm.threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
        treat_missing_data=alarm.treat_missing_data,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=tags,
        region=None if alarm.region == stack_region else alarm.region,
        opts=pulumi.ResourceOptions(parent=parent),
    )
