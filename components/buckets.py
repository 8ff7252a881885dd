"""A private S3 bucket from pulumi-aws v7's split resources: public access blocked, object ownership set,
default encryption, versioning, and lifecycle rules (applied once versioning is on)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """The bucket policy statement that refuses every request not made over TLS."""
    return {
        "Sid": "DenyRequestsWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def private_bucket(
    name: str,
    *,
    physical_name: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    protect: bool,
    force_destroy: bool,
    object_ownership: str,
    encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs,
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs],
) -> tuple[aws.s3.Bucket, aws.s3.BucketPublicAccessBlock]:
    """The bucket and its public access block (a bucket policy should wait for the block)."""
    bucket = aws.s3.Bucket(
        name,
        bucket=physical_name,
        force_destroy=force_destroy,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    # Only the bucket holds data: its configuration stays changeable in prod (protect is otherwise inherited).
    child = pulumi.ResourceOptions(parent=bucket, protect=False)
    access_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership=object_ownership),
        opts=child,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket.id, rules=[encryption], opts=child
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=child,
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        rules=list(lifecycle_rules),
        # S3 rejects noncurrent-version rules on a bucket whose versioning is still being turned on.
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[versioning])),
    )
    return bucket, access_block


def lifecycle_rules(
    *, incomplete_upload_days: int, noncurrent_version_days: int, expire_after_days: int | None
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Unfinished uploads and overwritten versions are removed, and (``expire_after_days``) objects expire."""
    everything = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-uploads",
            status="Enabled",
            filter=everything,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=incomplete_upload_days
            ),
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=everything,
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=noncurrent_version_days
            ),
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="remove-expired-delete-markers",
            status="Enabled",
            filter=everything,
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
        ),
    ]
    if expire_after_days is not None:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-logs",
                status="Enabled",
                filter=everything,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire_after_days),
            )
        )
    return rules
