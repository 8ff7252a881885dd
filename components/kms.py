"""One customer-managed KMS key: rotation, a deletion window, an alias, and an explicit key policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from stacks.settings import KeySettings


def key_policy(account: Account, service_statements: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A key policy that delegates to IAM through the account root (AWS's default key policy: without it the
    least-privilege IAM policies of our roles could not grant use of the key), plus ``service_statements`` for
    services that call KMS as themselves."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountRootDelegatesToIam",
                "Effect": "Allow",
                "Principal": {"AWS": account.root_arn},
                "Action": "kms:*",
                "Resource": "*",  # in a key policy "*" means this key
            },
            *service_statements,
        ],
    }


def customer_managed_key(
    name: str,
    *,
    alias: str,
    description: str,
    settings: KeySettings,
    account: Account,
    tags: dict[str, str],
    parent: pulumi.Resource,
    protect: bool,
    service_statements: Sequence[dict[str, Any]] = (),
    region: str | None = None,
) -> aws.kms.Key:
    """A key with ``key_policy``: delegation to IAM through the account root plus ``service_statements`` for
    services that call KMS as themselves. ``region`` places the key outside the stack's region (a key serves
    only resources of its own region)."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        rotation_period_in_days=settings.rotation_period_days,
        deletion_window_in_days=settings.deletion_window_days,
        policy=json.dumps(key_policy(account, service_statements)),
        tags=tags,
        region=region,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=alias,
        target_key_id=key.key_id,
        region=region,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return key


def logs_service_statement(sid: str, account: Account, log_group: str, *, region: str | None = None) -> dict[str, Any]:
    """Lets CloudWatch Logs of ``region`` (the stack's by default) encrypt with the key for this account's log
    group(s) ``log_group`` (a name, or a pattern such as ``*``): Logs calls KMS as itself, with the group's ARN as
    encryption context."""
    region = region or account.region
    group_arn = account.arn("logs", f"log-group:{log_group}", region=region)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.{account.dns_suffix}"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",  # in a key policy "*" means this key
        "Condition": {
            ("ArnLike" if "*" in log_group else "ArnEquals"): {"kms:EncryptionContext:aws:logs:arn": group_arn}
        },
    }
