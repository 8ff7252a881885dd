"""Look-ups the cluster tests share: the stack's cluster settings, the pulumi-eks components, IAM roles and policies."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from stacks.offline.engine import load_config
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import ClusterSettings, parse

CLUSTER = "eks:index:Cluster"
NODE_GROUP = "eks:index:ManagedNodeGroup"
ADDON = "aws:eks/addon:Addon"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
AWS_POLICY = "arn:aws:iam::aws:policy/"
#: One variant of staging for what neither stack's configuration exercises.
STAGING_VARIANT = {
    "eksNodeOs": "Bottlerocket",
    "eksPrivateAccessCidrs": ["10.99.0.0/24"],
    "eksPipelineRoles": ["shop-release"],
}


@cache
def cluster_settings(stack: str) -> ClusterSettings:
    project, config, _ = load_config(stack)
    return parse(config, project=project, stack=stack).cluster


def control_plane(plan: Plan) -> PlannedResource:
    return plan.one(CLUSTER, "cluster-eks")


def node_groups(plan: Plan, pool: str | None = None) -> list[PlannedResource]:
    """The managed node groups (of ``pool``: ``system``, or ``apps`` with one group per zone), in name order."""
    return sorted(
        (group for group in plan.of_type(NODE_GROUP) if pool in (None, group.inputs["labels"]["node-pool"])),
        key=lambda group: group.name,
    )


def private_subnet_ids(plan: Plan) -> list[str]:
    subnets = plan.of_type("aws:ec2/subnet:Subnet")
    return [s.id for s in sorted(subnets, key=lambda s: s.name) if s.inputs["tags"]["tier"] == "private"]


def key_arn(plan: Plan, purpose: str) -> str:
    return plan.one("aws:kms/key:Key", f"{purpose}-key").outputs["arn"]


def addons_by_name(plan: Plan) -> dict[str, PlannedResource]:
    """The cluster's own add-ons (observability installs its own)."""
    return {
        addon.inputs["addonName"]: addon
        for addon in plan.of_type(ADDON)
        if addon.inputs["tags"]["component"] == "cluster"
    }


def role_with_arn(plan: Plan, arn: str) -> PlannedResource:
    (role,) = [role for role in plan.of_type(ROLE) if role.outputs["arn"] == arn]
    return role


def trust_policy(role: PlannedResource) -> dict[str, Any]:
    return json.loads(role.inputs["assumeRolePolicy"])


def inline_statements(plan: Plan, role: PlannedResource) -> list[dict[str, Any]]:
    """The statements of every inline policy of ``role``."""
    return [
        statement
        for policy in plan.of_type(ROLE_POLICY)
        if policy.inputs["role"] == role.id
        for statement in json.loads(policy.inputs["policy"])["Statement"]
    ]


def managed_policies(plan: Plan, role: PlannedResource) -> set[str]:
    return {a.inputs["policyArn"] for a in plan.of_type(ATTACHMENT) if a.inputs["role"] == role.outputs["name"]}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allowed_actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements if s["Effect"] == "Allow" for action in as_list(s["Action"])}


def depends_on(plan: Plan, resource: PlannedResource, dependency: PlannedResource) -> bool:
    return dependency.urn in resource.dependencies
