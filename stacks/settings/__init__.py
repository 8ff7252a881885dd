"""Typed per-stack settings: one frozen section per component, loaded and validated from Pulumi config."""

from stacks.settings.keys import KeySettings
from stacks.settings.loader import SettingsError, load, parse
from stacks.settings.network import NetworkSettings
from stacks.settings.platform import PlatformSettings
from stacks.settings.stack import StackSettings

__all__ = ["KeySettings", "NetworkSettings", "PlatformSettings", "SettingsError", "StackSettings", "load", "parse"]
