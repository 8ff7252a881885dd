"""Pulumi's self-managed backend: an S3 bucket for stack state, a KMS key for it, one KMS key per stack as that
stack's secrets provider, and a bucket for the state bucket's access logs (who read or wrote which stack's state)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.buckets import deny_insecure_transport, private_bucket
from components.kms import customer_managed_key
from components.naming import Naming
from stacks.settings import KeySettings, StateBackendSettings

COMPONENT = "state"
LOG_DELIVERY = "logging.s3.amazonaws.com"


def state_bucket_policy(bucket_arn: str) -> str:
    """State holds every resource's attributes: nothing but TLS requests."""
    return json.dumps({"Version": "2012-10-17", "Statement": [deny_insecure_transport(bucket_arn)]})


def access_log_bucket_policy(log_bucket_arn: str, state_bucket_arn: str, account_id: str) -> str:
    """TLS only, and S3's log delivery may write the state bucket's access logs (and nothing else's) here."""
    delivery = {
        "Sid": "StateBucketAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": LOG_DELIVERY},
        "Action": "s3:PutObject",
        "Resource": f"{log_bucket_arn}/*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": state_bucket_arn},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [deny_insecure_transport(log_bucket_arn), delivery]})


@dataclass(frozen=True, kw_only=True)
class StateBackendArgs:
    settings: StateBackendSettings
    keys: KeySettings
    naming: Naming
    account: Account
    stacks: Sequence[str] = ()
    """The platform stacks keeping state here: each gets its own secrets provider key."""


class StateBackend(pulumi.ComponentResource):
    """``pulumi login <backend_url>`` and ``pulumi stack init <stack> --secrets-provider <secrets_providers[stack]>``
    use it."""

    bucket_name: str
    bucket_arn: pulumi.Output[str]
    log_bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    """Encrypts the state objects (S3 SSE-KMS) and nothing else."""
    backend_url: str
    secrets_key_arns: dict[str, pulumi.Output[str]]
    secrets_providers: dict[str, str]
    """By stack: its own key, so that no stack's roles can decrypt another stack's secrets (docs/cicd.md)."""

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shop:cicd:StateBackend", name, None, opts)
        self._name = name
        naming, account = args.naming, args.account
        # Bucket names are global: the account id keeps these unique.
        self.bucket_name = naming.physical(f"state-{account.id}")
        key_alias = f"alias/{naming.physical('state')}"
        key = customer_managed_key(
            f"{name}-key",
            alias=key_alias,
            description=f"{naming.physical('state')}: Pulumi state in s3://{self.bucket_name} (SSE-KMS)",
            settings=args.keys,
            account=account,
            tags=naming.tags(COMPONENT, Name=naming.physical("state")),
            parent=self,
            protect=True,  # without it no stack's state can be read
        )
        bucket = self._bucket(
            "bucket",
            physical_name=self.bucket_name,
            naming=naming,
            # SSE-KMS with our key: reading state takes both S3 and KMS permissions.
            encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key.arn
                ),
                bucket_key_enabled=True,
            ),
            # Every update replaces the stack file: the versions kept are the way back from a bad one.
            lifecycle=aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-replaced-state",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.settings.noncurrent_version_days
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7
                ),
            ),
            policy=state_bucket_policy,
        )
        log_bucket = self._bucket(
            "access-logs",
            physical_name=naming.physical(f"state-logs-{account.id}"),
            naming=naming,
            # S3 delivers server access logs only to buckets encrypted with S3-managed keys.
            encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                )
            ),
            lifecycle=aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-access-logs",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.settings.access_log_days),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=30
                ),
            ),
            policy=lambda arn: bucket.arn.apply(lambda state_arn: access_log_bucket_policy(arn, state_arn, account.id)),
        )
        aws.s3.BucketLogging(
            f"{name}-bucket-access-logging",
            bucket=bucket.id,
            target_bucket=log_bucket.id,
            target_prefix="state/",
            opts=pulumi.ResourceOptions(parent=bucket),
        )
        self.bucket_arn = bucket.arn
        self.log_bucket_arn = log_bucket.arn
        self.key_arn = key.arn
        self.backend_url = f"s3://{self.bucket_name}?region={account.region}&awssdk=v2"
        self.secrets_key_arns, self.secrets_providers = {}, {}
        for stack in args.stacks:
            # Named under the bootstrap's prefix: the stack's own keys take <prefix>-<stack>-* (its secrets key too).
            key_name = naming.physical(f"{stack}-pulumi-secrets")
            alias = f"alias/{key_name}"
            secrets_key = customer_managed_key(
                f"{name}-{stack}-secrets-key",
                alias=alias,
                description=f"{key_name}: the secrets provider of stack {stack}",
                settings=args.keys,
                account=account,
                tags=naming.tags(COMPONENT, Name=key_name),
                parent=self,
                protect=True,  # without it the stack's secret config and state secrets cannot be read
            )
            self.secrets_key_arns[stack] = secrets_key.arn
            self.secrets_providers[stack] = f"awskms://{alias}?region={account.region}"
        self.register_outputs(
            {
                "bucket_arn": self.bucket_arn,
                "log_bucket_arn": self.log_bucket_arn,
                "key_arn": self.key_arn,
                "backend_url": self.backend_url,
                "secrets_key_arns": self.secrets_key_arns,
                "secrets_providers": self.secrets_providers,
            }
        )

    def _bucket(
        self,
        purpose: str,
        *,
        physical_name: str,
        naming: Naming,
        encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs,
        lifecycle: aws.s3.BucketLifecycleConfigurationRuleArgs,
        policy: Callable[[str], pulumi.Input[str]],
    ) -> aws.s3.Bucket:
        """A private, versioned, encrypted, protected bucket whose policy refuses requests without TLS."""
        name = f"{self._name}-{purpose}"
        bucket, access_block = private_bucket(
            name,
            physical_name=physical_name,
            tags=naming.tags(COMPONENT, Name=physical_name),
            parent=self,
            protect=True,
            force_destroy=False,
            object_ownership="BucketOwnerEnforced",
            encryption=encryption,
            lifecycle_rules=[lifecycle],
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(policy),
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[access_block]),
        )
        return bucket
