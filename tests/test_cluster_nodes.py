"""Worker nodes on the offline plan: the managed node groups' inputs, their launch template, role and network."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan
from tests.cluster_plan import (
    AWS_POLICY,
    INGRESS,
    LAUNCH_TEMPLATE,
    ROLE,
    STAGING_VARIANT,
    addons_by_name,
    cluster_settings,
    control_plane,
    inline_statements,
    managed_policies,
    node_group,
    private_subnet_ids,
    trust_policy,
)
from tests.conftest import plan_for

POOLS = ("system", "apps")


def test_a_system_pool_for_the_platform_and_an_application_pool_for_the_shop(plan: Plan) -> None:
    system, apps = (node_group(plan, pool).inputs for pool in POOLS)
    assert system["labels"] == {"node-pool": "system"}
    assert system["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    assert apps["labels"] == {"node-pool": "apps"}
    assert apps["taints"] == []
    assert len(plan.of_type("eks:index:ManagedNodeGroup")) == 2


@pytest.mark.parametrize("pool", POOLS)
def test_node_groups_spread_over_every_zone_in_the_private_subnets(plan: Plan, pool: str) -> None:
    subnets = private_subnet_ids(plan)
    assert len(subnets) == {"staging": 2, "prod": 3}[plan.stack]
    assert node_group(plan, pool).inputs["subnetIds"] == subnets


@pytest.mark.parametrize("pool", POOLS)
def test_sizes_instance_types_and_capacity_come_from_settings(plan: Plan, pool: str) -> None:
    settings = cluster_settings(plan.stack)
    prefix = "system" if pool == "system" else "app"
    inputs = node_group(plan, pool).inputs
    assert inputs["scalingConfig"] == {
        "minSize": getattr(settings, f"{prefix}_min_size"),
        "desiredSize": getattr(settings, f"{prefix}_desired_size"),
        "maxSize": getattr(settings, f"{prefix}_max_size"),
    }
    assert inputs["instanceTypes"] == list(getattr(settings, f"{prefix}_instance_types"))
    assert inputs["capacityType"] == ("ON_DEMAND" if pool == "system" else settings.app_capacity_type)


def test_shop_nodes_are_spot_only_in_staging_and_prod_keeps_a_node_in_every_zone(staging: Plan, prod: Plan) -> None:
    assert node_group(staging, "apps").inputs["capacityType"] == "SPOT"
    assert node_group(prod, "apps").inputs["capacityType"] == "ON_DEMAND"
    for pool in POOLS:
        assert node_group(prod, pool).inputs["scalingConfig"]["minSize"] >= 3
        assert node_group(staging, pool).inputs["scalingConfig"]["minSize"] == 1


@pytest.mark.parametrize("pool", POOLS)
def test_cluster_autoscaler_owns_the_desired_size(plan: Plan, pool: str) -> None:
    assert node_group(plan, pool).inputs["ignoreScalingChanges"] is True


@pytest.mark.parametrize("pool", POOLS)
def test_nodes_run_the_configured_os_at_the_cluster_version(plan: Plan, pool: str) -> None:
    inputs = node_group(plan, pool).inputs
    assert inputs["operatingSystem"] == cluster_settings(plan.stack).node_os == "AL2023"
    assert inputs["version"] == control_plane(plan).inputs["version"]
    assert inputs["nodeGroupNamePrefix"] == f"shop-{plan.stack}-eks-{pool}-"


@pytest.mark.parametrize("pool", POOLS)
def test_node_groups_start_from_our_launch_template(plan: Plan, pool: str) -> None:
    template = plan.one(LAUNCH_TEMPLATE, "cluster-node")
    inputs = node_group(plan, pool).inputs
    assert inputs["launchTemplate"] == {"id": template.id, "version": "1"}
    assert not {"enableImdSv2", "diskSize", "userData", "amiId"} & set(inputs), "they belong to the template"


def test_instance_metadata_needs_a_token_and_stays_on_the_node(plan: Plan) -> None:
    """IMDSv2 only, one hop: a container cannot reach the node role's credentials."""
    options = plan.one(LAUNCH_TEMPLATE, "cluster-node").inputs["metadataOptions"]
    assert options == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}


def test_node_volumes_are_encrypted_gp3(plan: Plan) -> None:
    (root,) = plan.one(LAUNCH_TEMPLATE, "cluster-node").inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {
        "volumeSize": cluster_settings(plan.stack).node_disk_gib,
        "volumeType": "gp3",
        "encrypted": "true",
        "deleteOnTermination": "true",
    }


def test_bottlerocket_nodes_encrypt_their_os_and_data_volumes() -> None:
    plan = plan_for("staging", STAGING_VARIANT)
    volumes = plan.one(LAUNCH_TEMPLATE, "cluster-node").inputs["blockDeviceMappings"]
    assert [v["deviceName"] for v in volumes] == ["/dev/xvda", "/dev/xvdb"]
    assert all(v["ebs"]["encrypted"] == "true" for v in volumes)
    assert volumes[1]["ebs"]["volumeSize"] == 30
    assert node_group(plan, "apps").inputs["operatingSystem"] == "Bottlerocket"


def test_nodes_carry_the_cluster_and_the_workload_security_groups(plan: Plan) -> None:
    groups = plan.one(LAUNCH_TEMPLATE, "cluster-node").inputs["vpcSecurityGroupIds"]
    workloads = plan.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg")
    assert groups == [control_plane(plan).outputs["clusterSecurityGroupId"], workloads.id]


def test_workload_group_admits_only_nodes_pods_and_the_control_plane(plan: Plan) -> None:
    workloads = plan.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg")
    cluster_group = control_plane(plan).outputs["clusterSecurityGroupId"]
    rules = {
        (
            rule.inputs["ipProtocol"],
            rule.inputs.get("fromPort"),
            rule.inputs.get("toPort"),
            rule.inputs.get("referencedSecurityGroupId"),
        )
        for rule in plan.of_type(INGRESS)
        if rule.inputs["securityGroupId"] == workloads.id
    }
    assert rules == {
        ("-1", None, None, workloads.id),
        ("tcp", 443, 443, cluster_group),
        ("tcp", 1025, 65535, cluster_group),
    }
    assert not [r for r in plan.of_type(INGRESS) if r.inputs.get("cidrIpv4") == "0.0.0.0/0"]


def test_node_role_only_joins_the_cluster_and_pulls_images(plan: Plan) -> None:
    (role,) = [r for r in plan.of_type(ROLE) if r.name == "cluster-node"]
    (trust,) = trust_policy(role)["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert managed_policies(plan, role) == {
        f"{AWS_POLICY}AmazonEKSWorkerNodePolicy",
        f"{AWS_POLICY}AmazonEC2ContainerRegistryPullOnly",
    }
    assert inline_statements(plan, role) == []
    for pool in POOLS:
        assert node_group(plan, pool).inputs["nodeRoleArn"] == role.outputs["arn"]


@pytest.mark.parametrize("pool", POOLS)
def test_nodes_join_once_pod_networking_and_credentials_are_installed(plan: Plan, pool: str) -> None:
    addons = addons_by_name(plan)
    group = node_group(plan, pool)
    for prerequisite in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert addons[prerequisite].urn in group.dependencies


def test_listed_networks_may_reach_the_private_api_endpoint() -> None:
    plan = plan_for("staging", STAGING_VARIANT)
    (rule,) = [r for r in plan.of_type(INGRESS) if r.name.startswith("cluster-api-from-network")]
    assert rule.inputs["securityGroupId"] == control_plane(plan).outputs["clusterSecurityGroupId"]
    assert (rule.inputs["cidrIpv4"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("10.99.0.0/24", 443, 443)
