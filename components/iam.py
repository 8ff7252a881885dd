"""IAM roles the platform creates, each under the stack's path and capped by its permissions boundary, with one
least-privilege inline policy and/or AWS managed policies.

Policy documents are plain dicts serialised with ``json.dumps`` (no policy-document invokes), so the offline
plan shows the exact document that will be deployed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.naming import Naming

#: One action or several; a single string stays a string in the document (``"Action": "kms:*"``).
Actions = str | Sequence[str]
#: One resource ARN (or ``"*"``) or several.
Resources = str | Sequence[str]
#: An inline policy's statements, as plain dicts or as an output of them.
Statements = Sequence[dict[str, Any]] | pulumi.Output[list[dict[str, Any]]]


def policy_document(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class AllBut:
    """Every action except ``actions``: a statement with ``NotAction`` (``deny(sid, all_but(...), ...)``)."""

    actions: tuple[str, ...]


def all_but(actions: Sequence[str]) -> AllBut:
    return AllBut(tuple(actions))


def allow(sid: str, actions: Actions, resources: Resources, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """An identity policy statement allowing ``actions`` on ``resources`` (under ``condition``)."""
    return _statement(sid, "Allow", actions, resources, condition)


def deny(
    sid: str, actions: Actions | AllBut, resources: Resources, condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An identity policy statement denying ``actions`` (or, with ``all_but``, every other action) on ``resources``
    (under ``condition``): an explicit deny wins over every allow, so it bounds what the allows grant."""
    return _statement(sid, "Deny", actions, resources, condition)


def _statement(
    sid: str, effect: str, actions: Actions | AllBut, resources: Resources, condition: dict[str, Any] | None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": effect}
    if isinstance(actions, AllBut):
        statement["NotAction"] = list(actions.actions)
    else:
        statement["Action"] = actions if isinstance(actions, str) else list(actions)
    statement["Resource"] = resources if isinstance(resources, str) else list(resources)
    if condition:
        statement["Condition"] = condition
    return statement


@dataclass(frozen=True)
class RoleScope:
    """Where the stack's roles live and what caps them; every role the platform creates takes both.

    The bootstrap's deploy role may create a role only under ``path`` and only with ``permissions_boundary_arn``
    (docs/cicd.md), so a stack without the boundary can be deployed only by an identity outside the bootstrap.
    """

    path: str
    permissions_boundary_arn: str | None
    """None: no boundary (a stack deployed without the bootstrap; staging only)."""

    @classmethod
    def of_stack(cls, naming: Naming, account: Account, *, bounded: bool) -> RoleScope:
        boundary = account.arn("iam", f"policy/{naming.workload_boundary}", global_service=True)
        return cls(path=naming.role_path, permissions_boundary_arn=boundary if bounded else None)


def scoped_role(
    name: str,
    *,
    scope: RoleScope,
    trust: pulumi.Input[str],
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """A role under the stack's path and boundary, trusted as ``trust`` (a JSON policy document) says."""
    return aws.iam.Role(
        name,
        path=scope.path,
        permissions_boundary=scope.permissions_boundary_arn,
        description=description,
        assume_role_policy=trust,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def service_role(
    name: str,
    *,
    scope: RoleScope,
    service: str,
    statements: Sequence[dict[str, Any]] | pulumi.Output[list[dict[str, Any]]],
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    managed_policy_arns: Sequence[str] = (),
    trust_conditions: dict[str, Any] | None = None,
    trust_actions: Sequence[str] = ("sts:AssumeRole",),
) -> aws.iam.Role:
    """A role that only ``service`` may assume (optionally under ``trust_conditions``, which may hold outputs),
    with ``statements`` as its inline policy (none when there are none: IAM rejects an empty policy) and the AWS
    managed policies ``managed_policy_arns``."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": list(trust_actions),
    }
    if trust_conditions:
        trust["Condition"] = trust_conditions
    role = scoped_role(
        name,
        scope=scope,
        trust=pulumi.Output.from_input(trust).apply(lambda resolved: policy_document([resolved])),
        description=description,
        tags=tags,
        parent=parent,
    )
    attach_managed_policies(name, role, managed_policy_arns)
    if not isinstance(statements, pulumi.Output) and not statements:
        return role
    document = (
        statements.apply(policy_document) if isinstance(statements, pulumi.Output) else policy_document(statements)
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=document,
        opts=pulumi.ResourceOptions(parent=role),
    )
    return role


@dataclass(frozen=True)
class GrantedRole:
    role: aws.iam.Role
    grants: list[pulumi.Resource]
    """Its inline policy and managed-policy attachments: whatever acts with the role depends on them, so that it
    has its permissions when it starts and keeps them until it is deleted (a dependency on the role alone does
    not include them)."""


def granted_service_role(
    name: str,
    *,
    scope: RoleScope,
    service: str,
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    statements: Statements = (),
    managed_policy_arns: Sequence[str] = (),
    trust_conditions: dict[str, Any] | None = None,
    trust_actions: Sequence[str] = ("sts:AssumeRole",),
) -> GrantedRole:
    """``service_role`` with its grants at hand (the same resources under the same names and parents), for a role
    whose users must wait for its permissions."""
    created = service_role(
        name,
        scope=scope,
        service=service,
        statements=(),
        description=description,
        tags=tags,
        parent=parent,
        trust_conditions=trust_conditions,
        trust_actions=trust_actions,
    )
    grants: list[pulumi.Resource] = list(attach_managed_policies(name, created, managed_policy_arns))
    if isinstance(statements, pulumi.Output) or statements:
        document = (
            statements.apply(policy_document) if isinstance(statements, pulumi.Output) else policy_document(statements)
        )
        grants.append(
            aws.iam.RolePolicy(
                f"{name}-policy", role=created.id, policy=document, opts=pulumi.ResourceOptions(parent=created)
            )
        )
    return GrantedRole(role=created, grants=grants)


def attach_managed_policies(
    name: str, role: aws.iam.Role, policy_arns: Sequence[str]
) -> list[aws.iam.RolePolicyAttachment]:
    return [
        aws.iam.RolePolicyAttachment(
            f"{name}-{arn.rsplit('/', 1)[-1]}",
            role=role.name,
            policy_arn=arn,
            opts=pulumi.ResourceOptions(parent=role),
        )
        for arn in policy_arns
    ]
