"""Customer-managed KMS keys, one per purpose, with rotation, aliases and explicit key policies."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.base import PlatformComponent, StackContext
from components.kms import customer_managed_key, logs_service_statement
from stacks.settings import KeySettings


@dataclass(frozen=True, kw_only=True)
class KeysArgs:
    settings: KeySettings
    context: StackContext
    """Its ``protect`` protects the keys from `pulumi destroy` (prod): every encrypted store depends on them."""


class Keys(PlatformComponent):
    """Four keys so that a grant on one purpose never opens another:

    - ``data``: RDS storage and Performance Insights, ElastiCache at rest, the S3 assets bucket (and CloudFront
      reading its objects).
    - ``secrets``: Secrets Manager secrets (including the RDS-managed master secret) and EKS Secrets envelope
      encryption.
    - ``logs``: CloudWatch log groups (VPC flow logs, EKS control plane, RDS and ElastiCache logs, WAF, apps).
    - ``volumes``: the cluster's EBS persistent volumes (node root volumes use the AWS-managed EBS key; see
      ``components/cluster/nodes.py`` for why).

    Who each key policy admits, and why no statement names ``*`` as a principal:

    - The account root (AWS's default key policy), which delegates to IAM: without it the least-privilege IAM
      policies of our roles and deployers could not grant use of the key.
    - RDS, ElastiCache, S3, Secrets Manager and EKS use a key on behalf of the principal that creates or reads
      the resource (``kms:ViaService`` calls with that principal's identity, and grants it creates), so IAM
      permissions through the root statement admit them. AWS-managed keys admit these services with
      ``Principal: "*"`` plus ``kms:CallerAccount``/``kms:ViaService`` conditions: a wildcard principal we do
      not use, and with the root as principal such a statement would repeat the root statement.
    - Services that call KMS as themselves get a statement with their service principal, scoped to this
      account's resources: CloudWatch Logs on the logs key (log groups of this account and region), CloudFront
      on the data key (``kms:Decrypt`` for this account's distributions, to serve SSE-KMS objects through origin
      access control; the key exists before the distribution, so the assets bucket policy names it exactly).
    """

    pulumi_type = "shop:security:Keys"
    component = "keys"

    data_key_arn: pulumi.Output[str]
    secrets_key_arn: pulumi.Output[str]
    logs_key_arn: pulumi.Output[str]
    volumes_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self._settings = args.settings
        self.data_key_arn = self._key("data", "RDS, ElastiCache and S3 asset data", [self._cloudfront_statement()])
        self.secrets_key_arn = self._key("secrets", "Secrets Manager secrets and EKS Secrets", [])
        self.logs_key_arn = self._key(
            "logs",
            "CloudWatch Logs log groups",
            [logs_service_statement("CloudWatchLogsEncryptsThisAccountsLogGroups", self.context.account, "*")],
        )
        self.volumes_key_arn = self._key("volumes", "EBS persistent volumes of the cluster's pods", [])
        self.register_outputs(
            {
                "data_key_arn": self.data_key_arn,
                "secrets_key_arn": self.secrets_key_arn,
                "logs_key_arn": self.logs_key_arn,
                "volumes_key_arn": self.volumes_key_arn,
            }
        )

    def _key(self, purpose: str, used_for: str, service_statements: list[dict]) -> pulumi.Output[str]:
        name = self.naming.physical(purpose)
        key = customer_managed_key(
            f"{purpose}-key",
            alias=f"alias/{name}",
            description=f"{name}: {used_for}",
            settings=self._settings,
            account=self.context.account,
            tags={**self.tags(purpose), "purpose": purpose},
            parent=self,
            protect=self.context.protect,
            service_statements=service_statements,
        )
        return key.arn

    def _cloudfront_statement(self) -> dict:
        account = self.context.account
        return {
            "Sid": "CloudFrontDecryptsAssetsForThisAccountsDistributions",
            "Effect": "Allow",
            "Principal": {"Service": account.service_principal("cloudfront")},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {
                "StringLike": {"AWS:SourceArn": account.arn("cloudfront", "distribution/*", global_service=True)},
            },
        }
