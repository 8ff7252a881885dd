"""Reading stack configuration into typed settings, reporting every problem at once."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, Protocol, TypeVar, get_args, get_origin, get_type_hints

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret
from pydantic import TypeAdapter, ValidationError

from stacks.settings.base import BASELINE_ENVIRONMENT, Environment
from stacks.settings.platform import PlatformSettings

_SEQUENCE_TYPES = (tuple, list, frozenset, set)
#: A boolean setting's values as text: the CLI hands a YAML ``true``/``false`` over as "true"/"false".
_BOOLEAN_TEXTS = ("true", "false")


class SettingsRoot(Protocol):
    """All settings of a project's stack: a dataclass whose fields are its sections (e.g. PlatformSettings)."""

    @staticmethod
    def problems(sections: Mapping[str, Any], environment: Environment) -> Iterator[tuple[str, str, str]]:
        """Problems that involve more than one of the valid ``sections``, as (section, field, message)."""
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
    is_boolean: bool


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
            keys[full_key] = ConfigKey(section_name, field_name, full_key, is_sequence, info.annotation is bool)
    return keys


def current_config() -> tuple[dict[str, str], frozenset[str]]:
    """Every config value of the running program, as the engine hands them over (strings), and its secret keys.

    ``pulumi.Config`` reads one named key at a time; reporting unknown keys needs them all, so this is the one
    place that reads the SDK's runtime config: the CLI's Python host loads the stack's config from the
    ``PULUMI_CONFIG`` environment variable (``get_config_env``) into ``CONFIG`` with the secret keys from
    ``PULUMI_CONFIG_SECRET_KEYS`` (``set_all_config``, which ``is_config_secret`` reads), and the offline engine
    calls ``set_all_config`` the same way. ``tests/test_settings.py`` guards that contract.
    """
    values = {**get_config_env(), **CONFIG.get()}
    return values, frozenset(key for key in values if is_config_secret(key))


def load() -> PlatformSettings:
    """Settings of the running stack, from its Pulumi config."""
    return load_settings(PlatformSettings)


def load_settings(root: type[Root]) -> Root:
    """Settings of the running stack of a project whose settings root is ``root``."""
    values, secret_keys = current_config()
    return parse_settings(root, values, project=pulumi.get_project(), stack=pulumi.get_stack(), secret_keys=secret_keys)


def parse(
    values: Mapping[str, Any], *, project: str, stack: str, secret_keys: Collection[str] = ()
) -> PlatformSettings:
    """Validate config values (full key -> value) into settings, or raise one SettingsError listing all problems."""
    return parse_settings(PlatformSettings, values, project=project, stack=stack, secret_keys=secret_keys)


def parse_settings(
    root: type[Root], values: Mapping[str, Any], *, project: str, stack: str, secret_keys: Collection[str] = ()
) -> Root:
    """``parse`` for any settings root. A root without a ``stack`` section (which names the environment)
    declares the environment its sections are checked for as ``ENVIRONMENT``.

    Every check runs whatever else is wrong: each section's own checks once it is valid (as prod's when the
    environment is prod, as the baseline when the environment is not known), and each cross-section check once
    the sections it reads are valid."""
    sections_by_name = sections_of(root)
    keys = config_keys(project, root)
    problems: list[tuple[str, str]] = [*_unknown_keys(values, keys, project), *_secret_settings(keys, secret_keys)]

    by_section: dict[str, dict[str, Any]] = {name: {} for name in sections_by_name}
    for full_key, value in values.items():
        if full_key in keys:
            config_key = keys[full_key]
            if config_key.is_boolean and not (isinstance(value, bool) or value in _BOOLEAN_TEXTS):
                # pydantic would read "no", "off", "0" as false: a quoted or misspelt value is a mistake.
                problems.append((full_key, f"must be true or false (got {value!r})"))
                continue
            by_section[config_key.section][config_key.field] = _decode(value, config_key)

    key_of = {(k.section, k.field): k.key for k in keys.values()}
    sections: dict[str, Any] = {}
    for name, cls in sections_by_name.items():
        try:
            sections[name] = _adapter(cls).validate_python(by_section[name])
        except ValidationError as error:
            problems.extend(_describe(error, cls, name, key_of))

    fixed: Environment | None = getattr(root, "ENVIRONMENT", None)
    environment = _Environment(fixed) if fixed else _stack_environment(by_section.get("stack", {}), stack)
    if environment.mismatch:
        problems.append((key_of[("stack", "environment")], environment.mismatch))
    checked_as = environment.value or BASELINE_ENVIRONMENT
    for name, settings in sections.items():
        problems.extend((key_of[(name, field)], message) for field, message in settings.problems(checked_as))
    for section, field, message in root.problems(sections, checked_as):
        problems.append((key_of[(section, field)], message))
    if problems:
        raise SettingsError(format_problems(problems, stack))
    return root(**sections)


@dataclass(frozen=True)
class _Environment:
    value: Environment | None
    """None when it is not known (the setting is missing or invalid, and the stack is not named after one)."""
    mismatch: str = ""
    """Why the setting contradicts the stack's name, if it does."""


def _stack_environment(stack_values: Mapping[str, Any], stack: str) -> _Environment:
    """The environment of a stack: a stack named after an environment is that one (so that a Pulumi.prod.yaml
    saying staging is reported, and checked as prod meanwhile); any other stack is what its setting says."""
    try:
        configured: Environment | None = _adapter(Environment).validate_python(stack_values.get("environment"))
    except ValidationError:
        configured = None  # the stack section reports why
    named = next((environment for environment in get_args(Environment) if environment == stack), None)
    if named and configured and configured != named:
        return _Environment(named, f"the stack named '{stack}' is the {named} environment (got {configured!r})")
    return _Environment(named or configured)


def _secret_settings(keys: Mapping[str, ConfigKey], secret_keys: Collection[str]) -> Iterator[tuple[str, str]]:
    """No setting holds a secret: a secret given for one would be used, and shown, in plain text."""
    for key in sorted(set(keys) & set(secret_keys)):
        yield (
            key,
            (
                "is set as a secret, but no setting is one (credentials are generated and kept in Secrets Manager); "
                "set it in plain text, or remove it if it is a credential"
            ),
        )


def format_problems(problems: list[tuple[str, str]], stack: str) -> str:
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"Pulumi.{stack}.yaml: {len(problems)} configuration {noun}:"]
    lines += [f"  {key}: {message}" for key, message in sorted(problems)]
    return "\n".join(lines)


#: Settings that no longer exist, and what to do instead: a stack file that still sets one is told, not guessed at.
RETIRED_SETTINGS = {
    "secretsRedisAuthRotation": "no longer a setting: the ElastiCache AUTH token rotates only with its Lambda "
    "function (`aws secretsmanager rotate-secret`, docs/operations.md#rotation-with-lambda); remove the key",
    "secretsOriginVerifyRotation": "no longer a setting: the origin header rotates only with its Lambda function "
    "(`aws secretsmanager rotate-secret`, docs/operations.md#rotation-with-lambda); remove the key",
}


def _unknown_keys(values: Mapping[str, Any], keys: Mapping[str, ConfigKey], project: str) -> Iterator[tuple[str, str]]:
    known = [k for k in keys if k.startswith(f"{project}:")]
    for full_key in values:
        if full_key.startswith(f"{project}:") and full_key.split(":", 1)[1] in RETIRED_SETTINGS:
            yield full_key, RETIRED_SETTINGS[full_key.split(":", 1)[1]]
        elif full_key.startswith(f"{project}:") and full_key not in keys:
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
