"""CloudWatch log groups the platform creates itself, so that retention and KMS encryption are never left to AWS.

Services such as RDS and ElastiCache create a missing log group on first delivery with neither; creating it first
with the exact name the service writes to keeps both under our control.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent


def encrypted_log_group(
    name: str,
    *,
    log_group_name: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    tags: dict[str, str],
    component: PlatformComponent,
) -> aws.cloudwatch.LogGroup:
    """A log group of ``component``; logs are data (audit trail, incidents), protected where the stack protects data."""
    return aws.cloudwatch.LogGroup(
        name,
        name=log_group_name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        tags=tags,
        opts=component.child(holds_data=True),
    )
