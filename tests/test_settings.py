"""Typed settings: every kind of bad configuration gets a clear message naming the key and the stack file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.offline.engine import PROJECT_DIR, load_config
from stacks.settings import NetworkSettings, PlatformSettings, SettingsError, parse
from stacks.settings.schema import declarations

P = "shop-platform"
VALID = {
    "aws:region": "eu-west-1",
    f"{P}:environment": "prod",
    f"{P}:domain": "shop.example.com",
    # The image has no default: the deploy pipeline sets it, pinned by digest in prod.
    f"{P}:shopImageTag": "3f1c2a9",
    f"{P}:shopImageDigest": "sha256:" + "0" * 64,
}


def problems(**overrides: str) -> str:
    values = {**VALID, **{f"{P}:{key}" if ":" not in key else key: value for key, value in overrides.items()}}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack="prod")
    return str(raised.value)


def test_minimal_prod_config_is_valid_and_uses_prod_grade_defaults() -> None:
    settings = parse(VALID, project=P, stack="prod")
    assert isinstance(settings, PlatformSettings)
    assert settings.is_prod
    assert settings.network.nat_gateways == "one_per_az"
    assert settings.network.interface_endpoints is True
    assert settings.network.az_count == 3


def test_values_arrive_as_engine_strings_and_are_coerced() -> None:
    settings = parse(
        {
            **VALID,
            f"{P}:environment": "staging",
            f"{P}:vpcAzCount": "2",
            f"{P}:vpcInterfaceEndpoints": "false",
            f"{P}:vpcInterfaceEndpointServices": '["sts", "logs"]',
        },
        project=P,
        stack="staging",
    )
    assert settings.network.az_count == 2
    assert settings.network.interface_endpoints is False
    assert settings.network.interface_endpoint_services == ("sts", "logs")


def test_the_message_names_the_stack_file() -> None:
    assert problems(vpcAzCount="9").startswith("Pulumi.prod.yaml: 1 configuration problem:")


def test_unknown_key_suggests_the_closest_setting() -> None:
    message = problems(vpcNatGateway="single")
    assert f"{P}:vpcNatGateway: unknown setting; did you mean {P}:vpcNatGateways?" in message


def test_wrong_type() -> None:
    assert f"{P}:vpcAzCount: Input should be a valid integer" in problems(vpcAzCount="three")


def test_az_count_outside_two_to_three() -> None:
    assert f"{P}:vpcAzCount: Input should be less than or equal to 3" in problems(vpcAzCount="4")
    assert f"{P}:vpcAzCount: Input should be greater than or equal to 2" in problems(vpcAzCount="1")


@pytest.mark.parametrize(
    ("cidr", "reason"),
    [
        ("10.40.0.0/33", "not a valid IPv4 network"),
        ("10.40.0.1/16", "not a valid IPv4 network"),  # host bits set
        ("8.8.0.0/16", "must be a private (RFC 1918) range"),
        ("10.40.0.0/24", "prefix must be between /16 and /20"),
    ],
)
def test_malformed_or_unusable_vpc_cidr(cidr: str, reason: str) -> None:
    assert f"{P}:vpcCidr:" in (message := problems(vpcCidr=cidr))
    assert reason in message


def test_values_out_of_range() -> None:
    message = problems(vpcFlowLogRetentionDays="10", kmsRotationPeriodDays="30", namePrefix="Shop!")
    assert f"{P}:vpcFlowLogRetentionDays: must be one of the CloudWatch Logs retention periods" in message
    assert f"{P}:kmsRotationPeriodDays: Input should be greater than or equal to 90" in message
    assert f"{P}:namePrefix: String should match pattern" in message


def test_invalid_region_and_domain_are_named_by_their_keys() -> None:
    message = problems(**{"aws:region": "mars-1", "domain": "Not A Domain"})
    assert "aws:region: must be an AWS region code" in message
    assert f"{P}:domain: must be a lower-case DNS domain" in message


def test_prod_rejects_staging_only_savings() -> None:
    message = problems(vpcNatGateways="single", vpcInterfaceEndpoints="false", kmsDeletionWindowDays="7")
    assert f"{P}:vpcNatGateways: prod needs 'one_per_az'" in message
    assert f"{P}:vpcInterfaceEndpoints: prod keeps AWS API traffic on interface endpoints" in message
    assert f"{P}:kmsDeletionWindowDays: prod keeps the full 30-day window" in message


def test_staging_may_use_the_savings() -> None:
    settings = parse(
        {
            **VALID,
            f"{P}:environment": "staging",
            f"{P}:vpcNatGateways": "single",
            f"{P}:vpcInterfaceEndpoints": "false",
        },
        project=P,
        stack="staging",
    )
    assert settings.network.nat_gateways == "single"


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        parse({f"{P}:vpcAzCount": "7", f"{P}:typo": "x"}, project=P, stack="prod")
    message = str(raised.value)
    assert message.startswith("Pulumi.prod.yaml: 5 configuration problems:")
    for key in ("aws:region", f"{P}:environment", f"{P}:domain", f"{P}:vpcAzCount", f"{P}:typo"):
        assert f"  {key}: " in message


def test_components_cannot_build_invalid_settings_either() -> None:
    with pytest.raises(ValueError, match="az_count"):
        NetworkSettings(az_count=5)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stack_files_are_valid_and_declare_only_known_keys(stack: str) -> None:
    _, config, secret_keys = load_config(stack)
    settings = parse(config, project=P, stack=stack)
    assert settings.stack.environment == stack
    assert secret_keys == []


def test_pulumi_yaml_declares_every_setting_with_type_description_and_default() -> None:
    """Pulumi.yaml is generated from the settings (`python -m stacks config-schema --write`): never drifts."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["config"] == declarations()
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    for key, declaration in project["config"].items():
        assert declaration["type"] in {"string", "integer", "boolean", "array"}, key
        assert declaration["description"], key
        assert "default" in declaration or key in {"environment", "domain"}, key


def test_no_plain_text_secrets_in_stack_files() -> None:
    declared = declarations()
    for path in Path(PROJECT_DIR).glob("Pulumi.*.yaml"):
        for key, value in (yaml.safe_load(path.read_text())["config"] or {}).items():
            if declared.get(key.split(":", 1)[1], {}).get("type") in ("integer", "boolean"):
                continue  # a number or a switch (secretsRecoveryWindowDays) cannot hold a credential
            if any(word in key.lower() for word in ("password", "secret", "token", "key")) and "kms" not in key:
                assert isinstance(value, dict) and set(value) == {"secure"}, f"{path.name}: {key} in plain text"
