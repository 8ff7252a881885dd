"""Who may use the Kubernetes API, and from where, on the offline plan of both stacks: the declared access entries
(and no implicit one for the cluster's creator), the API's own security group and the deployer group, and the order
in which a fresh prod stack comes up so that a runner inside its VPC can finish the first `pulumi up`."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.account import Account
from components.cluster import access
from components.naming import Naming
from stacks.offline.engine import preview
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import ClusterSettings
from tests.cluster_plan import INGRESS, STAGING_VARIANT, control_plane, private_subnet_ids
from tests.conftest import plan_for

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/"
ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
#: The command docs/kubernetes.md gives for the first prod run; it names the control plane by URN.
FIRST_RUN = (
    "pulumi up --stack prod --exclude-dependents "
    "--exclude 'urn:pulumi:prod::shop-platform::shop:cluster:Cluster$eks:index:Cluster::cluster-eks'"
)


def granted_access(plan: Plan) -> set[tuple[str, str, str]]:
    """(role, access policy, scope) of every access entry."""
    return {
        (
            entry["principalArn"].removeprefix(ROLE),
            policy["policyArn"].removeprefix(ACCESS_POLICY),
            policy["accessScope"]["type"],
        )
        for entry in control_plane(plan).inputs["accessEntries"].values()
        for policy in entry["accessPolicies"].values()
    }


def group(plan: Plan, purpose: str) -> PlannedResource:
    return plan.one(SECURITY_GROUP, f"cluster-{purpose}-sg")


def rules(plan: Plan, type_: str, group_id: str) -> set[tuple[Any, ...]]:
    """(protocol, from port, to port, source or destination) of the rules of ``type_`` on a security group."""
    return {
        (
            rule.inputs["ipProtocol"],
            rule.inputs.get("fromPort"),
            rule.inputs.get("toPort"),
            rule.inputs.get("referencedSecurityGroupId") or rule.inputs.get("cidrIpv4"),
        )
        for rule in plan.of_type(type_)
        if rule.inputs["securityGroupId"] == group_id
    }


# ---------------------------------------------------------------------------------------------- identity


def test_access_is_declared_for_the_pipeline_the_admins_and_the_readers_only(plan: Plan) -> None:
    inputs = control_plane(plan).inputs
    assert inputs["authenticationMode"] == "API"
    assert granted_access(plan) == {
        (f"shop-ci-deploy-{plan.stack}", "AmazonEKSClusterAdminPolicy", "cluster"),
        ("platform-admin", "AmazonEKSClusterAdminPolicy", "cluster"),
        (f"shop-ci-preview-{plan.stack}", "AmazonEKSViewPolicy", "cluster"),
    }
    assert all("type" not in entry for entry in inputs["accessEntries"].values()), "all STANDARD entries"


@cache
def bootstrap() -> Plan:
    return preview(access.BOOTSTRAP_STACK, project_dir=ROOT / "bootstrap")


def test_the_pipeline_role_by_default_is_the_bootstraps_deploy_role_of_the_stack(plan: Plan) -> None:
    """The role CI's `pulumi up` runs as, named as the bootstrap names it."""
    deploy_role = bootstrap().one("aws:iam/role:Role", f"github-deploy-{plan.stack}")
    assert (deploy_role.inputs["name"], "AmazonEKSClusterAdminPolicy", "cluster") in granted_access(plan)


def test_listed_pipeline_roles_replace_the_default() -> None:
    roles = {role for role, _, _ in granted_access(plan_for("staging", STAGING_VARIANT))}
    assert "shop-release" in roles
    assert "shop-ci-deploy-staging" not in roles


def test_a_role_listed_beside_the_default_pipeline_role_is_refused() -> None:
    settings = ClusterSettings(admin_roles=("shop-ci-deploy-staging",))  # type: ignore[call-arg]
    with pytest.raises(pulumi.RunError, match="shop-platform:eksAdminRoles: shop-ci-deploy-staging is already"):
        access.access_entries(
            settings, naming=Naming("shop", "staging"), account=Account("123456789012", "aws", "eu-west-1"), tags={}
        )


def eks_cluster_registration(bootstrap_flag: bool) -> pulumi.ResourceTransformArgs:
    """What pulumi-eks registers for the control plane, in engine names."""
    props = {
        "name": "shop-prod-eks",
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": bootstrap_flag},
        "version": "1.35",
    }
    return pulumi.ResourceTransformArgs(
        True, access.EKS_CLUSTER, "cluster-eks-eksCluster", props, pulumi.ResourceOptions()
    )


def test_the_cluster_is_created_without_an_admin_entry_for_its_creator() -> None:
    result = access.without_creator_admin(eks_cluster_registration(True))
    assert result is not None
    assert result.props == {
        "name": "shop-prod-eks",
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        "version": "1.35",
    }
    others = pulumi.ResourceTransformArgs(True, "aws:eks/accessEntry:AccessEntry", "x", {}, pulumi.ResourceOptions())
    assert access.without_creator_admin(others) is None


def test_the_control_plane_is_built_with_the_transform(plan: Plan) -> None:
    """The plan records the transforms each resource is registered with (the engine applies them to pulumi-eks's
    children, which the offline plan does not show)."""
    assert control_plane(plan).options["transforms"][0] == "components.cluster.access.without_creator_admin"


# ---------------------------------------------------------------------------------------------- network


def test_the_control_plane_carries_the_api_group_of_its_own(plan: Plan) -> None:
    inputs = control_plane(plan).inputs
    assert inputs["clusterSecurityGroup"] == group(plan, "api").urn
    assert inputs["skipDefaultSecurityGroups"] is True


def test_the_api_admits_https_from_the_deployer_group_and_nothing_else_by_default(plan: Plan) -> None:
    api, deployer = group(plan, "api"), group(plan, "deployer")
    assert rules(plan, INGRESS, api.id) == {("tcp", 443, 443, deployer.id)}
    assert rules(plan, EGRESS, api.id) == set()
    assert rules(plan, INGRESS, deployer.id) == set()
    assert rules(plan, EGRESS, deployer.id) == {("tcp", 443, 443, api.id)}
    assert plan.outputs["cluster"]["deployerSecurityGroupId"] == deployer.id


def test_nodes_keep_their_own_group_which_admits_no_outside_network(plan: Plan) -> None:
    """The deployer group and operator networks reach the control plane, not the nodes and pods."""
    eks_group = control_plane(plan).outputs["nodeSecurityGroupId"]
    assert plan.outputs["cluster"]["clusterSecurityGroupId"] == eks_group != group(plan, "api").id
    workloads = plan.one(SECURITY_GROUP, "network-workloads-sg").id
    deployer = group(plan, "deployer").id
    for rule in plan.of_type(INGRESS):
        if rule.inputs["securityGroupId"] in (eks_group, workloads):
            assert rule.inputs.get("referencedSecurityGroupId") != deployer
            assert "cidrIpv4" not in rule.inputs, rule.name


def test_listed_operator_networks_reach_the_control_plane_only() -> None:
    plan = plan_for("staging", STAGING_VARIANT)
    (rule,) = [r for r in plan.of_type(INGRESS) if r.inputs.get("cidrIpv4") == "10.99.0.0/24"]
    assert rule.inputs["securityGroupId"] == group(plan, "api").id
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 443, 443)


def dependents(plan: Plan, root: PlannedResource) -> set[str]:
    """URNs of everything `--exclude-dependents` leaves out with ``root``: its children, and whatever depends on (or
    is a child or provider-user of) one of those, transitively."""
    excluded = {root.urn}
    changed = True
    while changed:
        changed = False
        for resource in plan.resources:
            if resource.urn in excluded:
                continue
            links = {*resource.dependencies, resource.parent, resource.provider}
            if links & excluded:
                excluded.add(resource.urn)
                changed = True
    return excluded


def test_a_fresh_prod_stack_first_builds_everything_a_runner_in_its_vpc_needs(prod: Plan) -> None:
    """The first run of docs/kubernetes.md drops the control plane and its dependents; the network, NAT, the
    deployer and API groups must not be among them, or the runner that finishes the first `pulumi up` could not
    exist."""
    cluster = control_plane(prod)
    assert f"--exclude '{cluster.urn}'" in FIRST_RUN
    assert FIRST_RUN in (ROOT / "docs" / "kubernetes.md").read_text()
    excluded = dependents(prod, cluster)
    needed = [
        group(prod, "deployer"),
        group(prod, "api"),
        prod.one("aws:ec2/vpc:Vpc"),
        *prod.of_type("aws:ec2/natGateway:NatGateway"),
        *prod.of_type("aws:ec2/routeTable:RouteTable"),
        *[subnet for subnet in prod.of_type("aws:ec2/subnet:Subnet") if subnet.id in private_subnet_ids(prod)],
        *[rule for rule in prod.of_type(INGRESS) + prod.of_type(EGRESS) if rule.name.startswith("cluster-api-")],
        *[rule for rule in prod.of_type(EGRESS) if rule.name == "cluster-deployer-to-api"],
    ]
    assert [resource.name for resource in needed if resource.urn in excluded] == []
    assert group(prod, "api").urn in cluster.dependencies
