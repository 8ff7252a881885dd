"""Everything about stacks: typed settings loaded from Pulumi config, and the offline preview engine."""

from stacks.settings import PlatformSettings, SettingsError, load

__all__ = ["PlatformSettings", "SettingsError", "load"]
