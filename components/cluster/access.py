"""Who may use the Kubernetes API, and from where.

Identity: EKS access entries by IAM role, declared in the plan, and nothing else: pulumi-eks always asks EKS to make
whoever creates the cluster an admin (an access entry the plan cannot show, for whichever identity happened to run
the first `pulumi up`); ``without_creator_admin`` switches that off.

Network: the API's private endpoint listens on the control plane's network interfaces in the private subnets. They
carry EKS's own cluster security group, which every node (and so every pod) carries too, and the ``api`` group here,
which only the control plane carries: it admits HTTPS from the ``deployer`` group, which an operator attaches to a
deploy runner or VPN endpoint in the VPC, and from the networks listed in eksPrivateAccessCidrs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.account import Account
from components.naming import Naming
from stacks.settings import ClusterSettings

#: The bootstrap's stack (docs/cicd.md "Bootstrap"): its deploy role for platform stack S is named <prefix>-ci-deploy-S.
BOOTSTRAP_STACK = "ci"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
_HTTPS = 443


def bootstrap_deploy_role(naming: Naming) -> str:
    """The role the bootstrap (components/deploy_access.py) creates for this stack's `pulumi up`."""
    return Naming(prefix=naming.prefix, stack=BOOTSTRAP_STACK).physical(f"deploy-{naming.stack}", max_length=64)


@dataclass(frozen=True)
class _Level:
    name: str
    key: str
    """The config key that lists its roles."""
    policy: str
    roles: tuple[str, ...]


def access_entries(
    settings: ClusterSettings, *, naming: Naming, account: Account, tags: dict[str, str]
) -> dict[str, eks.AccessEntryArgs]:
    """One access entry per role: the pipeline's and the admins' cluster-wide admin (the stack installs namespaces,
    RBAC, CRDs and webhooks), the readers' cluster-wide view."""
    pipeline_key = "eksPipelineRoles"
    levels = [
        _Level(
            "pipeline",
            pipeline_key,
            "AmazonEKSClusterAdminPolicy",
            settings.pipeline_roles or (bootstrap_deploy_role(naming),),
        ),
        _Level("admin", "eksAdminRoles", "AmazonEKSClusterAdminPolicy", settings.admin_roles),
        _Level("read-only", "eksReadOnlyRoles", "AmazonEKSViewPolicy", settings.read_only_roles),
    ]
    listed: dict[str, str] = {}
    for level in levels:
        for role in level.roles:
            # Settings reject a role listed twice; only the pipeline's default can meet an explicit entry here.
            if role in listed:
                raise pulumi.RunError(
                    f"Pulumi.{naming.stack}.yaml: shop-platform:{level.key}: {role} is already this stack's pipeline "
                    f"role ({pipeline_key} defaults to the bootstrap's deploy role); EKS allows one access entry per "
                    f"role, so list it in {pipeline_key} or nowhere"
                )
            listed[role] = level.name
    return {
        f"{level.name}-{re.sub(r'[^A-Za-z0-9-]', '-', role)}": eks.AccessEntryArgs(
            principal_arn=f"arn:{account.partition}:iam::{account.id}:role/{role}",
            access_policies={
                level.name: eks.AccessPolicyAssociationArgs(
                    policy_arn=f"arn:{account.partition}:eks::aws:cluster-access-policy/{level.policy}",
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                )
            },
            tags=tags,
        )
        for level in levels
        for role in level.roles
    }


def without_creator_admin(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Create the EKS cluster without the admin access entry EKS would otherwise grant its creator.

    A transform on pulumi-eks's ``Cluster``: the engine applies it to the ``aws:eks/cluster:Cluster`` the plugin
    registers (whose inputs carry engine names), since pulumi-eks 4.4 exposes no option for it. EKS reads the flag
    at creation only (pulumi-eks also ignores later changes to it), so on an existing cluster it changes nothing.
    """
    if args.type_ != EKS_CLUSTER:
        return None
    # Plain values: pulumi-eks builds the access configuration from its own arguments, never from outputs.
    access_config = {**cast("Mapping[str, Any]", args.props.get("accessConfig") or {})}
    access_config["bootstrapClusterCreatorAdminPermissions"] = False
    return pulumi.ResourceTransformResult(props={**args.props, "accessConfig": access_config}, opts=args.opts)


@dataclass(frozen=True)
class ApiSecurityGroups:
    api: aws.ec2.SecurityGroup
    """Attached to the control plane's network interfaces only (pulumi-eks's ``cluster_security_group``)."""
    deployer: aws.ec2.SecurityGroup
    """Whatever carries it reaches the API on 443: a deploy runner or VPN endpoint in the VPC."""
    rules: list[pulumi.Resource]
    """The groups' rules: the control plane depends on them, and so does every Kubernetes object through the
    provider, so that `pulumi up` and `pulumi destroy` reach the API until the last object is gone."""


def api_security_groups(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    operator_cidrs: tuple[str, ...],
    tags: Callable[[str], dict[str, str]],
    parent: pulumi.Resource,
) -> ApiSecurityGroups:
    """The API's own group, admitting HTTPS from the deployer group and ``operator_cidrs``, and the deployer group;
    ``tags`` gives the tags of a purpose (``eks-api``, ``eks-deployer``).

    Neither has other rules: the control plane's traffic to nodes goes through EKS's cluster security group (which
    allows all egress), and a runner's other traffic through the runner's own group.
    """

    def group(purpose: str, description: str) -> tuple[aws.ec2.SecurityGroup, dict[str, str]]:
        group_tags = tags(f"eks-{purpose}")
        created = aws.ec2.SecurityGroup(
            f"{name}-{purpose}-sg",
            vpc_id=vpc_id,
            description=description,
            tags=group_tags,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        return created, group_tags

    api, api_tags = group(
        "api", "EKS control plane network interfaces: the Kubernetes API for deployers and operator networks"
    )
    deployer, deployer_tags = group(
        "deployer", "Deploy runners and VPN endpoints: HTTPS to the Kubernetes API private endpoint"
    )

    rules: list[pulumi.Resource] = []

    def https(rule: Callable[..., Any], rule_name: str, owner: aws.ec2.SecurityGroup, **details: Any) -> None:
        created = rule(
            rule_name,
            security_group_id=owner.id,
            ip_protocol="tcp",
            from_port=_HTTPS,
            to_port=_HTTPS,
            opts=pulumi.ResourceOptions(parent=owner),
            **details,
        )
        rules.append(created)

    ingress, egress = aws.vpc.SecurityGroupIngressRule, aws.vpc.SecurityGroupEgressRule
    https(
        ingress,
        f"{name}-api-from-deployer",
        api,
        referenced_security_group_id=deployer.id,
        description="Kubernetes API from the deployer group",
        tags=api_tags,
    )
    https(
        egress,
        f"{name}-deployer-to-api",
        deployer,
        referenced_security_group_id=api.id,
        description="Kubernetes API (private endpoint)",
        tags=deployer_tags,
    )
    for index, cidr in enumerate(operator_cidrs, start=1):
        https(
            ingress,
            f"{name}-api-from-network-{index}",
            api,
            cidr_ipv4=cidr,
            description="Kubernetes API from an operator network (eksPrivateAccessCidrs)",
            tags=api_tags,
        )
    return ApiSecurityGroups(api=api, deployer=deployer, rules=rules)
