"""Where alarms notify: a KMS-encrypted SNS topic per region with alarms, with the e-mail subscriptions.

A CloudWatch alarm can only notify a topic in its own region, and CloudFront's and the CloudFront web ACL's
metrics exist only in us-east-1, so a stack outside us-east-1 gets a second topic there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent
from components.kms import customer_managed_key
from stacks.settings import KeySettings


@dataclass(frozen=True)
class AlertTopicArgs:
    region: str
    alarm_name_prefix: str
    """Only alarms whose names start with it may publish (the topic policy and the key policy say so)."""
    emails: Sequence[str]
    key_settings: KeySettings
    tags: dict[str, str]


def alarm_arn_pattern(account: Account, region: str, alarm_name_prefix: str) -> str:
    return account.arn("cloudwatch", f"alarm:{alarm_name_prefix}*", region=region)


def cloudwatch_alarms_use_key(account: Account, region: str, alarm_name_prefix: str) -> dict[str, Any]:
    """CloudWatch encrypts the notifications of this stack's alarms with the topic's key (SNS's documented
    requirement for AWS services publishing to an encrypted topic), and of nothing else."""
    return {
        "Sid": "CloudWatchAlarmsEncryptNotifications",
        "Effect": "Allow",
        "Principal": {"Service": account.service_principal("cloudwatch")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",  # in a key policy "*" means this key
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account.id},
            "ArnLike": {"aws:SourceArn": alarm_arn_pattern(account, region, alarm_name_prefix)},
        },
    }


def account_administers_topic(topic_arn: str, account: Account) -> dict[str, Any]:
    """The topic policy statement that leaves the topic's administration to the account's IAM policies."""
    return {
        "Sid": "AccountAdministersTopic",
        "Effect": "Allow",
        "Principal": {"AWS": account.root_arn},
        "Action": [
            "sns:GetTopicAttributes",
            "sns:SetTopicAttributes",
            "sns:AddPermission",
            "sns:RemovePermission",
            "sns:DeleteTopic",
            "sns:Subscribe",
            "sns:ListSubscriptionsByTopic",
            "sns:Publish",
        ],
        "Resource": topic_arn,
    }


def deny_publish_without_tls(topic_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyPublishWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def topic_policy(topic_arn: str, account: Account, region: str, alarm_name_prefix: str) -> dict[str, Any]:
    """The account administers the topic; CloudWatch publishes for this stack's alarms; nothing without TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_topic(topic_arn, account),
            {
                "Sid": "StackAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": account.service_principal("cloudwatch")},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account.id},
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern(account, region, alarm_name_prefix)},
                },
            },
            deny_publish_without_tls(topic_arn),
        ],
    }


def alert_topic(name: str, args: AlertTopicArgs, *, component: PlatformComponent) -> aws.sns.Topic:
    """The topic (encrypted with its own key) and one e-mail subscription per address, children of ``component``."""
    account, region, naming = component.context.account, args.region, component.naming
    # Resources outside the stack's region name theirs; the stack's own keep the provider's default.
    other_region = None if region == account.region else region
    physical = naming.physical(f"alarms-{region}" if other_region else "alarms")
    key = customer_managed_key(
        f"{name}-key",
        alias=f"alias/{physical}",
        description=f"{physical}: the alarm notifications topic",
        settings=args.key_settings,
        account=account,
        tags=args.tags,
        parent=component,
        protect=component.context.protect,
        service_statements=[cloudwatch_alarms_use_key(account, region, args.alarm_name_prefix)],
        region=other_region,
    )
    topic_arn = account.arn("sns", physical, region=region)
    topic = aws.sns.Topic(
        name,
        name=physical,
        display_name=f"{naming.prefix} {naming.stack} alarms",
        kms_master_key_id=key.arn,
        policy=json.dumps(topic_policy(topic_arn, account, region, args.alarm_name_prefix)),
        tags=args.tags,
        region=other_region,
        # Replacing the topic would drop every confirmed subscription.
        opts=component.child(holds_data=True),
    )
    for email in args.emails:
        aws.sns.TopicSubscription(
            f"{name}-email-{re.sub(r'[^a-z0-9]+', '-', email.lower())}",
            topic=topic.arn,
            protocol="email",
            endpoint=email,
            region=other_region,
            # Not inherited from the topic: people join and leave the rota.
            opts=component.child(topic, protect=False),
        )
    return topic
