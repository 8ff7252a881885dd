"""All settings of one stack, one section per component, and the checks that span sections."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stacks.settings.base import PROD_MIN_LOG_RETENTION_DAYS, Environment, log_retention_fields, overlapping_pairs
from stacks.settings.cache import CacheSettings
from stacks.settings.cluster import ClusterSettings
from stacks.settings.cost import CostSettings
from stacks.settings.database import DatabaseSettings
from stacks.settings.edge import EdgeSettings
from stacks.settings.keys import KeySettings
from stacks.settings.network import NetworkSettings, kubernetes_service_cidr
from stacks.settings.observability import ObservabilitySettings
from stacks.settings.runner import RunnerSettings
from stacks.settings.secrets import SecretSettings
from stacks.settings.shop import ShopSettings
from stacks.settings.stack import StackSettings
from stacks.settings.storage import StorageSettings


@dataclass(frozen=True)
class PlatformSettings:
    """Typed, validated settings of a stack; the only thing components are configured from."""

    stack: StackSettings
    keys: KeySettings
    network: NetworkSettings
    secrets: SecretSettings
    database: DatabaseSettings
    cache: CacheSettings
    storage: StorageSettings
    cluster: ClusterSettings
    edge: EdgeSettings
    observability: ObservabilitySettings
    shop: ShopSettings
    runner: RunnerSettings
    cost: CostSettings

    @property
    def is_prod(self) -> bool:
        return self.stack.environment == "prod"

    @staticmethod
    def problems(sections: Mapping[str, Any], environment: Environment) -> Iterator[SectionProblem]:
        """Problems that involve more than one section, among the ``sections`` that are valid (by name): a check
        runs once every section it reads is valid, so a problem elsewhere hides none of them."""
        for check, names in CROSS_SECTION_CHECKS:
            if all(name in sections for name in names):
                yield from check(*(sections[name] for name in names), environment=environment)
        yield from _a_year_of_logs_in_prod(sections, environment=environment)


#: (section, field, message): a problem with a setting, found by a check that reads several sections.
SectionProblem = tuple[str, str, str]


def _node_groups_cover_the_zones(
    network: NetworkSettings, cluster: ClusterSettings, *, environment: Environment
) -> Iterator[SectionProblem]:
    zones = network.az_count
    if cluster.app_max_size < zones:
        yield "cluster", "app_max_size", f"the shop has a node group in each of the {zones} zones; use {zones}+"
    if environment == "prod":
        for group in cluster.node_groups():
            if group.min_size < zones:
                yield (
                    "cluster",
                    f"{group.name}_min_size",
                    f"prod keeps a node in each of the {zones} zones; use {zones}+",
                )


def _storage_alarm_below_the_allocation(
    observability: ObservabilitySettings, database: DatabaseSettings, *, environment: Environment
) -> Iterator[SectionProblem]:
    if observability.db_free_storage_gib >= database.allocated_storage_gb:
        yield (
            "observability",
            "db_free_storage_gib",
            f"must be below the database's allocated storage ({database.allocated_storage_gb} GB)",
        )


def _address_plan(
    network: NetworkSettings, cluster: ClusterSettings, edge: EdgeSettings, *, environment: Environment
) -> Iterator[SectionProblem]:
    """Allowlists without repeats or overlaps (one of two overlapping entries is dead weight, or a typo), a public
    endpoint allowlist outside the VPC (the public endpoint never sees its addresses), and networks connected to the
    VPC outside the cluster's Service range (pods could not reach them: kube-proxy takes those addresses)."""
    allowlists = (
        ("cluster", "public_access_cidrs", cluster.public_access_cidrs),
        ("cluster", "private_access_cidrs", cluster.private_access_cidrs),
        ("edge", "admin_allowed_cidrs", edge.admin_allowed_cidrs),
    )
    for section, field, cidrs in allowlists:
        for first, second in overlapping_pairs(cidrs):
            kind = "repeats" if first == second else "overlaps"
            yield section, field, f"{second} {kind} {first}; list each network once"
    for cidr in cluster.public_access_cidrs:
        if cidr.overlaps(network.cidr):
            yield "cluster", "public_access_cidrs", f"{cidr} is inside the VPC {network.cidr}, which the public "
            "endpoint never sees; the VPC reaches the private endpoint"
    service_range = kubernetes_service_cidr(network.cidr)
    for cidr in cluster.private_access_cidrs:
        if cidr.overlaps(service_range):
            yield "cluster", "private_access_cidrs", f"{cidr} overlaps the cluster's Service range {service_range}"
            ": pods could not reach that network"


def _a_year_of_logs_in_prod(sections: Mapping[str, Any], *, environment: Environment) -> Iterator[SectionProblem]:
    """Every log group's retention in every valid section, new ones included without a check of their own."""
    if environment != "prod":
        return
    for name, section in sections.items():
        for field in log_retention_fields(type(section)):
            if getattr(section, field) < PROD_MIN_LOG_RETENTION_DAYS:
                yield (
                    name,
                    field,
                    f"prod keeps every log group at least {PROD_MIN_LOG_RETENTION_DAYS} days (PCI DSS 10.5.1: a year "
                    "of audit history); shorter is a staging saving",
                )


#: Checks that span sections, with the sections each reads, in order.
CROSS_SECTION_CHECKS: tuple[tuple[Callable[..., Iterator[SectionProblem]], tuple[str, ...]], ...] = (
    (_node_groups_cover_the_zones, ("network", "cluster")),
    (_storage_alarm_below_the_allocation, ("observability", "database")),
    (_address_plan, ("network", "cluster", "edge")),
)
