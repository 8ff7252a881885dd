"""Fakes for observability and audit: SNS topics, CloudWatch alarms and dashboards, CloudTrail, and the lookup of
the load balancer the AWS Load Balancer Controller creates, in the real providers' output shapes."""

from __future__ import annotations

from stacks.offline.fakes import FakeResource, outputs


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
