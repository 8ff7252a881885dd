"""Reading stack configuration into typed settings, reporting every problem at once."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, Protocol, TypeVar, get_origin, get_type_hints

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env
from pydantic import TypeAdapter, ValidationError

from stacks.settings.platform import PlatformSettings

_SEQUENCE_TYPES = (tuple, list, frozenset, set)


class SettingsRoot(Protocol):
    """All settings of a project's stack: a dataclass whose fields are its sections (e.g. PlatformSettings)."""

    def problems(self) -> Iterator[tuple[str, str, str]]:
        """Problems that involve more than one section, as (section, field, message)."""
        ...


Root = TypeVar("Root", bound=SettingsRoot)


class SettingsError(pulumi.RunError):
    """The stack's configuration is invalid. The message names the stack file and every offending key.

    A ``RunError`` so that the Pulumi CLI prints the message without a traceback.
    """


@dataclass(frozen=True)
class ConfigKey:
    """Where one setting comes from."""

    section: str
    field: str
    key: str  # the full config key, e.g. shop-platform:vpcCidr or aws:region
    is_sequence: bool


def sections_of(root: type) -> dict[str, type]:
    """Section name -> settings class of a settings root (a dataclass), in declaration order."""
    hints = get_type_hints(root)
    return {field.name: hints[field.name] for field in fields(root)}


@cache
def config_keys(project: str, root: type = PlatformSettings) -> dict[str, ConfigKey]:
    """Every config key the project understands, by full key."""
    keys: dict[str, ConfigKey] = {}
    for section_name, cls in sections_of(root).items():
        external: Mapping[str, str] = getattr(cls, "EXTERNAL_KEYS", {})
        for field_name, info in cls.__pydantic_fields__.items():  # type: ignore[attr-defined]
            full_key = external.get(field_name) or f"{project}:{info.alias}"
            if full_key in keys:
                raise AssertionError(f"config key {full_key} is claimed by two settings")
            is_sequence = get_origin(info.annotation) in _SEQUENCE_TYPES
            keys[full_key] = ConfigKey(section_name, field_name, full_key, is_sequence)
    return keys


def current_config() -> dict[str, str]:
    """All config values of the running program, as the engine hands them over (strings)."""
    return {**get_config_env(), **CONFIG.get()}


def load() -> PlatformSettings:
    """Settings of the running stack, from its Pulumi config."""
    return load_settings(PlatformSettings)


def load_settings(root: type[Root]) -> Root:
    """Settings of the running stack of a project whose settings root is ``root``."""
    return parse_settings(root, current_config(), project=pulumi.get_project(), stack=pulumi.get_stack())


def parse(values: Mapping[str, Any], *, project: str, stack: str) -> PlatformSettings:
    """Validate config values (full key -> value) into settings, or raise one SettingsError listing all problems."""
    return parse_settings(PlatformSettings, values, project=project, stack=stack)


def parse_settings(root: type[Root], values: Mapping[str, Any], *, project: str, stack: str) -> Root:
    """``parse`` for any settings root. A root without a ``stack`` section (which names the environment)
    declares the environment its sections are checked for as ``ENVIRONMENT``."""
    sections_by_name = sections_of(root)
    keys = config_keys(project, root)
    problems: list[tuple[str, str]] = list(_unknown_keys(values, keys, project))

    by_section: dict[str, dict[str, Any]] = {name: {} for name in sections_by_name}
    for full_key, value in values.items():
        if full_key in keys:
            config_key = keys[full_key]
            by_section[config_key.section][config_key.field] = _decode(value, config_key)

    key_of = {(k.section, k.field): k.key for k in keys.values()}
    sections: dict[str, Any] = {}
    for name, cls in sections_by_name.items():
        try:
            sections[name] = _adapter(cls).validate_python(by_section[name])
        except ValidationError as error:
            problems.extend(_describe(error, cls, name, key_of))

    environment = sections["stack"].environment if "stack" in sections else getattr(root, "ENVIRONMENT", None)
    if environment is not None:
        for name, settings in sections.items():
            problems.extend((key_of[(name, field)], message) for field, message in settings.problems(environment))
    if len(sections) == len(sections_by_name):
        settings_root = root(**sections)
        problems.extend((key_of[(section, field)], message) for section, field, message in settings_root.problems())
        if not problems:
            return settings_root
    raise SettingsError(format_problems(problems, stack))


def format_problems(problems: list[tuple[str, str]], stack: str) -> str:
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"Pulumi.{stack}.yaml: {len(problems)} configuration {noun}:"]
    lines += [f"  {key}: {message}" for key, message in sorted(problems)]
    return "\n".join(lines)


def _unknown_keys(values: Mapping[str, Any], keys: Mapping[str, ConfigKey], project: str) -> Iterator[tuple[str, str]]:
    known = [k for k in keys if k.startswith(f"{project}:")]
    for full_key in values:
        if full_key.startswith(f"{project}:") and full_key not in keys:
            close = difflib.get_close_matches(full_key, known, n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else ""
            yield full_key, f"unknown setting{hint}"


def _decode(value: Any, key: ConfigKey) -> Any:
    # The engine hands structured values over as JSON text.
    if key.is_sequence and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # validation then reports it as "not a list"
    return value


@cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def _describe(
    error: ValidationError, cls: type, section: str, key_of: Mapping[tuple[str, str], str]
) -> Iterator[tuple[str, str]]:
    fields_by_alias = {info.alias: name for name, info in cls.__pydantic_fields__.items()}  # type: ignore[attr-defined]
    for detail in error.errors():
        location = detail["loc"]
        field = fields_by_alias.get(str(location[0]), str(location[0])) if location else ""
        key = key_of.get((section, field), f"{section}.{field}")
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "missing":
            message = "is required"
        elif len(location) > 1:
            message = f"item {location[1]}: {message}"
        if detail["type"] != "missing":
            message += f" (got {detail['input']!r})"
        yield key, message
