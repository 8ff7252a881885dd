"""Fakes for observability and audit: SNS topics, CloudWatch alarms and dashboards, CloudTrail, and the look-ups
of the load balancer and target group the AWS Load Balancer Controller creates, in the real providers' shapes."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from stacks.offline.fakes import FakeCloud, FakeResource, invoke, outputs


@outputs("aws:sns/topic:Topic")
def _topic(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=256)
    arn = resource.arn("sns", name)  # topic ARNs end in the bare name: arn:aws:sns:<region>:<account>:<name>
    return {"id": arn, "arn": arn, "name": name, "owner": resource.cloud.account_id}


@outputs("aws:sns/topicSubscription:TopicSubscription")
def _subscription(resource: FakeResource) -> dict:
    arn = f"{resource.inputs['topic']}:{resource.uuid()}"
    # E-mail subscriptions stay pending until the recipient confirms.
    return {"id": arn, "arn": arn, "pendingConfirmation": True, "ownerId": resource.cloud.account_id}


@outputs("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=255)
    return {"id": name, "arn": resource.arn("cloudwatch", f"alarm:{name}")}


@outputs("aws:cloudwatch/dashboard:Dashboard")
def _dashboard(resource: FakeResource) -> dict:
    name = resource.inputs["dashboardName"]
    return {"id": name, "dashboardArn": f"arn:aws:cloudwatch::{resource.cloud.account_id}:dashboard/{name}"}


@outputs("aws:cloudtrail/trail:Trail")
def _trail(resource: FakeResource) -> dict:
    name = resource.physical_name()
    arn = resource.arn("cloudtrail", f"trail/{name}")
    return {"id": arn, "arn": arn, "homeRegion": resource.region}


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def load_balancer_arn_suffix(name: str) -> str:
    """``app/<name>/<16 hex digits>``: CloudWatch's ``LoadBalancer`` dimension of the ALB named ``name``."""
    return f"app/{name}/{_hex(name, 16)}"


def target_group_arn_suffix(tags: dict[str, str]) -> str:
    """``targetgroup/k8s-<namespace>-<service>-<10 hex>/<16 hex>``: how the AWS Load Balancer Controller names the
    target group of an Ingress backend (namespace and service cut to 8 characters), for the tags it gave it."""
    stack = tags["ingress.k8s.aws/stack"]  # <namespace>/<ingress>
    service = tags["ingress.k8s.aws/resource"].removeprefix(f"{stack}-").rsplit(":", 1)[0]
    short = [re.sub("[^0-9a-zA-Z]", "", part)[:8] for part in (stack.partition("/")[0], service)]
    name = f"k8s-{short[0]}-{short[1]}-{_hex(repr(sorted(tags.items())), 10)}"
    return f"targetgroup/{name}/{_hex(name, 16)}"


def _elb(cloud: FakeCloud, region: str, resource: str, suffix: str) -> dict[str, Any]:
    """The identity of a load balancer or target group: its ARN (also its id) and CloudWatch's ARN suffix."""
    arn = f"arn:aws:elasticloadbalancing:{region}:{cloud.account_id}:{resource}"
    return {"id": arn, "arn": arn, "arnSuffix": suffix, "region": region}


@invoke("aws:lb/getLoadBalancer:getLoadBalancer")
def _load_balancer(cloud: FakeCloud, args: dict[str, Any]) -> dict[str, Any]:
    """The ALB the AWS Load Balancer Controller created for the shop's Ingress, looked up by name."""
    name, region = args["name"], args.get("region") or cloud.region
    suffix = load_balancer_arn_suffix(name)
    return {
        **_elb(cloud, region, f"loadbalancer/{suffix}", suffix),
        "name": name,
        "dnsName": f"{name}-{int(_hex(name, 8), 16) % 10**10}.{region}.elb.amazonaws.com",
        "loadBalancerType": "application",
        "internal": False,
        "ipAddressType": "ipv4",
        "tags": {},
    }


@invoke("aws:lb/getTargetGroup:getTargetGroup")
def _target_group(cloud: FakeCloud, args: dict[str, Any]) -> dict[str, Any]:
    """The target group of the shop's Ingress backend, looked up by the controller's tags."""
    tags, region = args["tags"], args.get("region") or cloud.region
    suffix = target_group_arn_suffix(tags)
    return {
        **_elb(cloud, region, suffix, suffix),
        "name": suffix.split("/")[1],
        "port": 1,  # the controller's placeholder for ip targets behind a named port
        "protocol": "HTTP",
        "protocolVersion": "HTTP1",
        "targetType": "ip",
        "tags": tags,
    }
