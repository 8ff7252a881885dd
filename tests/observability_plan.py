"""Look-ups the observability tests share: the stack's settings, alarms by key, metric queries, policies."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from stacks.offline.engine import load_config
from stacks.offline.fakes.aws_observability import load_balancer_arn_suffix, target_group_arn_suffix
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import PlatformSettings, parse

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TRAIL = "aws:cloudtrail/trail:Trail"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
COMPONENT = "observability"


@cache
def settings(stack: str) -> PlatformSettings:
    project, config, _ = load_config(stack)
    return parse(config, project=project, stack=stack)


def alarms(plan: Plan) -> dict[str, PlannedResource]:
    """The stack's alarms by key: the alarm name without the stack's alarm name prefix."""
    prefix = plan.outputs["alarmNamePrefix"]
    return {alarm.inputs["name"].removeprefix(prefix): alarm for alarm in plan.of_type(ALARM)}


def metrics(alarm: PlannedResource) -> list[dict[str, Any]]:
    """The metrics (``m1``, ``m2``, ...) an alarm reads, in order."""
    return [query["metric"] for query in alarm.inputs["metricQueries"] if "metric" in query]


def expression(alarm: PlannedResource) -> str | None:
    """The metric math the alarm compares, or None when it compares its one metric."""
    returned = [query for query in alarm.inputs["metricQueries"] if query.get("returnData")]
    assert len(returned) == 1, "an alarm compares exactly one series"
    return returned[0].get("expression")


def alarm_region(plan: Plan, alarm: PlannedResource) -> str:
    return alarm.inputs.get("region") or settings(plan.stack).stack.region


def topics_by_region(plan: Plan) -> dict[str, PlannedResource]:
    """The alarm topics (not the audit trail's), by region."""
    return {
        topic.inputs.get("region") or settings(plan.stack).stack.region: topic
        for topic in plan.of_type(TOPIC)
        if "-alarms" in topic.inputs["name"]
    }


def key_with_arn(plan: Plan, arn: str) -> PlannedResource:
    (key,) = [key for key in plan.of_type(KEY) if key.outputs["arn"] == arn]
    return key


def statement(document: str | dict[str, Any], sid: str) -> dict[str, Any]:
    policy = json.loads(document) if isinstance(document, str) else document
    (found,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
    return found


def ours(plan: Plan, type_: str) -> list[PlannedResource]:
    """Resources of ``type_`` that the observability component created."""
    return [r for r in plan.of_type(type_) if r.inputs.get("tags", {}).get("component") == COMPONENT]


def shop_ingress(plan: Plan) -> PlannedResource:
    return plan.one(INGRESS, "shop-ingress")


def shop_load_balancer(plan: Plan) -> str:
    """The ``LoadBalancer`` dimension of the ALB the controller builds for the shop's Ingress (by its name)."""
    annotations = shop_ingress(plan).inputs["metadata"]["annotations"]
    return load_balancer_arn_suffix(annotations["alb.ingress.kubernetes.io/load-balancer-name"])


def shop_target_group(plan: Plan) -> str:
    """The ``TargetGroup`` dimension of the target group the controller tags for this cluster's shop Ingress and its
    one backend, as the controller's documented tags name it."""
    ingress = shop_ingress(plan).inputs
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    service = path["backend"]["service"]
    stack = f"{ingress['metadata']['namespace']}/{ingress['metadata']['name']}"
    return target_group_arn_suffix(
        {
            "elbv2.k8s.aws/cluster": plan.one("eks:index:Cluster").inputs["name"],
            "ingress.k8s.aws/stack": stack,
            # Through a canary's forward action, the stable Service's target group on the Rollout's port.
            "ingress.k8s.aws/resource": f"{stack}-{service['name']}:"
            + ("80" if service["port"]["name"] == "use-annotation" else service["port"]["name"]),
        }
    )
