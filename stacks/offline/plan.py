"""The offline plan: every resource a stack would register, with options and normalised inputs.

JSON schema (``python -m stacks preview STACK --json FILE``)::

    {"project": str, "stack": str,
     "resources": [{"urn", "type", "name", "parent", "dependencies", "provider", "options", "inputs",
                    "custom"}],
     "outputs": {name: value}}

Inputs keep the engine's camelCase names; integral numbers are ints and every secret is ``"[secret]"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.asset import Archive, Asset

SECRET = "[secret]"  # noqa: S105 - the mask, not a secret
UNKNOWN = "[unknown]"

# Signatures of special values in the Pulumi wire format (pulumi.runtime.rpc).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a type marker, not a secret
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def secret(value: Any) -> dict[str, Any]:
    """``value`` wrapped as a secret in the wire format."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def normalise(value: Any) -> Any:
    """Wire-format values -> plain JSON: integral floats to int, secrets masked, resource refs to URNs."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return UNKNOWN if value == _UNKNOWN_VALUE else value
    if isinstance(value, list | tuple):
        return [normalise(item) for item in value]
    if isinstance(value, Mapping):
        signature = value.get(SIG_KEY)
        if signature == SECRET_SIG:
            return SECRET
        if signature == RESOURCE_SIG:
            return value.get("urn")
        if signature == _OUTPUT_SIG:
            return SECRET if value.get("secret") else normalise(value.get("value", _UNKNOWN_VALUE))
        if signature in (_ASSET_SIG, _ARCHIVE_SIG):
            return {key: normalise(item) for key, item in value.items() if key != SIG_KEY}
        return {key: normalise(value[key]) for key in sorted(value)}
    if isinstance(value, Asset | Archive):  # deserialised, e.g. in outputs the fake cloud echoes from the inputs
        return normalise(vars(value))
    return value


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    dependencies: list[str]
    provider: str | None
    options: dict[str, Any]
    inputs: dict[str, Any]
    custom: bool
    #: The fake cloud's id and outputs (normalised). In memory only: they are not part of the JSON plan.
    id: str = field(default="", compare=False)
    outputs: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_component(self) -> bool:
        return not self.custom and not self.type.startswith("pulumi:providers:")

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "dependencies": self.dependencies,
            "provider": self.provider,
            "options": self.options,
            "inputs": self.inputs,
            "custom": self.custom,
        }


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    #: Secret values the fake cloud generated; in memory only, for leak checks.
    secret_values: frozenset[str] = field(default=frozenset(), compare=False)
    #: Warnings the program logged (e.g. deprecations), in order.
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [resource.to_json() for resource in self.resources],
            "outputs": self.outputs,
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.type == type_]

    def one(self, type_: str, name: str | None = None) -> PlannedResource:
        """The single resource of ``type_`` (named ``name``); an AssertionError names what was found instead."""
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise AssertionError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> PlannedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def children(self, parent: PlannedResource) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.parent == parent.urn]

    def descendants(self, ancestor: PlannedResource) -> Iterator[PlannedResource]:
        for child in self.children(ancestor):
            yield child
            yield from self.descendants(child)

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.type] = counts.get(resource.type, 0) + 1
        return dict(sorted(counts.items()))
