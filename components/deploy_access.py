"""GitHub Actions' way into AWS: GitHub's OIDC provider and one role per kind of job, each trusted only for this
repository's main branch or one of its GitHub environments (whose protection rules GitHub enforces before a job
may enter it, and whose secrets, such as the stack's Pulumi token, only its jobs see).

- ``publisher`` (main branch): pushes the shop image to the registry.
- ``deploy-<stack>``: ``pulumi up`` of the stack, from the environment named like the stack (deployment branches:
  main); a protected stack (prod) only from the production environment, whose required reviewers are the approval.
- ``preview-<stack>`` (pull requests, from the environment ``preview-<stack>``): ``pulumi preview``. It reads the
  platform's configuration, never its data (no object, table or Secrets Manager value), but a preview must
  decrypt its stack's state and secret config, so it can read the secrets the stack keeps there: prod's preview
  environment requires a reviewer before pull request code gets this role.

A deploy role manages the platform's services, its own stack's buckets and state, and its stack's roles: it may
create and change roles only under the stack's path ``/<prefix>/<stack>/`` and only carrying the stack's workload
boundary (``<prefix>-<stack>-workload-boundary``, created here), which it can neither remove nor change. The
boundary allows only what the platform's roles use (WORKLOAD_BOUNDARY_ACTIONS): no STS, no IAM changes, nothing
that runs code elsewhere (CloudFormation, Lambda, SSM), and denies the state backend and administering the
registry or its key. A deploy role can never change what this bootstrap created (its own trust, the OIDC provider,
the keys, the boundaries). Not capped (README "CI/CD"): within the boundary a deploy role can grant its roles those
permissions on other stacks' resources in the account; ``iam:UpdateAssumeRolePolicy`` takes no condition on the
new trust, so it can make its roles trust other principals (catch that with an SCP or IAM Access Analyzer); its EC2
rights reach every instance in the account, self-hosted runners and Jenkins agents included. For a hard boundary
put each stack in its own account and bootstrap each account. Moving a deployed stack onto boundaries replaces its
roles, EKS cluster and node groups: a one-time update by an administrator, not by the deploy role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.iam import policy_document
from components.naming import Naming
from stacks.settings import DeploySettings, GitHubSettings

COMPONENT = "cicd"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
#: The GitHub environment of a stack's pull request previews; prod's requires a reviewer (README "CI/CD").
PREVIEW_ENVIRONMENT = "preview-{stack}"
#: CloudFront, its ACM certificates and CLOUDFRONT-scope WAF live in us-east-1, as do IAM's and Route 53's APIs.
GLOBAL_SERVICES_REGION = "us-east-1"
#: The services whose resources the platform's stacks manage (IAM and S3 are granted more narrowly below).
#: tests/test_cicd_bootstrap.py checks this against the services the stacks' plans use.
PLATFORM_SERVICES = (
    "acm",
    "cloudfront",
    "cloudtrail",
    "cloudwatch",
    "ec2",
    "eks",
    "elasticache",
    "kms",
    "logs",
    "rds",
    "route53",
    "secretsmanager",
    "sns",
    "wafv2",
)
#: Looking up the load balancer and target group the AWS Load Balancer Controller builds for the shop (the shop's
#: alarms and dashboard watch them; components/observability/shop.py); no stack creates or changes them itself.
LOAD_BALANCER_READ_ACTIONS = (
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
)
#: What `pulumi preview` (and `--refresh`) reads of those services: configuration, never data or secret values.
#: (The stack's own state, and the secrets in it, the preview reads from the state backend: _state_statements.)
PREVIEW_READ_ACTIONS = (
    "acm:DescribeCertificate",
    "acm:ListCertificates",
    "acm:ListTagsForCertificate",
    "cloudfront:Get*",
    "cloudfront:List*",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:ListTags",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetDashboard",
    "cloudwatch:ListTagsForResource",
    "ec2:Describe*",
    *LOAD_BALANCER_READ_ACTIONS,
    "eks:Describe*",
    "eks:List*",
    "elasticache:Describe*",
    "elasticache:ListTagsForResource",
    "iam:GetInstanceProfile",
    "iam:GetOpenIDConnectProvider",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListResourceTags",
    "logs:DescribeLogGroups",
    "logs:DescribeMetricFilters",
    "logs:DescribeResourcePolicies",
    "logs:ListTagsForResource",
    "rds:Describe*",
    "rds:ListTagsForResource",
    "route53:Get*",
    "route53:List*",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    "secretsmanager:ListSecrets",
    "sns:GetSubscriptionAttributes",
    "sns:GetTopicAttributes",
    "sns:ListTagsForResource",
    "wafv2:Get*",
    "wafv2:List*",
)
#: Role writes IAM can condition on the permissions boundary the role has or gets (``iam:PermissionsBoundary``,
#: IAM's Service Authorization Reference): a deploy role makes them only with its stack's boundary.
BOUNDED_ROLE_WRITE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
)
#: The other role actions a deploy needs. None takes the boundary condition, so they stay on the stack's role path,
#: where every role carries the boundary.
STACK_ROLE_ACTIONS = (
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
    "iam:PassRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)
#: The cluster's IRSA provider, which pulumi-eks creates (``oidc.eks.<region>.<dns suffix>/id/<id>``).
CLUSTER_OIDC_PROVIDER_ACTIONS = (
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:GetOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
)
#: The platform creates no managed policy (only inline policies and AWS-managed attachments): reads only.
POLICY_READ_ACTIONS = ("iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions")
#: What a workload role may do with the registry's images: pull and look, never push, delete or re-configure.
IMAGE_READ_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:Describe*", "ecr:Get*", "ecr:List*")
#: Using a KMS key, as opposed to administering it.
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*")
#: Everything a role carrying a stack's workload boundary may ever do: exactly what the platform's roles use (the
#: inline policies of both stacks' plans and the AWS managed policies they attach), no more. A boundary only caps, so
#: anything missing here fails at run time: tests/test_cicd_bootstrap.py checks every inline policy action of both
#: plans against it. No sts, cloudformation, lambda, ssm, organizations or sso; in IAM only reads and service-linked
#: roles; in ECR only pulls. Keep it under IAM's 6,144 characters for a managed policy (also tested).
WORKLOAD_BOUNDARY_ACTIONS = (
    # Reads, and the configuration the roles look up (every inline policy and managed policy below reads these).
    "autoscaling:Describe*",
    "ec2:Describe*",
    "elasticloadbalancing:Describe*",
    "iam:Get*",
    "iam:List*",
    # AWS Load Balancer Controller (components/cluster/aws-load-balancer-controller-iam-policy-v2.14.json), and
    # AmazonEKSClusterPolicy's load balancers for Services (classic ELB) and security groups.
    "acm:DescribeCertificate",
    "acm:ListCertificates",
    "cognito-idp:DescribeUserPoolClient",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteTags",
    "ec2:GetCoipPoolUsage",
    "ec2:GetSecurityGroupsForVpc",
    "ec2:RevokeSecurityGroupIngress",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
    "elasticloadbalancing:AttachLoadBalancerToSubnets",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:CreateLoadBalancerPolicy",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:SetWebAcl",
    "iam:CreateServiceLinkedRole",  # and AmazonEKSClusterPolicy
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
    # AmazonEKSClusterPolicy (the control plane: the legacy cloud provider's volumes, routes and node groups).
    "autoscaling:UpdateAutoScalingGroup",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:ModifyInstanceAttribute",
    "kms:DescribeKey",
    # AmazonEKSWorkerNodePolicy and AmazonEC2ContainerRegistryPullOnly (the nodes): join the cluster, hand pods their
    # EKS Pod Identity credentials, pull images (reads only: no push, no registry-level configuration).
    "eks:DescribeCluster",
    "eks-auth:AssumeRoleForPodIdentity",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetAuthorizationToken",
    "ecr:GetDownloadUrlForLayer",
    # AmazonEKS_CNI_Policy (VPC CNI): the nodes' network interfaces and pod addresses.
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
    # service-role/AmazonEBSCSIDriverPolicy and the EBS CSI driver's inline key grants (and AmazonEKSClusterPolicy's
    # volumes): volumes and their snapshots, encrypted with the stack's key.
    "ec2:AttachVolume",
    "ec2:CreateSnapshot",
    "ec2:CreateVolume",
    "ec2:DeleteSnapshot",
    "ec2:DeleteVolume",
    "ec2:DetachVolume",
    "ec2:EnableFastSnapshotRestores",
    "ec2:ModifyVolume",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ListGrants",
    "kms:ReEncrypt*",
    "kms:RevokeGrant",
    # Cluster autoscaler (components/cluster): scale the node groups it finds.
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
    # The shop (components/cluster): its media bucket, its secrets, its data key.
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:PutObject",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    # The CloudWatch agent, RDS enhanced monitoring, VPC flow logs and CloudTrail's log delivery.
    "cloudwatch:PutMetricData",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
)
#: Pushing an image (AWS's documented set for one repository), and finding one already pushed (ci/image.py).
IMAGE_PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


@dataclass(frozen=True)
class StateAccess:
    """The self-managed backend that holds the stacks' state."""

    bucket_arn: pulumi.Input[str]
    log_bucket_arn: pulumi.Input[str]
    """The state bucket's access logs (who read or wrote which stack's state)."""
    key_arn: pulumi.Input[str]
    """The state objects' S3 encryption key."""
    secrets_key_arns: Mapping[str, pulumi.Input[str]]
    """By stack: the stack's secrets provider key."""


@dataclass(frozen=True)
class DeployAccessArgs:
    github: GitHubSettings
    deploy: DeploySettings
    naming: Naming
    account: Account
    registry_arn: pulumi.Input[str]
    registry_key_arn: pulumi.Input[str]
    state: StateAccess | None
    """None when the stacks keep their state in Pulumi Cloud."""


@dataclass(frozen=True)
class _Foundation:
    """What the bootstrap created, as resolved ARNs: the roles use some of it and may change none of it."""

    oidc_provider_arn: str
    registry_arn: str
    registry_key_arn: str
    state_bucket_arn: str | None
    state_log_bucket_arn: str | None
    state_key_arn: str | None
    secrets_key_arns: dict[str, str]

    @property
    def key_arns(self) -> list[str]:
        state_keys = [self.state_key_arn] if self.state_key_arn else []
        return [self.registry_key_arn, *state_keys, *self.secrets_key_arns.values()]


class DeployAccess(pulumi.ComponentResource):
    oidc_provider_arn: pulumi.Output[str]
    publisher_role_arn: pulumi.Output[str]
    deploy_role_arns: dict[str, pulumi.Output[str]]
    preview_role_arns: dict[str, pulumi.Output[str]]
    workload_boundary_arns: dict[str, pulumi.Output[str]]
    """By stack: the permissions boundary every role of that stack carries (``components/iam.py`` RoleScope)."""

    def __init__(self, name: str, args: DeployAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shop:cicd:DeployAccess", name, None, opts)
        self._name = name
        self._args = args
        self.oidc_provider_arn = self._oidc_provider()
        state = args.state
        self._foundation = pulumi.Output.all(
            self.oidc_provider_arn,
            args.registry_arn,
            args.registry_key_arn,
            state.bucket_arn if state else None,
            state.log_bucket_arn if state else None,
            state.key_arn if state else None,
            dict(state.secrets_key_arns) if state else {},
        ).apply(lambda arns: _Foundation(*arns))

        github, deploy = args.github, args.deploy
        repository = f"repo:{github.repository}"
        main_branch = f"{repository}:ref:refs/heads/{github.main_branch}"
        environment = f"{repository}:environment:"
        self.publisher_role_arn = self._role("publisher", main_branch, self._publisher_statements, hours=1)
        self.deploy_role_arns, self.preview_role_arns, self.workload_boundary_arns = {}, {}, {}
        for stack in deploy.stacks:
            self.workload_boundary_arns[stack] = self._workload_boundary(stack)
            protected = stack in deploy.protected_stacks
            self.deploy_role_arns[stack] = self._role(
                f"deploy-{stack}",
                environment + (github.production_environment if protected else stack),
                lambda foundation, stack=stack, protected=protected: self._deploy_statements(
                    stack, protected, foundation
                ),
                hours=deploy.session_hours,
            )
            self.preview_role_arns[stack] = self._role(
                f"preview-{stack}",
                environment + PREVIEW_ENVIRONMENT.format(stack=stack),
                partial(self._preview_statements, stack),
                hours=1,
            )
        self.register_outputs(
            {
                "oidc_provider_arn": self.oidc_provider_arn,
                "publisher_role_arn": self.publisher_role_arn,
                "deploy_role_arns": self.deploy_role_arns,
                "preview_role_arns": self.preview_role_arns,
                "workload_boundary_arns": self.workload_boundary_arns,
            }
        )

    # ------------------------------------------------------------------------------------------ resources

    def _oidc_provider(self) -> pulumi.Output[str]:
        existing = self._args.github.oidc_provider_arn
        if existing:
            return pulumi.Output.from_input(existing)
        provider = aws.iam.OpenIdConnectProvider(
            f"{self._name}-github",
            url=f"https://{GITHUB_OIDC_HOST}",
            client_id_lists=[STS_AUDIENCE],
            # No thumbprints: IAM validates GitHub's certificate against its own trusted CAs.
            tags=self._args.naming.tags(COMPONENT, Name=GITHUB_OIDC_HOST),
            opts=pulumi.ResourceOptions(parent=self, protect=True),  # every role's trust depends on it
        )
        return provider.arn

    def _workload_boundary(self, stack: str) -> pulumi.Output[str]:
        """The managed policy that caps every role ``stack`` creates. Its path is ``/``, so the platform and the
        deploy role's conditions know its ARN from its name alone."""
        name = self._stack_naming(stack).workload_boundary
        boundary = aws.iam.Policy(
            f"{self._name}-{stack}-workload-boundary",
            name=name,
            path="/",
            description=f"Caps every role stack {stack} creates: no IAM changes, nothing of the delivery foundation",
            policy=self._foundation.apply(
                lambda foundation: policy_document(_workload_boundary_statements(foundation))
            ),
            tags=self._args.naming.tags(COMPONENT, Name=name),
            # Every role of the stack refers to it; deleting it would lift the cap from none but break all of them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        return boundary.arn

    def _role(
        self, purpose: str, subject: str, statements: Callable[[_Foundation], list[dict[str, Any]]], *, hours: int
    ) -> pulumi.Output[str]:
        """A role that only GitHub tokens for ``subject`` (and audience STS) may assume."""
        naming = self._args.naming
        trust = self.oidc_provider_arn.apply(
            lambda provider_arn: policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": provider_arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                                f"{GITHUB_OIDC_HOST}:sub": subject,
                            }
                        },
                    }
                ]
            )
        )
        role = aws.iam.Role(
            f"{self._name}-{purpose}",
            name=naming.physical(purpose, max_length=64),
            description=f"GitHub Actions ({subject}): {purpose}",
            assume_role_policy=trust,
            max_session_duration=hours * 3600,
            tags=naming.tags(COMPONENT, Name=naming.physical(purpose, max_length=64)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{purpose}-policy",
            role=role.id,
            policy=self._foundation.apply(lambda foundation: policy_document(statements(foundation))),
            opts=pulumi.ResourceOptions(parent=role),
        )
        return role.arn

    # ------------------------------------------------------------------------------------------ policies

    def _stack_naming(self, stack: str) -> Naming:
        """The naming of platform stack ``stack`` (the bootstrap's own naming is its ``ci`` stack's)."""
        return replace(self._args.naming, stack=stack)

    def _iam_arn(self, resource: str) -> str:
        return self._args.account.arn("iam", resource, global_service=True)

    def _in_regions(self) -> dict[str, Any]:
        """Only in the stack's region and us-east-1 (CloudFront's, IAM's and Route 53's)."""
        regions = sorted({self._args.account.region, GLOBAL_SERVICES_REGION})
        return {"StringEquals": {"aws:RequestedRegion": regions}}

    def _stack_buckets(self, stack: str) -> list[str]:
        """The stack's S3 buckets: the platform names them ``<prefix>-<stack>-<purpose>[-<account>]``."""
        bucket = f"arn:{self._args.account.partition}:s3:::{self._args.naming.prefix}-{stack}-*"
        return [bucket, f"{bucket}/*"]

    def _state_objects(self, bucket_arn: str, stack: str) -> list[str]:
        """The stack's files in the self-managed backend's layout (Pulumi's project-scoped "diy" store)."""
        project = self._args.deploy.project
        return [
            f"{bucket_arn}/.pulumi/stacks/{project}/{stack}.json*",  # the stack, its .bak, gzip or zstd forms
            f"{bucket_arn}/.pulumi/history/{project}/{stack}/*",
            f"{bucket_arn}/.pulumi/backups/{project}/{stack}/*",
            f"{bucket_arn}/.pulumi/journal/{project}/{stack}/*",
            f"{bucket_arn}/.pulumi/locks/organization/{project}/{stack}/*",
        ]

    def _state_statements(self, stack: str, foundation: _Foundation, *, write: bool) -> list[dict[str, Any]]:
        bucket, key = foundation.state_bucket_arn, foundation.state_key_arn
        secrets_key = foundation.secrets_key_arns.get(stack)
        if bucket is None or key is None or secrets_key is None:
            return []
        object_actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] if write else ["s3:GetObject"]
        state_key_actions = ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"]
        return [
            _allow("ListState", ["s3:ListBucket"], bucket),
            _allow("ReadBackendVersion", ["s3:GetObject"], f"{bucket}/.pulumi/meta.yaml"),
            _allow("OwnStackState", object_actions, self._state_objects(bucket, stack)),
            # The state key only encrypts the state objects: S3 uses it on the role's behalf, nothing else may.
            _allow(
                "StateObjectsKeyThroughS3", state_key_actions, key, {"StringEquals": {"kms:ViaService": self._s3()}}
            ),
            # The stack's own secrets provider: its secret config and the secrets in its state, no other stack's.
            _allow("OwnStackSecretsKey", ["kms:Decrypt", "kms:Encrypt"] if write else ["kms:Decrypt"], secrets_key),
        ]

    def _s3(self) -> str:
        """S3 in the state bucket's region, as ``kms:ViaService`` names it (``s3.<region>.<DNS suffix>``)."""
        return self._args.account.service_principal("s3", regional=True)

    def _foreign_keys(self, stack: str, foundation: _Foundation) -> list[dict[str, Any]]:
        """Denies against the deploy role's own kms:* (ManagePlatformServices): the state key other than through S3,
        and every other stack's secrets key."""
        statements: list[dict[str, Any]] = []
        if foundation.state_key_arn:
            statements.append(
                {
                    "Sid": "StateKeyOnlyThroughS3",
                    "Effect": "Deny",
                    "Action": "kms:*",
                    "Resource": foundation.state_key_arn,
                    "Condition": {"StringNotEquals": {"kms:ViaService": self._s3()}},
                }
            )
        others = [arn for other, arn in sorted(foundation.secrets_key_arns.items()) if other != stack]
        if others:
            statements.append(
                {"Sid": "NeverOtherStacksSecrets", "Effect": "Deny", "Action": "kms:*", "Resource": others}
            )
        return statements

    def _publisher_statements(self, foundation: _Foundation) -> list[dict[str, Any]]:
        return [
            # "*": the token is for the whole registry; the action has no resource type.
            _allow("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
            _allow("PushShopImage", IMAGE_PUSH_ACTIONS, foundation.registry_arn),
        ]

    def _deploy_statements(self, stack: str, protected: bool, foundation: _Foundation) -> list[dict[str, Any]]:
        naming, stack_naming = self._args.naming, self._stack_naming(stack)
        stack_roles = self._iam_arn(f"role{stack_naming.role_path}*")
        boundary = self._iam_arn(f"policy/{stack_naming.workload_boundary}")
        statements: list[dict[str, Any]] = [
            # "*": the stack creates these resources, so their ids (and mostly their names) do not exist before the
            # deploy, and many create actions accept no resource ARN at all. Bounded by service and region.
            _allow(
                "ManagePlatformServices", [f"{service}:*" for service in PLATFORM_SERVICES], "*", self._in_regions()
            ),
            _allow("ManageStackBuckets", ["s3:*"], self._stack_buckets(stack)),
            # The roles a deploy creates are capped by the stack's boundary, so none can be a way around this policy
            # into IAM or the delivery foundation (README "CI/CD").
            _allow(
                "WriteStackRolesWithItsBoundary",
                BOUNDED_ROLE_WRITE_ACTIONS,
                stack_roles,
                {"StringEquals": {"iam:PermissionsBoundary": boundary}},
            ),
            _allow("ManageStackRoles", STACK_ROLE_ACTIONS, stack_roles),
            # EKS and the load balancer controller create their service-linked roles on first use in an account.
            _allow(
                "CreateServiceLinkedRoles", ["iam:CreateServiceLinkedRole"], self._iam_arn("role/aws-service-role/*")
            ),
            _allow(
                "ManageClusterOidcProviders", CLUSTER_OIDC_PROVIDER_ACTIONS, self._iam_arn("oidc-provider/oidc.eks.*")
            ),
            _allow("ReadPolicies", POLICY_READ_ACTIONS, self._iam_arn("policy/*")),
            # "*": ELB's Describe calls take no resource ARN.
            _allow("FindShopLoadBalancer", LOAD_BALANCER_READ_ACTIONS, "*", self._in_regions()),
            # "*": CloudWatch does not scope listing alarms (by name prefix) to alarm ARNs.
            _allow("AlarmGate", ["cloudwatch:DescribeAlarms"], "*"),
            {
                "Sid": "NeverChangeTheDeliveryRoles",
                "Effect": "Deny",
                "Action": "iam:*",
                "Resource": [self._iam_arn(f"role/{naming.prefix}-{naming.stack}-*"), foundation.oidc_provider_arn],
            },
            {
                "Sid": "NeverLiftABoundary",
                "Effect": "Deny",
                "Action": "iam:DeleteRolePermissionsBoundary",
                "Resource": "*",
            },
            {
                "Sid": "NeverChangeTheWorkloadBoundaries",
                "Effect": "Deny",
                "NotAction": ["iam:Get*", "iam:List*"],
                "Resource": self._iam_arn(f"policy/{self._stack_naming('*').workload_boundary}"),
            },
            {
                "Sid": "NeverAdministerTheDeliveryKeys",
                "Effect": "Deny",
                "NotAction": list(KEY_USE_ACTIONS),
                "Resource": foundation.key_arns,
            },
            *self._state_statements(stack, foundation, write=True),
            *self._foreign_keys(stack, foundation),
        ]
        if protected:  # ci/release.py retain: the release-<sha> tag that keeps a prod image
            statements.append(
                _allow("KeepReleasedImage", ["ecr:BatchGetImage", "ecr:PutImage"], foundation.registry_arn)
            )
        return statements

    def _preview_statements(self, stack: str, foundation: _Foundation) -> list[dict[str, Any]]:
        bucket_reads = [
            "s3:GetAccelerateConfiguration",
            "s3:GetBucket*",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
        ]
        return [
            # "*": these services do not scope describe and list calls to resource ARNs.
            _allow("ReadPlatformConfiguration", PREVIEW_READ_ACTIONS, "*", self._in_regions()),
            _allow("ReadStackBucketConfiguration", bucket_reads, self._stack_buckets(stack)[0]),  # not their objects
            *self._state_statements(stack, foundation, write=False),
        ]


def _workload_boundary_statements(foundation: _Foundation) -> list[dict[str, Any]]:
    """The cap on a stack's roles: a boundary grants nothing (each role's own policies do), it only bounds them."""
    statements: list[dict[str, Any]] = [
        _allow("OnlyWhatThePlatformsRolesUse", WORKLOAD_BOUNDARY_ACTIONS, "*"),
        {
            "Sid": "NeverAdministerTheRegistryKey",
            "Effect": "Deny",
            "NotAction": list(KEY_USE_ACTIONS),
            "Resource": foundation.registry_key_arn,
        },
        {
            "Sid": "NeverChangeTheRegistry",
            "Effect": "Deny",
            "NotAction": list(IMAGE_READ_ACTIONS),
            "Resource": foundation.registry_arn,
        },
    ]
    bucket, log_bucket, key = foundation.state_bucket_arn, foundation.state_log_bucket_arn, foundation.state_key_arn
    if bucket and log_bucket and key:
        statements += [
            {
                "Sid": "NeverTheState",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": [bucket, f"{bucket}/*", log_bucket, f"{log_bucket}/*"],
            },
            {
                "Sid": "NeverTheStateOrSecretsKeys",
                "Effect": "Deny",
                "Action": "kms:*",
                "Resource": [key, *foundation.secrets_key_arns.values()],
            },
        ]
    return statements


def _allow(
    sid: str, actions: Sequence[str], resource: str | list[str], condition: dict[str, Any] | None = None
) -> dict:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement
