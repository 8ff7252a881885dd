"""Customer-managed KMS keys, one per purpose, with rotation, aliases and explicit key policies."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.naming import Naming
from stacks.settings import KeySettings

COMPONENT = "keys"


@dataclass(frozen=True)
class KeysArgs:
    settings: KeySettings
    naming: Naming
    account: Account
    protect: bool
    """Protect the keys from `pulumi destroy` (prod): every encrypted store depends on them."""


class Keys(pulumi.ComponentResource):
    """Three keys so that a grant on one purpose never opens another:

    - ``data``: RDS storage and Performance Insights, ElastiCache, the S3 assets bucket.
    - ``secrets``: Secrets Manager secrets (including the RDS-managed master secret) and EKS Secrets envelope
      encryption.
    - ``logs``: CloudWatch log groups (VPC flow logs, EKS control plane, WAF, application logs).

    Each key policy delegates to IAM through the account root (AWS's default key policy; without it the
    least-privilege IAM policies of our roles could not grant use of the key). RDS, ElastiCache, S3, Secrets
    Manager and EKS use a key with the calling principal's IAM permissions, so they need no statement of
    their own; services that call KMS as themselves get a service-principal statement scoped to this account
    (CloudWatch Logs below).
    """

    data_key_arn: pulumi.Output[str]
    secrets_key_arn: pulumi.Output[str]
    logs_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shop:security:Keys", name, None, opts)
        self._args = args
        self.data_key_arn = self._key("data", "RDS, ElastiCache and S3 asset data", [])
        self.secrets_key_arn = self._key("secrets", "Secrets Manager secrets and EKS Secrets", [])
        self.logs_key_arn = self._key("logs", "CloudWatch Logs log groups", [self._logs_statement()])
        self.register_outputs(
            {
                "data_key_arn": self.data_key_arn,
                "secrets_key_arn": self.secrets_key_arn,
                "logs_key_arn": self.logs_key_arn,
            }
        )

    def _key(self, purpose: str, used_for: str, service_statements: list[dict]) -> pulumi.Output[str]:
        args = self._args
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountRootDelegatesToIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": args.account.root_arn},
                    "Action": "kms:*",
                    "Resource": "*",  # in a key policy "*" means this key
                },
                *service_statements,
            ],
        }
        key = aws.kms.Key(
            f"{purpose}-key",
            description=f"{args.naming.physical(purpose)}: {used_for}",
            enable_key_rotation=True,
            rotation_period_in_days=args.settings.rotation_period_days,
            deletion_window_in_days=args.settings.deletion_window_days,
            policy=json.dumps(policy),
            tags=args.naming.tags(COMPONENT, Name=args.naming.physical(purpose), purpose=purpose),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.kms.Alias(
            f"{purpose}-key-alias",
            name=f"alias/{args.naming.physical(purpose)}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key.arn

    def _logs_statement(self) -> dict:
        account = self._args.account
        return {
            "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": account.service_principal("logs", regional=True)},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": account.arn("logs", "log-group:*")},
            },
        }
