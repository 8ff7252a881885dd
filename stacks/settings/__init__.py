"""Typed per-stack settings: one frozen section per component, loaded and validated from Pulumi config."""

from stacks.settings.bootstrap import (
    BootstrapSettings,
    DeploySettings,
    GitHubSettings,
    RegistrySettings,
    StateBackendSettings,
)
from stacks.settings.cache import CacheSettings
from stacks.settings.cluster import ClusterSettings
from stacks.settings.cost import CostSettings
from stacks.settings.database import DatabaseSettings
from stacks.settings.edge import EdgeSettings
from stacks.settings.keys import KeySettings
from stacks.settings.loader import SettingsError, load, load_settings, parse
from stacks.settings.network import NetworkSettings
from stacks.settings.observability import ObservabilitySettings
from stacks.settings.platform import PlatformSettings
from stacks.settings.runner import RunnerSettings
from stacks.settings.secrets import SecretSettings
from stacks.settings.shop import ShopSettings
from stacks.settings.stack import StackSettings
from stacks.settings.storage import StorageSettings

__all__ = [
    "BootstrapSettings",
    "CacheSettings",
    "ClusterSettings",
    "CostSettings",
    "DatabaseSettings",
    "DeploySettings",
    "EdgeSettings",
    "GitHubSettings",
    "KeySettings",
    "NetworkSettings",
    "ObservabilitySettings",
    "PlatformSettings",
    "RegistrySettings",
    "RunnerSettings",
    "SecretSettings",
    "SettingsError",
    "ShopSettings",
    "StackSettings",
    "StateBackendSettings",
    "StorageSettings",
    "load",
    "load_settings",
    "parse",
]
