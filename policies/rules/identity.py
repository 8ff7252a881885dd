"""Identity rules: IAM policies, attachments and trust; KMS key rotation and key policies."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import Severity

from .base import (
    UNKNOWN,
    Resource,
    ResourceReport,
    Rules,
    dig,
    enabled,
    is_wildcard_principal,
    items,
    statements,
    strings,
)

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
ADMINISTRATOR_ACCESS = ":policy/AdministratorAccess"
#: The bootstrap's workload boundary of a stack: a customer managed policy of one account (never an AWS-managed
#: ``arn:aws:iam::aws:policy/...``) named ``<prefix>-<stack>-workload-boundary`` (components/naming.py).
_WORKLOAD_BOUNDARY = r"arn:[a-z-]+:iam::\d{{12}}:policy/(?P<prefix>[^/]+)-{stack}-workload-boundary"


def _documents(resource: Resource) -> list[Any]:
    """The IAM policy documents a resource carries (inline role policies included)."""
    if resource.type == ROLE:
        return [dig(inline, "policy") for inline in items(resource.get("inlinePolicies"))]
    return [resource.get(POLICY_DOCUMENTS[resource.type])]


def _open_to_anyone(statement: dict[str, Any]) -> bool:
    return (
        statement.get("Effect") == "Allow"
        and is_wildcard_principal(statement.get("Principal"))
        and not statement.get("Condition")
    )


def _allowed_actions(statement: dict[str, Any]) -> str | None:
    """How an Allow statement grants every action ("*", or all but a few through NotAction), else None."""
    if statement.get("Effect") != "Allow":
        return None
    if any(action in ("*", "*:*") for action in strings(statement.get("Action"))):
        return 'Action "*"'
    if strings(statement.get("NotAction")):
        return "every action but those in NotAction"
    return None


def _on_every_resource(statement: dict[str, Any]) -> str | None:
    """How a statement covers every resource ("*", or all but a few through NotResource), else None."""
    if "*" in strings(statement.get("Resource")):
        return 'Resource "*"'
    if strings(statement.get("NotResource")):
        return "every resource but those in NotResource"
    return None


def _is_boundary(resource: Resource, policy_name: Any) -> bool:
    return isinstance(policy_name, str) and any(
        fnmatchcase(policy_name, pattern) for pattern in resource.config["permissionsBoundaries"]
    )


@rules.resource(
    "iam-no-wildcard-admin",
    description='No IAM policy allows every action ("*", or all but some through NotAction) on every resource '
    '("*", or all but some through NotResource). A permissions boundary (named in permissionsBoundaries) grants '
    "nothing and may, as long as nothing attaches it as a permissions policy.",
    severity=Severity.CRITICAL,
    types=(*POLICY_DOCUMENTS, *ATTACHMENTS),
    remediation="list the actions the principal needs and the ARNs they act on.",
    config={
        "permissionsBoundaries": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["*-workload-boundary"],
            "description": "Name patterns of managed policies used only as permissions boundaries.",
        }
    },
)
def iam_no_wildcard_admin(resource: Resource, report: ResourceReport) -> None:
    attached = strings(resource.get(ATTACHMENTS[resource.type])) if resource.type in ATTACHMENTS else []
    for arn in attached:
        if _is_boundary(resource, arn.rsplit("/", 1)[-1]):
            report(f"{arn} is a permissions boundary, attached here as a permissions policy.")
    if resource.type not in (*POLICY_DOCUMENTS, ROLE):
        return
    if resource.type == "aws:iam/policy:Policy" and _is_boundary(resource, resource.get("name")):
        return  # it caps roles and grants nothing
    for policy in _documents(resource):
        for statement in statements(policy):
            actions, resources = _allowed_actions(statement), _on_every_resource(statement)
            if actions and resources:
                report(f"A statement allows {actions} on {resources}.")


@rules.resource(
    "iam-no-administrator-access",
    description="The AWS-managed AdministratorAccess policy is attached to no role, user or group.",
    severity=Severity.CRITICAL,
    types=tuple(ATTACHMENTS),
    remediation="attach a least-privilege policy instead (for EKS administration, use an EKS access entry).",
)
def iam_no_administrator_access(resource: Resource, report: ResourceReport) -> None:
    arns = strings(resource.get(ATTACHMENTS[resource.type]))
    if any(arn.endswith(ADMINISTRATOR_ACCESS) for arn in arns):
        report("AdministratorAccess is attached.")


@rules.resource(
    "iam-trust-no-wildcard-principal",
    description="No IAM role can be assumed by any AWS principal without a condition.",
    severity=Severity.CRITICAL,
    types=(ROLE,),
    remediation="name the service, account or role that may assume the role, or add a condition (e.g. aws:SourceArn).",
)
def iam_trust_no_wildcard_principal(resource: Resource, report: ResourceReport) -> None:
    if any(_open_to_anyone(statement) for statement in statements(resource.get("assumeRolePolicy"))):
        report("The trust policy lets any principal assume the role.")


@rules.resource(
    "iam-role-permissions-boundary",
    description="Every IAM role a stack creates carries the stack's own permissions boundary (the account's "
    "<prefix>-<stack>-workload-boundary) and lives under the stack's path /<prefix>/<stack>/ (the bootstrap's deploy "
    "roles may create no other), except in projects an administrator deploys (administeredProjects: the CI/CD "
    "bootstrap, whose roles the boundaries are made for).",
    severity=Severity.HIGH,
    types=(ROLE,),
    remediation="create the role with components/iam.py (RoleScope: path and permissions_boundary).",
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


@rules.resource(
    "kms-key-rotation",
    description="Symmetric customer-managed KMS keys rotate their key material automatically.",
    severity=Severity.MEDIUM,
    types=(KMS_KEY,),
    remediation="set enable_key_rotation=True (rotation_period_in_days sets how often).",
)
def kms_key_rotation(resource: Resource, report: ResourceReport) -> None:
    spec = resource.get("customerMasterKeySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return  # asymmetric and HMAC keys cannot rotate automatically
    rotation = resource.get("enableKeyRotation")
    if rotation is not UNKNOWN and not enabled(rotation):
        report("enableKeyRotation is not true.")


@rules.resource(
    "kms-no-wildcard-principal",
    description="No KMS key policy allows a wildcard principal ('*'), even under conditions.",
    severity=Severity.CRITICAL,
    types=(KMS_KEY, KMS_KEY_POLICY),
    remediation="grant the account root (delegating to IAM) or named service principals, with conditions.",
)
def kms_no_wildcard_principal(resource: Resource, report: ResourceReport) -> None:
    # Stricter than IAM trust policies: a conditioned '*' in a key policy is one condition typo away from public.
    if any(
        statement.get("Effect") == "Allow" and is_wildcard_principal(statement.get("Principal"))
        for statement in statements(resource.get("policy"))
    ):
        report("The key policy allows Principal '*'.")


@rules.resource(
    "kms-no-lockout-bypass",
    description="KMS key policies are applied with the lockout safety check (so no policy can lock the account out).",
    severity=Severity.HIGH,
    types=(KMS_KEY, KMS_KEY_POLICY),
    remediation="remove bypass_policy_lockout_safety_check (or set it to False).",
)
def kms_no_lockout_bypass(resource: Resource, report: ResourceReport) -> None:
    if enabled(resource.get("bypassPolicyLockoutSafetyCheck")):
        report("bypassPolicyLockoutSafetyCheck is true.")
