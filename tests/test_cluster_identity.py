"""Workload identity on the offline plan: which service account gets which role, whom each role trusts, and the exact
actions each may take (least privilege: the allowed actions are listed per role)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from components.carts import ITEM_ACTIONS
from components.cluster.identity import LOAD_BALANCER_CONTROLLER_POLICY, LOAD_BALANCER_CONTROLLER_POLICY_VERSION
from stacks.offline.engine import preview
from stacks.offline.plan import Plan, PlannedResource
from tests.cluster_plan import (
    ASSOCIATION,
    AWS_POLICY,
    ROLE_POLICY,
    addons_by_name,
    allowed_actions,
    as_list,
    cluster_settings,
    control_plane,
    inline_statements,
    key_arn,
    managed_policies,
    role_with_arn,
    trust_policy,
)

OFFICIAL_ALB_POLICY = json.loads(LOAD_BALANCER_CONTROLLER_POLICY.read_text())["Statement"]
#: SHA-256 of the vendored docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller, v2.14 line
#: (16 statements). Any edit to the file fails here: update it only together with a new upstream policy.
ALB_POLICY_SHA256 = "16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a"
#: What that policy allows, listed here rather than read from the file: discovery (Describe/Get), the security
#: groups, load balancers, target groups, listeners and rules it tags as its own, certificates, WAF and Shield.
ALB_ACTIONS = {
    "acm:DescribeCertificate",
    "acm:ListCertificates",
    "cognito-idp:DescribeUserPoolClient",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteTags",
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeCoipPools",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeIpamPools",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:GetCoipPoolUsage",
    "ec2:GetSecurityGroupsForVpc",
    "ec2:RevokeSecurityGroupIngress",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DescribeCapacityReservation",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTrustStores",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:SetWebAcl",
    "iam:CreateServiceLinkedRole",
    "iam:GetServerCertificate",
    "iam:ListServerCertificates",
    "shield:CreateProtection",
    "shield:DeleteProtection",
    "shield:DescribeProtection",
    "shield:GetSubscriptionState",
    "waf-regional:AssociateWebACL",
    "waf-regional:DisassociateWebACL",
    "waf-regional:GetWebACL",
    "waf-regional:GetWebACLForResource",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
}
#: Every action each Pod Identity role's inline policy allows, by (namespace, service account).
ALLOWED_ACTIONS = {
    ("shop", "shop"): {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        *ITEM_ACTIONS,  # the carts table (tests/test_carts.py)
        "kms:DescribeKey",
        "kms:Encrypt",
    },
    ("kube-system", "ebs-csi-controller-sa"): {
        "kms:CreateGrant",
        "kms:ListGrants",
        "kms:RevokeGrant",
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    },
    ("cluster-autoscaler", "cluster-autoscaler"): {
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLaunchConfigurations",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeTags",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:GetInstanceTypesFromInstanceRequirements",
        "eks:DescribeNodegroup",
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    },
    ("aws-load-balancer-controller", "aws-load-balancer-controller"): ALB_ACTIONS,
    # Its analyses' CloudWatch queries and target group verification, read only.
    ("argo-rollouts", "argo-rollouts"): {
        "cloudwatch:GetMetricData",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeTargetHealth",
    },
}
MANAGED_POLICIES = {("kube-system", "ebs-csi-controller-sa"): {f"{AWS_POLICY}service-role/AmazonEBSCSIDriverPolicy"}}


def roles_by_service_account(plan: Plan) -> dict[tuple[str, str], PlannedResource]:
    """The cluster's own Pod Identity roles (observability binds its agent's itself)."""
    return {
        (a.inputs["namespace"], a.inputs["serviceAccount"]): role_with_arn(plan, a.inputs["roleArn"])
        for a in plan.of_type(ASSOCIATION)
        if a.inputs["tags"]["component"] == "cluster"
    }


def role_for(plan: Plan, namespace: str, service_account: str) -> PlannedResource:
    return roles_by_service_account(plan)[(namespace, service_account)]


def statement(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements if s.get("Sid") == sid]
    return found


def test_pod_identity_binds_each_platform_service_account_to_a_role_of_its_own(plan: Plan) -> None:
    roles = roles_by_service_account(plan)
    assert set(roles) == set(ALLOWED_ACTIONS)
    assert len({role.urn for role in roles.values()}) == len(roles)
    for association in plan.of_type(ASSOCIATION):
        assert association.inputs["clusterName"] == control_plane(plan).inputs["name"]
        assert control_plane(plan).urn in association.dependencies


@pytest.mark.parametrize(("namespace", "service_account"), sorted(ALLOWED_ACTIONS))
def test_pod_identity_roles_trust_only_their_service_account_in_this_cluster(
    plan: Plan, namespace: str, service_account: str
) -> None:
    (trust,) = trust_policy(role_for(plan, namespace, service_account))["Statement"]
    cluster_arn = f"arn:aws:eks:eu-west-1:123456789012:cluster/{control_plane(plan).inputs['name']}"
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": "123456789012",
            "aws:RequestTag/eks-cluster-arn": cluster_arn,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account,
        }
    }


@pytest.mark.parametrize(("namespace", "service_account"), sorted(ALLOWED_ACTIONS))
def test_each_role_allows_exactly_its_listed_actions(plan: Plan, namespace: str, service_account: str) -> None:
    role = role_for(plan, namespace, service_account)
    assert allowed_actions(inline_statements(plan, role)) == ALLOWED_ACTIONS[(namespace, service_account)]
    assert managed_policies(plan, role) == MANAGED_POLICIES.get((namespace, service_account), set())


def test_no_cluster_policy_allows_a_wildcard_action_on_every_resource(plan: Plan) -> None:
    """Where AWS allows no narrower resource (Describe calls, creating tagged load balancers), actions stay exact."""
    for policy in plan.of_type(ROLE_POLICY):
        if not policy.name.startswith("cluster-"):
            continue
        for entry in json.loads(policy.inputs["policy"])["Statement"]:
            actions = as_list(entry["Action"])
            assert "*" not in actions, policy.name
            if "*" in as_list(entry["Resource"]):
                assert not [a for a in actions if "*" in a], (policy.name, entry)


def test_shop_reads_only_its_secrets_and_writes_only_its_media(plan: Plan) -> None:
    statements = inline_statements(plan, role_for(plan, "shop", "shop"))
    secrets = plan.outputs["appSecretArns"]
    own = [secrets[purpose] for purpose in ("session", "adminToken", "redisAuth", "originVerify")]
    master = plan.outputs["database"]["masterSecretArn"]
    assert sorted(statement(statements, "ReadOwnSecrets")["Resource"]) == sorted([*own, master])
    decrypt = statement(statements, "DecryptOwnSecrets")
    assert decrypt["Resource"] == key_arn(plan, "secrets")
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
    bucket = plan.outputs["buckets"]["assetsArn"]
    assert statement(statements, "ReadWriteMedia")["Resource"] == f"{bucket}/media/*"
    listing = statement(statements, "ListMedia")
    assert (listing["Resource"], listing["Condition"]) == (bucket, {"StringLike": {"s3:prefix": "media/*"}})
    media_key = statement(statements, "EncryptMedia")
    assert media_key["Resource"] == key_arn(plan, "data")
    assert media_key["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def test_shop_identity_is_what_the_shop_deployment_builds_on(plan: Plan) -> None:
    exported = plan.outputs["cluster"]
    assert exported["shopServiceAccount"] == "shop"
    assert exported["shopRoleArn"] == role_for(plan, "shop", "shop").outputs["arn"]


def test_ebs_csi_driver_may_use_only_the_volumes_key(plan: Plan) -> None:
    statements = inline_statements(plan, role_for(plan, "kube-system", "ebs-csi-controller-sa"))
    assert {s["Resource"] for s in statements} == {key_arn(plan, "volumes")}
    grants = statement(statements, "GrantKeyToAttachedVolumes")
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_cluster_autoscaler_resizes_only_this_clusters_node_groups(plan: Plan) -> None:
    name = control_plane(plan).inputs["name"]
    statements = inline_statements(plan, role_for(plan, "cluster-autoscaler", "cluster-autoscaler"))
    scale = statement(statements, "ScaleOwnNodeGroups")
    assert scale["Resource"] == "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*"
    assert scale["Condition"] == {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{name}": "owned"}}
    describe = statement(statements, "DescribeOwnNodeGroups")
    assert describe["Resource"] == f"arn:aws:eks:eu-west-1:123456789012:nodegroup/{name}/*/*"


def test_load_balancer_controller_policy_is_the_vendored_official_document(plan: Plan) -> None:
    assert hashlib.sha256(LOAD_BALANCER_CONTROLLER_POLICY.read_bytes()).hexdigest() == ALB_POLICY_SHA256
    role = role_for(plan, "aws-load-balancer-controller", "aws-load-balancer-controller")
    assert inline_statements(plan, role) == OFFICIAL_ALB_POLICY
    # Chart 1.<minor>.x ships controller v2.<minor>.x, whose policy the vendored file must be.
    chart = cluster_settings(plan.stack).load_balancer_controller_chart_version
    assert f"2.{chart.split('.')[1]}" == LOAD_BALANCER_CONTROLLER_POLICY_VERSION


def test_vpc_cni_uses_irsa_for_its_service_account_only(plan: Plan) -> None:
    """The VPC CNI's documented identity is IRSA; its permissions are not on the node role."""
    cluster = control_plane(plan)
    role = role_with_arn(plan, addons_by_name(plan)["vpc-cni"].inputs["serviceAccountRoleArn"])
    (trust,) = trust_policy(role)["Statement"]
    issuer = cluster.outputs["oidcIssuer"]
    assert trust["Principal"] == {"Federated": cluster.outputs["oidcProviderArn"]}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": "system:serviceaccount:kube-system:aws-node",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    assert managed_policies(plan, role) == {f"{AWS_POLICY}AmazonEKS_CNI_Policy"}
    assert inline_statements(plan, role) == []


def test_pod_identity_role_is_reusable_with_managed_policies_alone(tmp_path: Path) -> None:
    """How another component (e.g. a CloudWatch agent) gets a role: one call, no empty inline policy."""
    (tmp_path / "Pulumi.yaml").write_text("name: reuse\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi\n"
        "from components.cluster import ServiceAccount, pod_identity_role\n"
        "from components.account import Account\n"
        "from components.iam import RoleScope\n"
        "pod_identity_role('agent', account=Account('123456789012', 'aws', 'eu-west-1'), cluster_name='c',\n"
        "    scope=RoleScope(path='/shop/dev/', permissions_boundary_arn=None),\n"
        "    service_account=ServiceAccount('amazon-cloudwatch', 'agent'),\n"
        "    managed_policy_arns=['arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy'], description='agent',\n"
        "    tags={}, parent=pulumi.ComponentResource('test:index:Parent', 'parent'))\n"
    )
    plan = preview("dev", project_dir=tmp_path)
    (role,) = plan.of_type("aws:iam/role:Role")
    assert plan.of_type(ROLE_POLICY) == []
    assert managed_policies(plan, role) == {f"{AWS_POLICY}CloudWatchAgentServerPolicy"}
    (association,) = plan.of_type(ASSOCIATION)
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == ("amazon-cloudwatch", "agent")
