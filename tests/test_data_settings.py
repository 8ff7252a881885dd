"""Data layer settings: prod rejects staging-only savings, and bad values get one clear message naming the key."""

from __future__ import annotations

import pytest

from stacks.offline.engine import load_config
from stacks.settings import (
    CacheSettings,
    DatabaseSettings,
    SecretSettings,
    SettingsError,
    StorageSettings,
    parse,
)
from stacks.settings.windows import overlaps

P = "shop-platform"


def problems(stack: str = "prod", **overrides: str) -> str:
    """The settings error for ``stack``'s own config with ``overrides``."""
    _, config, _ = load_config(stack, overrides={f"{P}:{key}": value for key, value in overrides.items()})
    with pytest.raises(SettingsError) as raised:
        parse(config, project=P, stack=stack)
    return str(raised.value)


STAGING_ONLY_SAVINGS = {
    "secretsRecoveryWindowDays": ("7", "full 30-day recovery window"),
    "dbMultiAz": ("false", "a single-AZ database is a staging-only saving"),
    "dbDeletionProtection": ("false", "keep deletion protection on"),
    "dbFinalSnapshot": ("false", "skipping it is a staging-only saving"),
    "dbBackupRetentionDays": ("7", "at least 14 days of backups"),
    "cacheNodeCount": ("1", "at least 2 nodes"),
    "storageForceDestroy": ("true", "never emptied by `pulumi destroy`"),
    "storageLogRetentionDays": ("90", "at least 365 days"),
}


@pytest.mark.parametrize("key", STAGING_ONLY_SAVINGS)
def test_prod_rejects_staging_only_savings_by_key_and_file(key: str) -> None:
    value, reason = STAGING_ONLY_SAVINGS[key]
    message = problems(**{key: value})
    assert message.startswith("Pulumi.prod.yaml: 1 configuration problem:")
    assert f"{P}:{key}: " in message and reason in message


@pytest.mark.parametrize("key", STAGING_ONLY_SAVINGS)
def test_staging_takes_the_savings_prod_rejects(key: str) -> None:
    _, staging, _ = load_config("staging")
    assert f"{P}:{key}: " in problems(**{key: staging[f"{P}:{key}"]})


@pytest.mark.parametrize("section", [SecretSettings, DatabaseSettings, CacheSettings, StorageSettings])
def test_defaults_are_prod_grade(section: type) -> None:
    assert list(section().problems("prod")) == []


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("secretsRecoveryWindowDays", "3", "must be 0 (delete at once) or 7-30"),
        ("dbBackupRetentionDays", "2", "greater than or equal to 3"),
        ("dbMonitoringIntervalSeconds", "0", "Enhanced Monitoring stays on"),
        ("dbPerformanceInsightsRetentionDays", "30", "must be 7, 731 or a multiple of 31"),
        ("dbLogStatement", "none", "Input should be 'ddl', 'mod' or 'all'"),
        ("dbLogRetentionDays", "100", "CloudWatch Logs retention periods"),
        ("dbEngineMajorVersion", "13", "greater than or equal to 14"),
        ("dbBackupWindow", "2am-3am", "must be a daily UTC window"),
        ("dbMaintenanceWindow", "sunday:03:00-sunday:04:00", "must be a weekly UTC window"),
        ("dbMaxAllocatedStorageGb", "50", "storage autoscaling stays off"),
        ("dbDatabaseName", "Shop-DB", "String should match pattern"),
        ("cacheEngine", "memcached", "Input should be 'valkey' or 'redis'"),
        ("cacheEngineVersion", "7.1", "valkey supports 7.2, 8.0, 8.1, 8.2"),
        ("cacheSnapshotRetentionDays", "0", "greater than or equal to 1"),
        ("cacheSnapshotWindow", "01:00-01:30", "at least 60 minutes"),
        ("storageIncompleteUploadDays", "0", "greater than or equal to 1"),
    ],
)
def test_bad_values_name_the_key(key: str, value: str, reason: str) -> None:
    message = problems(**{key: value})
    assert f"{P}:{key}: " in message and reason in message, message


def test_backup_window_may_not_overlap_maintenance() -> None:
    message = problems(dbBackupWindow="03:00-04:00")
    assert f"{P}:dbBackupWindow: overlaps the maintenance window sun:03:30-sun:04:30" in message
    message = problems(cacheSnapshotWindow="04:00-05:00")
    assert f"{P}:cacheSnapshotWindow: overlaps the maintenance window sun:04:30-sun:05:30" in message


@pytest.mark.parametrize(
    ("daily", "weekly", "expected"),
    [
        ("02:00-03:00", "sun:03:30-sun:04:30", False),
        ("02:00-03:00", "sun:02:30-sun:03:30", True),
        ("03:30-04:00", "mon:03:00-mon:04:00", True),
        ("23:30-00:30", "mon:00:00-mon:01:00", True),  # the daily window runs past midnight
        ("01:00-02:00", "sun:23:30-mon:00:30", False),
        ("00:00-00:45", "sun:23:30-mon:00:30", True),  # the weekly window runs past the end of the week
    ],
)
def test_window_overlap(daily: str, weekly: str, expected: bool) -> None:
    assert overlaps(daily, weekly) is expected
