"""`pulumi destroy` completes with nothing left behind: what the engine deletes in reverse dependency order
(stacks/offline/lifecycle.py) keeps every controller, permission and network path an object's clean-up needs until
the object is gone, and the VPC until everything inside it is gone."""

from __future__ import annotations

from typing import Any

from stacks.offline.lifecycle import destroy_order, destroy_waves, outlives
from stacks.offline.plan import Plan, PlannedResource
from tests.cluster_plan import ADDON, ASSOCIATION, NETWORK_POLICY, NODE_GROUP, RELEASE, ROLE_POLICY, control_plane

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
ALB_CONTROLLER = "cluster-aws-load-balancer-controller"
VPC = "aws:ec2/vpc:Vpc"
#: Kubernetes objects that AWS resources hang off: deleting one needs a controller to delete those.
FINALIZED = (
    INGRESS,
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:core/v1:Service",
)


def still_there(plan: Plan, resource: PlannedResource, needs: list[PlannedResource]) -> list[str]:
    """What ``resource``'s deletion needs but the engine may already have deleted."""
    return [need.name for need in needs if not outlives(plan, need, resource)]


def load_balancer_controller_and_what_it_needs(plan: Plan) -> list[PlannedResource]:
    """The controller, its credentials and permissions, its network policy, the nodes and DNS it runs on, and the
    routes it reaches AWS through."""
    release = plan.one(RELEASE, ALB_CONTROLLER)
    namespace = release.inputs["namespace"]
    (association,) = [a for a in plan.of_type(ASSOCIATION) if a.inputs["namespace"] == namespace]
    role_policies = [p for p in plan.of_type(ROLE_POLICY) if p.parent == association.parent]
    (network_policy,) = [
        p for p in plan.of_type(NETWORK_POLICY) if p.inputs["metadata"] == {**p.inputs["metadata"], "name": namespace}
    ]
    routes_out = [r for r in plan.of_type("aws:ec2/route:Route") if r.inputs.get("natGatewayId")]
    addons = [a for a in plan.of_type(ADDON) if a.inputs["addonName"] in ("coredns", "vpc-cni", "kube-proxy")]
    assert role_policies and routes_out and len(addons) == 3
    return [
        release,
        association,
        *role_policies,
        network_policy,
        *plan.of_type(NODE_GROUP),
        *addons,
        *routes_out,
        control_plane(plan),
    ]


def test_the_ingress_is_deleted_while_the_load_balancer_controller_can_still_delete_the_alb(plan: Plan) -> None:
    ingress = plan.one(INGRESS)
    assert still_there(plan, ingress, load_balancer_controller_and_what_it_needs(plan)) == []


def test_the_alb_is_gone_before_its_subnets_security_groups_and_log_bucket_policy(plan: Plan) -> None:
    """The controller deletes the ALB while the Ingress is deleted: nothing the ALB sits in or writes to goes
    first (a subnet or security group in use cannot be deleted, and would fail the destroy)."""
    ingress = plan.one(INGRESS)
    public_subnets = [s for s in plan.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == "public"]
    alb_groups = [g for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name.startswith("shop-alb-")]
    internet_gateway = plan.one("aws:ec2/internetGateway:InternetGateway")
    logs_policy = plan.one("aws:s3/bucketPolicy:BucketPolicy", "storage-logs-policy")
    needs = [*public_subnets, *alb_groups, internet_gateway, logs_policy]
    assert still_there(plan, ingress, needs) == []


def test_every_object_a_controller_cleans_up_goes_before_the_controller(plan: Plan) -> None:
    """Ingresses (the ALB controller), claims and stateful sets (the EBS CSI driver), and Services of type
    LoadBalancer (the ALB controller): the platform has only ClusterIP Services and no claims today, and any added
    later is checked here."""
    controllers: dict[str, list[PlannedResource]] = {
        INGRESS: load_balancer_controller_and_what_it_needs(plan),
        "kubernetes:core/v1:PersistentVolumeClaim": [a for a in plan.of_type(ADDON) if "ebs" in a.inputs["addonName"]],
        "kubernetes:apps/v1:StatefulSet": [a for a in plan.of_type(ADDON) if "ebs" in a.inputs["addonName"]],
        "kubernetes:core/v1:Service": load_balancer_controller_and_what_it_needs(plan),
    }
    checked = 0
    for type_ in FINALIZED:
        for resource in plan.of_type(type_):
            if type_.endswith(":Service") and _spec(resource).get("type") != "LoadBalancer":
                continue
            checked += 1
            assert still_there(plan, resource, controllers[type_]) == [], resource.name
    assert checked >= 1


def _spec(resource: PlannedResource) -> dict[str, Any]:
    return resource.inputs.get("spec") or {}


def _references(value: Any, ids: set[str]) -> bool:
    if isinstance(value, str):  # annotations list IDs separated by commas
        return any(part in ids for part in value.split(","))
    if isinstance(value, list):
        return any(_references(item, ids) for item in value)
    if isinstance(value, dict):
        return any(_references(item, ids) for item in value.values())
    return False


def test_the_vpc_goes_last_of_everything_inside_it(plan: Plan) -> None:
    """Subnets, security groups, endpoints, gateways, the cluster, its node groups, the database and the cache: any
    resource naming the VPC, a subnet or a security group of it (directly or through a group of subnets)."""
    (vpc,) = plan.of_type(VPC)
    inside_types = ("aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup")
    inside_ids = {vpc.id} | {r.id for r in plan.resources if r.type in inside_types}
    subnet_groups = {
        r.outputs["name"]
        for r in plan.resources
        if r.type in ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup")
    }
    inside = [
        r
        for r in plan.resources
        if r is not vpc
        and (
            _references(r.inputs, inside_ids)
            or r.inputs.get("dbSubnetGroupName") in subnet_groups
            or r.inputs.get("subnetGroupName") in subnet_groups
        )
    ]
    types = {r.type for r in inside}
    for expected in (
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/natGateway:NatGateway",
        "eks:index:Cluster",
        NODE_GROUP,
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        INGRESS,
    ):
        assert expected in types, expected
    assert [r.name for r in inside if not outlives(plan, vpc, r)] == []


def test_destroy_order_is_a_reverse_topological_order(staging: Plan) -> None:
    order = {resource.urn: index for index, resource in enumerate(destroy_order(staging))}
    assert len(order) == len(staging.resources)
    for resource in staging.resources:
        for dependency in [*resource.dependencies, resource.parent, resource.provider]:
            if dependency in order:
                assert order[resource.urn] < order[dependency], (resource.name, dependency)


def test_the_ingress_goes_in_the_first_waves_and_the_vpc_in_one_of_the_last(staging: Plan) -> None:
    waves = destroy_waves(staging)
    wave_of = {resource.urn: index for index, wave in enumerate(waves) for resource in wave}
    assert wave_of[staging.one(INGRESS).urn] < wave_of[staging.one(RELEASE, ALB_CONTROLLER).urn]
    assert wave_of[staging.one(VPC).urn] >= len(waves) - 3


def test_staging_destroys_without_protection_in_the_way(staging: Plan) -> None:
    """Nothing in staging is protected, so `pulumi destroy` needs no `pulumi state unprotect` first; the load
    balancer has no deletion protection, so the controller can delete it."""
    assert [r.name for r in staging.resources if r.options["protect"]] == []
    annotations = staging.one(INGRESS).inputs["metadata"]["annotations"]
    assert "deletion_protection.enabled=false" in annotations["alb.ingress.kubernetes.io/load-balancer-attributes"]


def test_every_kubernetes_object_is_deleted_while_the_api_is_reachable(plan: Plan) -> None:
    """`pulumi destroy` deletes Kubernetes objects through the API: its security group rules (the deployer's way in,
    operator networks) stay until the last object is gone, and the nodes' rules until the nodes are."""
    api_rules = [
        r
        for r in plan.resources
        if r.type.startswith("aws:vpc/securityGroup") and ("-api-from-" in r.name or "-to-api" in r.name)
    ]
    assert len(api_rules) >= 2
    kubernetes = [r for r in plan.resources if r.type.startswith("kubernetes:") and r.custom]
    for resource in kubernetes:
        assert still_there(plan, resource, api_rules) == [], resource.name
    workload_rules = [r for r in plan.resources if r.name.startswith("cluster-workloads-from-")]
    assert len(workload_rules) == 3
    for group in plan.of_type(NODE_GROUP):
        assert still_there(plan, group, workload_rules) == [], group.name


def test_the_rollout_and_its_analysis_go_while_argo_rollouts_still_runs(plan: Plan) -> None:
    """Argo Rollouts is there while the Rollout (with its ReplicaSets and AnalysisRuns) is deleted; the Services it
    switches stay until the Rollout is gone, and the CRDs stay with the chart's keep policy (the cluster goes
    anyway)."""
    rollouts = plan.one(RELEASE, "cluster-argo-rollouts")
    for type_ in ("kubernetes:argoproj.io/v1alpha1:Rollout", "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"):
        for resource in plan.of_type(type_):
            assert still_there(plan, resource, [rollouts]) == [], resource.name
    rollout = plan.one("kubernetes:argoproj.io/v1alpha1:Rollout")
    services = [s for s in plan.of_type("kubernetes:core/v1:Service") if s.name.startswith("shop-service")]
    assert len(services) == 2
    assert still_there(plan, rollout, services) == []
    assert rollouts.inputs["values"]["keepCRDs"] is True
