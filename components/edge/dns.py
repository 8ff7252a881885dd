"""DNSSEC signing and DNS query logging of the shop's public hosted zone.

Route 53 signs with key-signing keys backed by asymmetric KMS keys in us-east-1 and writes query logs only to log
groups in us-east-1, so everything here lives there (``region=`` on the stack's own provider).

Key rollover is a list in the settings (``edgeDnssecKeys``): each label is a KMS key and an active key-signing key,
and the stack outputs the DS record of each; docs/operations.md ("DNSSEC") gives the order of the steps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent
from components.kms import key_policy
from components.naming import Naming
from stacks.settings import KeySettings

#: Route 53 reads key-signing keys' KMS keys and writes query logs only in this region.
ROUTE53_REGION = "us-east-1"
#: The key spec and usage Route 53 requires of a key-signing key's KMS key (ECDSA P-256 with SHA-256, algorithm 13).
DNSSEC_KEY_SPEC = "ECC_NIST_P256"
DNSSEC_KEY_USAGE = "SIGN_VERIFY"
#: Route 53's DNSSEC service principal (it calls KMS as itself when it signs the zone's DNSKEY set).
DNSSEC_SERVICE = "dnssec-route53"
#: The log class of the query log group: half the ingestion price of STANDARD, queryable with Logs Insights over
#: the whole retention; it gives up metric and subscription filters, which nothing here uses on query logs.
QUERY_LOG_CLASS = "INFREQUENT_ACCESS"


def query_log_group_name(naming: Naming) -> str:
    """``/aws/route53/<stack's zone>``: the prefix Route 53's documentation gives query log groups, and a name of the
    stack's own (two stacks may serve the same domain, one of them from an existing zone)."""
    return f"/aws/route53/{naming.physical('zone')}"


def dnssec_key_policy(account: Account) -> dict[str, Any]:
    """The account administers the key through IAM; Route 53's DNSSEC service signs with it for this account's
    hosted zones, and may create the grant it keeps for that (Route 53's documented key policy)."""
    dnssec = {"Service": account.service_principal(DNSSEC_SERVICE)}
    return key_policy(
        account,
        [
            {
                "Sid": "Route53DnssecSigns",
                "Effect": "Allow",
                "Principal": dnssec,
                "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account.id},
                    "ArnLike": {"aws:SourceArn": f"arn:{account.partition}:route53:::hostedzone/*"},
                },
            },
            {
                "Sid": "Route53DnssecKeepsItsGrant",
                "Effect": "Allow",
                "Principal": dnssec,
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ],
    )


def query_log_delivery_policy(log_group_arn: str, zone_id: str, account: Account) -> dict[str, Any]:
    """Route 53 may write this zone's query logs into this one log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Route53QueryLogs",
                "Effect": "Allow",
                "Principal": {"Service": account.service_principal("route53")},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account.id},
                    "ArnLike": {"aws:SourceArn": f"arn:{account.partition}:route53:::hostedzone/{zone_id}"},
                },
            }
        ],
    }


@dataclass(frozen=True, kw_only=True)
class ZoneSigning:
    """What a signed zone gives its operators: the DS record of each key-signing key, for the parent zone."""

    ds_records: dict[str, pulumi.Output[str]]
    """Key label -> DS record (``<key tag> 13 2 <digest>``) to add at the registrar or parent zone."""


def sign_zone(
    name: str,
    *,
    zone_id: pulumi.Input[str],
    key_labels: Sequence[str],
    key_settings: KeySettings,
    component: PlatformComponent,
) -> ZoneSigning:
    """One KMS key and active key-signing key per label, then DNSSEC signing of the zone, children of ``component``.

    The KMS keys are protected where the stack protects data: deleting one while its DS record is at the parent
    makes the whole domain unresolvable for validating resolvers.
    """
    account, naming = component.context.account, component.naming
    signing_keys: list[aws.route53.KeySigningKey] = []
    for label in key_labels:
        purpose = f"dnssec-{label.lower().replace('_', '-')}"
        key = aws.kms.Key(
            f"{name}-{purpose}-key",
            description=f"{naming.physical(purpose)}: signs the DNSKEY set of the shop's hosted zone",
            customer_master_key_spec=DNSSEC_KEY_SPEC,
            key_usage=DNSSEC_KEY_USAGE,
            deletion_window_in_days=key_settings.deletion_window_days,
            policy=json.dumps(dnssec_key_policy(account)),
            tags=component.tags(purpose),
            region=ROUTE53_REGION,
            opts=component.child(holds_data=True),
        )
        aws.kms.Alias(
            f"{name}-{purpose}-key-alias",
            name=f"alias/{naming.physical(purpose)}",
            target_key_id=key.key_id,
            region=ROUTE53_REGION,
            opts=component.child(),
        )
        signing_keys.append(
            aws.route53.KeySigningKey(
                f"{name}-{purpose}",
                hosted_zone_id=zone_id,
                key_management_service_arn=key.arn,
                name=label,
                status="ACTIVE",
                opts=component.child(),
            )
        )
    # EnableHostedZoneDNSSEC fails without an active key-signing key; on destroy, signing stops before any goes.
    aws.route53.HostedZoneDnsSec(
        f"{name}-dnssec",
        hosted_zone_id=zone_id,
        signing_status="SIGNING",
        opts=component.child(depends_on=signing_keys),
    )
    return ZoneSigning(ds_records={label: key.ds_record for label, key in zip(key_labels, signing_keys, strict=True)})


def log_queries(
    name: str,
    *,
    zone_id: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    retention_days: int,
    component: PlatformComponent,
) -> aws.route53.QueryLog:
    """The zone's DNS query log: an encrypted us-east-1 log group (data), Route 53's right to write into it, and the
    query logging configuration, children of ``component``."""
    account = component.context.account
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-query-logs",
        name=query_log_group_name(component.naming),
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        log_group_class=QUERY_LOG_CLASS,
        tags=component.tags("query-logs"),
        region=ROUTE53_REGION,
        opts=component.child(holds_data=True),
    )
    # Our own policy for this one group: Route 53's console would grow an account-wide /aws/route53/* policy.
    delivery = aws.cloudwatch.LogResourcePolicy(
        f"{name}-query-log-delivery",
        policy_name=component.naming.physical("route53-query-logs"),
        policy_document=pulumi.Output.all(log_group.arn, zone_id).apply(
            lambda values: json.dumps(query_log_delivery_policy(values[0], values[1], account))
        ),
        region=ROUTE53_REGION,
        opts=component.child(),
    )
    # CreateQueryLoggingConfig checks that the resource policy admits Route 53.
    return aws.route53.QueryLog(
        f"{name}-query-log",
        zone_id=zone_id,
        cloudwatch_log_group_arn=log_group.arn,
        opts=component.child(depends_on=[delivery]),
    )
