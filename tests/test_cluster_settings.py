"""Cluster settings: what each stack may configure, and one clear message per bad value naming key and file."""

from __future__ import annotations

import pytest

from stacks.settings import SettingsError, parse

P = "shop-platform"
REQUIRED = {
    "aws:region": "eu-west-1",
    f"{P}:domain": "shop.example.com",
    f"{P}:eksAdminRoles": '["platform-admin"]',
    # The deploy pipeline always sets the image (by digest, which prod requires).
    f"{P}:shopImageTag": "3f1c2a9",
    f"{P}:shopImageDigest": "sha256:" + "0" * 64,
}


def configure(environment: str, **settings: str) -> dict[str, str]:
    return {**REQUIRED, f"{P}:environment": environment, **{f"{P}:{key}": value for key, value in settings.items()}}


def problems(environment: str, **settings: str) -> str:
    with pytest.raises(SettingsError) as raised:
        parse(configure(environment, **settings), project=P, stack=environment)
    return str(raised.value)


def test_defaults_are_prod_grade() -> None:
    cluster = parse(configure("prod"), project=P, stack="prod").cluster
    assert cluster.public_endpoint is False
    assert cluster.app_capacity_type == "ON_DEMAND"
    assert (cluster.system_min_size, cluster.app_min_size) == (3, 3)
    assert cluster.support_type == "STANDARD"


def test_staging_may_save_with_spot_nodes_and_a_listed_public_endpoint() -> None:
    cluster = parse(
        configure(
            "staging", eksAppCapacityType="SPOT", eksPublicEndpoint="true", eksPublicAccessCidrs='["198.51.100.0/24"]'
        ),
        project=P,
        stack="staging",
    ).cluster
    assert cluster.app_capacity_type == "SPOT"
    assert cluster.public_endpoint is True


def test_prod_rejects_the_staging_savings() -> None:
    message = problems(
        "prod", eksAppCapacityType="SPOT", eksPublicEndpoint="true", eksPublicAccessCidrs='["198.51.100.0/24"]'
    )
    assert f"{P}:eksAppCapacityType: prod runs the shop on ON_DEMAND capacity; SPOT is a staging-only saving" in message
    assert f"{P}:eksPublicEndpoint: prod keeps the Kubernetes API private" in message


def test_a_public_endpoint_needs_listed_networks_and_never_the_internet() -> None:
    assert f"{P}:eksPublicAccessCidrs: list the networks" in problems("staging", eksPublicEndpoint="true")
    message = problems("staging", eksPublicEndpoint="true", eksPublicAccessCidrs='["0.0.0.0/0"]')
    assert f"{P}:eksPublicAccessCidrs: item 0: 0.0.0.0/0 opens this to the whole internet" in message
    assert f"{P}:eksPublicAccessCidrs: only applies with eksPublicEndpoint: true" in problems(
        "staging", eksPublicAccessCidrs='["198.51.100.0/24"]'
    )


def test_only_kubernetes_versions_in_standard_support() -> None:
    assert f"{P}:eksKubernetesVersion: Input should be '1.35'" in problems("prod", eksKubernetesVersion="1.34")


def test_version_pins_must_fit_the_kubernetes_version() -> None:
    message = problems("prod", eksKubeProxyVersion="v1.34.6-eksbuild.2", eksClusterAutoscalerVersion="v1.34.3")
    assert f"{P}:eksKubeProxyVersion: is built for Kubernetes 1.34, not 1.35" in message
    assert f"{P}:eksClusterAutoscalerVersion: is built for Kubernetes 1.34, not 1.35" in message
    assert f"{P}:eksCorednsVersion: must look like v1.22.3-eksbuild.1" in problems("prod", eksCorednsVersion="latest")


def test_node_group_sizes_must_be_ordered_and_cover_every_prod_zone() -> None:
    assert f"{P}:eksAppDesiredSize: must lie between the minimum (3) and the maximum (12)" in problems(
        "prod", eksAppDesiredSize="20"
    )
    message = problems("prod", eksSystemMinSize="2", eksSystemDesiredSize="2")
    assert f"{P}:eksSystemMinSize: prod keeps a node in each of the 3 zones; use 3+" in message


def test_the_application_pool_needs_room_for_a_node_in_every_zone() -> None:
    message = problems("staging", eksAppMinSize="1", eksAppDesiredSize="1", eksAppMaxSize="2")
    assert f"{P}:eksAppMaxSize: the shop has a node group in each of the 3 zones; use 3+" in message


def test_each_role_gets_one_access_level() -> None:
    message = problems("prod", eksReadOnlyRoles='["platform-admin"]')
    assert f"{P}:eksReadOnlyRoles: platform-admin is already listed in eksAdminRoles" in message
    assert f"{P}:eksPipelineRoles: item 0: must look like platform-admin" in problems(
        "prod", eksPipelineRoles='["a b"]'
    )
    message = problems("prod", eksPipelineRoles='["platform-admin"]')
    assert f"{P}:eksAdminRoles: platform-admin is already listed in eksPipelineRoles" in message


def test_instance_types_are_checked() -> None:
    assert f"{P}:eksAppInstanceTypes: item 0: must look like m7i.large" in problems(
        "prod", eksAppInstanceTypes='["large"]'
    )
    assert f"{P}:eksSystemInstanceTypes: Tuple should have at least 1 item" in problems(
        "prod", eksSystemInstanceTypes="[]"
    )
