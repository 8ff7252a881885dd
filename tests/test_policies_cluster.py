"""EKS rules on both shapes: the pulumi-eks component's inputs (offline) and its aws:eks children (real engine)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Policy

from policies.rules import cluster
from stacks.offline.plan import PlannedResource
from tests.policy_support import assert_compliant_even_when_unknown, messages, policy_id, resource

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
COMPONENT = {
    "authenticationMode": "API",
    "endpointPrivateAccess": True,
    "endpointPublicAccess": True,
    "publicAccessCidrs": ["198.51.100.0/24"],
    "encryptionConfigKeyArn": KEY,
    "enabledClusterLogTypes": LOG_TYPES,
    "skipDefaultNodeGroup": True,
}
#: What pulumi-eks creates from COMPONENT under the real engine.
CHILD = {
    "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    "vpcConfig": {
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["198.51.100.0/24"],
    },
    "encryptionConfig": {"provider": {"keyArn": KEY}, "resources": ["secrets"]},
    "enabledClusterLogTypes": LOG_TYPES,
}


def component(**change: Any) -> PlannedResource:
    return resource(cluster.EKS_COMPONENT, "eks", {**COMPONENT, **change})


def child(**change: Any) -> PlannedResource:
    return resource(cluster.EKS_CLUSTER, "eks-eksCluster", {**CHILD, **change}, parent_types=[cluster.EKS_COMPONENT])


def vpc_config(**change: Any) -> dict[str, Any]:
    return {**CHILD["vpcConfig"], **change}


CASES: list[tuple[Policy, PlannedResource, str]] = [
    (cluster.eks_endpoint_private_access, component(endpointPrivateAccess=None), "endpointPrivateAccess"),
    (cluster.eks_endpoint_private_access, child(vpcConfig=vpc_config(endpointPrivateAccess=False)), "endpointPrivate"),
    (cluster.eks_endpoint_no_public_cidr, component(publicAccessCidrs=None), "without publicAccessCidrs"),
    (cluster.eks_endpoint_no_public_cidr, component(publicAccessCidrs=["0.0.0.0/0"]), "to the internet"),
    (cluster.eks_endpoint_no_public_cidr, child(vpcConfig=vpc_config(publicAccessCidrs=["::/0"])), "to the internet"),
    (cluster.eks_secrets_encryption, component(encryptionConfigKeyArn=None), "encryptionConfigKeyArn"),
    (cluster.eks_secrets_encryption, child(encryptionConfig=None), "no provider keyArn"),
    (
        cluster.eks_secrets_encryption,
        child(encryptionConfig={"provider": {"keyArn": KEY}, "resources": []}),
        "'secrets'",
    ),
    (cluster.eks_control_plane_logging, component(enabledClusterLogTypes=["api"]), "audit, authenticator"),
    (cluster.eks_control_plane_logging, child(enabledClusterLogTypes=None), "api, audit"),
    (cluster.eks_api_authentication_mode, component(authenticationMode=None), "CONFIG_MAP (the default)"),
    (
        cluster.eks_api_authentication_mode,
        child(accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}),
        "API_AND_CONFIG_MAP",
    ),
    (cluster.eks_no_default_node_group, component(skipDefaultNodeGroup=None), "skipDefaultNodeGroup"),
]


@pytest.mark.parametrize(
    ("policy", "subject", "expected"), CASES, ids=[f"{c[0].name}-{c[1].type}-{i}" for i, c in enumerate(CASES)]
)
def test_cluster_rule_flags_the_weakened_cluster(policy: Policy, subject: PlannedResource, expected: str) -> None:
    found = messages(policy, subject)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize("policy", sorted({case[0] for case in CASES}, key=policy_id), ids=policy_id)
def test_cluster_rule_passes_the_compliant_cluster_in_both_shapes(policy: Policy) -> None:
    assert_compliant_even_when_unknown(policy, component(), child())


def test_a_private_only_endpoint_needs_no_cidrs() -> None:
    private = component(endpointPublicAccess=False, publicAccessCidrs=None)
    assert messages(cluster.eks_endpoint_no_public_cidr, private) == []


def test_auto_mode_needs_no_skipped_default_node_group() -> None:
    auto = component(skipDefaultNodeGroup=None, autoMode={"enabled": True})
    assert messages(cluster.eks_no_default_node_group, auto) == []


NODE_GROUP = {"instanceTypes": ["m7i.large"], "launchTemplate": {"id": "lt-0abc", "version": "3"}}


@pytest.mark.parametrize("type_", [cluster.MANAGED_NODE_GROUP, cluster.NODE_GROUP])
def test_node_groups_must_use_our_launch_template(type_: str) -> None:
    bare = resource(type_, "nodes", {"instanceTypes": ["m7i.large"]})
    assert "No launchTemplate" in messages(cluster.eks_node_group_launch_template, bare)[0]
    assert_compliant_even_when_unknown(cluster.eks_node_group_launch_template, resource(type_, "nodes", NODE_GROUP))


TEMPLATE = {
    "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
    "blockDeviceMappings": [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"encrypted": "true", "kmsKeyId": KEY, "volumeType": "gp3", "volumeSize": 50},
        }
    ],
}


def template(**change: Any) -> PlannedResource:
    return resource(cluster.LAUNCH_TEMPLATE, "nodes", {**TEMPLATE, **change})


def test_launch_templates_require_imdsv2_with_one_hop() -> None:
    assert messages(cluster.ec2_launch_template_imdsv2, template(metadataOptions=None)) == [
        f"httpTokens is unset (IMDSv1 allowed). Fix: {cluster.ec2_launch_template_imdsv2.remediation_steps}",
        f"httpPutResponseHopLimit is unset, not 1. Fix: {cluster.ec2_launch_template_imdsv2.remediation_steps}",
    ]
    two_hops = template(metadataOptions={"httpTokens": "required", "httpPutResponseHopLimit": 2})
    assert "is 2, not 1" in messages(cluster.ec2_launch_template_imdsv2, two_hops)[0]
    assert_compliant_even_when_unknown(cluster.ec2_launch_template_imdsv2, template())
    assert messages(cluster.ec2_launch_template_imdsv2, template(metadataOptions={"httpEndpoint": "disabled"})) == []


def test_launch_templates_encrypt_every_volume() -> None:
    assert (
        "No EBS block device mapping"
        in messages(cluster.ec2_launch_template_encrypted_volumes, template(blockDeviceMappings=None))[0]
    )
    plain = template(blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}])
    assert "/dev/xvda is not encrypted" in messages(cluster.ec2_launch_template_encrypted_volumes, plain)[0]
    assert_compliant_even_when_unknown(cluster.ec2_launch_template_encrypted_volumes, template())
