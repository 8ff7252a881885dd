"""S3 buckets on the offline plan: private, encrypted, versioned, expiring, TLS-only, logging into the logs bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.account import Account
from components.storage import alb_log_writer, cdn_bucket_policy
from stacks.offline.engine import preview
from stacks.offline.plan import Plan, PlannedResource
from tests.data_layer import ACCOUNT, document, key_arn, statement

BUCKETS = ("assets", "logs")


def bucket(plan: Plan, purpose: str) -> PlannedResource:
    return plan.one("aws:s3/bucket:Bucket", f"storage-{purpose}")


def side(plan: Plan, resource_type: str, purpose: str) -> PlannedResource:
    """The one side resource of ``resource_type`` that configures bucket ``purpose``."""
    (found,) = [r for r in plan.of_type(resource_type) if r.inputs["bucket"] == bucket(plan, purpose).id]
    return found


def rules(plan: Plan, purpose: str) -> dict[str, dict]:
    lifecycle = side(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", purpose)
    assert all(rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""} for rule in lifecycle.inputs["rules"])
    return {rule["id"]: rule for rule in lifecycle.inputs["rules"]}


def test_buckets_are_named_per_stack_and_account(plan: Plan) -> None:
    for purpose in BUCKETS:
        assert bucket(plan, purpose).inputs["bucket"] == f"shop-{plan.stack}-{purpose}-{ACCOUNT}"


@pytest.mark.parametrize("purpose", BUCKETS)
def test_public_access_is_blocked_all_four_ways(plan: Plan, purpose: str) -> None:
    block = side(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", purpose).inputs
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block[flag] is True for flag in flags)


@pytest.mark.parametrize("purpose", BUCKETS)
def test_acls_are_off_on_every_bucket(plan: Plan, purpose: str) -> None:
    """The logs bucket too: every log writer (S3, ALB, CloudFront's standard logging v2) is admitted by the
    bucket policy, none through an ACL."""
    ownership = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
    assert side(plan, ownership, purpose).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_assets_use_sse_kms_with_the_data_key_and_a_bucket_key(plan: Plan) -> None:
    encryption = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    (rule,) = side(plan, encryption, "assets").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key_arn(plan, "data"),
    }
    assert rule["bucketKeyEnabled"] is True
    (rule,) = side(plan, encryption, "logs").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}, "ALB and S3 logs need SSE-S3"


@pytest.mark.parametrize("purpose", BUCKETS)
def test_versioning_with_noncurrent_expiry_and_upload_cleanup(plan: Plan, purpose: str) -> None:
    versioning = side(plan, "aws:s3/bucketVersioning:BucketVersioning", purpose)
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    lifecycle = rules(plan, purpose)
    assert lifecycle["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    noncurrent_days = {"staging": 30, "prod": 90}[plan.stack]
    assert lifecycle["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": noncurrent_days}
    assert lifecycle["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}


def test_logs_expire_after_90_days_in_staging_and_365_in_prod(staging: Plan, prod: Plan) -> None:
    assert rules(staging, "logs")["expire-logs"]["expiration"] == {"days": 90}
    assert rules(prod, "logs")["expire-logs"]["expiration"] == {"days": 365}
    assert "expire-logs" not in rules(prod, "assets"), "product images never expire"


def test_assets_access_is_logged_into_the_logs_bucket(plan: Plan) -> None:
    logging = side(plan, "aws:s3/bucketLogging:BucketLogging", "assets")
    assert logging.inputs["targetBucket"] == bucket(plan, "logs").id
    assert logging.inputs["targetPrefix"] == "s3-access/assets/"
    assets = bucket(plan, "assets").id
    assert [r for r in plan.of_type("aws:s3/bucketLogging:BucketLogging") if r.inputs["bucket"] == assets] == [logging]


def test_logs_bucket_policy_denies_plain_http_and_admits_only_the_log_writers(plan: Plan) -> None:
    logs_arn = bucket(plan, "logs").outputs["arn"]
    policy = document(side(plan, "aws:s3/bucketPolicy:BucketPolicy", "logs"))
    deny = statement(policy, "DenyRequestsWithoutTls")
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == [logs_arn, f"{logs_arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    s3_logs = statement(policy, "S3ServerAccessLogs")
    assert s3_logs["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert s3_logs["Resource"] == f"{logs_arn}/s3-access/*"
    assert s3_logs["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::shop-{plan.stack}-*"},  # this stack's buckets
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }
    alb = statement(policy, "LoadBalancerAccessLogs")
    assert alb["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"}, "eu-west-1's load balancer log account"
    assert alb["Resource"] == f"{logs_arn}/alb/AWSLogs/{ACCOUNT}/*"
    cloudfront = statement(policy, "CloudFrontAccessLogs")
    assert cloudfront["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert cloudfront["Action"] == "s3:PutObject"
    assert cloudfront["Resource"] == f"{logs_arn}/cloudfront/*"
    source = plan.one("aws:cloudwatch/logDeliverySource:LogDeliverySource", "edge-cdn-access-logs")
    assert cloudfront["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT, "s3:x-amz-acl": "bucket-owner-full-control"},
        # Exactly the distribution's delivery source: the ARN the stack's log delivery source will have.
        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:delivery-source:{source.inputs['name']}"},
    }
    assert [s["Effect"] for s in policy["Statement"]] == ["Deny", "Allow", "Allow", "Allow"]


def test_regions_opened_since_august_2022_use_the_log_delivery_service_principal() -> None:
    assert alb_log_writer(Account(id=ACCOUNT, partition="aws", region="eu-central-2")) == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }
    assert alb_log_writer(Account(id=ACCOUNT, partition="aws", region="us-east-1")) == {
        "AWS": "arn:aws:iam::127311923021:root"
    }


def test_only_staging_buckets_can_be_destroyed_with_their_objects(staging: Plan, prod: Plan) -> None:
    for purpose in BUCKETS:
        assert bucket(staging, purpose).inputs["forceDestroy"] is True
        assert bucket(staging, purpose).options["protect"] is False
        assert bucket(prod, purpose).inputs["forceDestroy"] is False
        assert bucket(prod, purpose).options["protect"] is True


def test_no_cors_because_the_shop_uploads_server_side(plan: Plan) -> None:
    assert plan.of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration") == []


def test_outputs_name_the_buckets(plan: Plan) -> None:
    exported = plan.outputs["buckets"]
    assert exported["assetsName"] == bucket(plan, "assets").outputs["bucket"]
    assert exported["assetsRegionalDomainName"] == bucket(plan, "assets").outputs["bucketRegionalDomainName"]
    assert exported["logsArn"] == bucket(plan, "logs").outputs["arn"]
    assert exported["logsRegionalDomainName"] == bucket(plan, "logs").outputs["bucketRegionalDomainName"]


DISTRIBUTION = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2EXAMPLE"
CDN_PROGRAM = f'''
from components.account import Account
from components.base import StackContext
from components.naming import Naming
from components.storage import AssetStorage, AssetStorageArgs
from stacks.settings import StorageSettings

storage = AssetStorage(
    "storage",
    AssetStorageArgs(
        settings=StorageSettings(),
        context=StackContext.of_stack(
            Naming(prefix="shop", stack="cdn"),
            Account(id="{ACCOUNT}", partition="aws", region="eu-west-1"),
            bounded=False,
            protect=False,
        ),
        data_key_arn="arn:aws:kms:eu-west-1:{ACCOUNT}:key/data",
        cloudfront_log_source_arn="arn:aws:logs:us-east-1:{ACCOUNT}:delivery-source:cdn",
    ),
)
storage.serve_through_cdn("{DISTRIBUTION}")
'''


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """A program that builds only the storage and hands the assets bucket to a CloudFront distribution."""
    project = tmp_path_factory.mktemp("cdn")
    (project / "Pulumi.yaml").write_text("name: cdn\nruntime: python\n")
    (project / "Pulumi.cdn.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (project / "__main__.py").write_text(CDN_PROGRAM)
    return preview("cdn", project_dir=Path(project))


def test_serving_through_the_cdn_creates_the_assets_bucket_policy(served: Plan) -> None:
    assets = served.one("aws:s3/bucket:Bucket", "storage-assets")
    (policy,) = [p for p in served.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == assets.id]
    assert document(policy) == cdn_bucket_policy(assets.outputs["arn"], DISTRIBUTION)
    access_block = served.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "storage-assets-public-access-block"
    )
    assert access_block.urn in policy.dependencies


def test_cdn_bucket_policy_is_tls_only_and_reads_for_that_one_distribution() -> None:
    policy = cdn_bucket_policy("arn:aws:s3:::assets", DISTRIBUTION)
    assert statement(policy, "DenyRequestsWithoutTls")["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    read = statement(policy, "CloudFrontReadsObjects")
    assert read == {
        "Sid": "CloudFrontReadsObjects",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::assets/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}},
    }
