"""IAM roles that an AWS service assumes, with one least-privilege inline policy each.

Policy documents are plain dicts serialised with ``json.dumps`` (no policy-document invokes), so the offline
plan shows the exact document that will be deployed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def policy_document(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_role(
    name: str,
    *,
    service: str,
    statements: Sequence[dict[str, Any]] | pulumi.Output[list[dict[str, Any]]],
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    trust_conditions: dict[str, Any] | None = None,
    trust_actions: Sequence[str] = ("sts:AssumeRole",),
) -> aws.iam.Role:
    """A role that only ``service`` may assume (optionally under ``trust_conditions``, which may hold outputs),
    with ``statements`` as its inline policy (none when there are none: IAM rejects an empty policy)."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": list(trust_actions),
    }
    if trust_conditions:
        trust["Condition"] = trust_conditions
    role = aws.iam.Role(
        name,
        description=description,
        assume_role_policy=pulumi.Output.from_input(trust).apply(lambda resolved: policy_document([resolved])),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
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
