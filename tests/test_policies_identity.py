"""Identity rules: IAM documents, attachments and trust; KMS rotation and key policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.rules import identity
from tests.policy_support import assert_compliant_even_when_unknown, flagged, messages, resource

ROOT = "arn:aws:iam::123456789012:root"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


LEAST_PRIVILEGE = document(
    {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "arn:aws:logs:eu-west-1:1:log-group:x:*"},
    {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
)
ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}
FIX = "Fix: list the actions the principal needs and the ARNs they act on."


def test_wildcard_admin_is_flagged_in_policies_and_inline_role_policies() -> None:
    policy = resource("aws:iam/policy:Policy", "admin", {"policy": document(ADMIN)})
    role_policy = resource(
        "aws:iam/rolePolicy:RolePolicy", "inline", {"policy": document({**ADMIN, "Action": ["*:*"]})}
    )
    role = resource(identity.ROLE, "role", {"inlinePolicies": [{"name": "all", "policy": document(ADMIN)}]})
    assert flagged(identity.iam_no_wildcard_admin, policy, role_policy, role) == ["admin", "inline", "role"]


def test_least_privilege_documents_pass() -> None:
    policy = resource("aws:iam/policy:Policy", "narrow", {"policy": LEAST_PRIVILEGE})
    deny_all = resource("aws:iam/userPolicy:UserPolicy", "deny", {"policy": document({**ADMIN, "Effect": "Deny"})})
    assert_compliant_even_when_unknown(identity.iam_no_wildcard_admin, policy, deny_all)


def test_near_admin_through_not_action_or_not_resource_is_flagged() -> None:
    all_but_iam = resource(
        "aws:iam/policy:Policy",
        "all-but-iam",
        {"policy": document({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})},
    )
    all_but_one = resource(
        "aws:iam/rolePolicy:RolePolicy",
        "all-but-one",
        {"policy": document({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::audit-logs/*"})},
    )
    assert messages(identity.iam_no_wildcard_admin, all_but_iam, all_but_one) == [
        "A statement allows every action but those in NotAction on every resource. " + FIX,
        'A statement allows every action ("*") on every resource but those in NotResource. ' + FIX,
    ]


def test_not_action_on_named_resources_and_denies_pass() -> None:
    scoped = resource(
        "aws:iam/policy:Policy",
        "scoped",
        {"policy": document({"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::assets/*"})},
    )
    # The usual "deny everything without MFA" guard.
    deny = resource(
        "aws:iam/policy:Policy",
        "mfa",
        {
            "policy": document(
                {
                    "Effect": "Deny",
                    "NotAction": "iam:*",
                    "Resource": "*",
                    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                }
            )
        },
    )
    assert_compliant_even_when_unknown(identity.iam_no_wildcard_admin, scoped, deny)


def test_privileged_managed_policies_are_flagged_whatever_attaches_them() -> None:
    attachment = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "admin",
        {"role": "ci", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    role = resource(identity.ROLE, "role", {"managedPolicyArns": ["arn:aws-us-gov:iam::aws:policy/IAMFullAccess"]})
    user = resource(
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "power",
        {"user": "dev", "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
    )
    fix = identity.iam_no_privileged_managed_policies.remediation_steps
    assert messages(identity.iam_no_privileged_managed_policies, attachment, role, user) == [
        f"The AWS managed policy {name} is attached. Fix: {fix}"
        for name in ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
    ]


def test_a_customer_policy_named_like_a_managed_one_is_not_the_managed_one() -> None:
    own = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "own",
        {"role": "ci", "policyArn": "arn:aws:iam::123456789012:policy/IAMFullAccess"},
    )
    assert messages(identity.iam_no_privileged_managed_policies, own) == []


def test_narrow_managed_policies_pass() -> None:
    attachment = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "node",
        {"role": "node", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
    )
    assert_compliant_even_when_unknown(identity.iam_no_privileged_managed_policies, attachment)


def test_a_role_anyone_may_assume_is_flagged() -> None:
    trust = document({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    assert flagged(
        identity.iam_trust_no_wildcard_principal, resource(identity.ROLE, "open", {"assumeRolePolicy": trust})
    ) == ["open"]


WILDCARD_PRINCIPALS = [
    {"Service": "*"},
    {"Federated": "*"},
    {"AWS": "arn:aws:iam::*:root"},
    {"AWS": [ROOT, "arn:aws:iam::*:role/deployer"]},
]


@pytest.mark.parametrize("principal", WILDCARD_PRINCIPALS, ids=json.dumps)
def test_wildcards_of_any_principal_type_or_account_are_flagged(principal: dict[str, Any]) -> None:
    trust = document({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
    role = resource(identity.ROLE, "open", {"assumeRolePolicy": trust})
    assert flagged(identity.iam_trust_no_wildcard_principal, role) == ["open"]
    grant = document({"Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"})
    assert flagged(identity.kms_no_wildcard_principal, key(policy=grant)) == ["key"]


def test_named_principals_in_this_account_pass() -> None:
    named = {"AWS": [ROOT, "arn:aws:iam::123456789012:role/deployer"], "Service": "logs.eu-west-1.amazonaws.com"}
    trust = document({"Effect": "Allow", "Principal": named, "Action": "sts:AssumeRole"})
    role = resource(identity.ROLE, "named", {"assumeRolePolicy": trust})
    assert_compliant_even_when_unknown(identity.iam_trust_no_wildcard_principal, role)
    grant = document({"Effect": "Allow", "Principal": named, "Action": "kms:Decrypt", "Resource": "*"})
    assert_compliant_even_when_unknown(identity.kms_no_wildcard_principal, key(policy=grant))


def test_roles_trusting_a_service_or_a_conditioned_wildcard_pass() -> None:
    service = document(
        {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    conditioned = document(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}},
        }
    )
    roles = [
        resource(identity.ROLE, name, {"assumeRolePolicy": trust})
        for name, trust in (("a", service), ("b", conditioned))
    ]
    assert_compliant_even_when_unknown(identity.iam_trust_no_wildcard_principal, *roles)


def key(**props: Any) -> Any:
    policy = document({"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"})
    return resource(identity.KMS_KEY, "key", {"enableKeyRotation": True, "policy": policy, **props})


def test_keys_without_rotation_are_flagged_except_asymmetric_ones() -> None:
    assert flagged(identity.kms_key_rotation, key(enableKeyRotation=False)) == ["key"]
    assert messages(identity.kms_key_rotation, key(enableKeyRotation=False, customerMasterKeySpec="RSA_2048")) == []
    assert_compliant_even_when_unknown(identity.kms_key_rotation, key())


def test_key_policies_open_to_anyone_are_flagged() -> None:
    open_policy = document({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})
    assert flagged(identity.kms_no_wildcard_principal, key(policy=open_policy)) == ["key"]
    standalone = resource(identity.KMS_KEY_POLICY, "policy", {"keyId": "k", "policy": open_policy})
    assert flagged(identity.kms_no_wildcard_principal, standalone) == ["policy"]
    conditioned = document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": "123456789012"}},
        }
    )
    assert flagged(identity.kms_no_wildcard_principal, key(policy=conditioned)) == ["key"]
    assert_compliant_even_when_unknown(identity.kms_no_wildcard_principal, key())


def test_keys_bypassing_the_lockout_check_are_flagged() -> None:
    assert flagged(identity.kms_no_lockout_bypass, key(bypassPolicyLockoutSafetyCheck=True)) == ["key"]
    assert_compliant_even_when_unknown(identity.kms_no_lockout_bypass, key(bypassPolicyLockoutSafetyCheck=False))


# ---------------------------------------------------------------------------------------------- boundaries

BOUNDARY = "arn:aws:iam::123456789012:policy/shop-test-workload-boundary"
TRUST = document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})


def test_a_role_under_the_stacks_path_with_a_customer_managed_boundary_passes() -> None:
    role = resource(
        identity.ROLE, "bounded", {"assumeRolePolicy": TRUST, "path": "/shop/test/", "permissionsBoundary": BOUNDARY}
    )
    assert_compliant_even_when_unknown(identity.iam_role_permissions_boundary, role)


def test_a_role_without_the_boundary_or_outside_the_stacks_path_is_flagged() -> None:
    fix = "Fix: create the role with components/iam.py (RoleScope: path and permissions_boundary)."
    unbounded = resource(identity.ROLE, "unbounded", {"assumeRolePolicy": TRUST, "path": "/shop/test/"})
    aws_managed = resource(
        identity.ROLE,
        "aws-managed",
        {"path": "/shop/test/", "permissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    elsewhere = resource(identity.ROLE, "elsewhere", {"path": "/shop/prod/", "permissionsBoundary": BOUNDARY})
    at_root = resource(identity.ROLE, "at-root", {"permissionsBoundary": BOUNDARY})
    assert messages(identity.iam_role_permissions_boundary, unbounded, aws_managed, elsewhere, at_root) == [
        f"permissionsBoundary is None, not this stack's <prefix>-test-workload-boundary. {fix}",
        "permissionsBoundary is 'arn:aws:iam::aws:policy/AdministratorAccess', not this stack's "
        f"<prefix>-test-workload-boundary. {fix}",
        f"path is '/shop/prod/', not /<prefix>/test/. {fix}",
        f"path is None, not /<prefix>/test/. {fix}",
    ]


@pytest.mark.parametrize(
    "boundary",
    [
        "arn:aws:iam::123456789012:policy/shop-prod-workload-boundary",  # another stack's
        "arn:aws:iam::123456789012:policy/other-test-workload-boundary",  # another prefix than the role's path
        "arn:aws:iam::123456789012:policy/PowerUser",  # any customer managed policy
        "arn:aws:iam::123456789012:policy/team/shop-test-workload-boundary",  # not where the bootstrap creates it
        "arn:aws:iam::123456789012:policy/shop-test-workload-boundary-v2",
        "arn:aws:iam::aws:policy/shop-test-workload-boundary",  # not an account's
    ],
)
def test_a_role_with_any_boundary_but_its_stacks_own_is_flagged(boundary: str) -> None:
    role = resource(identity.ROLE, "role", {"path": "/shop/test/", "permissionsBoundary": boundary})
    assert messages(identity.iam_role_permissions_boundary, role) == [
        f"permissionsBoundary is {boundary!r}, not this stack's <prefix>-test-workload-boundary. "
        "Fix: create the role with components/iam.py (RoleScope: path and permissions_boundary)."
    ]


def test_the_stacks_boundary_passes_in_any_partition_and_account() -> None:
    for boundary in (
        "arn:aws-us-gov:iam::210987654321:policy/shop-test-workload-boundary",
        "arn:aws:iam::123456789012:policy/my-shop-test-workload-boundary",
    ):
        prefix = boundary.rsplit("/", 1)[1].removesuffix("-test-workload-boundary")
        role = resource(identity.ROLE, "role", {"path": f"/{prefix}/test/", "permissionsBoundary": boundary})
        assert flagged(identity.iam_role_permissions_boundary, role) == [], boundary


def test_roles_of_an_administered_project_need_no_boundary() -> None:
    delivery_role = resource(identity.ROLE, "deploy", {"assumeRolePolicy": TRUST})
    assert flagged(identity.iam_role_permissions_boundary, delivery_role) == ["deploy", "deploy"]  # boundary, path
    assert (
        flagged(identity.iam_role_permissions_boundary, delivery_role, config={"administeredProjects": ["proj"]}) == []
    )


def test_a_permissions_boundary_may_allow_all_but_iam_as_long_as_nothing_attaches_it() -> None:
    all_but_iam = document({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    boundary = resource(
        "aws:iam/policy:Policy", "boundary", {"name": "shop-test-workload-boundary", "policy": all_but_iam}
    )
    grant = resource("aws:iam/policy:Policy", "grant", {"name": "shop-test-everything", "policy": all_but_iam})
    attached = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "attached", {"role": "x", "policyArn": BOUNDARY}
    )
    role = resource(identity.ROLE, "role", {"managedPolicyArns": [BOUNDARY]})
    assert flagged(identity.iam_no_wildcard_admin, boundary, grant, attached, role) == ["grant", "attached", "role"]
    assert messages(identity.iam_no_wildcard_admin, attached)[0].startswith(
        f"{BOUNDARY} is a permissions boundary, attached here as a permissions policy."
    )
