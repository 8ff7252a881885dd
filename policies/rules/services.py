"""Baseline rules for the AWS services a shop platform is likely to add next (SQS, SNS, Lambda, EC2 instances,
CloudTrail, DynamoDB, EventBridge), and the gate that makes every new resource type a reviewed change."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from pulumi_policy import Severity

from .base import EVERY_TYPE, RESILIENCE, UNKNOWN, Resource, ResourceReport, Rules, enabled, given, off
from .semantics import secret_in_setting

rules = Rules()

SQS_QUEUE = "aws:sqs/queue:Queue"
SNS_TOPIC = "aws:sns/topic:Topic"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
EC2_INSTANCE = "aws:ec2/instance:Instance"
TRAIL = "aws:cloudtrail/trail:Trail"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"

ALLOWED_TYPES = [
    line.strip()
    for line in Path(__file__).with_name("allowed_types.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


@rules.resource(Severity.HIGH, (EVERY_TYPE,))
def allowed_resource_types(resource: Resource, report: ResourceReport) -> None:
    """Every resource is of a type the pack has reviewed (rules/allowed_types.txt), so a new type -- and the rules it
    needs -- is a reviewed change to the pack, not a silent addition.

    Fix: add the type to policies/rules/allowed_types.txt with the rules it needs (see docs/policies.md).
    """
    if not any(fnmatchcase(resource.type, pattern) for pattern in ALLOWED_TYPES):
        report(f"{resource.type} is not a reviewed resource type.")


@rules.resource(Severity.HIGH, (SQS_QUEUE,))
def sqs_queue_encrypted(resource: Resource, report: ResourceReport) -> None:
    """SQS queues encrypt messages at rest with a customer-managed KMS key.

    Fix: set kms_master_key_id=<the data KMS key ARN> (sqs_managed_sse_enabled uses a key of AWS's).
    """
    if not given(resource.get("kmsMasterKeyId")):
        report("kmsMasterKeyId is not set: messages are not encrypted with a key of ours.")


@rules.require_cmk(prop="kmsMasterKeyId", types=(SNS_TOPIC,))
def sns_topic_kms() -> None:
    """SNS topics encrypt messages at rest with a customer-managed KMS key.

    Fix: set kms_master_key_id=<a customer-managed key whose policy admits the publishers>.
    """


@rules.resource(Severity.CRITICAL, (LAMBDA_FUNCTION,))
def lambda_no_plaintext_secrets(resource: Resource, report: ResourceReport) -> None:
    """Lambda functions carry no secret in their environment variables (readable by anyone who may read the function's
    configuration).

    Fix: pass the secret's ARN and read it at start-up with the function's role (or the secrets extension).
    """
    variables = resource.get("environment", "variables")
    for name, value in variables.items() if isinstance(variables, dict) else ():
        why = secret_in_setting(name, value)
        if why:
            report(f"Environment variable {name} {why}.")


@rules.resource(Severity.HIGH, (EC2_INSTANCE,))
def ec2_instance_imdsv2_private(resource: Resource, report: ResourceReport) -> None:
    """EC2 instances require IMDSv2 (hop limit 1) and get no public IP address.

    Fix: set metadata_options http_tokens='required' and http_put_response_hop_limit=1, and
    associate_public_ip_address=False (reach it through SSM or a load balancer).
    """
    tokens = resource.get("metadataOptions", "httpTokens")
    if tokens is not UNKNOWN and tokens != "required":
        report(f"metadataOptions.httpTokens is {tokens or 'unset (IMDSv1 allowed)'}.")
    if enabled(resource.get("associatePublicIpAddress")):
        report("associatePublicIpAddress is true.")


@rules.resource(Severity.HIGH, (TRAIL,))
def cloudtrail_kms_validation(resource: Resource, report: ResourceReport) -> None:
    """CloudTrail trails encrypt their logs with a customer-managed key and sign them (log file validation), so
    tampering shows.

    Fix: set kms_key_id=<the logs KMS key ARN> and enable_log_file_validation=True.
    """
    if not given(resource.get("kmsKeyId")):
        report("kmsKeyId is not set.")
    if off(resource.get("enableLogFileValidation")):
        report("enableLogFileValidation is not true.")


@rules.resource(Severity.HIGH, (DYNAMODB_TABLE,))
def dynamodb_encryption_pitr(resource: Resource, report: ResourceReport) -> None:
    """DynamoDB tables are encrypted with a customer-managed key and keep point-in-time recovery.

    Fix: set server_side_encryption enabled=True with kms_key_arn, and point_in_time_recovery enabled=True.
    """
    if off(resource.get("serverSideEncryption", "enabled")) or not given(
        resource.get("serverSideEncryption", "kmsKeyArn")
    ):
        report("serverSideEncryption does not use a customer-managed key.")
    if off(resource.get("pointInTimeRecovery", "enabled")):
        report("pointInTimeRecovery is not enabled.")


@rules.require_true(
    prop="deletionProtectionEnabled", severity=Severity.HIGH, category=RESILIENCE, types=(DYNAMODB_TABLE,)
)
def dynamodb_deletion_protection() -> None:
    """DynamoDB tables cannot be deleted by an API call or a mistaken `pulumi destroy`.

    Fix: set deletion_protection_enabled=True.
    """


@rules.require_cmk(prop="kmsKeyIdentifier", types=(EVENT_BUS,))
def eventbridge_bus_kms() -> None:
    """EventBridge event buses encrypt events with a customer-managed KMS key.

    Fix: set kms_key_identifier=<the data KMS key ARN>.
    """
