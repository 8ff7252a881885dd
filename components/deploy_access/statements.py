"""The policies of the delivery roles and of the stacks' workload boundary, written as tables of ``allow``/``deny``
statements (components/iam.py) over the action sets of ``actions.py``. Why each grant and each deny is there:
docs/threat-model.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from components.account import Account
from components.deploy_access import actions
from components.iam import all_but, allow, deny
from components.naming import Naming

#: CloudFront, its ACM certificates and CLOUDFRONT-scope WAF live in us-east-1, as do IAM's and Route 53's APIs.
GLOBAL_SERVICES_REGION = "us-east-1"

Statement = dict[str, Any]


@dataclass(frozen=True)
class Foundation:
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


@dataclass(frozen=True)
class DeliveryPolicies:
    """The statements of each delivery role, for the bootstrap's ``naming`` and ``account`` and the platform's
    Pulumi ``project`` (whose state objects the roles read and write)."""

    naming: Naming
    account: Account
    project: str

    def publisher(self, foundation: Foundation) -> list[Statement]:
        return [
            # "*": the token is for the whole registry; the action has no resource type.
            allow("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
            allow("PushShopImage", actions.IMAGE_PUSH_ACTIONS, foundation.registry_arn),
        ]

    def deploy(
        self, stack: str, foundation: Foundation, *, protected: bool, others: tuple[str, ...] = ()
    ) -> list[Statement]:
        """The deploy role of ``stack``; ``others`` are the account's other stacks, which it may never touch."""
        naming, stack_naming = self.naming, self._stack_naming(stack)
        stack_roles = self._iam_arn(f"role{stack_naming.role_path}*")
        boundary = self._iam_arn(f"policy/{stack_naming.workload_boundary}")
        every_boundary = self._iam_arn(f"policy/{self._stack_naming('*').workload_boundary}")
        delivery_roles = [self._iam_arn(f"role/{naming.prefix}-{naming.stack}-*"), foundation.oidc_provider_arn]
        in_regions = self._in_regions()
        statements = [
            # "*": the stack creates these resources, so their ids (and mostly their names) do not exist before the
            # deploy, and many create actions accept no resource ARN at all. Bounded by service and region.
            allow("ManagePlatformServices", [f"{service}:*" for service in actions.PLATFORM_SERVICES], "*", in_regions),
            allow("ManageStackBuckets", ["s3:*"], self._stack_buckets(stack)),
            # The roles a deploy creates are capped by the stack's boundary, so none can be a way around this policy
            # into IAM or the delivery foundation (docs/threat-model.md).
            allow(
                "WriteStackRolesWithItsBoundary",
                actions.BOUNDED_ROLE_WRITE_ACTIONS,
                stack_roles,
                {"StringEquals": {"iam:PermissionsBoundary": boundary}},
            ),
            allow("ManageStackRoles", actions.STACK_ROLE_ACTIONS, stack_roles),
            # EKS and the load balancer controller create their service-linked roles on first use in an account.
            allow(
                "CreateServiceLinkedRoles", ["iam:CreateServiceLinkedRole"], self._iam_arn("role/aws-service-role/*")
            ),
            allow(
                "ManageClusterOidcProviders",
                actions.CLUSTER_OIDC_PROVIDER_ACTIONS,
                self._iam_arn("oidc-provider/oidc.eks.*"),
            ),
            allow("ReadPolicies", actions.POLICY_READ_ACTIONS, self._iam_arn("policy/*")),
            # "*": ELB's Describe calls take no resource ARN.
            allow("FindShopLoadBalancer", actions.LOAD_BALANCER_READ_ACTIONS, "*", in_regions),
            # "*": CloudWatch does not scope listing alarms (by name prefix) to alarm ARNs.
            allow("AlarmGate", ["cloudwatch:DescribeAlarms"], "*"),
            # ci/release.py: the stack's releases (commit, digest, time, verified), which no other role may write.
            allow("StackReleaseRecord", ["ssm:GetParameter", "ssm:PutParameter"], self.release_record_arn(stack)),
            deny("NeverChangeTheDeliveryRoles", "iam:*", delivery_roles),
            deny("NeverLiftABoundary", "iam:DeleteRolePermissionsBoundary", "*"),
            deny("NeverChangeTheWorkloadBoundaries", all_but(["iam:Get*", "iam:List*"]), every_boundary),
            deny("NeverAdministerTheDeliveryKeys", all_but(actions.KEY_USE_ACTIONS), foundation.key_arns),
            *self._state(stack, foundation, write=True),
            *self._foreign_keys(stack, foundation),
            *self._other_stacks(others),
        ]
        if protected:  # ci/release.py retain: the release-<sha> tag that keeps a prod image
            statements.append(
                allow("KeepReleasedImage", ["ecr:BatchGetImage", "ecr:PutImage"], foundation.registry_arn)
            )
        return statements

    def preview(self, stack: str, foundation: Foundation) -> list[Statement]:
        return [
            # "*": these services do not scope describe and list calls to resource ARNs.
            allow("ReadPlatformConfiguration", actions.PREVIEW_READ_ACTIONS, "*", self._in_regions()),
            # ec2:Describe* includes the user data of every instance and launch template of the account (a runner's,
            # another stack's), which may hold secrets; a preview reads its own stack's from the state.
            deny("NeverUserData", actions.USER_DATA_READ_ACTIONS, "*"),
            # The buckets, not their objects.
            allow(
                "ReadStackBucketConfiguration", actions.BUCKET_CONFIGURATION_READ_ACTIONS, self._stack_buckets(stack)[0]
            ),
            *self._state(stack, foundation, write=False),
        ]

    def release_record(self, stack: str) -> str:
        """The SSM parameter holding ``stack``'s release record (ci/release.py ``RELEASE_PARAMETER``)."""
        return f"/{self.naming.prefix}/{stack}/releases"

    def release_record_arn(self, stack: str) -> str:
        return self.account.arn("ssm", f"parameter{self.release_record(stack)}")

    def _stack_naming(self, stack: str) -> Naming:
        """The naming of platform stack ``stack`` (the bootstrap's own naming is its ``ci`` stack's)."""
        return replace(self.naming, stack=stack)

    def _iam_arn(self, resource: str) -> str:
        return self.account.arn("iam", resource, global_service=True)

    def _in_regions(self) -> dict[str, Any]:
        """Only in the stack's region and us-east-1 (CloudFront's, IAM's and Route 53's)."""
        regions = sorted({self.account.region, GLOBAL_SERVICES_REGION})
        return {"StringEquals": {"aws:RequestedRegion": regions}}

    def _stack_buckets(self, stack: str) -> list[str]:
        """The stack's S3 buckets: the platform names them ``<prefix>-<stack>-<purpose>[-<account>]``."""
        bucket = f"arn:{self.account.partition}:s3:::{self.naming.prefix}-{stack}-*"
        return [bucket, f"{bucket}/*"]

    def _state_objects(self, bucket_arn: str, stack: str) -> list[str]:
        """The stack's files in the self-managed backend's layout (Pulumi's project-scoped "diy" store)."""
        project = self.project
        return [
            f"{bucket_arn}/.pulumi/stacks/{project}/{stack}.json*",  # the stack, its .bak, gzip or zstd forms
            f"{bucket_arn}/.pulumi/history/{project}/{stack}/*",
            f"{bucket_arn}/.pulumi/backups/{project}/{stack}/*",
            f"{bucket_arn}/.pulumi/journal/{project}/{stack}/*",
            f"{bucket_arn}/.pulumi/locks/organization/{project}/{stack}/*",
        ]

    def _state(self, stack: str, foundation: Foundation, *, write: bool) -> list[Statement]:
        bucket, key = foundation.state_bucket_arn, foundation.state_key_arn
        secrets_key = foundation.secrets_key_arns.get(stack)
        if bucket is None or key is None or secrets_key is None:
            return []
        object_actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] if write else ["s3:GetObject"]
        state_key_actions = ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"]
        return [
            allow("ListState", ["s3:ListBucket"], bucket),
            allow("ReadBackendVersion", ["s3:GetObject"], f"{bucket}/.pulumi/meta.yaml"),
            allow("OwnStackState", object_actions, self._state_objects(bucket, stack)),
            # The state key only encrypts the state objects: S3 uses it on the role's behalf, nothing else may.
            allow("StateObjectsKeyThroughS3", state_key_actions, key, {"StringEquals": {"kms:ViaService": self._s3()}}),
            # The stack's own secrets provider: its secret config and the secrets in its state, no other stack's.
            allow("OwnStackSecretsKey", ["kms:Decrypt", "kms:Encrypt"] if write else ["kms:Decrypt"], secrets_key),
        ]

    def _s3(self) -> str:
        """S3 in the state bucket's region, as ``kms:ViaService`` names it (``s3.<region>.<DNS suffix>``)."""
        return self.account.service_principal("s3", regional=True)

    def _foreign_keys(self, stack: str, foundation: Foundation) -> list[Statement]:
        """Denies against the deploy role's own kms:* (ManagePlatformServices): the state key other than through S3,
        and every other stack's secrets key."""
        statements: list[Statement] = []
        if foundation.state_key_arn:
            through_s3 = {"StringNotEquals": {"kms:ViaService": self._s3()}}
            statements.append(deny("StateKeyOnlyThroughS3", "kms:*", foundation.state_key_arn, through_s3))
        others = [arn for other, arn in sorted(foundation.secrets_key_arns.items()) if other != stack]
        if others:
            statements.append(deny("NeverOtherStacksSecrets", "kms:*", others))
        return statements

    def _other_stacks(self, others: tuple[str, ...]) -> list[Statement]:
        """Denies that confine a deploy role to its own stack when stacks share an account (the default is an
        account per stack, docs/cicd.md): whatever carries or would get another stack's ``stack`` tag, and by name
        (a tag can be missing or changed) that stack's cluster, database and secrets."""
        if not others:
            return []
        prefix, services = self.naming.prefix, [f"{service}:*" for service in (*actions.PLATFORM_SERVICES, "s3", "iam")]
        named = [
            arn
            for other in others
            for arn in (
                # The cluster and its node groups, add-ons, access entries and pod identity associations.
                self.account.arn("eks", f"*/{prefix}-{other}-*", region="*"),
                # Its instances, clusters, snapshots, parameter and subnet groups.
                self.account.arn("rds", f"*:{prefix}-{other}-*", region="*"),
                self.account.arn("secretsmanager", f"secret:{prefix}/{other}/*", region="*"),
            )
        ]
        stacks = sorted(others)
        return [
            deny("NeverOtherStacksClusterDatabaseSecrets", ["eks:*", "rds:*", "secretsmanager:*"], named),
            deny("NeverOtherStacksResources", services, "*", {"StringEquals": {"aws:ResourceTag/stack": stacks}}),
            deny("NeverTagForOtherStacks", services, "*", {"StringEquals": {"aws:RequestTag/stack": stacks}}),
        ]


def workload_boundary(foundation: Foundation) -> list[Statement]:
    """The cap on a stack's roles: a boundary grants nothing (each role's own policies do), it only bounds them."""
    statements = [
        allow("OnlyWhatThePlatformsRolesUse", actions.WORKLOAD_BOUNDARY_ACTIONS, "*"),
        deny("NeverAdministerTheRegistryKey", all_but(actions.KEY_USE_ACTIONS), foundation.registry_key_arn),
        deny("NeverChangeTheRegistry", all_but(actions.IMAGE_READ_ACTIONS), foundation.registry_arn),
    ]
    bucket, log_bucket, key = foundation.state_bucket_arn, foundation.state_log_bucket_arn, foundation.state_key_arn
    if bucket and log_bucket and key:
        statements += [
            deny("NeverTheState", "s3:*", [bucket, f"{bucket}/*", log_bucket, f"{log_bucket}/*"]),
            deny("NeverTheStateOrSecretsKeys", "kms:*", [key, *foundation.secrets_key_arns.values()]),
        ]
    return statements
