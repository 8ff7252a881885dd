"""Worker nodes: the node IAM role, the launch template every node starts from, and the node pools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.account import Account
from components.iam import GrantedRole, RoleScope, granted_service_role

#: Node label that says which pool a node belongs to; workloads select their pool with it.
POOL_LABEL = "node-pool"
#: The system pool's taint: only pods that tolerate it (platform controllers, CoreDNS) run there.
SYSTEM_TAINT = {"key": "CriticalAddonsOnly", "value": "true"}
SYSTEM_TOLERATION = {"key": SYSTEM_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}
SYSTEM_NODE_SELECTOR = {POOL_LABEL: "system"}
APP_NODE_SELECTOR = {POOL_LABEL: "apps"}

#: Root (AL2023) or OS (Bottlerocket) volume; Bottlerocket keeps containers on a second, data volume.
_OS_VOLUME = "/dev/xvda"
_BOTTLEROCKET_DATA_VOLUME = "/dev/xvdb"


@dataclass(frozen=True)
class NodePool:
    """One managed node group: where it runs, what on, how big it may get, and which pods it takes."""

    name: str
    subnet_ids: Sequence[pulumi.Input[str]]
    instance_types: Sequence[str]
    capacity_type: str
    min_size: int
    desired_size: int
    max_size: int
    labels: dict[str, str]
    taints: Sequence[dict[str, str]] = ()


def split_across_zones(total: int, zones: int) -> list[int]:
    """``total`` nodes shared as evenly as ``zones`` allow, the first zones taking the remainder (7 over 3 zones:
    3, 2, 2). Splitting a minimum, desired and maximum size this way keeps each zone's share ordered too."""
    share, remainder = divmod(total, zones)
    return [share + (1 if zone < remainder else 0) for zone in range(zones)]


def node_role(
    name: str, *, account: Account, scope: RoleScope, tags: dict[str, str], parent: pulumi.Resource
) -> GrantedRole:
    """Joining the cluster and pulling images, nothing else: pods get AWS access from Pod Identity, and the VPC
    CNI has its own role."""
    return granted_service_role(
        name,
        scope=scope,
        service=account.service_principal("ec2"),
        managed_policy_arns=[
            f"arn:{account.partition}:iam::aws:policy/{policy}"
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
        ],
        description="EKS managed node groups: join the cluster and pull images",
        tags=tags,
        parent=parent,
    )


def launch_template(
    name: str,
    *,
    node_os: str,
    disk_gib: int,
    security_group_ids: Sequence[pulumi.Input[str]],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only, one hop (containers cannot reach the node's credentials), encrypted gp3 volumes.

    Node volumes hold only the OS, image layers and emptyDir scratch space; they use the account's AWS-managed
    EBS key. A customer-managed key would have to admit EC2 Auto Scaling's service-linked role, which launches
    the instances, and KMS rejects a key policy naming a role that does not exist yet; that role appears with the
    account's first Auto Scaling group, so such a key needs either a wildcard principal or the service-linked role
    created beforehand, outside this stack. Persistent volumes, where data lives, use the customer-managed volumes
    key.

    Naming security groups here replaces EKS's default, so the list carries the cluster security group (control
    plane traffic) as well as the workload group the data stores admit.
    """

    def volume(device: str, size: int | None) -> aws.ec2.LaunchTemplateBlockDeviceMappingArgs:
        return aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
            device_name=device,
            ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                volume_size=size,
                volume_type="gp3",
                encrypted="true",
                delete_on_termination="true",
            ),
        )

    volumes = (
        [volume(_OS_VOLUME, None), volume(_BOTTLEROCKET_DATA_VOLUME, disk_gib)]
        if node_os == "Bottlerocket"
        else [volume(_OS_VOLUME, disk_gib)]
    )
    return aws.ec2.LaunchTemplate(
        name,
        description="EKS nodes: IMDSv2 with one hop, encrypted gp3 volumes, cluster and workload security groups",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
        ),
        block_device_mappings=volumes,
        vpc_security_group_ids=list(security_group_ids),
        update_default_version=True,
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
            for kind in ("instance", "volume", "network-interface")
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def allow_control_plane_and_peers(
    name: str,
    *,
    workload_security_group_id: pulumi.Input[str],
    cluster_security_group_id: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> list[aws.vpc.SecurityGroupIngressRule]:
    """Ingress of the workload group: from other nodes and pods, and from the control plane (kubelet, webhooks and
    aggregated APIs, which may listen on 443 or any unprivileged port). Nothing from outside the cluster."""
    rules = [
        ("from-nodes", "-1", None, None, workload_security_group_id, "Node to node and pod to pod"),
        ("from-control-plane-https", "tcp", 443, 443, cluster_security_group_id, "Control plane to webhooks"),
        ("from-control-plane", "tcp", 1025, 65535, cluster_security_group_id, "Control plane to kubelets and pods"),
    ]
    return [
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-{suffix}",
            security_group_id=workload_security_group_id,
            ip_protocol=protocol,
            from_port=from_port,
            to_port=to_port,
            referenced_security_group_id=source,
            description=description,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for suffix, protocol, from_port, to_port, source, description in rules
    ]


def managed_node_group(
    name: str,
    pool: NodePool,
    *,
    cluster: eks.Cluster,
    kubernetes_version: str,
    node_os: str,
    node_role_arn: pulumi.Input[str],
    template: aws.ec2.LaunchTemplate,
    name_prefix: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> eks.ManagedNodeGroup:
    """A node group in the pool's subnets; the Cluster Autoscaler owns its size."""
    return eks.ManagedNodeGroup(
        name,
        cluster=cluster,
        node_group_name_prefix=name_prefix,
        node_role_arn=node_role_arn,
        subnet_ids=list(pool.subnet_ids),
        # With our own launch template EKS no longer defaults the version to the control plane's.
        version=kubernetes_version,
        operating_system=eks.OperatingSystem(node_os),
        instance_types=list(pool.instance_types),
        capacity_type=pool.capacity_type,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=pool.min_size, desired_size=pool.desired_size, max_size=pool.max_size
        ),
        ignore_scaling_changes=True,
        labels=pool.labels,
        taints=[aws.eks.NodeGroupTaintArgs(effect="NO_SCHEDULE", **taint) for taint in pool.taints],
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
