"""The `config:` block of Pulumi.yaml, generated from the settings sections so declarations never drift.

``python -m stacks config-schema`` prints it; a test fails when Pulumi.yaml differs.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic_core import PydanticUndefined

from stacks.settings.loader import sections_of
from stacks.settings.platform import PlatformSettings

_SCALARS = {bool: "boolean", int: "integer", str: "string", IPv4Network: "string"}


def _type_of(annotation: Any) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """(Pulumi config type declaration, allowed literal values); pydantic strips Annotated only at the top level."""
    origin = get_origin(annotation)
    if origin is Annotated:  # an item type such as AllowedCidr in tuple[AllowedCidr, ...]
        return _type_of(get_args(annotation)[0])
    if origin is Literal:
        return {"type": "string"}, get_args(annotation)
    if origin in (tuple, list):
        item, _ = _type_of(get_args(annotation)[0])
        return {"type": "array", "items": item}, ()
    return {"type": _SCALARS[annotation]}, ()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def declarations(root: type = PlatformSettings) -> dict[str, dict[str, Any]]:
    """Project config key -> {type, description, default}: every setting of ``root`` in the project namespace."""
    declared: dict[str, dict[str, Any]] = {}
    for cls in sections_of(root).values():
        external = getattr(cls, "EXTERNAL_KEYS", {})
        for field_name, info in cls.__pydantic_fields__.items():  # type: ignore[attr-defined]
            if field_name in external:
                continue
            declaration, choices = _type_of(info.annotation)
            description = info.description or ""
            if choices:
                description += " One of: " + ", ".join(map(str, choices)) + "."
            declaration = {**declaration, "description": description}
            if info.default is not PydanticUndefined:
                declaration["default"] = _plain(info.default)
            declared[info.alias] = declaration
    return declared
