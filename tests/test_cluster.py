"""The EKS control plane on the offline plan of both stacks: what we ask pulumi-eks for, and what we build around it.

pulumi-eks's ``Cluster`` is a remote component: offline only its inputs are visible, so these tests check those.
"""

from __future__ import annotations

import json

from stacks.offline.plan import Plan
from tests.cluster_plan import (
    NAMESPACE,
    NETWORK_POLICY,
    cluster_settings,
    control_plane,
    key_arn,
    private_subnet_ids,
)

ROLE = "arn:aws:iam::123456789012:role/"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/"


def test_cluster_is_named_as_the_subnets_announce_it(plan: Plan) -> None:
    name = control_plane(plan).inputs["name"]
    assert name == f"shop-{plan.stack}-eks"
    for subnet in plan.of_type("aws:ec2/subnet:Subnet"):
        if subnet.inputs["tags"]["tier"] in ("public", "private"):
            assert subnet.inputs["tags"][f"kubernetes.io/cluster/{name}"] == "shared"
    assert plan.outputs["cluster"]["name"] == name


def test_version_comes_from_settings_and_stays_in_standard_support(plan: Plan) -> None:
    inputs = control_plane(plan).inputs
    assert inputs["version"] == cluster_settings(plan.stack).kubernetes_version == "1.35"
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_private_endpoint_always_and_public_only_in_staging_for_listed_networks(plan: Plan) -> None:
    inputs = control_plane(plan).inputs
    assert inputs["endpointPrivateAccess"] is True
    if plan.stack == "prod":
        assert inputs["endpointPublicAccess"] is False
        assert "publicAccessCidrs" not in inputs
    else:
        assert inputs["endpointPublicAccess"] is True
        assert inputs["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_secrets_are_envelope_encrypted_with_the_secrets_key(plan: Plan) -> None:
    assert control_plane(plan).inputs["encryptionConfigKeyArn"] == key_arn(plan, "secrets")


def test_every_control_plane_log_goes_to_a_log_group_we_created_first(plan: Plan) -> None:
    cluster = control_plane(plan)
    assert cluster.inputs["enabledClusterLogTypes"] == LOG_TYPES
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
    assert group.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    assert group.inputs["kmsKeyId"] == key_arn(plan, "logs")
    assert group.inputs["retentionInDays"] == cluster_settings(plan.stack).log_retention_days
    assert group.urn in cluster.dependencies


def test_control_plane_and_nodes_live_in_the_private_subnets(plan: Plan) -> None:
    inputs = control_plane(plan).inputs
    assert inputs["privateSubnetIds"] == private_subnet_ids(plan)
    assert not {"publicSubnetIds", "subnetIds", "nodeSubnetIds"} & set(inputs)
    assert inputs["vpcId"] == plan.one("aws:ec2/vpc:Vpc").id


def test_pulumi_eks_builds_no_default_nodes_security_groups_or_add_ons(plan: Plan) -> None:
    """Our node groups and add-ons are the only ones: pulumi-eks's defaults would duplicate or widen them."""
    inputs = control_plane(plan).inputs
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["skipDefaultSecurityGroups"] is True
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["useDefaultVpcCni"] is True
    assert inputs["kubeProxyAddonOptions"]["enabled"] is False
    assert inputs["corednsAddonOptions"]["enabled"] is False


def test_oidc_provider_for_tools_that_need_irsa(plan: Plan) -> None:
    assert control_plane(plan).inputs["createOidcProvider"] is True


def test_prod_control_plane_and_audit_log_are_protected(plan: Plan) -> None:
    """The EKS cluster through the transform (tests/test_lifecycle_protect.py), not `protect` on pulumi-eks's
    component, which the engine would pass on to every resource pulumi-eks creates."""
    prod = plan.stack == "prod"
    cluster = control_plane(plan)
    assert cluster.inputs["deletionProtection"] is prod
    assert cluster.options["protect"] is False
    assert ("components.cluster.control_plane.protect_control_plane" in cluster.options["transforms"]) is prod
    assert plan.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs").options["protect"] is prod


def test_cluster_carries_the_project_tags(plan: Plan) -> None:
    tags = control_plane(plan).inputs["tags"]
    assert tags["component"] == "cluster"
    assert tags["stack"] == plan.stack
    assert tags["Name"] == f"shop-{plan.stack}-eks"


def test_every_kubernetes_resource_uses_the_provider_built_from_the_kubeconfig(plan: Plan) -> None:
    provider = plan.one("pulumi:providers:kubernetes", "cluster-kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.dependencies == [control_plane(plan).urn]
    kubernetes = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert kubernetes
    assert {r.provider for r in kubernetes} == {provider.urn}


def test_kubeconfig_reaches_only_the_provider_as_a_secret(plan: Plan) -> None:
    """Not a stack output (a policy forbids secret outputs): operators run `aws eks update-kubeconfig`."""
    assert "kubeconfig" not in plan.outputs
    exported = json.dumps(plan.outputs)
    assert "certificate-authority-data" not in exported
    assert "get-token" not in exported


def test_namespaces_enforce_the_restricted_pod_security_standard(plan: Plan) -> None:
    namespaces = {ns.inputs["metadata"]["name"]: ns.inputs["metadata"]["labels"] for ns in plan.of_type(NAMESPACE)}
    assert set(namespaces) == {"shop", "aws-load-balancer-controller", "cluster-autoscaler", "argo-rollouts"}
    for labels in namespaces.values():
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert namespaces["shop"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"
    assert plan.outputs["cluster"]["shopNamespace"] == "shop"


def test_every_namespace_denies_all_traffic_that_no_policy_allows(plan: Plan) -> None:
    """The VPC CNI enforces NetworkPolicies; a namespace's pods start cut off until a policy admits their traffic."""
    denying = {
        policy.inputs["metadata"]["namespace"]
        for policy in plan.of_type(NETWORK_POLICY)
        if policy.inputs["spec"]
        == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    }
    assert denying == {ns.inputs["metadata"]["name"] for ns in plan.of_type(NAMESPACE)}


def test_cluster_outputs_for_other_stacks(plan: Plan) -> None:
    exported = plan.outputs["cluster"]
    cluster = control_plane(plan)
    assert exported["oidcProviderArn"] == cluster.outputs["oidcProviderArn"] != ""
    assert exported["clusterSecurityGroupId"] == cluster.outputs["nodeSecurityGroupId"]
    workloads = plan.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg")
    assert exported["nodeSecurityGroupId"] == workloads.id


def test_staging_and_prod_differ_only_where_intended(staging: Plan, prod: Plan) -> None:
    """One code path; the differences are the configured ones (the tests above pin each side)."""
    differences = {
        key
        for key in control_plane(prod).inputs
        if key
        not in (
            "name",
            "tags",
            "vpcId",
            "privateSubnetIds",
            "encryptionConfigKeyArn",
            "accessEntries",
            "clusterSecurityGroup",
            "serviceRole",  # each stack's own role (a resource reference: its URN)
        )
        and control_plane(prod).inputs.get(key) != control_plane(staging).inputs.get(key)
    }
    assert differences == {"deletionProtection", "endpointPublicAccess"}
    assert "publicAccessCidrs" in control_plane(staging).inputs
