"""The EKS control plane: pulumi-eks's ``Cluster`` with our own service role, audit log group and API security
group, and ``protect`` (in prod) on the EKS cluster it creates and nothing else of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.account import Account
from components.base import PlatformComponent
from components.cluster.access import EKS_CLUSTER, ApiSecurityGroups, access_entries, without_creator_admin
from components.iam import attach_managed_policies, service_role
from stacks.settings.cluster import CONTROL_PLANE_LOG_TYPES

if TYPE_CHECKING:
    from components.cluster.component import ClusterArgs


def aws_policy(account: Account, name: str) -> str:
    """The ARN of the AWS managed policy ``name`` in ``account``'s partition."""
    return f"arn:{account.partition}:iam::aws:policy/{name}"


def protect_control_plane(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """``protect`` on the ``aws:eks/cluster:Cluster`` pulumi-eks creates and on nothing else of its children: the
    engine applies the component's transforms to every resource the plugin registers."""
    if args.type_ != EKS_CLUSTER:
        return None
    return pulumi.ResourceTransformResult(
        props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True))
    )


def build_control_plane(
    name: str, cluster: PlatformComponent, args: ClusterArgs, api_groups: ApiSecurityGroups
) -> eks.Cluster:
    """pulumi-eks's Cluster (``<name>-eks``) with our service role, log group, API security group and access
    entries, and none of pulumi-eks's own node groups, security groups or add-ons."""
    settings = args.settings
    context = cluster.context
    # Created first so that retention and encryption are ours; EKS would create it without either.
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-control-plane-logs",
        name=f"/aws/eks/{args.name}/cluster",
        retention_in_days=settings.log_retention_days,
        kms_key_id=args.logs_key_arn,
        tags=cluster.tags("eks-control-plane-logs"),
        opts=cluster.child(holds_data=True),
    )
    # Ours rather than pulumi-eks's default, which would lack the stack's path and boundary (without them the
    # deploy role may create no role). The same policy; its trust is eks.amazonaws.com's sts:AssumeRole, without
    # the sts:TagSession pulumi-eks also allows, which only EKS Auto Mode needs. EKS uses the secrets key through
    # the grant it creates with the deployer's permissions when the cluster is created: no KMS statement here.
    role_name = f"{name}-control-plane"
    service = service_role(
        role_name,
        scope=context.role_scope,
        service="eks.amazonaws.com",  # the same in every partition
        statements=(),
        description=f"EKS control plane of cluster {args.name}",
        tags=cluster.tags("eks-control-plane"),
        parent=cluster,
    )
    policies = attach_managed_policies(role_name, service, [aws_policy(context.account, "AmazonEKSClusterPolicy")])
    return eks.Cluster(
        f"{name}-eks",
        name=args.name,
        service_role=service,
        version=settings.kubernetes_version,
        upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=settings.support_type),
        authentication_mode=eks.AuthenticationMode.API,
        access_entries=access_entries(
            settings, naming=context.naming, account=context.account, tags=cluster.tags("eks-access")
        ),
        vpc_id=args.vpc_id,
        private_subnet_ids=list(args.private_subnet_ids),
        kubernetes_service_ip_address_range=args.service_cidr,
        endpoint_private_access=True,
        endpoint_public_access=settings.public_endpoint,
        public_access_cidrs=[str(cidr) for cidr in settings.public_access_cidrs] or None,
        encryption_config_key_arn=args.secrets_key_arn,
        enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
        create_oidc_provider=True,
        deletion_protection=context.protect,
        skip_default_node_group=True,
        # On the control plane's network interfaces beside EKS's own group, which nodes carry too: the API
        # endpoint admits the deployer group and operator networks without opening every node to them.
        cluster_security_group=api_groups.api,
        # No node group of pulumi-eks's and so no node security group: ours carry EKS's cluster group.
        skip_default_security_groups=True,
        # Every add-on is an aws.eks.Addon of ours (addons.py): no self-managed copies, none from pulumi-eks.
        bootstrap_self_managed_addons=False,
        use_default_vpc_cni=True,
        kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=False),
        coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
        tags=cluster.tags(name=args.name),
        opts=pulumi.ResourceOptions(
            parent=cluster,
            # A resource reference is no dependency to the engine: without this, a destroy could delete the
            # group while the control plane's network interfaces still use it, and EKS could get its role before
            # the role's policy is attached. The API's rules too: every Kubernetes object reaches the API
            # through them (its provider depends on the cluster), on create and on delete.
            depends_on=[log_group, api_groups.api, *api_groups.rules, service, *policies],
            # `protect` on this component would reach everything pulumi-eks creates (access entries, the OIDC
            # provider, ...), and block routine changes to them: the transform protects the cluster alone.
            transforms=[without_creator_admin, *([protect_control_plane] if context.protect else [])],
        ),
    )
