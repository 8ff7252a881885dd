"""Container Insights on the offline plan of both stacks: the add-on, its Pod Identity role and its log groups."""

from __future__ import annotations

import json

from stacks.offline.plan import Plan, PlannedResource
from tests.cluster_plan import (
    ADDON,
    ASSOCIATION,
    ROLE,
    allowed_actions,
    as_list,
    inline_statements,
    key_arn,
    managed_policies,
    node_groups,
    role_with_arn,
    trust_policy,
)
from tests.observability_plan import LOG_GROUP, settings

KINDS = ("application", "dataplane", "host", "performance", "prometheus")


def addon(plan: Plan) -> PlannedResource:
    return plan.one(ADDON, "observability-amazon-cloudwatch-observability")


def cluster_name(plan: Plan) -> str:
    return plan.one("eks:index:Cluster").inputs["name"]


def container_log_groups(plan: Plan) -> dict[str, PlannedResource]:
    return {kind: plan.one(LOG_GROUP, f"observability-{kind}-logs") for kind in KINDS}


def test_container_log_groups_have_the_names_the_add_on_writes_to(plan: Plan) -> None:
    for kind, group in container_log_groups(plan).items():
        assert group.inputs["name"] == f"/aws/containerinsights/{cluster_name(plan)}/{kind}"
    assert plan.outputs["observability"]["containerLogGroups"]["application"] == (
        f"/aws/containerinsights/{cluster_name(plan)}/application"
    )


def test_container_log_groups_keep_the_stacks_retention_encrypted_with_the_logs_key(plan: Plan) -> None:
    retention = settings(plan.stack).observability.container_log_retention_days
    for group in container_log_groups(plan).values():
        assert group.inputs["retentionInDays"] == retention
        assert group.inputs["kmsKeyId"] == key_arn(plan, "logs")
    assert (
        settings("prod").observability.container_log_retention_days
        >= 90
        > (settings("staging").observability.container_log_retention_days)
    )


def test_the_add_on_is_pinned_and_ours_on_create_and_update(plan: Plan) -> None:
    installed = addon(plan)
    assert installed.inputs["addonName"] == "amazon-cloudwatch-observability"
    assert installed.inputs["addonVersion"] == settings(plan.stack).observability.cloudwatch_observability_version
    assert installed.inputs["clusterName"] == cluster_name(plan)
    assert installed.inputs["resolveConflictsOnCreate"] == installed.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"


def test_the_add_on_ships_container_logs_enhanced_container_insights_and_traces_without_application_signals_metrics(
    plan: Plan,
) -> None:
    configuration = json.loads(addon(plan).inputs["configurationValues"])
    assert configuration["containerLogs"] == {"enabled": True}
    collected = configuration["agent"]["config"]["logs"]["metrics_collected"]
    assert collected["kubernetes"] == {"cluster_name": cluster_name(plan), "enhanced_container_insights": True}
    assert "application_signals" not in collected  # its metrics need a log group and a service-linked role
    assert configuration["agent"]["config"]["traces"] == {"traces_collected": {"application_signals": {}}}


def test_the_add_on_starts_after_its_log_groups_credentials_and_nodes(plan: Plan) -> None:
    dependencies = addon(plan).dependencies
    for group in container_log_groups(plan).values():
        assert group.urn in dependencies, "else Fluent Bit creates the group without retention or encryption"
    association = plan.one(ASSOCIATION, "observability-cloudwatch-agent-association")
    assert association.urn in dependencies
    for group in node_groups(plan):
        assert group.urn in dependencies


def test_the_agent_has_its_own_pod_identity_role_for_its_service_account(plan: Plan) -> None:
    association = plan.one(ASSOCIATION, "observability-cloudwatch-agent-association")
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "amazon-cloudwatch",
        "cloudwatch-agent",
    )
    assert association.inputs["clusterName"] == cluster_name(plan)
    role = role_with_arn(plan, association.inputs["roleArn"])
    (trust,) = trust_policy(role)["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == "cloudwatch-agent"
    assert managed_policies(plan, role) == set(), "no AWS-managed policy: its statements are narrowed to this cluster"


def test_the_agent_writes_only_its_clusters_log_groups_and_metric_namespaces(plan: Plan) -> None:
    role = plan.one(ROLE, "observability-cloudwatch-agent")
    statements = inline_statements(plan, role)
    groups = f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/containerinsights/{cluster_name(plan)}/*"
    (writes,) = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert writes["Resource"] == [groups, f"{groups}:log-stream:*"]
    (metrics,) = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": ["ContainerInsights", "ContainerInsights/Prometheus"]}
    }
    assert not any(action.startswith(("ssm:", "iam:")) for action in allowed_actions(statements))
    wildcard = [action for s in statements if s["Resource"] == "*" for action in as_list(s["Action"])]
    assert sorted(wildcard) == [
        "cloudwatch:PutMetricData",
        "ec2:DescribeInstances",
        "ec2:DescribeTags",
        "ec2:DescribeVolumes",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]


def test_the_agent_sends_traces_to_x_ray_with_write_permissions_only(plan: Plan) -> None:
    """What AWSXrayWriteOnlyAccess grants, minus the console's GetSamplingStatisticSummaries; the role has no
    managed policy (test above), so nothing grants it twice."""
    statements = inline_statements(plan, plan.one(ROLE, "observability-cloudwatch-agent"))
    xray = sorted(action for action in allowed_actions(statements) if action.startswith("xray:"))
    assert xray == [
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]
