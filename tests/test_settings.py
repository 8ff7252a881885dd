"""Typed settings: every kind of bad configuration gets a clear message naming the key and the stack file."""

from __future__ import annotations

import contextvars
import json
import subprocess
import sys
from ipaddress import IPv4Network
from pathlib import Path

import pulumi
import pytest
import yaml

from stacks.offline.engine import PROJECT_DIR, load_config
from stacks.settings import NetworkSettings, PlatformSettings, SettingsError, parse
from stacks.settings.loader import current_config
from stacks.settings.network import kubernetes_service_cidr
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


def problems(stack: str = "prod", **overrides: str) -> str:
    values = {**VALID, **{f"{P}:{key}" if ":" not in key else key: value for key, value in overrides.items()}}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack=stack)
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


@pytest.mark.parametrize("key", ["secretsRedisAuthRotation", "secretsOriginVerifyRotation"])
def test_a_retired_setting_says_what_replaced_it(key: str) -> None:
    message = problems(**{key: 1})
    assert f"{P}:{key}: no longer a setting:" in message
    assert "rotates only with its Lambda function (`aws secretsmanager rotate-secret`" in message


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
        # Private in Python's sense, but not RFC 1918: loopback, link-local, benchmarking, carrier-grade NAT.
        ("127.0.0.0/16", "must be a private (RFC 1918) range"),
        ("169.254.0.0/16", "must be a private (RFC 1918) range"),
        ("198.18.0.0/16", "must be a private (RFC 1918) range"),
        ("100.64.0.0/16", "must be a private (RFC 1918) range"),
        ("172.32.0.0/16", "must be a private (RFC 1918) range"),  # just past 172.16.0.0/12
        ("10.40.0.0/24", "prefix must be between /16 and /20"),
        ("172.17.0.0/16", "overlaps 172.17.0.0/16, Docker's bridge network on the nodes"),
        ("172.16.0.0/16", None),
        ("172.31.0.0/16", None),
        ("192.168.0.0/16", None),
    ],
)
def test_malformed_or_unusable_vpc_cidr(cidr: str, reason: str | None) -> None:
    if reason is None:
        assert str(NetworkSettings(cidr=IPv4Network(cidr)).cidr) == cidr
        return
    assert f"{P}:vpcCidr:" in (message := problems(vpcCidr=cidr))
    assert reason in message


@pytest.mark.parametrize(
    ("vpc", "service_range"), [("10.40.0.0/16", "172.20.0.0/16"), ("172.20.0.0/16", "10.100.0.0/16")]
)
def test_the_clusters_service_range_never_overlaps_the_vpc(vpc: str, service_range: str) -> None:
    assert kubernetes_service_cidr(IPv4Network(vpc)) == IPv4Network(service_range)


STAGING = {
    **VALID,
    f"{P}:environment": "staging",
    f"{P}:vpcCidr": "10.40.0.0/16",
    f"{P}:eksPublicEndpoint": "true",
    f"{P}:eksPublicAccessCidrs": '["203.0.113.0/24"]',
}


def staging_problems(**overrides: str) -> str:
    values = {**STAGING, **{f"{P}:{key}": value for key, value in overrides.items()}}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack="staging")
    return str(raised.value)


@pytest.mark.parametrize(
    ("key", "cidrs", "reported"),
    [
        ("eksPublicAccessCidrs", ["203.0.113.0/24", "203.0.113.0/24"], "203.0.113.0/24 repeats 203.0.113.0/24"),
        ("eksPublicAccessCidrs", ["203.0.113.0/24", "203.0.113.128/25"], "203.0.113.128/25 overlaps 203.0.113.0/24"),
        ("eksPrivateAccessCidrs", ["192.168.0.0/16", "192.168.4.0/24"], "192.168.4.0/24 overlaps 192.168.0.0/16"),
        ("edgeAdminAllowedCidrs", ["198.51.100.7/32", "198.51.100.0/24"], "198.51.100.0/24 overlaps 198.51.100.7/32"),
    ],
)
def test_allowlists_list_each_network_once(key: str, cidrs: list[str], reported: str) -> None:
    assert f"{P}:{key}: {reported}; list each network once" in staging_problems(**{key: json.dumps(cidrs)})


def test_the_public_endpoint_allowlist_names_no_network_inside_the_vpc() -> None:
    message = staging_problems(eksPublicAccessCidrs='["203.0.113.0/24", "10.40.8.0/24"]')
    assert f"{P}:eksPublicAccessCidrs: 10.40.8.0/24 is inside the VPC 10.40.0.0/16" in message


def test_networks_reaching_the_private_endpoint_stay_out_of_the_service_range() -> None:
    message = staging_problems(eksPrivateAccessCidrs='["192.168.0.0/16", "172.20.8.0/24"]')
    assert f"{P}:eksPrivateAccessCidrs: 172.20.8.0/24 overlaps the cluster's Service range 172.20.0.0/16" in message
    assert "192.168.0.0/16" not in message


def test_distinct_allowlists_pass() -> None:
    settings = parse(
        {
            **STAGING,
            f"{P}:eksPublicAccessCidrs": '["203.0.113.0/24", "198.51.100.0/24"]',
            f"{P}:eksPrivateAccessCidrs": '["192.168.0.0/16"]',
            f"{P}:edgeAdminAllowedCidrs": '["203.0.113.0/24"]',  # the same office in two lists is fine
        },
        project=P,
        stack="staging",
    )
    assert len(settings.cluster.public_access_cidrs) == 2


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
        parse({f"{P}:vpcAzCount": "7", f"{P}:typo": "x", f"{P}:dbMultiAz": "false"}, project=P, stack="prod")
    message = str(raised.value)
    assert message.startswith("Pulumi.prod.yaml: 8 configuration problems:")
    for key in ("aws:region", f"{P}:environment", f"{P}:domain", f"{P}:vpcAzCount", f"{P}:typo"):
        assert f"  {key}: " in message
    # The stack is named prod, so prod's own requirements are checked although `environment` is missing.
    assert f"  {P}:dbMultiAz: prod keeps a standby in a second zone" in message


@pytest.mark.parametrize("environment", ["prod", "staging"])
def test_an_invalid_stack_section_hides_no_other_check(environment: str) -> None:
    """Section and cross-section checks run although the stack section (here its domain) is invalid: prod's
    requirements too when the environment is known."""
    message = problems(
        stack="qa",
        environment=environment,
        domain="Not A Domain",
        dbAllocatedStorageGb="100",
        dbMaxAllocatedStorageGb="100",
        obsDbFreeStorageGib="100",
        dbMultiAz="false",
    )
    assert f"{P}:domain: must be a lower-case DNS domain" in message
    assert f"{P}:dbMaxAllocatedStorageGb: must exceed the initial storage" in message
    assert f"{P}:obsDbFreeStorageGib: must be below the database's allocated storage (100 GB)" in message
    assert (f"{P}:dbMultiAz: prod keeps a standby" in message) == (environment == "prod")


def test_an_invalid_environment_is_checked_as_the_baseline() -> None:
    message = problems(stack="qa", environment="production", dbAllocatedStorageGb="100", dbMaxAllocatedStorageGb="100")
    assert f"{P}:environment: Input should be 'staging' or 'prod'" in message
    assert f"{P}:dbMaxAllocatedStorageGb: must exceed the initial storage" in message


@pytest.mark.parametrize(("stack", "environment"), [("prod", "staging"), ("staging", "prod")])
def test_a_stack_named_after_an_environment_is_that_environment(stack: str, environment: str) -> None:
    message = problems(stack=stack, environment=environment)
    assert f"{P}:environment: the stack named '{stack}' is the {stack} environment (got '{environment}')" in message


def test_a_stack_with_another_name_may_be_either_environment() -> None:
    assert parse({**VALID, f"{P}:environment": "prod"}, project=P, stack="prod-eu").is_prod
    assert not parse({**VALID, f"{P}:environment": "staging"}, project=P, stack="prod-eu").is_prod


def test_a_setting_given_as_a_secret_is_refused() -> None:
    with pytest.raises(SettingsError) as raised:
        parse(VALID, project=P, stack="prod", secret_keys=[f"{P}:domain"])
    assert f"{P}:domain: is set as a secret, but no setting is one" in str(raised.value)


def test_the_running_programs_config_comes_through_the_sdks_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the CLI's Python host does (sdk/python/cmd/pulumi-language-python-exec): the stack's config arrives in
    PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS and is loaded with set_all_config. If the SDK changes how, this
    fails rather than the loader silently seeing no config."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({f"{P}:vpcAzCount": "2", f"{P}:domain": "shop.example.com"}))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps([f"{P}:domain"]))

    def as_the_cli_host_runs_it() -> tuple[dict[str, str], frozenset[str], str | None]:
        pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
        return (*current_config(), pulumi.Config(P).get("vpcAzCount"))

    values, secret_keys, through_config = contextvars.Context().run(as_the_cli_host_runs_it)
    assert values == {f"{P}:vpcAzCount": "2", f"{P}:domain": "shop.example.com"}
    assert secret_keys == {f"{P}:domain"}
    assert through_config == "2", "the values are the ones pulumi.Config reads"


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


@pytest.mark.parametrize(
    ("overrides", "reported"),
    [
        ({"shopCpuRequestMillicores": "2000"}, "shopCpuRequestMillicores: must not exceed the limit (1000)"),
        ({"shopMemoryRequestMib": "1024"}, "shopMemoryRequestMib: must not exceed the limit (512)"),
        (
            {"shopEphemeralStorageRequestMib": "2048"},
            "shopEphemeralStorageRequestMib: must not exceed the limit (1024)",
        ),
        ({"shopQuotaCpuMillicores": "1000"}, "shopQuotaCpuMillicores: must be at least 17000 (17 pods at their limit)"),
        ({"shopQuotaMemoryMib": "1024"}, "shopQuotaMemoryMib: must be at least 8704 (17 pods at their limit)"),
        (
            {"shopQuotaEphemeralStorageMib": "1024"},
            "shopQuotaEphemeralStorageMib: must be at least 17408 (17 pods at their limit)",
        ),
        (
            {"shopProbeTimeoutSeconds": "6", "shopReadinessPeriodSeconds": "5"},
            "shopProbeTimeoutSeconds: must not exceed shopReadinessPeriodSeconds",
        ),
        (
            {"shopProbeTimeoutSeconds": "6", "shopLivenessPeriodSeconds": "5", "shopReadinessPeriodSeconds": "10"},
            "shopProbeTimeoutSeconds: must not exceed shopLivenessPeriodSeconds",
        ),
        ({"eksSystemDesiredSize": "9"}, "eksSystemDesiredSize: must lie between the minimum"),
        ({"eksAppMinSize": "1", "eksAppDesiredSize": "1"}, "eksAppMinSize: prod keeps a node in each of the"),
        ({"eksSystemMinSize": "1", "eksSystemDesiredSize": "1"}, "eksSystemMinSize: prod keeps a node in each of the"),
    ],
)
def test_checks_across_the_shops_and_the_node_groups_fields_name_the_field_at_fault(
    overrides: dict[str, str], reported: str
) -> None:
    assert f"{P}:{reported}" in problems(**overrides)


def _boolean_keys() -> list[str]:
    return sorted(key for key, declaration in declarations().items() if declaration["type"] == "boolean")


def test_every_boolean_setting_is_found_in_the_schema() -> None:
    assert {"dbMultiAz", "vpcInterfaceEndpoints", "shopSeed"} <= set(_boolean_keys())


@pytest.mark.parametrize("key", _boolean_keys())
@pytest.mark.parametrize("value", ["no", "yes", "off", "0", "1", "False", 0, 1])
def test_a_boolean_setting_refuses_anything_but_true_or_false(key: str, value: str | int) -> None:
    """pydantic alone reads "no", "off" and 0 as false, "yes" and 1 as true."""
    values = {**VALID, f"{P}:environment": "staging", f"{P}:{key}": value}
    with pytest.raises(SettingsError) as raised:
        parse(values, project=P, stack="staging")
    expected = f"Pulumi.staging.yaml: 1 configuration problem:\n  {P}:{key}: must be true or false (got {value!r})"
    assert str(raised.value) == expected


@pytest.mark.parametrize(("value", "read"), [("true", True), ("false", False), (True, True), (False, False)])
def test_a_boolean_setting_takes_true_or_false_as_the_cli_hands_them_over(value: str | bool, read: bool) -> None:
    staging = {**VALID, f"{P}:environment": "staging", f"{P}:vpcInterfaceEndpoints": value}
    assert parse(staging, project=P, stack="staging").network.interface_endpoints is read


def test_a_string_for_a_boolean_exits_2_in_one_message_without_a_traceback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((PROJECT_DIR / name).read_text())
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.staging.yaml").read_text())
    config["config"][f"{P}:dbMultiAz"] = "no"
    (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "staging", "--project-dir", str(project)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        check=False,
    )
    assert result.returncode == 2
    assert f"Pulumi.staging.yaml: 1 configuration problem:\n  {P}:dbMultiAz: must be true or false (got 'no')" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
