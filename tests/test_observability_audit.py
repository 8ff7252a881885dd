"""The CloudTrail trail on the offline plan: multi-region, validated, KMS-encrypted, in prod and toggled off."""

from __future__ import annotations

import json

from stacks.offline.plan import Plan, PlannedResource
from tests.cluster_plan import key_arn
from tests.conftest import plan_for
from tests.observability_plan import LOG_GROUP, TRAIL, key_with_arn, settings, statement

ACCOUNT = "123456789012"
TRAIL_ARN = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/shop-prod-trail"
BUCKET = f"shop-prod-trail-{ACCOUNT}"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"


def trail(plan: Plan) -> PlannedResource:
    return plan.one(TRAIL, "observability-trail")


def side(plan: Plan, type_: str) -> PlannedResource:
    """The trail bucket's side resource of ``type_`` (policy, encryption, ...)."""
    bucket = plan.one("aws:s3/bucket:Bucket", "observability-trail-bucket")
    (found,) = [r for r in plan.of_type(type_) if r.inputs.get("bucket") == bucket.id]
    return found


def test_prod_trail_records_every_region_with_log_file_validation_and_its_own_key(prod: Plan) -> None:
    inputs = trail(prod).inputs
    assert inputs["name"] == "shop-prod-trail"
    assert inputs["isMultiRegionTrail"] is True
    assert inputs["includeGlobalServiceEvents"] is True
    assert inputs["enableLogFileValidation"] is True
    assert inputs["s3BucketName"] == BUCKET
    key = key_with_arn(prod, inputs["kmsKeyId"])
    assert key.inputs["enableKeyRotation"] is True
    assert key.options["protect"] is True
    assert prod.outputs["observability"]["trailArn"] == TRAIL_ARN


def test_the_trail_key_admits_cloudtrail_for_this_trail_only(prod: Plan) -> None:
    policy = key_with_arn(prod, trail(prod).inputs["kmsKeyId"]).inputs["policy"]
    encrypt = statement(policy, "CloudTrailEncryptsLogs")
    assert (encrypt["Principal"], encrypt["Action"]) == (
        {"Service": "cloudtrail.amazonaws.com"},
        "kms:GenerateDataKey*",
    )
    assert encrypt["Condition"] == {
        "StringEquals": {"aws:SourceArn": TRAIL_ARN},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"},
    }
    describe = statement(policy, "CloudTrailDescribesKey")
    assert describe["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    principals = [s["Principal"] for s in json.loads(policy)["Statement"]]
    assert "*" not in principals and {"AWS": "*"} not in principals


def test_the_trail_bucket_policy_admits_this_trail_and_refuses_plain_http(prod: Plan) -> None:
    policy = side(prod, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]
    deny = statement(policy, "DenyRequestsWithoutTls")
    assert deny["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    acl = statement(policy, "CloudTrailChecksBucketAcl")
    assert (acl["Action"], acl["Resource"]) == ("s3:GetBucketAcl", BUCKET_ARN)
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    write = statement(policy, "CloudTrailWritesLogs")
    assert (write["Action"], write["Resource"]) == ("s3:PutObject", f"{BUCKET_ARN}/AWSLogs/{ACCOUNT}/*")
    assert write["Condition"] == {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}
    }


def test_the_trail_bucket_is_hardened_like_every_bucket(prod: Plan) -> None:
    block = side(prod, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert (
        side(prod, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    )
    (rule,) = side(
        prod, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": trail(prod).inputs["kmsKeyId"],
    }
    expiry = [
        r
        for r in side(prod, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
        if r["id"] == "expire-logs"
    ]
    assert expiry[0]["expiration"]["days"] == settings("prod").observability.trail_object_days
    assert prod.one("aws:s3/bucket:Bucket", "observability-trail-bucket").options["protect"] is True


def test_who_read_the_audit_log_is_logged_to_the_logs_bucket(prod: Plan) -> None:
    logging = side(prod, "aws:s3/bucketLogging:BucketLogging").inputs
    logs_bucket = prod.one("aws:s3/bucket:Bucket", "storage-logs")
    assert (logging["targetBucket"], logging["targetPrefix"]) == (logs_bucket.id, "s3-access/trail/")
    logs_policy = prod.one("aws:s3/bucketPolicy:BucketPolicy", "storage-logs-policy").inputs["policy"]
    pattern = statement(logs_policy, "S3ServerAccessLogs")["Condition"]["ArnLike"]["aws:SourceArn"]
    assert BUCKET_ARN.startswith(pattern.removesuffix("*")), "the logs bucket must accept the trail bucket's logs"


def test_the_trail_copies_events_to_an_encrypted_log_group_through_its_own_role(prod: Plan) -> None:
    group = prod.one(LOG_GROUP, "observability-trail-logs")
    assert group.inputs["name"] == "/aws/cloudtrail/shop-prod-trail"
    assert group.inputs["kmsKeyId"] == key_arn(prod, "logs")
    assert group.inputs["retentionInDays"] == settings("prod").observability.trail_log_retention_days >= 365
    inputs = trail(prod).inputs
    assert inputs["cloudWatchLogsGroupArn"] == f"{group.outputs['arn']}:*"
    role = prod.one("aws:iam/role:Role", "observability-trail-logs-role")
    assert inputs["cloudWatchLogsRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    (write,) = json.loads(
        prod.one("aws:iam/rolePolicy:RolePolicy", "observability-trail-logs-role-policy").inputs["policy"]
    )["Statement"]
    assert write["Resource"] == f"{group.outputs['arn']}:log-stream:*"


def test_the_trail_is_absent_when_toggled_off(staging: Plan) -> None:
    assert settings("staging").observability.cloudtrail_enabled is False
    without = plan_for("prod", {"obsCloudtrailEnabled": False})
    for plan in (staging, without):
        assert plan.of_type(TRAIL) == []
        assert [b for b in plan.of_type("aws:s3/bucket:Bucket") if "trail" in b.name] == []
        assert "trailArn" not in plan.outputs["observability"]


def test_the_trail_announces_each_log_file_on_a_topic_encrypted_with_its_key(prod: Plan) -> None:
    topic = prod.one("aws:sns/topic:Topic", "observability-trail-deliveries")
    topic_arn = f"arn:aws:sns:eu-west-1:{ACCOUNT}:shop-prod-trail-deliveries"
    assert trail(prod).inputs["snsTopicName"] == topic.inputs["name"] == "shop-prod-trail-deliveries"
    assert topic.outputs["arn"] == topic_arn
    assert topic.inputs["kmsMasterKeyId"] == trail(prod).inputs["kmsKeyId"]
    assert topic.options["protect"] is True  # its consumers' subscriptions
    publish = statement(topic.inputs["policy"], "TrailPublishesDeliveries")
    assert (publish["Principal"], publish["Action"], publish["Resource"]) == (
        {"Service": "cloudtrail.amazonaws.com"},
        "sns:Publish",
        topic_arn,
    )
    assert publish["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    deny = statement(topic.inputs["policy"], "DenyPublishWithoutTls")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # SNS encrypts with the publisher's permissions: CloudTrail's, for this trail and this topic only.
    encrypt = statement(
        key_with_arn(prod, trail(prod).inputs["kmsKeyId"]).inputs["policy"], "CloudTrailEncryptsNotifications"
    )
    assert encrypt["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert encrypt["Condition"] == {
        "StringEquals": {"aws:SourceArn": TRAIL_ARN, "kms:EncryptionContext:aws:sns:topicArn": topic_arn}
    }
