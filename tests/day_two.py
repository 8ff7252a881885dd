"""Day-two scenarios: what `pulumi up` would do to go from one offline plan to another.

A resource is created or deleted when its URN appears or disappears, and otherwise updated or replaced depending on
which inputs changed. An input counts as changed when its value differs, or when it holds an output of a resource
that is itself replaced (the real preview shows it unknown until the replacement exists). Which inputs force a
replacement is provider knowledge, kept as data in ``stacks/offline/replacements`` (a type without an entry fails
the scenario rather than be guessed); replacements that depend on the values (a downgrade) are not counted.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stacks.offline.plan import Plan, PlannedResource
from stacks.offline.replacements import path_segments, replace_keys

Op = Literal["create", "update", "replace", "delete"]


@dataclass(frozen=True)
class Change:
    op: Op
    type: str
    name: str
    keys: frozenset[str]
    """Top-level inputs that changed (empty for creates and deletes)."""
    before: PlannedResource | None
    after: PlannedResource | None

    @property
    def protected(self) -> bool:
        """Protected in the state the engine acts on: a protected resource cannot be replaced or deleted."""
        return bool(self.before and self.before.options.get("protect"))


def changes(before: Plan, after: Plan) -> dict[str, Change]:
    """Every resource `pulumi up` would touch going from ``before`` to ``after``, by URN (unchanged ones omitted)."""
    olds = {resource.urn: resource for resource in before.resources}
    news = {resource.urn: resource for resource in after.resources}
    found: dict[str, Change] = {}
    replaced_outputs: set[str] = set()
    for new in after.resources:  # registration order: dependencies first
        old = olds.get(new.urn)
        if old is None:
            found[new.urn] = Change("create", new.type, new.name, frozenset(), None, new)
            continue
        paths = _changed_paths(old.plain_inputs, new.plain_inputs, replaced_outputs)
        if not paths or not new.custom:
            continue
        keys = frozenset(path_segments(path)[0] for path in paths)
        op: Op = "replace" if replace_keys(new.type, paths) else "update"
        if op == "replace":
            replaced_outputs |= _identities(old)
        found[new.urn] = Change(op, new.type, new.name, keys, old, new)
    for old in before.resources:
        if old.urn not in news:
            found[old.urn] = Change("delete", old.type, old.name, frozenset(), old, None)
    return found


def of_op(found: Mapping[str, Change], op: Op) -> list[Change]:
    return [change for change in found.values() if change.op == op]


def touched(found: Mapping[str, Change], type_: str) -> list[Change]:
    return [change for change in found.values() if change.type == type_]


def _identities(resource: PlannedResource) -> set[str]:
    """What other resources take from a resource and lose when it is replaced: its id, ARNs, ids and results, except
    those it only echoes from its inputs (a secret version's ``arn`` is its secret's)."""
    outputs = resource.plain_outputs
    keys = [key for key in outputs if key in ("arn", "result") or key.endswith(("Arn", "Id"))]
    values = {resource.id, *(outputs[key] for key in keys)} - set(_strings(resource.plain_inputs))
    return {value for value in values if isinstance(value, str) and len(value) >= 8}


def _changed_paths(old: Any, new: Any, replaced_outputs: set[str], path: str = "") -> list[str]:
    """The input paths (``a.b[0].c``) whose values differ or hold an output of a replaced resource; a list that
    changes length, or a value that changes kind, is one change at its own path."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return [
            changed
            for key in sorted(old.keys() | new.keys())
            if key != "__defaults"
            for changed in _changed_paths(old.get(key), new.get(key), replaced_outputs, _join(path, key))
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            changed
            for index, (was, now) in enumerate(zip(old, new, strict=True))
            for changed in _changed_paths(was, now, replaced_outputs, f"{path}[{index}]")
        ]
    if old != new or any(text in replaced_outputs for text in _strings(new)):
        return [path]
    return []


def _join(path: str, key: str) -> str:
    """``path.key``, or ``path["key"]`` for a key that is not a plain name (``tags["kubernetes.io/role"]``)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f'{path}["{key}"]'
    return f"{path}.{key}" if path else key


def _strings(value: Any) -> Iterator[str]:
    """Every string in a (nested) value, including the strings inside JSON documents."""
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            with contextlib.suppress(ValueError):
                yield from _strings(json.loads(value))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
