"""Observability settings: one clear message naming the key, and prod refuses what only staging may do."""

from __future__ import annotations

import pytest

from stacks.offline.engine import load_config
from stacks.settings import SettingsError, parse

P = "shop-platform"
#: Prod's configuration without its observability settings, so every one starts at its default.
PROD = {key: value for key, value in load_config("prod")[1].items() if not key.startswith(f"{P}:obs")}
EMAIL = {f"{P}:obsAlarmEmails": '["oncall@example.com"]'}


def problems(stack_config: dict[str, str] = PROD, **settings: str) -> str:
    values = {**stack_config, **{f"{P}:{key}": value for key, value in settings.items()}}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack="prod")
    return str(raised.value)


def test_defaults_are_prods_with_its_own_trail() -> None:
    observability = parse({**PROD, **EMAIL}, project=P, stack="prod").observability
    assert observability.cloudtrail_enabled is True
    assert observability.container_log_retention_days == 365
    assert observability.trail_log_retention_days == 365


def test_alarm_emails_must_be_addresses() -> None:
    assert f"{P}:obsAlarmEmails: item 0: must be an e-mail address" in problems(obsAlarmEmails='["oncall"]')


def test_prod_keeps_container_and_audit_logs() -> None:
    message = problems({**PROD, **EMAIL}, obsContainerLogRetentionDays="14", obsTrailLogRetentionDays="30")
    assert f"{P}:obsContainerLogRetentionDays: prod keeps every log group at least 365 days" in message
    assert f"{P}:obsTrailLogRetentionDays: prod keeps every log group at least 365 days" in message


def test_retention_must_be_a_cloudwatch_logs_period() -> None:
    assert f"{P}:obsContainerLogRetentionDays: must be one of" in problems(obsContainerLogRetentionDays="10")


def test_free_storage_alarm_must_fit_the_database() -> None:
    message = problems({**PROD, **EMAIL}, obsDbFreeStorageGib="50")
    assert f"{P}:obsDbFreeStorageGib: must be below the database's allocated storage (50 GB)" in message


def test_percentages_and_versions_are_checked() -> None:
    assert f"{P}:obsDbCpuPercent: Input should be less than or equal to 100" in problems(obsDbCpuPercent="120")
    assert f"{P}:obsCloudwatchObservabilityVersion: must look like" in problems(obsCloudwatchObservabilityVersion="6.2")
