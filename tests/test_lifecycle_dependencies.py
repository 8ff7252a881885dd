"""Every permission, policy and network rule a resource (or the controller acting for it) needs while it is created,
updated or deleted is in its dependency chain: created before it, deleted after it (stacks/offline/lifecycle.py)."""

from __future__ import annotations

import pytest

from stacks.offline.lifecycle import depends_on
from stacks.offline.plan import Plan, PlannedResource
from tests.cluster_plan import (
    ADDON,
    ASSOCIATION,
    ATTACHMENT,
    NETWORK_POLICY,
    NODE_GROUP,
    RELEASE,
    ROLE,
    ROLE_POLICY,
    addons_by_name,
    node_groups,
    role_with_arn,
)

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ROUTE = "aws:ec2/route:Route"
CONTROLLERS = ("aws-load-balancer-controller", "cluster-autoscaler", "argo-rollouts")


def grants(plan: Plan, role: PlannedResource) -> list[PlannedResource]:
    """The role's inline policies and managed-policy attachments: what it may do."""
    return [
        resource
        for resource in [*plan.of_type(ROLE_POLICY), *plan.of_type(ATTACHMENT)]
        if resource.inputs["role"] in (role.id, role.outputs["name"])
    ]


def missing(plan: Plan, resource: PlannedResource, needs: list[PlannedResource]) -> list[str]:
    return [need.name for need in needs if not depends_on(plan, resource, need)]


def test_every_pod_identity_association_waits_for_its_roles_permissions(plan: Plan) -> None:
    """Pods get credentials from the association: it exists only once the role can do what the pods need, and on
    destroy it (and every pod using it) goes before the permissions."""
    for association in plan.of_type(ASSOCIATION):
        role = role_with_arn(plan, association.inputs["roleArn"])
        assert grants(plan, role), role.name
        assert missing(plan, association, grants(plan, role)) == [], association.name


@pytest.mark.parametrize("chart", CONTROLLERS)
def test_each_controller_starts_with_its_permissions_and_network_policy(plan: Plan, chart: str) -> None:
    """The namespace denies all traffic by default: without its own policy the controller cannot reach the API, and
    without its role's policy it cannot reach AWS. Both stay until the release (and all it cleans up) is gone."""
    release = plan.one(RELEASE, f"cluster-{chart}")
    (association,) = [a for a in plan.of_type(ASSOCIATION) if a.inputs["namespace"] == chart]
    (own_policy,) = [
        p
        for p in plan.of_type(NETWORK_POLICY)
        if (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]) == (chart, chart)
    ]
    role = role_with_arn(plan, association.inputs["roleArn"])
    assert missing(plan, release, [association, *grants(plan, role), own_policy]) == []


def test_node_groups_wait_for_the_node_roles_managed_policies(plan: Plan) -> None:
    """Nodes join the cluster and pull images with these; on destroy the node group drains with them in place."""
    for group in node_groups(plan):
        role = role_with_arn(plan, group.inputs["nodeRoleArn"])
        attachments = grants(plan, role)
        assert {a.inputs["policyArn"].rsplit("/", 1)[-1] for a in attachments} == {
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryPullOnly",
        }
        assert missing(plan, group, attachments) == [], group.name


def test_the_vpc_cni_waits_for_its_policy(plan: Plan) -> None:
    """Without AmazonEKS_CNI_Policy the CNI assigns no pod addresses: nodes never become ready."""
    cni = addons_by_name(plan)["vpc-cni"]
    role = role_with_arn(plan, cni.inputs["serviceAccountRoleArn"])
    attachments = grants(plan, role)
    assert [a.inputs["policyArn"].rsplit("/", 1)[-1] for a in attachments] == ["AmazonEKS_CNI_Policy"]
    assert missing(plan, cni, attachments) == []


def test_every_role_user_in_the_cluster_and_shop_waits_for_the_roles_permissions(plan: Plan) -> None:
    """The rest of the kind: any resource of the cluster or the shop handed a role's ARN depends on all of the
    role's grants."""
    roles = {role.outputs["arn"]: role for role in plan.of_type(ROLE)}
    users = [
        resource
        for resource in plan.resources
        if resource.custom and resource.type not in (ROLE, ROLE_POLICY, ATTACHMENT)
        for prefix in ("shop:cluster:Cluster$", "shop:shop:Shop$")
        if prefix in resource.urn
    ]
    checked = 0
    for user in users:
        for key, value in user.inputs.items():
            if isinstance(value, str) and value in roles:
                checked += 1
                assert missing(plan, user, grants(plan, roles[value])) == [], f"{user.name}.{key}"
    assert checked >= 5  # node groups, the CNI, the associations


def test_the_ingress_waits_for_the_access_log_bucket_policy(plan: Plan) -> None:
    """The controller turns on the ALB's access logs, which ELB refuses until the bucket policy admits it; and the
    policy outlives the load balancer, which writes logs until it is deleted."""
    ingress = plan.one(INGRESS)
    (policy,) = [p for p in plan.of_type(BUCKET_POLICY) if p.name == "storage-logs-policy"]
    assert depends_on(plan, ingress, policy)


def test_the_ingress_waits_for_its_load_balancers_security_group_rules(plan: Plan) -> None:
    """The ALB admits its clients and reaches the pods only through these rules."""
    ingress = plan.one(INGRESS)
    groups = [g for g in plan.of_type(SECURITY_GROUP) if g.name.startswith("shop-alb-")]
    rules = [
        rule
        for rule in plan.resources
        if rule.type.startswith("aws:vpc/securityGroup") and rule.parent in {g.urn for g in groups}
    ]
    assert len(rules) >= len(groups)
    assert missing(plan, ingress, [*groups, *rules]) == []


def test_nodes_and_controllers_wait_for_the_private_subnets_routes_out(plan: Plan) -> None:
    """Nodes pull images and call AWS through the NAT gateways (or the endpoints): on destroy the controllers still
    reach AWS while they delete the load balancer."""
    routes = [route for route in plan.of_type(ROUTE) if route.inputs.get("natGatewayId")]
    assert routes
    for group in plan.of_type(NODE_GROUP):
        assert missing(plan, group, routes) == [], group.name


def test_workload_add_ons_wait_for_no_unrelated_identity(plan: Plan) -> None:
    """CoreDNS and metrics-server need nodes, not the EBS CSI driver's identity."""
    addons = addons_by_name(plan)
    ebs_association = next(
        a for a in plan.of_type(ASSOCIATION) if a.inputs["serviceAccount"] == "ebs-csi-controller-sa"
    )
    assert ebs_association.urn in addons["aws-ebs-csi-driver"].dependencies
    for name in ("coredns", "metrics-server"):
        assert not depends_on(plan, addons[name], ebs_association), name


def test_controllers_wait_for_dns_but_not_for_volumes_or_metrics(plan: Plan) -> None:
    addons = addons_by_name(plan)
    for chart in CONTROLLERS:
        release = plan.one(RELEASE, f"cluster-{chart}")
        assert depends_on(plan, release, addons["coredns"])
        for name in ("aws-ebs-csi-driver", "metrics-server"):
            assert not depends_on(plan, release, addons[name]), (chart, name)
    assert all(addon.type == ADDON for addon in addons.values())
