"""Settings of the PostgreSQL database (components/database.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, field_validator

from stacks.settings.base import Environment, Problem, RetentionDays, section
from stacks.settings.windows import DailyWindow, WeeklyWindow, daily_minutes, overlaps, weekly_minutes

#: Enhanced Monitoring granularities RDS accepts (0, which turns it off, is deliberately not one of them).
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)
#: Minimum prod backup retention: two weeks of point-in-time recovery.
PROD_MIN_BACKUP_DAYS = 14


@section(prefix="db")
class DatabaseSettings:
    """RDS for PostgreSQL: engine, size, availability, backups and logging."""

    engine_major_version: int = Field(
        default=18,
        ge=14,
        description="PostgreSQL major version; RDS runs its latest minor version and applies minor upgrades "
        "automatically in the maintenance window.",
    )
    instance_class: str = Field(
        default="db.m7g.large",
        pattern=r"^db\.[a-z0-9-]+\.[a-z0-9]+$",
        description="RDS instance class, e.g. db.m7g.large.",
    )
    allocated_storage_gb: int = Field(default=50, ge=20, le=65536, description="Initial gp3 storage in GiB (20-65536).")
    max_allocated_storage_gb: int = Field(
        default=500,
        ge=21,
        le=65536,
        description="Storage autoscaling ceiling in GiB; must exceed the initial storage.",
    )
    multi_az: bool = Field(default=True, description="Synchronous standby in a second zone; required in prod.")
    backup_retention_days: int = Field(
        default=PROD_MIN_BACKUP_DAYS,
        ge=3,
        le=35,
        description="Days of automated backups and point-in-time recovery (3-35; prod at least 14).",
    )
    backup_window: DailyWindow = Field(
        default="02:00-03:00", description="Daily UTC backup window 'hh:mm-hh:mm' (at least 30 minutes)."
    )
    maintenance_window: WeeklyWindow = Field(
        default="sun:03:30-sun:04:30",
        description="Weekly UTC maintenance window 'ddd:hh:mm-ddd:hh:mm' (at least 30 minutes, not overlapping "
        "the backup window).",
    )
    deletion_protection: bool = Field(
        default=True, description="Refuse to delete the instance until this is turned off; required in prod."
    )
    final_snapshot: bool = Field(
        default=True,
        description="Take a final snapshot and keep automated backups when the instance is deleted; required in prod.",
    )
    ca_cert_identifier: Literal["rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"] = Field(
        default="rds-ca-rsa2048-g1", description="Certificate authority of the server certificate clients verify."
    )
    monitoring_interval_seconds: int = Field(
        default=60, description="Enhanced Monitoring granularity in seconds: 1, 5, 10, 15, 30 or 60."
    )
    performance_insights_retention_days: int = Field(
        default=7, description="Performance Insights retention: 7 (free tier), a multiple of 31, or 731 days."
    )
    log_statement: Literal["ddl", "mod", "all"] = Field(
        default="ddl", description="Which statements PostgreSQL logs (log_statement)."
    )
    log_min_duration_statement_ms: int = Field(
        default=500,
        ge=0,
        le=3_600_000,
        description="Log every statement running at least this many milliseconds (log_min_duration_statement).",
    )
    log_retention_days: RetentionDays = Field(
        default=365, description="Retention of the exported PostgreSQL and upgrade logs (a CloudWatch Logs period)."
    )
    database_name: str = Field(
        default="shop", pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Name of the application database."
    )
    master_username: str = Field(
        default="shop_admin",
        pattern=r"^[a-z][a-z0-9_]{0,15}$",
        description="Master user name; RDS keeps its password in Secrets Manager.",
    )

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _monitoring_interval(cls, seconds: int) -> int:
        if seconds not in MONITORING_INTERVALS:
            raise ValueError(f"must be one of {MONITORING_INTERVALS} (Enhanced Monitoring stays on)")
        return seconds

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _insights_retention(cls, days: int) -> int:
        if not (days in (7, 731) or (days % 31 == 0 and 31 <= days <= 713)):
            raise ValueError("must be 7, 731 or a multiple of 31 up to 713")
        return days

    @property
    def parameter_group_family(self) -> str:
        return f"postgres{self.engine_major_version}"

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if self.max_allocated_storage_gb <= self.allocated_storage_gb:
            yield "max_allocated_storage_gb", "must exceed the initial storage, or storage autoscaling stays off"
        if daily_minutes(self.backup_window) < 30:
            yield "backup_window", "must be at least 30 minutes long"
        if weekly_minutes(self.maintenance_window) < 30:
            yield "maintenance_window", "must be at least 30 minutes long"
        if overlaps(self.backup_window, self.maintenance_window):
            yield "backup_window", f"overlaps the maintenance window {self.maintenance_window}; RDS rejects that"
        if environment != "prod":
            return
        if not self.multi_az:
            yield "multi_az", "prod keeps a standby in a second zone; a single-AZ database is a staging-only saving"
        if not self.deletion_protection:
            yield "deletion_protection", "prod databases keep deletion protection on"
        if not self.final_snapshot:
            yield "final_snapshot", "prod takes a final snapshot on deletion; skipping it is a staging-only saving"
        if self.backup_retention_days < PROD_MIN_BACKUP_DAYS:
            yield "backup_retention_days", f"prod keeps at least {PROD_MIN_BACKUP_DAYS} days of backups"
