"""Settings of the S3 buckets (components/storage.py)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from stacks.settings.base import Environment, Problem, section

#: Prod keeps a year of access logs for incident investigations and audits.
PROD_MIN_LOG_DAYS = 365


@section(prefix="storage")
class StorageSettings:
    """The assets bucket (product images) and the logs bucket (CloudFront, ALB and S3 access logs)."""

    force_destroy: bool = Field(
        default=False,
        description="Let `pulumi destroy` delete non-empty buckets with their objects; staging only.",
    )
    log_retention_days: int = Field(
        default=PROD_MIN_LOG_DAYS,
        ge=1,
        le=3650,
        description="Days access logs are kept before they expire (prod at least 365).",
    )
    noncurrent_version_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days an overwritten or deleted object version stays recoverable.",
    )
    incomplete_upload_days: int = Field(
        default=7, ge=1, le=30, description="Days before the parts of an unfinished multipart upload are removed."
    )

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if environment != "prod":
            return
        if self.force_destroy:
            yield "force_destroy", "prod buckets are never emptied by `pulumi destroy`; set it to false"
        if self.log_retention_days < PROD_MIN_LOG_DAYS:
            yield "log_retention_days", f"prod keeps access logs for at least {PROD_MIN_LOG_DAYS} days"
