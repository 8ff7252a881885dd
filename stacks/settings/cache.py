"""Settings of the Redis-compatible cache (components/cache.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from stacks.settings.base import Environment, Problem, RetentionDays, section
from stacks.settings.windows import DailyWindow, WeeklyWindow, daily_minutes, overlaps, weekly_minutes

#: Engine versions ElastiCache offers that support AUTH with TLS and log delivery of slow and engine logs.
ENGINE_VERSIONS = {
    "valkey": ("7.2", "8.0", "8.1", "8.2"),
    "redis": ("6.2", "7.0", "7.1"),
}


@section(prefix="cache")
class CacheSettings:
    """ElastiCache replication group: engine, size, availability, snapshots and logging."""

    engine: Literal["valkey", "redis"] = Field(default="valkey", description="Cache engine (Redis OSS compatible).")
    engine_version: str = Field(
        default="8.2",
        description="Engine major.minor version; patch releases apply automatically in the maintenance window.",
    )
    node_type: str = Field(
        default="cache.m7g.large",
        pattern=r"^cache\.[a-z0-9-]+\.[a-z0-9]+$",
        description="Node type, e.g. cache.m7g.large.",
    )
    node_count: int = Field(
        default=2,
        ge=1,
        le=6,
        description="Primary plus replicas (1-6); from 2 on, replicas sit in other zones with automatic failover. "
        "Prod needs at least 2.",
    )
    snapshot_retention_days: int = Field(default=7, ge=1, le=35, description="Days of daily snapshots kept (1-35).")
    snapshot_window: DailyWindow = Field(
        default="01:00-02:00", description="Daily UTC snapshot window 'hh:mm-hh:mm' (at least 60 minutes)."
    )
    maintenance_window: WeeklyWindow = Field(
        default="sun:04:30-sun:05:30",
        description="Weekly UTC maintenance window 'ddd:hh:mm-ddd:hh:mm' (at least 60 minutes, not overlapping "
        "the snapshot window).",
    )
    final_snapshot: bool = Field(
        default=True,
        description="Take a final snapshot when the replication group is deleted; required in prod.",
    )
    maxmemory_policy: Literal[
        "volatile-lru",
        "allkeys-lru",
        "volatile-lfu",
        "allkeys-lfu",
        "volatile-random",
        "allkeys-random",
        "volatile-ttl",
        "noeviction",
    ] = Field(
        default="volatile-lru",
        description="What the engine evicts when memory is full; volatile-* evicts only keys with a TTL.",
    )
    log_retention_days: RetentionDays = Field(
        default=365, description="Retention of the slow and engine log groups (a CloudWatch Logs period)."
    )

    @property
    def major_version(self) -> int:
        return int(self.engine_version.split(".")[0])

    @property
    def parameter_group_family(self) -> str:
        if self.engine == "redis":
            return "redis6.x" if self.major_version == 6 else f"redis{self.major_version}"
        return f"valkey{self.major_version}"

    @property
    def replicated(self) -> bool:
        """Replicas in other zones, automatic failover and Multi-AZ come together."""
        return self.node_count >= 2

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if self.engine_version not in ENGINE_VERSIONS[self.engine]:
            yield "engine_version", f"{self.engine} supports {', '.join(ENGINE_VERSIONS[self.engine])}"
        if daily_minutes(self.snapshot_window) < 60:
            yield "snapshot_window", "must be at least 60 minutes long"
        if weekly_minutes(self.maintenance_window) < 60:
            yield "maintenance_window", "must be at least 60 minutes long"
        if overlaps(self.snapshot_window, self.maintenance_window):
            yield (
                "snapshot_window",
                f"overlaps the maintenance window {self.maintenance_window}; ElastiCache rejects that",
            )
        if environment != "prod":
            return
        if not self.replicated:
            yield "node_count", "prod needs at least 2 nodes (a replica in another zone with automatic failover)"
        if not self.final_snapshot:
            yield "final_snapshot", "prod takes a final snapshot on deletion; skipping it is a staging-only saving"
