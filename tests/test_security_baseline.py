"""The AWS security baseline across components (issue 16): a year of logs in prod, whatever component a log group
belongs to, and the same protections in staging as in prod."""

from __future__ import annotations

import pytest

from stacks.offline.engine import load_config
from stacks.offline.plan import Plan
from stacks.settings import SettingsError, parse
from stacks.settings.base import PROD_MIN_LOG_RETENTION_DAYS, log_retention_fields
from stacks.settings.loader import config_keys, sections_of
from stacks.settings.platform import PlatformSettings

P = "shop-platform"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
#: Every setting that is a log group's retention, by config key.
RETENTION_KEYS = sorted(
    key.key
    for key in config_keys(P).values()
    if key.field in log_retention_fields(sections_of(PlatformSettings)[key.section])
)


def test_every_log_group_retention_setting_is_known() -> None:
    """The prod check finds retentions by their type: a new log group setting typed otherwise would escape it."""
    assert {key.split(":")[1] for key in RETENTION_KEYS} >= {
        "vpcFlowLogRetentionDays",
        "dbLogRetentionDays",
        "cacheLogRetentionDays",
        "eksLogRetentionDays",
        "edgeWafLogRetentionDays",
        "edgeQueryLogRetentionDays",
        "obsContainerLogRetentionDays",
        "obsTrailLogRetentionDays",
    }


@pytest.mark.parametrize("key", RETENTION_KEYS)
def test_prod_refuses_less_than_a_year_of_logs_naming_key_and_file(key: str) -> None:
    values = {**load_config("prod")[1], key: "180"}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack="prod")
    assert str(raised.value).startswith("Pulumi.prod.yaml: 1 configuration problem:")
    assert f"{key}: prod keeps every log group at least {PROD_MIN_LOG_RETENTION_DAYS} days" in str(raised.value)


@pytest.mark.parametrize("key", RETENTION_KEYS)
def test_staging_may_keep_logs_shorter(key: str) -> None:
    parse({**load_config("staging")[1], key: "14"}, project=P, stack="staging")


def test_every_log_group_in_prod_keeps_a_year(prod: Plan) -> None:
    short = {
        group.name: group.inputs["retentionInDays"]
        for group in prod.of_type(LOG_GROUP)
        if group.inputs["retentionInDays"] < PROD_MIN_LOG_RETENTION_DAYS
    }
    assert short == {}
