"""Identity rules: IAM policies, attachments and trust; KMS key rotation and key policies."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import Severity

from .base import UNKNOWN, Resource, ResourceReport, Rules, dig, enabled, items, off, statements, strings
from .semantics import broad_grants, is_wildcard_principal, public_statements, web_identity_without_subject

rules = Rules()

POLICY_DOCUMENTS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ROLE = "aws:iam/role:Role"
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    ROLE: "managedPolicyArns",
}
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
#: AWS managed policies that grant administrator access or IAM write (and so every other access): from the AWS
#: managed policy reference (docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html).
PRIVILEGED_MANAGED_POLICIES = [
    "AdministratorAccess",
    "AdministratorAccess-Amplify",
    "AdministratorAccess-AWSElasticBeanstalk",
    "PowerUserAccess",
    "IAMFullAccess",
    "AWSOrganizationsFullAccess",
    "AWSCloudFormationFullAccess",
    "AmazonS3FullAccess",
    "SecretsManagerReadWrite",
    "AWSKeyManagementServicePowerUser",
    "AWSLambda_FullAccess",
    "AmazonEC2FullAccess",
]
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
USER_LOGIN_PROFILE = "aws:iam/userLoginProfile:UserLoginProfile"
#: The bootstrap's workload boundary of a stack: a customer managed policy of one account (never an AWS-managed
#: ``arn:aws:iam::aws:policy/...``) named ``<prefix>-<stack>-workload-boundary`` (components/naming.py).
_WORKLOAD_BOUNDARY = r"arn:[a-z-]+:iam::\d{{12}}:policy/(?P<prefix>[^/]+)-{stack}-workload-boundary"


def _documents(resource: Resource) -> list[Any]:
    """The IAM policy documents a resource carries (inline role policies included)."""
    if resource.type == ROLE:
        return [dig(inline, "policy") for inline in items(resource.get("inlinePolicies"))]
    return [resource.get(POLICY_DOCUMENTS[resource.type])]


def _is_boundary(resource: Resource, policy_name: Any) -> bool:
    return isinstance(policy_name, str) and any(
        fnmatchcase(policy_name, pattern) for pattern in resource.config["permissionsBoundaries"]
    )


@rules.resource(
    Severity.CRITICAL,
    (*POLICY_DOCUMENTS, *ATTACHMENTS),
    config={
        "permissionsBoundaries": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["*-workload-boundary"],
            "description": "Name patterns of managed policies used only as permissions boundaries.",
        },
        "administeredProjects": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["shop-bootstrap"],
            "description": "Pulumi projects an administrator deploys, whose deploy roles may hold whole services "
            "(ec2:*, rds:*, ...) -- never every action, iam:* or an escalation.",
        },
    },
)
def iam_no_wildcard_admin(resource: Resource, report: ResourceReport) -> None:
    """No IAM policy allows, on every resource ("*", "arn:*" or all but some through NotResource), every action ("*",
    NotAction), a whole service (iam:*, s3:*, kms:*) or sensitive actions (privilege escalation such as iam:PassRole,
    iam:Create*, iam:Attach*, iam:Put*, sts:AssumeRole; secret reads such as secretsmanager:GetSecretValue). A
    permissions boundary (named in permissionsBoundaries) grants nothing and may, as long as nothing attaches it as a
    permissions policy; the deploy roles of administeredProjects may hold whole services other than IAM.

    Fix: list the actions the principal needs and the ARNs they act on.
    """
    attached = strings(resource.get(ATTACHMENTS[resource.type])) if resource.type in ATTACHMENTS else []
    for arn in attached:
        if _is_boundary(resource, arn.rsplit("/", 1)[-1]):
            report(f"{arn} is a permissions boundary, attached here as a permissions policy.")
    if resource.type not in (*POLICY_DOCUMENTS, ROLE):
        return
    if resource.type == "aws:iam/policy:Policy" and _is_boundary(resource, resource.get("name")):
        return  # it caps roles and grants nothing
    deployer = resource.project in resource.config["administeredProjects"]
    for policy in _documents(resource):
        for statement in statements(policy):
            for grant in broad_grants(statement):
                if not (deployer and grant.service_wide):
                    report(grant.sentence())


@rules.resource(
    Severity.CRITICAL,
    tuple(ATTACHMENTS),
    config={
        "deniedManagedPolicies": {
            "type": "array",
            "items": {"type": "string"},
            "default": PRIVILEGED_MANAGED_POLICIES,
            "description": "Names of AWS managed policies (arn:<partition>:iam::aws:policy/...) never attached.",
        }
    },
)
def iam_no_privileged_managed_policies(resource: Resource, report: ResourceReport) -> None:
    """No role, user or group gets an AWS managed policy that grants administrator access or IAM write
    (AdministratorAccess, PowerUserAccess, IAMFullAccess, ...: the deniedManagedPolicies list).

    Fix: attach a least-privilege policy instead (for EKS administration, use an EKS access entry).
    """
    denied = {name.lower() for name in resource.config["deniedManagedPolicies"]}
    for arn in strings(resource.get(ATTACHMENTS[resource.type])):
        managed = re.fullmatch(r"arn:[a-z-]+:iam::aws:policy/(?:.*/)?([^/]+)", arn)
        if managed and managed[1].lower() in denied:
            report(f"The AWS managed policy {managed[1]} is attached.")


@rules.resource(Severity.CRITICAL, (ROLE,))
def iam_trust_no_wildcard_principal(resource: Resource, report: ResourceReport) -> None:
    """No IAM role can be assumed by any principal unless a condition pins the caller (aws:SourceArn, aws:SourceAccount,
    aws:PrincipalOrgID, ...; aws:SecureTransport pins nothing), and no web-identity (OIDC, IRSA) trust lacks its
    provider's :sub and :aud conditions.

    Fix: name the service, account or role that may assume the role, with aws:SourceArn/aws:SourceAccount conditions;
    for OIDC pin <provider>:sub to the repository or service account and <provider>:aud.
    """
    trust = resource.get("assumeRolePolicy")
    if public_statements(trust):
        report("The trust policy lets any principal assume the role (no condition pins the caller).")
    for statement in statements(trust):
        missing = web_identity_without_subject(statement)
        if missing:
            report(f"The web-identity trust has no {missing} condition: any token of the provider may assume it.")


@rules.resource(Severity.HIGH, (ACCESS_KEY, USER_LOGIN_PROFILE))
def iam_no_long_lived_user_credentials(resource: Resource, report: ResourceReport) -> None:
    """No IAM user gets an access key or a console password (people and pipelines use roles: SSO, OIDC).

    Fix: use an IAM role (IAM Identity Center for people, OIDC federation for pipelines) instead.
    """
    kind = "an access key" if resource.type == ACCESS_KEY else "a console password"
    report(f"The IAM user {resource.get('user')} gets {kind}, a long-lived credential.")


#: Resource policies by type and the property that holds them; ``None``: the resource names one principal.
RESOURCE_POLICIES = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queue:Queue": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:secretsmanager/secret:Secret": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:lambda/permission:Permission": None,
    "aws:lambda/functionUrl:FunctionUrl": None,
}


@rules.resource(Severity.CRITICAL, tuple(RESOURCE_POLICIES))
def resource_policy_no_public_principal(resource: Resource, report: ResourceReport) -> None:
    """No resource policy (S3, SNS, SQS, Secrets Manager, CloudWatch Logs, ECR, Lambda permissions and function URLs)
    allows any principal unless a condition pins the caller (aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID,
    ...).

    Fix: name the account, role or service principal, with aws:SourceArn/aws:SourceAccount conditions for services;
    CloudFront reads S3 through Origin Access Control.
    """
    prop = RESOURCE_POLICIES[resource.type]
    if prop is not None:
        for statement in public_statements(resource.get(prop)):
            report(f"A statement ({statement.get('Sid') or 'without Sid'}) allows any principal.")
    elif resource.type == "aws:lambda/functionUrl:FunctionUrl":
        if resource.get("authorizationType") == "NONE":
            report("The function URL takes anonymous requests (authorizationType NONE).")
    elif resource.get("principal") == "*" and not any(
        resource.get(key) for key in ("sourceArn", "sourceAccount", "principalOrgId")
    ):
        report("The permission lets any principal invoke the function (no sourceArn, sourceAccount or org).")


@rules.resource(
    Severity.HIGH,
    (ROLE,),
    config={
        "administeredProjects": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["shop-bootstrap"],
            "description": "Pulumi projects an administrator deploys, whose roles need no boundary.",
        }
    },
)
def iam_role_permissions_boundary(resource: Resource, report: ResourceReport) -> None:
    """Every IAM role a stack creates carries the stack's own permissions boundary (the account's
    <prefix>-<stack>-workload-boundary) and lives under the stack's path /<prefix>/<stack>/ (the bootstrap's deploy
    roles may create no other), except in projects an administrator deploys (administeredProjects: the CI/CD
    bootstrap, whose roles the boundaries are made for).

    Fix: create the role with components/iam.py (RoleScope: path and permissions_boundary).
    """
    if resource.project in resource.config["administeredProjects"]:
        return
    stack = resource.stack
    boundary, path = resource.get("permissionsBoundary"), resource.get("path")
    in_path = re.fullmatch(rf"/(?P<prefix>[^/]+)/{re.escape(stack)}/", path) if isinstance(path, str) else None
    if boundary is not UNKNOWN:
        # Any other policy (another stack's boundary, an AWS managed one) is one the deploy role may not create roles
        # with, and not the cap this stack's roles are reviewed against.
        ours = (
            re.fullmatch(_WORKLOAD_BOUNDARY.format(stack=re.escape(stack)), boundary)
            if isinstance(boundary, str)
            else None
        )
        if not ours or (in_path and in_path["prefix"] != ours["prefix"]):
            report(f"permissionsBoundary is {boundary!r}, not this stack's <prefix>-{stack}-workload-boundary.")
    if path is not UNKNOWN and not in_path:
        report(f"path is {path!r}, not /<prefix>/{stack}/.")


@rules.resource(Severity.MEDIUM, (KMS_KEY,))
def kms_key_rotation(resource: Resource, report: ResourceReport) -> None:
    """Symmetric customer-managed KMS keys rotate their key material automatically.

    Fix: set enable_key_rotation=True (rotation_period_in_days sets how often).
    """
    spec = resource.get("customerMasterKeySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return  # asymmetric and HMAC keys cannot rotate automatically
    rotation = resource.get("enableKeyRotation")
    if off(rotation):
        report("enableKeyRotation is not true.")


@rules.resource(Severity.CRITICAL, (KMS_KEY, KMS_KEY_POLICY))
def kms_no_wildcard_principal(resource: Resource, report: ResourceReport) -> None:
    """No KMS key policy allows a wildcard principal ('*'), even under conditions.

    Fix: grant the account root (delegating to IAM) or named service principals, with conditions.
    """
    # Stricter than IAM trust policies: a conditioned '*' in a key policy is one condition typo away from public.
    if any(
        statement.get("Effect") == "Allow" and is_wildcard_principal(statement.get("Principal"))
        for statement in statements(resource.get("policy"))
    ):
        report("The key policy allows Principal '*'.")


@rules.resource(Severity.HIGH, (KMS_KEY, KMS_KEY_POLICY))
def kms_no_lockout_bypass(resource: Resource, report: ResourceReport) -> None:
    """KMS key policies are applied with the lockout safety check (so no policy can lock the account out).

    Fix: remove bypass_policy_lockout_safety_check (or set it to False).
    """
    if enabled(resource.get("bypassPolicyLockoutSafetyCheck")):
        report("bypassPolicyLockoutSafetyCheck is true.")
