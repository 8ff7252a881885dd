"""Every IAM role the platform creates lives under the stack's path and carries the stack's workload boundary, the
only roles the bootstrap's deploy role may create (docs/cicd.md); the EKS control plane's role is ours."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan
from stacks.settings import parse
from tests.cluster_plan import ATTACHMENT, control_plane, managed_policies, node_groups, trust_policy
from tests.conftest import plan_for
from tests.test_settings import VALID, P, problems

ROLE = "aws:iam/role:Role"
ACCOUNT = "123456789012"


def test_every_role_is_under_the_stacks_path_with_its_boundary(plan: Plan) -> None:
    roles = plan.of_type(ROLE)
    assert len(roles) >= 10  # control plane, nodes, CNI, EBS CSI, shop, 2 controllers, agent, log deliveries
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/shop-{plan.stack}-workload-boundary"
    for role in roles:
        assert role.inputs.get("permissionsBoundary") == boundary, role.name
        assert role.inputs.get("path") == f"/shop/{plan.stack}/", role.name


def test_the_control_plane_runs_as_our_role_not_pulumi_eks_default(plan: Plan) -> None:
    (role,) = [r for r in plan.of_type(ROLE) if r.name == "cluster-control-plane"]
    assert control_plane(plan).inputs["serviceRole"] == role.urn
    (trust,) = trust_policy(role)["Statement"]
    assert trust["Principal"] == {"Service": "eks.amazonaws.com"} and trust["Action"] == ["sts:AssumeRole"]
    assert managed_policies(plan, role) == {"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}
    # EKS checks the role's permissions when it creates the cluster: the policy is attached first.
    attachment = plan.one(ATTACHMENT, "cluster-control-plane-AmazonEKSClusterPolicy")
    assert {role.urn, attachment.urn} <= set(control_plane(plan).dependencies)


def test_pulumi_eks_creates_no_role_of_its_own(plan: Plan) -> None:
    """pulumi-eks's roles are invisible in the plan (its provider creates them): nothing may ask for one. It creates
    an instance role for its default node group (or when told to), and the control plane's unless given ours."""
    cluster = control_plane(plan).inputs
    (role,) = [r for r in plan.of_type(ROLE) if r.name == "cluster-control-plane"]
    assert cluster["skipDefaultNodeGroup"] is True
    assert cluster["serviceRole"] == role.urn
    assert not {"instanceRole", "instanceRoles", "instanceProfileName"} & set(cluster)
    assert cluster.get("createInstanceRole", False) is False
    (node_role,) = [r for r in plan.of_type(ROLE) if r.name == "cluster-node"]
    node_role_arn = f"arn:aws:iam::{ACCOUNT}:role/shop/{plan.stack}/{node_role.outputs['name']}"
    groups = node_groups(plan)
    assert groups
    for group in groups:  # a managed node group without a role would take the cluster's instance role
        assert group.inputs.get("nodeRoleArn") == node_role_arn or group.inputs.get("nodeRole") == node_role.urn


def test_staging_may_deploy_without_the_boundary_under_the_same_path() -> None:
    plan = plan_for("staging", {f"{P}:workloadBoundary": False})
    for role in plan.of_type(ROLE):
        assert "permissionsBoundary" not in role.inputs, role.name
        assert role.inputs["path"] == "/shop/staging/", role.name


def test_prod_requires_the_boundary() -> None:
    message = problems(workloadBoundary="false")
    assert message.startswith("Pulumi.prod.yaml: 1 configuration problem:")
    assert f"{P}:workloadBoundary: prod caps every role it creates with the bootstrap's workload boundary" in message


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_boundary_is_on_by_default(stack: str) -> None:
    values = {**VALID, f"{P}:environment": stack}
    assert parse(values, project=P, stack=stack).stack.workload_boundary is True
