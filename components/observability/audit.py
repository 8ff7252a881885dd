"""The audit trail: a multi-region CloudTrail trail with log file validation, encrypted with its own KMS key,
delivered to a dedicated bucket (hardened like every other bucket), copied to CloudWatch Logs, and announced file by
file on an SNS topic encrypted with the same key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent
from components.buckets import deny_insecure_transport, lifecycle_rules, private_bucket
from components.iam import granted_service_role
from components.kms import customer_managed_key
from components.log_groups import encrypted_log_group
from components.observability.alerting import account_administers_topic, deny_publish_without_tls
from stacks.settings import KeySettings, ObservabilitySettings

#: Days before an unfinished multipart upload, and an overwritten log file version, are removed.
INCOMPLETE_UPLOAD_DAYS = 7
NONCURRENT_VERSION_DAYS = 30


@dataclass(frozen=True)
class AuditTrailArgs:
    settings: ObservabilitySettings
    key_settings: KeySettings
    logs_key_arn: pulumi.Input[str]
    """Encrypts the trail's CloudWatch Logs copy (its key policy admits CloudWatch Logs)."""
    access_logs_bucket: pulumi.Input[str]
    """Receives the trail bucket's S3 server access logs (who read the audit log)."""
    access_logs_prefix: str
    tags: dict[str, str]
    force_destroy: bool


def trail_key_statements(trail_arn: str, topic_arn: str, account: Account) -> list[dict[str, Any]]:
    """CloudTrail's documented key policy statements, for this one trail, plus what SNS needs of a publisher to the
    trail's encrypted notification topic. Reading the logs (kms:Decrypt) is left to IAM through the account root,
    rather than the documented ``Principal: *`` statement."""
    return [
        {
            "Sid": "CloudTrailEncryptsLogs",
            "Effect": "Allow",
            "Principal": {"Service": account.service_principal("cloudtrail")},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",  # in a key policy "*" means this key
            "Condition": {
                "StringEquals": {"aws:SourceArn": trail_arn},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{account.partition}:cloudtrail:*:"
                    f"{account.id}:trail/*"
                },
            },
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": account.service_principal("cloudtrail")},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
        },
        {
            # SNS encrypts what an AWS service publishes with the topic's key, with the publisher's permissions.
            "Sid": "CloudTrailEncryptsNotifications",
            "Effect": "Allow",
            "Principal": {"Service": account.service_principal("cloudtrail")},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": trail_arn, "kms:EncryptionContext:aws:sns:topicArn": topic_arn}
            },
        },
    ]


def trail_topic_policy(topic_arn: str, trail_arn: str, account: Account) -> dict[str, Any]:
    """The account administers the topic; this trail (and nothing else) publishes; nothing without TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_topic(topic_arn, account),
            {
                "Sid": "TrailPublishesDeliveries",
                "Effect": "Allow",
                "Principal": {"Service": account.service_principal("cloudtrail")},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            deny_publish_without_tls(topic_arn),
        ],
    }


def trail_bucket_policy(bucket_arn: str, trail_arn: str, account: Account) -> dict[str, Any]:
    """TLS only; this trail (and nothing else) checks the bucket ACL and writes under ``AWSLogs/<account>/``."""
    cloudtrail = {"Service": account.service_principal("cloudtrail")}
    return {
        "Version": "2012-10-17",
        "Statement": [
            deny_insecure_transport(bucket_arn),
            {
                "Sid": "CloudTrailChecksBucketAcl",
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "CloudTrailWritesLogs",
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account.id}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                },
            },
        ],
    }


def audit_trail(name: str, args: AuditTrailArgs, *, component: PlatformComponent) -> aws.cloudtrail.Trail:
    """The trail and what it needs, children of ``component``; its key, bucket and log group hold data."""
    account, naming, settings = component.context.account, component.naming, args.settings
    protect = component.context.protect
    trail_name = naming.physical("trail")
    trail_arn = account.arn("cloudtrail", f"trail/{trail_name}")
    topic_name = naming.physical("trail-deliveries")
    topic_arn = account.arn("sns", topic_name)
    key = customer_managed_key(
        f"{name}-key",
        alias=f"alias/{naming.physical('audit')}",
        description=f"{naming.physical('audit')}: the CloudTrail trail's log files",
        settings=args.key_settings,
        account=account,
        tags=args.tags,
        parent=component,
        protect=protect,
        service_statements=trail_key_statements(trail_arn, topic_arn, account),
    )
    # A notification per delivered log file: what a SIEM or log shipper subscribes to, instead of polling.
    topic = aws.sns.Topic(
        f"{name}-deliveries",
        name=topic_name,
        kms_master_key_id=key.arn,
        policy=json.dumps(trail_topic_policy(topic_arn, trail_arn, account)),
        tags=args.tags,
        # Replacing the topic would drop its consumers' subscriptions.
        opts=component.child(holds_data=True),
    )
    # Bucket names are global: the account id keeps ours from colliding with anyone else's.
    bucket_name = naming.physical(f"trail-{account.id}")
    bucket_arn = f"arn:{account.partition}:s3:::{bucket_name}"
    bucket, access_block = private_bucket(
        f"{name}-bucket",
        physical_name=bucket_name,
        tags=args.tags,
        parent=component,
        protect=protect,
        force_destroy=args.force_destroy,
        object_ownership="BucketOwnerEnforced",
        encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=key.arn
            ),
            bucket_key_enabled=True,
        ),
        lifecycle_rules=lifecycle_rules(
            incomplete_upload_days=INCOMPLETE_UPLOAD_DAYS,
            noncurrent_version_days=NONCURRENT_VERSION_DAYS,
            expire_after_days=settings.trail_object_days,
        ),
    )
    aws.s3.BucketLogging(
        f"{name}-bucket-access-logs",
        bucket=bucket.id,
        target_bucket=args.access_logs_bucket,
        target_prefix=f"{args.access_logs_prefix}trail/",
        opts=component.child(bucket, protect=False),
    )
    policy = aws.s3.BucketPolicy(
        f"{name}-bucket-policy",
        bucket=bucket.id,
        policy=json.dumps(trail_bucket_policy(bucket_arn, trail_arn, account)),
        opts=component.child(bucket, protect=False, depends_on=[access_block]),
    )
    log_group = encrypted_log_group(
        f"{name}-logs",
        log_group_name=f"/aws/cloudtrail/{trail_name}",
        retention_days=settings.trail_log_retention_days,
        kms_key_arn=args.logs_key_arn,
        tags=args.tags,
        component=component,
    )
    delivery_role = granted_service_role(
        f"{name}-logs-role",
        scope=component.context.role_scope,
        service=account.service_principal("cloudtrail"),
        description=f"CloudTrail trail {trail_name} writes its events to its CloudWatch Logs group",
        trust_conditions={"StringEquals": {"aws:SourceArn": trail_arn}},
        statements=log_group.arn.apply(
            lambda arn: [
                {
                    "Sid": "WriteTrailEvents",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{arn}:log-stream:*",
                }
            ]
        ),
        tags=args.tags,
        parent=component,
    )
    return aws.cloudtrail.Trail(
        name,
        name=trail_name,
        s3_bucket_name=bucket.id,
        kms_key_id=key.arn,
        sns_topic_name=topic.name,
        is_multi_region_trail=True,
        include_global_service_events=True,
        enable_log_file_validation=True,
        cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),  # CloudTrail wants the ":*" form
        cloud_watch_logs_role_arn=delivery_role.role.arn,
        tags=args.tags,
        # CreateTrail checks that the bucket and topic policies admit it and that its role may write to the log
        # group (the topic's policy is part of the topic, a dependency through sns_topic_name).
        opts=component.child(depends_on=[policy, *delivery_role.grants]),
    )
