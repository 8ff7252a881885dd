"""All settings of one stack, one section per component, and the checks that span sections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import get_type_hints

from stacks.settings.cache import CacheSettings
from stacks.settings.cluster import ClusterSettings
from stacks.settings.database import DatabaseSettings
from stacks.settings.edge import EdgeSettings
from stacks.settings.keys import KeySettings
from stacks.settings.network import NetworkSettings
from stacks.settings.observability import ObservabilitySettings
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

    @property
    def is_prod(self) -> bool:
        return self.stack.environment == "prod"

    def problems(self) -> Iterator[tuple[str, str, str]]:
        """Problems that involve more than one section, as (section, field, message)."""
        zones = self.network.az_count
        if self.cluster.app_max_size < zones:
            yield "cluster", "app_max_size", f"the shop has a node group in each of the {zones} zones; use {zones}+"
        if self.is_prod:
            for pool in ("system", "app"):
                if getattr(self.cluster, f"{pool}_min_size") < zones:
                    yield "cluster", f"{pool}_min_size", f"prod keeps a node in each of the {zones} zones; use {zones}+"
        if self.observability.db_free_storage_gib >= self.database.allocated_storage_gb:
            yield (
                "observability",
                "db_free_storage_gib",
                f"must be below the database's allocated storage ({self.database.allocated_storage_gb} GB)",
            )


#: Section name -> settings class, in declaration order.
SECTIONS: dict[str, type] = get_type_hints(PlatformSettings)
