"""Which input changes force a resource to be replaced: the providers' own knowledge, kept as data.

One YAML file per provider package under ``replacements/`` (``aws.yaml``, ``kubernetes.yaml``, ``eks.yaml``,
``random.yaml``; a package's provider type, ``pulumi:providers:aws``, is in its file) lists, per resource type
token, the inputs whose change makes the provider replace the resource, each entry naming the provider source it
was read from (repository, file, commit or tag). Paths are written in the plan's camelCase input names (as
``PlannedResource.inputs`` has them): ``cidrBlock``, ``vpcConfig.subnetIds`` (a block Pulumi flattens to one
object), ``ingress[*].cidrBlocks`` (every element of a list), ``accessEntries.*.principalArn`` (every key of a
map). A changed *name* counts like any other input: a physical name the provider cannot rename in place is an
entry.

The project's own component types (``shop:*``) have no entry: a component is never replaced itself, only the
resources under it, and those have their own entries. Remote components (pulumi-eks's ``eks:index:*``) do have
one: their inputs are all the plan sees of the resources they create. ``replaceOn`` there names the inputs that
replace the component's principal resource (the ``aws:eks/cluster:Cluster`` of an ``eks:index:Cluster``, which its
``holds`` describes); ``replaceChildOn`` the inputs that replace a lesser one (an access entry, a security group),
with which. A provider's ``replaceChildOn`` names the inputs that replace the resources it manages (the AWS
provider's ``region``).

An entry may also say what data a resource holds (``holds``): what a replacement or a delete would destroy.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).with_name("replacements")
#: Every key an entry may have; anything else is a typo in the data.
_ENTRY_KEYS = frozenset(
    {"type", "source", "replaceOn", "replaceOnSwitch", "mayReplaceOn", "replaceChildOn", "holds", "note"}
)
#: One segment of a path: a name, a quoted key (``["kubernetes.io/role"]``) or a list index (``[3]``, ``[*]``).
_SEGMENT = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+|\*)\]|([^.\[\]]+)')
ANY_INDEX = "[*]"
#: In an entry path, a segment that matches any key of a map (``accessEntries.*.principalArn``).
ANY_KEY = "*"


@dataclass(frozen=True)
class Replacement:
    """What forces a resource of one type to be replaced, and what data it holds."""

    type: str
    #: Where the knowledge comes from: repository, file path and commit or tag.
    source: str
    #: Input paths (camelCase, ``[*]`` for any list element) whose change replaces the resource.
    replace_on: tuple[str, ...]
    #: Groups of mutually exclusive inputs (exactly one is set) where switching from one to another replaces the
    #: resource although changing the one that is set does not: two of a group changing at once is a switch.
    replace_on_switch: tuple[tuple[str, ...], ...] = ()
    #: Input paths whose change replaces the resource only under a condition on the values (a downgrade, an old
    #: engine version), which the paths alone cannot tell: path -> the condition, in words.
    may_replace_on: Mapping[str, str] = field(default_factory=dict)
    #: Input paths whose change replaces other resources than this one: those a remote component creates besides its
    #: principal one, those a provider manages -> which, in words.
    replace_child_on: Mapping[str, str] = field(default_factory=dict)
    #: The data a resource of this type holds (destroyed by a replacement or a delete); None when it holds none.
    holds: str | None = None
    #: Why an entry is what it is, where the source alone does not say (a conditional replacement, a pulumi
    #: override).
    note: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        """Every input path the entry names."""
        return (
            *self.replace_on,
            *(path for group in self.replace_on_switch for path in group),
            *self.may_replace_on,
            *self.replace_child_on,
        )


def path_segments(path: str) -> tuple[str, ...]:
    """``'ingress[0].cidrBlocks[1]'`` -> ``('ingress', '[*]', 'cidrBlocks', '[*]')``: list indices normalised."""
    segments: list[str] = []
    position = 0
    while position < len(path):
        if path[position] == ".":
            position += 1
            continue
        match = _SEGMENT.match(path, position)
        if match is None:
            raise ValueError(f"not an input path: {path!r}")
        quoted, index, name = match.groups()
        if index is not None:
            segments.append(ANY_INDEX)
        else:
            segments.append(name if quoted is None else quoted)
        position = match.end()
    return tuple(segments)


def _load_file(path: Path) -> list[Replacement]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{path.name}: expected a list of entries")
    return [_entry(path.name, raw) for raw in entries]


def _entry(file_name: str, raw: Any) -> Replacement:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{file_name}: an entry is not a mapping: {raw!r}")
    unknown = set(raw) - _ENTRY_KEYS
    missing = {"type", "source", "replaceOn"} - set(raw)
    if unknown or missing:
        raise ValueError(
            f"{file_name}: entry {raw.get('type')!r}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
        )
    replace_on = tuple(raw["replaceOn"])
    replace_on_switch = tuple(tuple(group) for group in raw.get("replaceOnSwitch", ()))
    entry = Replacement(
        type=raw["type"],
        source=raw["source"],
        replace_on=replace_on,
        replace_on_switch=replace_on_switch,
        may_replace_on=dict(raw.get("mayReplaceOn", {})),
        replace_child_on=dict(raw.get("replaceChildOn", {})),
        holds=raw.get("holds"),
        note=raw.get("note"),
    )
    for entry_path in entry.paths:
        path_segments(entry_path)  # raises on a malformed path
    return entry


@functools.cache
def table() -> Mapping[str, Replacement]:
    """Every entry, by type token, from every data file."""
    entries: dict[str, Replacement] = {}
    for data_file in sorted(DATA_DIR.glob("*.yaml")):
        for entry in _load_file(data_file):
            if entry.type in entries:
                raise ValueError(f"{data_file.name}: {entry.type} has a second entry")
            entries[entry.type] = entry
    return entries


def _triggers(entry_path: tuple[str, ...], changed: tuple[str, ...]) -> bool:
    """A change at or below an entry replaces; so does one above it (a whole block added, removed or rewritten
    changes the entry's attribute too). ``*`` in the entry matches any map key; a changed path that ends at one
    (a map element added or removed: ``accessEntries.ci``) is a create or a delete of what the element stands
    for, not a replacement."""
    if 0 < len(changed) < len(entry_path) and entry_path[len(changed) - 1] == ANY_KEY:
        return False
    return all(mine in (ANY_KEY, theirs) for mine, theirs in zip(entry_path, changed, strict=False))


def _triggered(entry_paths: Iterable[str], changed_paths: Iterable[str]) -> list[str]:
    """The entry paths that one of the changed paths triggers, in the entry's order."""
    changed = [path_segments(path) for path in changed_paths]
    return [path for path in entry_paths if any(_triggers(path_segments(path), other) for other in changed)]


def replace_keys(type_: str, changed_paths: Iterable[str]) -> list[str]:
    """The entries of the table for type_ that the changed input paths trigger (a path like
    'ingress[0].cidrBlocks[1]' or 'tags.Name' in the plan's camelCase input names, as PlannedResource.inputs has
    them; list indices are normalised; a change at or below an entry forces a replacement). Empty when nothing
    forces a replacement. Raises KeyError for a type with no entry."""
    entry = table()[type_]
    changed = list(changed_paths)
    keys = _triggered(entry.replace_on, changed)
    for group in entry.replace_on_switch:
        switched = _triggered(group, changed)
        keys += [path for path in switched if len(switched) > 1 and path not in keys]
    return keys


def conditional_replace_keys(type_: str, changed_paths: Iterable[str]) -> dict[str, str]:
    """The entries the changed input paths trigger that replace the resource only under a condition on the values
    (e.g. ``{'engineVersion': 'a downgrade'}``): the caller may compare old and new values, or show the
    condition. Raises KeyError for a type with no entry."""
    entry = table()[type_]
    return {path: entry.may_replace_on[path] for path in _triggered(entry.may_replace_on, changed_paths)}


def child_replace_keys(type_: str, changed_paths: Iterable[str]) -> dict[str, str]:
    """The entries the changed input paths trigger that replace other resources than this one: one a remote
    component creates besides its principal resource, or those a provider manages, each with which in words (e.g.
    ``{'accessEntries.*.principalArn': 'the access entry ...'}``). Raises KeyError for a type with no entry."""
    entry = table()[type_]
    return {path: entry.replace_child_on[path] for path in _triggered(entry.replace_child_on, changed_paths)}


def stateful_data(type_: str) -> str | None:
    """What data a resource of this type holds (e.g. 'the PostgreSQL database and its automated backups'), None
    when it holds none (databases, caches, buckets, KMS keys, log groups, the EKS cluster, secrets and secret
    versions, hosted zones, DynamoDB tables, EBS-backed PVCs ...). None too for a type with no entry (the
    project's components): the coverage test, not this function, catches a resource type that lacks one."""
    entry = table().get(type_)
    return None if entry is None else entry.holds


def known_types() -> frozenset[str]:
    return frozenset(table())
