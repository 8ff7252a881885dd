"""S3 buckets: product images (served through CloudFront only) and the platform's access logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent, StackContext
from components.buckets import deny_insecure_transport, lifecycle_rules, private_bucket
from stacks.settings import StorageSettings

#: Where the shop writes uploaded product images; its IAM role may read and write this prefix only.
MEDIA_PREFIX = "media/"
#: Log prefixes in the logs bucket, one per delivering service.
S3_ACCESS_LOGS_PREFIX = "s3-access/"
ALB_LOGS_PREFIX = "alb"  # the load balancer appends /AWSLogs/<account>/... itself
CLOUDFRONT_LOGS_PREFIX = "cloudfront/"

#: Elastic Load Balancing's log-writing account in the Regions opened before August 2022 (from the ALB access
#: log documentation). Regions opened since grant the ``logdelivery.elasticloadbalancing`` service principal.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}


def cdn_bucket_policy(bucket_arn: str, distribution_arn: str) -> dict[str, Any]:
    """TLS only, and object reads by exactly one CloudFront distribution (origin access control)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            deny_insecure_transport(bucket_arn),
            {
                "Sid": "CloudFrontReadsObjects",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            },
        ],
    }


def alb_log_writer(account: Account) -> dict[str, str]:
    """The principal that writes ALB access logs in ``account.region``."""
    elb_account = ELB_LOG_ACCOUNTS.get(account.region)
    if elb_account:
        return {"AWS": f"arn:{account.partition}:iam::{elb_account}:root"}
    return {"Service": account.service_principal("logdelivery.elasticloadbalancing")}


def logs_bucket_policy(
    logs_bucket_arn: str, source_buckets: str, cloudfront_log_source_arn: str, account: Account
) -> dict[str, Any]:
    """TLS only; S3 server access logs of the buckets matching ``source_buckets`` (an ARN pattern: this stack's
    buckets, e.g. the assets bucket and the audit trail's), this account's ALB access logs, and CloudFront's access
    logs from the one log delivery source ``cloudfront_log_source_arn`` may be written, each under its own prefix.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            deny_insecure_transport(logs_bucket_arn),
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": account.service_principal("logging.s3")},
                "Action": "s3:PutObject",
                "Resource": f"{logs_bucket_arn}/{S3_ACCESS_LOGS_PREFIX}*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_buckets},
                    "StringEquals": {"aws:SourceAccount": account.id},
                },
            },
            {
                # The path carries our account id: another account's load balancers write under their own.
                "Sid": "LoadBalancerAccessLogs",
                "Effect": "Allow",
                "Principal": alb_log_writer(account),
                "Action": "s3:PutObject",
                "Resource": f"{logs_bucket_arn}/{ALB_LOGS_PREFIX}/AWSLogs/{account.id}/*",
            },
            {
                # CloudFront standard logging v2: CloudWatch Logs' delivery service writes for the delivery source
                # (the CloudWatch Logs documentation's AWSLogDeliveryWrite, narrowed to that one source).
                "Sid": "CloudFrontAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": account.service_principal("delivery.logs")},
                "Action": "s3:PutObject",
                "Resource": f"{logs_bucket_arn}/{CLOUDFRONT_LOGS_PREFIX}*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account.id, "s3:x-amz-acl": "bucket-owner-full-control"},
                    "ArnLike": {"aws:SourceArn": cloudfront_log_source_arn},
                },
            },
        ],
    }


@dataclass(frozen=True, kw_only=True)
class AssetStorageArgs:
    settings: StorageSettings
    context: StackContext
    """Its ``protect`` protects both buckets from `pulumi destroy` (prod)."""
    data_key_arn: pulumi.Input[str]
    """Encrypts the assets bucket (SSE-KMS with a bucket key)."""
    cloudfront_log_source_arn: str
    """The CloudFront distribution's log delivery source (us-east-1): the one writer of ``cloudfront/``."""


class AssetStorage(PlatformComponent):
    """Two private, versioned buckets with lifecycle rules.

    - **assets**: product images under ``media/``, SSE-KMS with the data key and a bucket key; ACLs disabled. The
      shop uploads from its pods (server side), so the bucket needs no CORS. Its only bucket policy (TLS only plus
      reads by the CDN) is created by ``serve_through_cdn`` once the distribution exists.
    - **logs**: CloudFront access logs (``cloudfront/<distribution>/``, standard logging v2), ALB access logs
      (``alb/``) and the stack's buckets' server access logs (``s3-access/``). SSE-S3, because ALB and S3 server
      access logs support no other default encryption. ACLs disabled (BucketOwnerEnforced) like every bucket: each
      writer is admitted by the bucket policy, none through an ACL.
    """

    pulumi_type = "shop:data:AssetStorage"
    component = "storage"

    assets_bucket_name: pulumi.Output[str]
    assets_bucket_arn: pulumi.Output[str]
    assets_bucket_regional_domain_name: pulumi.Output[str]
    assets_media_prefix: str
    logs_bucket_name: pulumi.Output[str]
    logs_bucket_arn: pulumi.Output[str]
    logs_bucket_domain_name: pulumi.Output[str]
    """``<bucket>.s3.amazonaws.com``."""
    logs_bucket_regional_domain_name: pulumi.Output[str]
    """``<bucket>.s3.<region>.amazonaws.com``: for readers of the logs in the bucket's region (e.g. Athena, log
    shippers)."""
    alb_logs_prefix: str
    cloudfront_logs_prefix: str
    access_logs_prefix: str
    """Key prefix of S3 server access logs in the logs bucket (the logs bucket policy admits this stack's buckets)."""

    def __init__(self, name: str, args: AssetStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self._name = name
        self._settings = settings = args.settings
        account = self.context.account

        logs, logs_access_block = self._bucket(
            "logs",
            object_ownership="BucketOwnerEnforced",
            encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
            ),
            expire_after_days=settings.log_retention_days,
        )
        assets, self._assets_access_block = self._bucket(
            "assets",
            object_ownership="BucketOwnerEnforced",
            encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=args.data_key_arn
                ),
                bucket_key_enabled=True,
            ),
            expire_after_days=None,
        )
        self._assets = assets
        aws.s3.BucketLogging(
            f"{name}-assets-access-logs",
            bucket=assets.id,
            target_bucket=logs.id,
            target_prefix=f"{S3_ACCESS_LOGS_PREFIX}assets/",
            opts=self.child(assets),
        )
        # The load balancer writes access logs only once this admits it: the shop's Ingress depends on it.
        self.logs_bucket_policy = aws.s3.BucketPolicy(
            f"{name}-logs-policy",
            bucket=logs.id,
            policy=logs.arn.apply(
                lambda arn: json.dumps(
                    logs_bucket_policy(
                        arn,
                        f"arn:{account.partition}:s3:::{self.naming.physical('*')}",
                        args.cloudfront_log_source_arn,
                        account,
                    )
                )
            ),
            opts=self.child(logs, depends_on=[logs_access_block]),
        )

        self.assets_bucket_name = assets.bucket
        self.assets_bucket_arn = assets.arn
        self.assets_bucket_regional_domain_name = assets.bucket_regional_domain_name
        self.assets_media_prefix = MEDIA_PREFIX
        self.logs_bucket_name = logs.bucket
        self.logs_bucket_arn = logs.arn
        self.logs_bucket_domain_name = logs.bucket_domain_name
        self.logs_bucket_regional_domain_name = logs.bucket_regional_domain_name
        self.alb_logs_prefix = ALB_LOGS_PREFIX
        self.cloudfront_logs_prefix = CLOUDFRONT_LOGS_PREFIX
        self.access_logs_prefix = S3_ACCESS_LOGS_PREFIX
        self.register_outputs(
            {
                "assets_bucket_name": self.assets_bucket_name,
                "assets_bucket_arn": self.assets_bucket_arn,
                "assets_bucket_regional_domain_name": self.assets_bucket_regional_domain_name,
                "logs_bucket_name": self.logs_bucket_name,
                "logs_bucket_arn": self.logs_bucket_arn,
                "logs_bucket_domain_name": self.logs_bucket_domain_name,
                "logs_bucket_regional_domain_name": self.logs_bucket_regional_domain_name,
            }
        )

    def serve_through_cdn(self, distribution_arn: pulumi.Input[str]) -> None:
        """Create the assets bucket's policy: TLS only, and ``s3:GetObject`` for this one distribution.

        Called by the composition once the CloudFront distribution (built from this bucket) exists.
        """
        aws.s3.BucketPolicy(
            f"{self._name}-assets-policy",
            bucket=self._assets.id,
            policy=pulumi.Output.all(self._assets.arn, distribution_arn).apply(
                lambda arns: json.dumps(cdn_bucket_policy(arns[0], arns[1]))
            ),
            opts=self.child(self._assets, depends_on=[self._assets_access_block]),
        )

    def _bucket(
        self,
        purpose: str,
        *,
        object_ownership: str,
        encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs,
        expire_after_days: int | None,
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketPublicAccessBlock]:
        """A private, versioned, encrypted bucket with lifecycle rules; (bucket, its public access block)."""
        settings = self._settings
        # Bucket names are global: the account id keeps ours from colliding with anyone else's.
        physical = self.naming.physical(f"{purpose}-{self.context.account.id}")
        return private_bucket(
            f"{self._name}-{purpose}",
            physical_name=physical,
            tags=self.tags(name=physical),
            parent=self,
            protect=self.context.protect,
            force_destroy=settings.force_destroy,
            object_ownership=object_ownership,
            encryption=encryption,
            lifecycle_rules=lifecycle_rules(
                incomplete_upload_days=settings.incomplete_upload_days,
                noncurrent_version_days=settings.noncurrent_version_days,
                expire_after_days=expire_after_days,
            ),
        )
