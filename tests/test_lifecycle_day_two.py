"""Day-two changes to the cluster, each a pair of plans (before -> after) and what the engine does between them:
a cluster access change in prod, a Kubernetes (add-on) upgrade, new node instance types and sizes."""

from __future__ import annotations

from stacks.offline.lifecycle import depends_on
from stacks.offline.plan import Plan
from stacks.offline.replacements import replace_keys
from tests.cluster_plan import (
    ADDON,
    NODE_GROUP,
    RELEASE,
    addons_by_name,
    cluster_settings,
    control_plane,
    node_groups,
)
from tests.conftest import plan_for
from tests.day_two import Change, changes
from tests.test_lifecycle_protect import protected_children

#: An admin added, the admin moved to read-only (prod lists platform-admin as admin), the pipeline role replaced.
ACCESS_CHANGE = {
    "eksAdminRoles": ["platform-oncall"],
    "eksReadOnlyRoles": ["shop-ci-preview-prod", "platform-admin"],
    "eksPipelineRoles": ["shop-release"],
}
NODE_CHANGE = {"eksAppInstanceTypes": ["m7i.xlarge", "m6i.xlarge"], "eksAppMinSize": 2, "eksAppMaxSize": 6}
ADDON_UPGRADE = {"eksKubeProxyVersion": "v1.35.3-eksbuild.18", "eksCorednsVersion": "v1.13.2-eksbuild.12"}


def by_name(found: dict[str, Change]) -> dict[str, Change]:
    return {change.resource.name: change for change in found.values()}


# ---------------------------------------------------------------------------------------------- access


def test_a_cluster_access_change_in_prod_touches_only_the_access_entries(prod: Plan) -> None:
    """Adding, removing and moving roles changes pulumi-eks's access entries, its own children: none is protected
    (only the EKS cluster is, through the transform), so prod takes the change without `pulumi state unprotect`."""
    after = plan_for("prod", ACCESS_CHANGE)
    found = changes(prod, after)
    assert [(change.op, change.resource.name) for change in found.values()] == [("update", "cluster-eks")]
    (change,) = found.values()
    assert change.keys == {"accessEntries"}
    assert change.before is not None and not change.before.options["protect"]
    assert not change.resource.options["protect"]
    # The access entries are created and deleted under pulumi-eks's component; of its children only the cluster
    # is protected, and no access entry input reaches the cluster itself.
    assert protected_children(change.resource.options["transforms"]) == {"aws:eks/cluster:Cluster"}


def test_a_role_moved_between_levels_is_a_new_access_entry(prod: Plan) -> None:
    """EKS allows one access entry per role and the engine creates new resources before it deletes old ones: a
    role moved from one list to another must be removed in one `pulumi up` and added in the next
    (docs/operations.md "Cluster access changes")."""
    moved = plan_for("prod", ACCESS_CHANGE)
    before_keys = set(control_plane(prod).inputs["accessEntries"])
    after_keys = set(control_plane(moved).inputs["accessEntries"])
    assert "admin-platform-admin" in before_keys - after_keys
    assert "read-only-platform-admin" in after_keys - before_keys


# ---------------------------------------------------------------------------------------------- upgrades


def test_one_setting_gives_the_control_plane_and_every_node_group_their_kubernetes_version(plan: Plan) -> None:
    version = cluster_settings(plan.stack).kubernetes_version
    assert control_plane(plan).inputs["version"] == version
    assert {group.inputs["version"] for group in node_groups(plan)} == {version}
    # The add-ons built for one minor only are checked against it by the settings (tests/test_cluster_settings.py).
    assert addons_by_name(plan)["kube-proxy"].inputs["addonVersion"].startswith(f"v{version}.")


def test_an_upgrade_runs_control_plane_then_add_ons_then_node_groups(plan: Plan) -> None:
    """The engine updates a resource after everything it depends on: the control plane first; then the add-ons
    nodes need (CNI, kube-proxy, Pod Identity agent); then the node groups, which roll their nodes onto the new
    version; then the add-ons that run on nodes (CoreDNS, metrics-server, EBS CSI) and the controllers."""
    cluster = control_plane(plan)
    addons = addons_by_name(plan)
    node_addons = [addons[name] for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")]
    workload_addons = [addons[name] for name in ("coredns", "metrics-server", "aws-ebs-csi-driver")]
    for addon in addons.values():
        assert depends_on(plan, addon, cluster), addon.name
    for group in node_groups(plan):
        assert all(depends_on(plan, group, addon) for addon in node_addons), group.name
        assert all(depends_on(plan, addon, group) for addon in workload_addons), group.name
    for release in plan.of_type(RELEASE):
        assert depends_on(plan, release, addons["coredns"]) and depends_on(plan, release, cluster)


def test_an_add_on_upgrade_updates_the_add_ons_in_place(staging: Plan) -> None:
    after = plan_for("staging", ADDON_UPGRADE)
    found = by_name(changes(staging, after))
    assert set(found) == {"cluster-kube-proxy", "cluster-coredns"}
    for change in found.values():
        assert change.op == "update"
        assert change.keys == {"addonVersion"}
        assert replace_keys(ADDON, change.keys) == []  # UpdateAddon, in place


# ---------------------------------------------------------------------------------------------- node groups


def test_new_instance_types_replace_the_app_node_groups_and_new_sizes_update_them(staging: Plan) -> None:
    after = plan_for("staging", NODE_CHANGE)
    found = by_name({urn: change for urn, change in changes(staging, after).items() if "shop:cluster:Cluster$" in urn})
    apps = {group.name for group in node_groups(staging, "apps")}
    assert set(found) == apps  # nothing else in the cluster: not the system pool (observability's alarm follows)
    for change in found.values():
        assert change.keys == {"instanceTypes", "scalingConfig"}
        # The new types replace the node group; the sizes alone would update it in place.
        assert replace_keys(NODE_GROUP, change.keys) == ["instanceTypes"]


def test_a_replaced_node_group_is_created_before_the_old_one_is_deleted(plan: Plan) -> None:
    """Create-before-delete, the engine's default for a replacement, needs both groups to exist at once: neither
    deleteBeforeReplace nor a fixed name (EKS names are unique per cluster); pulumi-eks ManagedNodeGroup passes
    neither to aws.eks.NodeGroup. EKS drains the old group's nodes honouring PodDisruptionBudgets."""
    for group in plan.of_type(NODE_GROUP):
        assert group.options["deleteBeforeReplace"] is False, group.name
        assert group.inputs.get("nodeGroupName") is None, group.name
        assert group.inputs["nodeGroupNamePrefix"].endswith("-"), group.name
        # Only the desired size is the Cluster Autoscaler's (pulumi-eks ignores changes to it): minimum and
        # maximum sizes from the settings are applied in place.
        assert group.inputs["ignoreScalingChanges"] is True


def test_the_shop_keeps_serving_while_nodes_drain(plan: Plan) -> None:
    """A drain evicts one web pod at a time (at least the autoscaler's minimum of 2 run), spread over zones, so
    the shop serves throughout a node group replacement; the controllers keep one of their two replicas."""
    budget = plan.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    assert budget["maxUnavailable"] == 1
    hpa = plan.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert hpa.inputs["spec"]["minReplicas"] >= 2
    for release in plan.of_type(RELEASE):
        values = release.inputs["values"]
        if release.inputs["chart"] == "argo-rollouts":  # its chart nests them under the controller
            controller = values["controller"]
            assert controller["pdb"]["enabled"] is True
            budget = {key: value for key, value in controller["pdb"].items() if key != "enabled"}
            values = {"replicaCount": controller["replicas"], "podDisruptionBudget": budget}
        assert values["replicaCount"] == 2, release.name
        assert values["podDisruptionBudget"] == {"maxUnavailable": 1}, release.name


def test_a_node_change_leaves_the_shop_untouched(staging: Plan) -> None:
    after = plan_for("staging", NODE_CHANGE)
    assert not [urn for urn in changes(staging, after) if "shop:shop:Shop" in urn]
