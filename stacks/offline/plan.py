"""The offline plan: every resource a stack would register, with options and normalised inputs.

JSON schema (``python -m stacks preview STACK --json FILE``)::

    {"project": str, "stack": str, "region": str | null,
     "resources": [{"urn", "type", "name", "parent", "dependencies", "provider", "options", "inputs",
                    "custom"}],
     "outputs": {name: value}}

``region`` is the stack's ``aws:region``, the default AWS provider's (null in plans of revisions that did not record
it). Inputs keep the engine's camelCase names; integral numbers are ints and every secret is ``"[secret]"``. The
unmasked values (what the real engine shows policies) are kept in memory only, never written or printed.
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


#: The type of the stack's own resource: a child of it has no parent type in its URN.
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def urn_parts(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name) of ``urn:pulumi:STACK::PROJECT::QUALIFIED-TYPE::NAME``; the qualified
    type is the parents' types and the resource's, joined by ``$``."""
    stack, project, qualified, name = urn.removeprefix("urn:pulumi:").split("::", 3)
    return stack, project, qualified, name


def make_urn(stack: str, project: str, type_: str, name: str, parent: str | None = None) -> str:
    """The engine's URN of a resource: its parent's qualified type (unless the parent is the stack) before its own."""
    if parent and (parent_type := urn_parts(parent)[2]) != ROOT_STACK_TYPE:
        type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def secret(value: Any) -> dict[str, Any]:
    """``value`` wrapped as a secret in the wire format."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def normalise(value: Any, *, reveal: bool = False) -> Any:
    """Wire-format values -> plain JSON: integral floats to int, secrets masked (or with ``reveal``, unwrapped),
    resource refs to URNs."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return UNKNOWN if value == _UNKNOWN_VALUE else value
    if isinstance(value, list | tuple):
        return [normalise(item, reveal=reveal) for item in value]
    if isinstance(value, Mapping):
        signature = value.get(SIG_KEY)
        if signature in (SECRET_SIG, _OUTPUT_SIG) and _is_secret_wrapper(value) and not reveal:
            return SECRET
        if signature == SECRET_SIG:
            return normalise(value.get("value"), reveal=reveal)
        if signature == RESOURCE_SIG:
            return value.get("urn")
        if signature == _OUTPUT_SIG:
            return normalise(value.get("value", _UNKNOWN_VALUE), reveal=reveal)
        if signature in (_ASSET_SIG, _ARCHIVE_SIG):
            return {key: normalise(item, reveal=reveal) for key, item in value.items() if key != SIG_KEY}
        return {key: normalise(value[key], reveal=reveal) for key in sorted(value)}
    if isinstance(value, Asset | Archive):  # deserialised, e.g. in outputs the fake cloud echoes from the inputs
        return normalise(vars(value), reveal=reveal)
    return value


def _is_secret_wrapper(value: Mapping[str, Any]) -> bool:
    return value.get(SIG_KEY) == SECRET_SIG or (value.get(SIG_KEY) == _OUTPUT_SIG and bool(value.get("secret")))


def secret_strings(value: Any, *, inside_secret: bool = False) -> Iterator[str]:
    """Every string a wire-format value holds inside a secret (``Output.secret``, a secret output or config)."""
    if isinstance(value, str):
        if inside_secret and value != _UNKNOWN_VALUE:
            yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_strings(item, inside_secret=inside_secret)
    elif isinstance(value, Mapping):
        signature = value.get(SIG_KEY)
        if signature in (SECRET_SIG, _OUTPUT_SIG):
            yield from secret_strings(value.get("value"), inside_secret=inside_secret or _is_secret_wrapper(value))
        elif signature != RESOURCE_SIG:  # a reference is a URN and an id, never secret text
            for key, item in value.items():
                if key != SIG_KEY:
                    yield from secret_strings(item, inside_secret=inside_secret)


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
    #: Which resources each input property depends on (the engine's ``propertyDependencies``), for policies.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict, compare=False)
    #: The fake cloud's id and outputs (normalised). In memory only: they are not part of the JSON plan.
    id: str = field(default="", compare=False)
    outputs: dict[str, Any] = field(default_factory=dict, compare=False)
    #: Inputs and outputs with secrets unmasked, as the engine shows them to policies; None when nothing in them
    #: is secret (then they equal ``inputs``/``outputs``). In memory only: never written, printed or compared.
    revealed_inputs: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    revealed_outputs: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def plain_inputs(self) -> dict[str, Any]:
        """The inputs with secret values in plain (for policies only)."""
        return self.inputs if self.revealed_inputs is None else self.revealed_inputs

    @property
    def plain_outputs(self) -> dict[str, Any]:
        """The outputs with secret values in plain (for policies only)."""
        return self.outputs if self.revealed_outputs is None else self.revealed_outputs

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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlannedResource:
        """A resource of a JSON plan (no fake outputs, secrets masked: the JSON keeps no more)."""
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["name"],
            parent=data.get("parent"),
            dependencies=list(data.get("dependencies") or []),
            provider=data.get("provider"),
            options=dict(data.get("options") or {}),
            inputs=dict(data.get("inputs") or {}),
            custom=bool(data.get("custom", True)),
        )


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    #: Every string the program or the fake cloud marked secret (generated values, ``Output.secret`` values,
    #: ``secure:`` config placeholders); in memory only, for leak checks.
    secret_values: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    #: The stack outputs with secrets unmasked (for policies); None when no output is secret. In memory only.
    revealed_outputs: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    #: Warnings the program logged (e.g. deprecations), in order.
    warnings: tuple[str, ...] = ()
    #: The stack's ``aws:region``: the region of the default AWS provider, so of every Region-aware resource that
    #: sets no ``region`` of its own and has no explicit provider. None when unknown (a plan of an older revision).
    region: str | None = None

    @property
    def plain_outputs(self) -> dict[str, Any]:
        """The stack outputs with secret values in plain (for policies only)."""
        return self.outputs if self.revealed_outputs is None else self.revealed_outputs

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "region": self.region,
            "resources": [resource.to_json() for resource in self.resources],
            "outputs": self.outputs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """The plan of a JSON document written by ``write_json`` (of this or any earlier revision)."""
        return cls(
            project=data["project"],
            stack=data["stack"],
            resources=[PlannedResource.from_json(resource) for resource in data["resources"]],
            outputs=dict(data.get("outputs") or {}),
            region=data.get("region"),
        )

    @classmethod
    def read_json(cls, path: Path) -> Plan:
        return cls.from_json(json.loads(path.read_text()))

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
