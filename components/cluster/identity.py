"""Workload identity: IAM roles that pods assume, and the least-privilege statements of the platform's own pods.

``pod_identity_role`` is the one way a workload gets AWS credentials (EKS Pod Identity, through the
eks-pod-identity-agent add-on); ``irsa_role`` exists only for the VPC CNI, whose documented identity is IRSA.
Other components (e.g. observability's CloudWatch agent) call ``pod_identity_role`` the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.carts import item_statement
from components.iam import (
    GrantedRole,
    RoleScope,
    Statements,
    attach_managed_policies,
    granted_service_role,
    policy_document,
    scoped_role,
)

POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
#: Controller release line whose official IAM policy (kubernetes-sigs/aws-load-balancer-controller,
#: docs/install/iam_policy.json) is vendored beside this file; the chart version in settings (1.<minor>.x ships
#: controller v2.<minor>.x) must belong to it.
LOAD_BALANCER_CONTROLLER_POLICY_VERSION = "2.14"
LOAD_BALANCER_CONTROLLER_POLICY = Path(__file__).with_name(
    f"aws-load-balancer-controller-iam-policy-v{LOAD_BALANCER_CONTROLLER_POLICY_VERSION}.json"
)


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str


@dataclass(frozen=True)
class PodIdentity:
    role: aws.iam.Role
    association: aws.eks.PodIdentityAssociation
    """Pods started before the association exists get no credentials: make their workload depend on it. It waits
    for the role's grants, so a dependency on it is one on the role's permissions too."""


def pod_identity_role(
    name: str,
    *,
    account: Account,
    scope: RoleScope,
    cluster_name: pulumi.Input[str],
    service_account: ServiceAccount,
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    statements: Statements = (),
    managed_policy_arns: Sequence[str] = (),
) -> PodIdentity:
    """A role only ``service_account`` of this cluster (in ``account``'s region) can assume, with an inline policy of
    ``statements`` and/or AWS managed policies, and its Pod Identity association."""
    cluster_arn = pulumi.Output.from_input(cluster_name).apply(lambda cluster: account.arn("eks", f"cluster/{cluster}"))
    conditions = {
        # The account EKS acts for (confused deputy); a cluster of another account never gets this role.
        "aws:SourceAccount": account.id,
        # Pod Identity passes the pod's cluster ARN, namespace and service account as session tags.
        "aws:RequestTag/eks-cluster-arn": cluster_arn,
        "aws:RequestTag/kubernetes-namespace": service_account.namespace,
        "aws:RequestTag/kubernetes-service-account": service_account.name,
    }
    granted = granted_service_role(
        name,
        scope=scope,
        service=POD_IDENTITY_PRINCIPAL,
        statements=statements,
        managed_policy_arns=managed_policy_arns,
        description=description,
        tags=tags,
        parent=parent,
        trust_actions=("sts:AssumeRole", "sts:TagSession"),
        trust_conditions={"StringEquals": conditions},
    )
    association = aws.eks.PodIdentityAssociation(
        f"{name}-association",
        cluster_name=cluster_name,
        namespace=service_account.namespace,
        service_account=service_account.name,
        role_arn=granted.role.arn,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=granted.role, depends_on=granted.grants),
    )
    return PodIdentity(role=granted.role, association=association)


def irsa_role(
    name: str,
    *,
    scope: RoleScope,
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    service_account: ServiceAccount,
    managed_policy_arns: Sequence[str],
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> GrantedRole:
    """A role ``service_account`` assumes with its projected token through the cluster's OIDC provider."""
    subject = f"system:serviceaccount:{service_account.namespace}:{service_account.name}"
    trust = pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda values: policy_document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": values[0]},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {f"{values[1]}:sub": subject, f"{values[1]}:aud": "sts.amazonaws.com"}
                    },
                }
            ]
        )
    )
    role = scoped_role(name, scope=scope, trust=trust, description=description, tags=tags, parent=parent)
    return GrantedRole(role=role, grants=list(attach_managed_policies(name, role, managed_policy_arns)))


# ---------------------------------------------------------------------------------------------- statements


def load_balancer_controller_statements(account: Account) -> list[dict[str, Any]]:
    """The official policy, verbatim but for the partition; it scopes writes by the controller's own tags."""
    document = LOAD_BALANCER_CONTROLLER_POLICY.read_text().replace("arn:aws:", f"arn:{account.partition}:")
    return json.loads(document)["Statement"]


def cluster_autoscaler_statements(account: Account, cluster_name: str) -> list[dict[str, Any]]:
    """Read the node groups; resize and shrink only the Auto Scaling groups EKS tagged as this cluster's."""
    return [
        {
            "Sid": "DiscoverNodeGroups",
            "Effect": "Allow",
            "Action": [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
            ],
            "Resource": "*",  # these Describe/Get calls support no resource-level permissions
        },
        {
            "Sid": "DescribeOwnNodeGroups",
            "Effect": "Allow",
            "Action": "eks:DescribeNodegroup",
            "Resource": account.arn("eks", f"nodegroup/{cluster_name}/*/*"),
        },
        {
            "Sid": "ScaleOwnNodeGroups",
            "Effect": "Allow",
            "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            "Resource": account.arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*"),
            "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
        },
    ]


def argo_rollouts_statements() -> list[dict[str, Any]]:
    """What Argo Rollouts reads in AWS: the CloudWatch metrics its analysis queries (its CloudWatch provider calls
    GetMetricData only, argo-rollouts docs/analysis/cloudwatch.md) and the load balancer's listeners, rules, target
    groups and their health for target group verification (docs/features/traffic-management/alb.md). Read only:
    none of these actions supports resource-level permissions."""
    return [
        {
            "Sid": "ReadAnalysisMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:GetMetricData",
            "Resource": "*",
        },
        {
            "Sid": "VerifyTargetGroups",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            "Resource": "*",
        },
    ]


def volume_key_statements(key_arn: pulumi.Input[str]) -> pulumi.Output[list[dict[str, Any]]]:
    """The EBS CSI driver's use of the volumes key (AWS's documented statements, on this one key)."""
    return pulumi.Output.from_input(key_arn).apply(
        lambda arn: [
            {
                "Sid": "GrantKeyToAttachedVolumes",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Sid": "EncryptPersistentVolumes",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": arn,
            },
        ]
    )


@dataclass(frozen=True)
class ShopAccess:
    """Everything the shop's pods may reach in AWS: the whole policy of its Pod Identity role."""

    secret_arns: Sequence[pulumi.Input[str]]
    """The shop's own Secrets Manager secrets and the RDS-managed master secret: read only."""
    secrets_key_arn: pulumi.Input[str]
    """Decrypts those secrets, through Secrets Manager only."""
    assets_bucket_arn: pulumi.Input[str]
    assets_prefix: str
    """The shop lists, reads, writes and deletes objects under this prefix of the assets bucket, nothing else."""
    data_key_arn: pulumi.Input[str]
    """Encrypts and decrypts those objects (SSE-KMS), through S3 only, and the carts table, through DynamoDB only."""
    carts_table_arn: pulumi.Input[str]
    """The carts table: the item calls the shop makes (components/carts.py ITEM_ACTIONS), nothing else."""


def shop_statements(account: Account, access: ShopAccess) -> pulumi.Output[list[dict[str, Any]]]:
    def through(service: str) -> dict[str, Any]:
        return {"StringEquals": {"kms:ViaService": account.service_principal(service, regional=True)}}

    media = f"{access.assets_prefix}*"
    return pulumi.Output.all(
        secrets=list(access.secret_arns),
        secrets_key=access.secrets_key_arn,
        bucket=access.assets_bucket_arn,
        data_key=access.data_key_arn,
        carts=access.carts_table_arn,
    ).apply(
        lambda arns: [
            {
                "Sid": "ReadOwnSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": arns["secrets"],
            },
            {
                "Sid": "DecryptOwnSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": arns["secrets_key"],
                "Condition": through("secretsmanager"),
            },
            {
                "Sid": "ListMedia",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": arns["bucket"],
                "Condition": {"StringLike": {"s3:prefix": media}},
            },
            {
                "Sid": "ReadWriteMedia",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{arns['bucket']}/{media}",
            },
            {
                "Sid": "EncryptMedia",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": arns["data_key"],
                "Condition": through("s3"),
            },
            item_statement(arns["carts"]),
            {
                "Sid": "EncryptCarts",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": arns["data_key"],
                "Condition": through("dynamodb"),
            },
        ]
    )
