"""Worker nodes on the offline plan: the managed node groups' inputs, their launch template, role and network."""

from __future__ import annotations

from components.cluster.nodes import split_across_zones
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
    node_groups,
    private_subnet_ids,
    trust_policy,
)
from tests.conftest import plan_for


def test_a_system_pool_for_the_platform_and_an_application_pool_for_the_shop(plan: Plan) -> None:
    (system,) = (group.inputs for group in node_groups(plan, "system"))
    assert system["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    apps = node_groups(plan, "apps")
    assert apps
    for group in apps:
        assert group.inputs["labels"] == {"node-pool": "apps"}
        assert group.inputs["taints"] == []
    assert len(plan.of_type("eks:index:ManagedNodeGroup")) == 1 + len(apps)


def test_the_system_pool_spreads_over_every_zone(plan: Plan) -> None:
    subnets = private_subnet_ids(plan)
    assert len(subnets) == {"staging": 2, "prod": 3}[plan.stack]
    (system,) = node_groups(plan, "system")
    assert system.inputs["subnetIds"] == subnets


def test_the_application_pool_has_one_node_group_per_zone(plan: Plan) -> None:
    """The Cluster Autoscaler adds a node in the zone the shop's zone spread (DoNotSchedule) asks for only when each
    group is confined to one zone."""
    groups = node_groups(plan, "apps")
    assert [group.inputs["subnetIds"] for group in groups] == [[subnet] for subnet in private_subnet_ids(plan)]
    assert [group.name for group in groups] == [f"cluster-apps-zone{zone}" for zone in range(1, len(groups) + 1)]


def test_zone_groups_are_alike_so_the_autoscaler_balances_them(plan: Plan) -> None:
    settings = cluster_settings(plan.stack)
    for group in node_groups(plan, "apps"):
        assert group.inputs["instanceTypes"] == list(settings.app_instance_types)
        assert group.inputs["capacityType"] == settings.app_capacity_type
        assert group.inputs["launchTemplate"] == node_groups(plan, "system")[0].inputs["launchTemplate"]


def test_application_sizes_are_the_settings_totals_split_evenly_over_the_zones(plan: Plan) -> None:
    settings = cluster_settings(plan.stack)
    scaling = [group.inputs["scalingConfig"] for group in node_groups(plan, "apps")]
    for key, total in (
        ("minSize", settings.app_min_size),
        ("desiredSize", settings.app_desired_size),
        ("maxSize", settings.app_max_size),
    ):
        shares = [zone[key] for zone in scaling]
        assert sum(shares) == total
        assert max(shares) - min(shares) <= 1
    for zone in scaling:
        assert zone["minSize"] <= zone["desiredSize"] <= zone["maxSize"] and zone["maxSize"] >= 1


def test_splitting_keeps_every_zones_sizes_ordered() -> None:
    assert split_across_zones(7, 3) == [3, 2, 2]
    assert split_across_zones(1, 2) == [1, 0]
    for low, high in ((1, 2), (3, 4), (4, 12), (2, 3)):
        assert all(a <= b for a, b in zip(split_across_zones(low, 3), split_across_zones(high, 3), strict=True))


def test_system_sizes_instance_types_and_capacity_come_from_settings(plan: Plan) -> None:
    settings = cluster_settings(plan.stack)
    (system,) = (group.inputs for group in node_groups(plan, "system"))
    assert system["scalingConfig"] == {
        "minSize": settings.system_min_size,
        "desiredSize": settings.system_desired_size,
        "maxSize": settings.system_max_size,
    }
    assert system["instanceTypes"] == list(settings.system_instance_types)
    assert system["capacityType"] == "ON_DEMAND"


def test_shop_nodes_are_spot_only_in_staging_and_prod_keeps_a_node_in_every_zone(staging: Plan, prod: Plan) -> None:
    assert {group.inputs["capacityType"] for group in node_groups(staging, "apps")} == {"SPOT"}
    assert {group.inputs["capacityType"] for group in node_groups(prod, "apps")} == {"ON_DEMAND"}
    assert [group.inputs["scalingConfig"]["minSize"] for group in node_groups(prod, "apps")] == [1, 1, 1]
    assert node_groups(prod, "system")[0].inputs["scalingConfig"]["minSize"] >= 3
    assert sum(group.inputs["scalingConfig"]["minSize"] for group in node_groups(staging)) == 2


def test_cluster_autoscaler_owns_the_desired_size(plan: Plan) -> None:
    for group in node_groups(plan):
        assert group.inputs["ignoreScalingChanges"] is True


def test_nodes_run_the_configured_os_at_the_cluster_version(plan: Plan) -> None:
    for group in node_groups(plan):
        inputs = group.inputs
        assert inputs["operatingSystem"] == cluster_settings(plan.stack).node_os == "AL2023"
        assert inputs["version"] == control_plane(plan).inputs["version"]
        assert inputs["nodeGroupNamePrefix"] == f"shop-{plan.stack}-eks-{group.name.removeprefix('cluster-')}-"


def test_node_groups_start_from_our_launch_template(plan: Plan) -> None:
    template = plan.one(LAUNCH_TEMPLATE, "cluster-node")
    for group in node_groups(plan):
        assert group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}
        assert not {"enableImdSv2", "diskSize", "userData", "amiId"} & set(group.inputs), "they belong to the template"


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
    assert {group.inputs["operatingSystem"] for group in node_groups(plan)} == {"Bottlerocket"}


def test_nodes_carry_the_cluster_and_the_workload_security_groups(plan: Plan) -> None:
    groups = plan.one(LAUNCH_TEMPLATE, "cluster-node").inputs["vpcSecurityGroupIds"]
    workloads = plan.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg")
    assert groups == [control_plane(plan).outputs["nodeSecurityGroupId"], workloads.id]


def test_workload_group_admits_only_nodes_pods_and_the_control_plane(plan: Plan) -> None:
    workloads = plan.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg")
    cluster_group = control_plane(plan).outputs["nodeSecurityGroupId"]
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
    assert trust["Action"] == ["sts:AssumeRole"]
    assert managed_policies(plan, role) == {
        f"{AWS_POLICY}AmazonEKSWorkerNodePolicy",
        f"{AWS_POLICY}AmazonEC2ContainerRegistryPullOnly",
    }
    assert inline_statements(plan, role) == []
    for group in node_groups(plan):
        assert group.inputs["nodeRoleArn"] == role.outputs["arn"]


def test_nodes_join_once_pod_networking_and_credentials_are_installed(plan: Plan) -> None:
    addons = addons_by_name(plan)
    for group in node_groups(plan):
        for prerequisite in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
            assert addons[prerequisite].urn in group.dependencies
