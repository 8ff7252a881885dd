"""The shop's settings: prod-only rules and checks across fields, each with one message naming the key."""

from __future__ import annotations

import pytest

from stacks.settings import SettingsError, parse
from tests.test_settings import VALID as PROD
from tests.test_settings import P

STAGING = {**PROD, f"{P}:environment": "staging"}


def problems(base: dict[str, str], **overrides: str) -> str:
    values = {**base, **{f"{P}:{key}": value for key, value in overrides.items()}}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack=values[f"{P}:environment"])
    return str(raised.value)


def test_defaults_are_prod_grade() -> None:
    shop = parse(PROD, project=P, stack="prod").shop
    assert shop.min_replicas >= 3 and not shop.seed
    assert shop.memory_request_mib == shop.memory_limit_mib


def test_staging_may_seed() -> None:
    shop = parse({**STAGING, f"{P}:shopSeed": "true", f"{P}:shopMinReplicas": "2"}, project=P, stack="staging").shop
    assert shop.seed


@pytest.mark.parametrize(("stack", "config"), [("staging", STAGING), ("prod", PROD)])
def test_every_stack_runs_images_by_digest(stack: str, config: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as raised:
        parse({**config, f"{P}:shopImageDigest": ""}, project=P, stack=stack)
    assert f"{P}:shopImageDigest: every stack runs images by digest" in str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"shopMinReplicas": "2"}, "shopMinReplicas", "at least 3"),
        ({"shopSeed": "true"}, "shopSeed", "staging-only"),
    ],
)
def test_prod_rejects_staging_only_savings(overrides: dict[str, str], key: str, message: str) -> None:
    text = problems(PROD, **overrides)
    assert f"{P}:{key}: " in text and message in text and "Pulumi.prod.yaml" in text
    parse({**STAGING, **{f"{P}:{k}": v for k, v in overrides.items()}}, project=P, stack="staging")


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"shopImageTag": ""}, "shopImageTag", "immutable tag"),
        ({"shopImageTag": "latest"}, "shopImageTag", "not an immutable tag"),
        ({"shopImageDigest": "sha256:short"}, "shopImageDigest", "should match pattern"),
        ({"shopMaxReplicas": "2"}, "shopMaxReplicas", "at least shopMinReplicas"),
        ({"shopCpuRequestMillicores": "2000"}, "shopCpuRequestMillicores", "must not exceed the limit"),
        ({"shopTmpSizeMib": "4096"}, "shopTmpSizeMib", "ephemeral storage limit"),
        ({"shopTerminationGraceSeconds": "40"}, "shopTerminationGraceSeconds", "at least 45"),
        ({"shopProbeTimeoutSeconds": "2"}, "shopProbeTimeoutSeconds", "readiness check waits"),
        ({"shopQuotaPods": "10"}, "shopQuotaPods", "at least 17"),
        ({"shopQuotaCpuMillicores": "8000"}, "shopQuotaCpuMillicores", "at least 17000"),
        ({"shopQuotaMemoryMib": "4096"}, "shopQuotaMemoryMib", "at least 8704"),
    ],
)
def test_inconsistent_settings_are_rejected_by_key(overrides: dict[str, str], key: str, message: str) -> None:
    text = problems(PROD, **overrides)
    assert f"{P}:{key}: " in text and message in text, text
