"""Settings of observability and audit (components/observability/): alarms, container logs, Container Insights
and the CloudTrail trail.

Defaults are prod's: lower thresholds and fewer evaluation periods than staging, so prod pages sooner.
Thresholds are whole numbers because Pulumi project config declares no decimal type (percentages in %,
latency in milliseconds).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from stacks.settings.base import PROD_MIN_LOG_RETENTION_DAYS, RetentionDays, section
from stacks.settings.cluster import AddonVersion

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,63}$", re.IGNORECASE)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address such as oncall@example.com")
    return value


EmailAddress = Annotated[str, AfterValidator(_email)]
Percent = Annotated[int, Field(ge=1, le=100)]


@section(prefix="obs")
class ObservabilitySettings:
    """Alarms and their e-mail subscriptions, container logs and metrics, the dashboard and the audit trail."""

    alarm_emails: tuple[EmailAddress, ...] = Field(
        default=(),
        description="E-mail addresses subscribed to the alarm topics (each confirms once from the mail AWS sends).",
    )
    alarm_evaluation_periods: int = Field(
        default=3,
        ge=1,
        le=15,
        description="Consecutive one-minute periods a metric must breach before its alarm fires.",
    )
    db_cpu_percent: Percent = Field(default=80, description="RDS CPU utilisation alarm threshold (%).")
    db_free_storage_gib: int = Field(
        default=10, ge=1, le=1000, description="RDS free storage alarm: fires below this many GiB."
    )
    db_freeable_memory_mib: int = Field(
        default=512, ge=16, le=100_000, description="RDS freeable memory alarm: fires below this many MiB."
    )
    db_connections: int = Field(
        default=500, ge=1, le=10_000, description="RDS connection count alarm: fires above this many connections."
    )
    cache_cpu_percent: Percent = Field(default=80, description="ElastiCache host CPU alarm threshold (%).")
    cache_engine_cpu_percent: Percent = Field(
        default=75, description="ElastiCache engine (single-threaded) CPU alarm threshold (%)."
    )
    cache_memory_percent: Percent = Field(default=80, description="ElastiCache used-memory alarm threshold (%).")
    cache_evictions: int = Field(
        default=100, ge=1, le=1_000_000, description="ElastiCache evictions alarm: fires above this many a minute."
    )
    cache_replication_lag_seconds: int = Field(
        default=10, ge=1, le=3600, description="ElastiCache replica lag alarm threshold (seconds; with replicas)."
    )
    alb_errors_percent: Percent = Field(
        default=1, description="Load balancer 5xx alarm: its own 5xx responses, in % of requests."
    )
    target_errors_percent: Percent = Field(default=1, description="Shop pods' 5xx responses alarm, in % of requests.")
    target_p99_ms: int = Field(
        default=1000, ge=10, le=60_000, description="Shop response time alarm: p99 above this many milliseconds."
    )
    unhealthy_hosts: int = Field(
        default=0, ge=0, le=100, description="Unhealthy targets alarm: fires when more targets than this fail."
    )
    cdn_errors_percent: Percent = Field(default=1, description="CloudFront 5xx error rate alarm threshold (%).")
    waf_blocked_requests: int = Field(
        default=500,
        ge=1,
        le=10_000_000,
        description="CloudFront web ACL spike alarm: fires above this many blocked requests a minute.",
    )
    pod_restarts: int = Field(
        default=3, ge=1, le=1000, description="Shop pod restarts alarm: fires above this many restarts a minute."
    )
    checkout_failure_percent: Percent = Field(
        default=5, description="Checkout failure rate alarm (checkout_failed events in % of checkouts)."
    )
    container_log_retention_days: RetentionDays = Field(
        default=PROD_MIN_LOG_RETENTION_DAYS,
        description="Retention of the Container Insights log groups (application, dataplane, host, performance, "
        "prometheus), in days (a CloudWatch Logs period).",
    )
    cloudwatch_observability_version: AddonVersion = Field(
        default="v6.2.0-eksbuild.1",
        description="Version of the amazon-cloudwatch-observability managed add-on (Container Insights, Fluent Bit).",
    )
    cloudtrail_enabled: bool = Field(
        default=True,
        description="Create a multi-region CloudTrail trail; turn off only where an organisation trail already "
        "records this account.",
    )
    trail_log_retention_days: RetentionDays = Field(
        default=PROD_MIN_LOG_RETENTION_DAYS,
        description="Retention of the trail's CloudWatch Logs copy, in days (a CloudWatch Logs period).",
    )
    trail_object_days: int = Field(
        default=2557,
        ge=365,
        le=3650,
        description="Days the trail's log files stay in its S3 bucket (365-3650; default 7 years).",
    )
