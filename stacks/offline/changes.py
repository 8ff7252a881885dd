"""What a change does to a stack: the difference between the plan of a base revision and the working tree's, as the
Pulumi engine would carry it out.

Resources are matched by URN. Each one in both plans is compared input by input (JSON held in strings -- IAM, bucket
and key policies, dashboard bodies -- is parsed and compared structurally) and by the options that change what the
engine does (``protect``, ``retainOnDelete``, ...). A changed input that the provider cannot update in place
(``stacks.offline.replacements``), or one listed in the resource's ``replaceOnChanges``, makes it a replacement.
Inputs are compared as the provider sees them: a Region-aware AWS resource without a ``region`` of its own is in its
provider's region (an explicit provider's ``region``, else the stack's ``aws:region``).

A resource that moves to another provider is replaced only where the engine replaces it (pulumi/pulumi
``pkg/resource/deploy/step_generator.go``, ``providerChanged``): when the provider's package changes, or when the
new provider's ``DiffConfig`` over the old and new provider configuration reports a replacement (the provider's
entry in the replacement table). Otherwise the resource is diffed as usual, and the move is an update that shows
``provider: old → new``.

Like ``pulumi preview``, the outputs the provider computes for a resource being created or replaced (its id, ARN,
generated name) are unknown until it exists, so every resource that consumes one sees that input change to
``[unknown]`` -- and is replaced in turn when that input forces it (a new VPC replaces its security groups).

Replacing or deleting a resource that holds data, or one marked ``protect``, goes into the warning block.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from stacks.offline.engine import load_config
from stacks.offline.fakes import FakeCloud
from stacks.offline.plan import SECRET, UNKNOWN, Plan, PlannedResource, make_urn, normalise, urn_parts
from stacks.offline.replacements import (
    child_replace_keys,
    conditional_replace_keys,
    known_types,
    path_segments,
    replace_keys,
    stateful_data,
    table,
)

if TYPE_CHECKING:  # the policy pack loads only when a policy check runs (policy_delta)
    from stacks.offline.policy_run import Violation

Op = Literal["create", "update", "replace", "delete"]
OPS: tuple[Op, ...] = ("create", "update", "replace", "delete")
#: Pulumi's markers, as ``pulumi preview`` prints them.
MARKERS: dict[str, str] = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
#: The options that change what the engine does with a resource, with the value a plan omits them by.
OPTION_DEFAULTS: dict[str, Any] = {
    "protect": False,
    "retainOnDelete": False,
    "deleteBeforeReplace": False,
    "ignoreChanges": [],
    "replaceOnChanges": [],
    "additionalSecretOutputs": [],
}
#: Shorter strings are never taken for a computed output inside another resource's inputs (ids and ARNs are longer).
_MIN_COMPUTED_LENGTH = 8
#: The path of a provider change among a resource's differences (the provider is a resource option).
PROVIDER = "provider"
#: Outputs that are a resource's identity, new for every new resource (with any ``*Arn`` and ``*Id``).
_IDENTITY_KEYS = frozenset({"arn", "id", "result"})


class _Absent:
    """A value that is not there (an input added or removed); ``null`` in JSON."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Difference:
    """One changed value of a resource."""

    #: Where it is: an input path (``ingress[0].cidrBlocks``), ``options.<name>``, or a path into the JSON document
    #: an input holds (``policy.Statement[1].Action``).
    path: str
    old: Any
    new: Any
    #: The input (or option) the value is in: ``path`` itself, or the string input holding the JSON document.
    input: str
    #: The resource being created or replaced whose computed output this value is (then ``new`` is ``[unknown]``).
    via: str | None = None

    @property
    def option(self) -> bool:
        """A resource option (``options.protect``, the provider), not an input the provider diffs."""
        return self.input.startswith("options.") or self.input == PROVIDER

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "old": _json_value(self.old), "new": _json_value(self.new)}
        if self.input != self.path:
            data["input"] = self.input
        if self.via:
            data["knownAfter"] = self.via
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Difference:
        # An added or removed value is null on its missing side (an input is never null in a plan).
        old, new = (ABSENT if data[key] is None else data[key] for key in ("old", "new"))
        return cls(data["path"], old, new, data.get("input", data["path"]), data.get("knownAfter"))


@dataclass(frozen=True)
class Change:
    """What the engine would do with one resource."""

    urn: str
    type: str
    name: str
    op: Op
    #: What data it holds (None when it holds none).
    holds: str | None
    protected: bool
    retained: bool
    #: The inputs (or ``provider``, or ``replaceOnChanges`` entries) that force the replacement; empty unless replace.
    replace_keys: tuple[str, ...]
    diffs: tuple[Difference, ...]
    #: Inputs of an update that replace the resource only under a condition on the values: path -> the condition.
    may_replace: Mapping[str, str] = field(default_factory=dict)
    #: Changed inputs that replace other resources than this one (those a remote component or a provider manages):
    #: path -> which, in words.
    replaces_others: Mapping[str, str] = field(default_factory=dict)
    #: The replaced resources whose new outputs this resource's inputs take (it moves with them).
    moved_by: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        return MARKERS[self.op]

    @property
    def short_type(self) -> str:
        return short_type(self.type)

    @property
    def destroys(self) -> bool:
        """A replacement or delete of a resource that holds data or is protected."""
        return self.op in ("replace", "delete") and (self.holds is not None or self.protected)

    @property
    def warned(self) -> bool:
        """The warning block's subject: a resource that holds data or is protected, replaced or deleted, or updated
        onto resources being replaced under it (a database moving to new subnets), or replacing what it manages."""
        precious = self.holds is not None or self.protected
        return self.destroys or (precious and self.op == "update" and bool(self.moved_by or self.replaces_others))

    @property
    def causes(self) -> list[str]:
        """The resources being created or replaced whose new outputs force this replacement."""
        forcing = {key for key in self.replace_keys}
        found = {
            diff.via
            for diff in self.diffs
            if diff.via and any(_at_or_below(diff.input, key) or _at_or_below(key, diff.input) for key in forcing)
        }
        return sorted(name for name in found if name)

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "op": self.op,
            "stateful": self.holds is not None,
            "protected": self.protected,
            "replaceKeys": list(self.replace_keys),
            "diffs": [diff.to_json() for diff in self.diffs],
            "holds": self.holds,
            "retainOnDelete": self.retained,
            "mayReplace": dict(self.may_replace),
            "replacesOthers": dict(self.replaces_others),
            "movedBy": list(self.moved_by),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["name"],
            op=data["op"],
            holds=data.get("holds"),
            protected=bool(data["protected"]),
            retained=bool(data.get("retainOnDelete")),
            replace_keys=tuple(data["replaceKeys"]),
            diffs=tuple(Difference.from_json(diff) for diff in data["diffs"]),
            may_replace=dict(data.get("mayReplace") or {}),
            replaces_others=dict(data.get("replacesOthers") or {}),
            moved_by=tuple(data.get("movedBy") or ()),
        )


@dataclass(frozen=True)
class ChangeSet:
    """The change to one stack, resources in tree order."""

    stack: str
    #: The base revision (a full commit sha), or what the base plan is.
    against: str
    changes: list[Change]
    same: int
    #: Resource types of the change that the replacement table has no entry for (treated as updated in place).
    unknown_types: tuple[str, ...] = ()
    #: (old URN, new URN) of each resource the new program took over by an alias: the same resource, renamed.
    renamed: tuple[tuple[str, str], ...] = ()

    def counts(self) -> dict[str, int]:
        counts = {op: sum(change.op == op for change in self.changes) for op in OPS}
        return {**counts, "same": self.same}

    @property
    def warnings(self) -> list[Change]:
        return [change for change in self.changes if change.warned]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "against": self.against,
            "summary": self.counts(),
            "changes": [change.to_json() for change in self.changes],
            "unknownTypes": list(self.unknown_types),
            "renamed": [{"from": before, "to": after} for before, after in self.renamed],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeSet:
        """The change a ``--diff-json`` document holds."""
        return cls(
            stack=data["stack"],
            against=data["against"],
            changes=[Change.from_json(change) for change in data["changes"]],
            same=data["summary"]["same"],
            unknown_types=tuple(data.get("unknownTypes") or ()),
            renamed=tuple((entry["from"], entry["to"]) for entry in data.get("renamed") or ()),
        )


# ---------------------------------------------------------------------------------------------- comparing


def compare(old: Plan, new: Plan, against: str, *, during_up: bool = False) -> ChangeSet:
    """The change from plan ``old`` (the base) to plan ``new``, as ``pulumi preview`` shows it: every output of a
    resource being created or replaced is unknown to its consumers. ``during_up``: as ``pulumi up`` carries it out,
    where the engine diffs a consumer once what it consumes exists: only the identity of a new resource (its id, ARNs
    and ids, a generated ``result``) is new, its other outputs are what the fake cloud gives ``new`` (an ACM
    certificate's validation records are its domains', whichever certificate).
    """
    base = old
    old, adopted = adopt_aliases(old, new)
    if adopted:
        new = _keep_identities(base, new, adopted)
    # A plan that does not know its stack's region (written by an older revision) is taken to be in the other's.
    if old.region is None or new.region is None:
        old = dataclasses.replace(old, region=old.region or new.region)
        new = dataclasses.replace(new, region=new.region or old.region)
    old_by_urn = {resource.urn: resource for resource in old.resources}
    new_by_urn = {resource.urn: resource for resource in new.resources}
    unknown: set[str] = set()
    diffs: dict[str, dict[str, Difference]] = {}
    provider_replaces: set[str] = set()
    for urn, resource in new_by_urn.items():
        if urn in old_by_urn:
            found = {
                diff.path: diff
                for diff in _resource_differences(_effective(old_by_urn[urn], old), _effective(resource, new))
            }
            moved = _provider_move(old_by_urn[urn], old, resource, new, unknown)
            if moved is not None:
                difference, replaces = moved
                found[difference.path] = difference
                if replaces:
                    provider_replaces.add(urn)
            if found:
                diffs[urn] = found
    ops: dict[str, Op] = {}
    forcing: dict[str, list[str]] = {}

    # The program's own components have children; a remote component (pulumi-eks's) has none offline.
    components = {resource.parent for resource in new.resources}

    def decide(urn: str) -> Op:
        resource = new_by_urn[urn]
        forcing[urn] = _replace_keys(resource, diffs[urn].values(), unknown, urn not in components)
        if urn in provider_replaces:
            forcing[urn].append(PROVIDER)
        return "replace" if forcing[urn] else "update"

    for urn in diffs:
        ops[urn] = decide(urn)
    ops.update({urn: "create" for urn in new_by_urn if urn not in old_by_urn})
    ops.update({urn: "delete" for urn in old_by_urn if urn not in new_by_urn})

    # Outputs of what is created or replaced are unknown until it exists: its consumers see those inputs change. A
    # consumer's outputs that echo such an input are unknown in turn (a certificate validation's certificateArn).
    consumers: dict[str, list[str]] = {}
    for resource in new.resources:
        for dependency in resource.dependencies:
            consumers.setdefault(dependency, []).append(resource.urn)
    #: URN -> the unknown values its inputs hold -> the resource each is an output of.
    carried: dict[str, dict[str, str]] = {}
    pending = [urn for urn, op in ops.items() if op in ("create", "replace")]
    while pending:
        source = new_by_urn[pending.pop()]
        computed = dict(carried.get(source.urn, {}))
        if ops[source.urn] in ("create", "replace"):
            computed.update(dict.fromkeys(_computed_values(source, identity_only=during_up), source.name))
        for urn in consumers.get(source.urn, []) if computed else []:
            if urn not in old_by_urn:
                continue
            unknowns = list(_unknown_differences(old_by_urn[urn], new_by_urn[urn], computed))
            if not unknowns:
                continue
            found = diffs.setdefault(urn, {})
            found.update({diff.path: diff for diff in unknowns if diff.path not in found or not found[diff.path].via})
            before, ops[urn] = ops.get(urn), decide(urn)
            held = {value: origin for value, origin in computed.items() if value not in carried.get(urn, {})}
            held = {value: held[value] for value in _held(new_by_urn[urn], set(held))}
            carried.setdefault(urn, {}).update(held)
            if (ops[urn] == "replace" and before != "replace") or held:
                pending.append(urn)

    replaced = {new_by_urn[urn].name for urn, op in ops.items() if op == "replace"}
    changes = []
    for resource in _tree_order([*new.resources, *(r for r in old.resources if r.urn not in new_by_urn)]):
        op = ops.get(resource.urn)
        if op is not None:
            found = list(diffs.get(resource.urn, {}).values())
            keys = forcing.get(resource.urn, []) if op == "replace" else []
            change = _change(resource, old_by_urn.get(resource.urn), op, keys, found)
            changed = {diff.input for diff in found if not diff.option}
            if op in ("update", "replace") and resource.type in known_types():
                change = dataclasses.replace(
                    change,
                    may_replace=conditional_replace_keys(resource.type, changed) if op == "update" else {},
                    replaces_others=child_replace_keys(resource.type, changed),
                    moved_by=tuple(sorted({diff.via for diff in found if diff.via and diff.via in replaced})),
                )
            changes.append(change)
    same = sum(1 for urn in new_by_urn if urn in old_by_urn and urn not in ops)
    renamed = tuple(sorted((before, after) for after, before in adopted.items()))
    return ChangeSet(new.stack, against, changes, same, tuple(sorted(unknown)), renamed)


def adopt_aliases(old: Plan, new: Plan) -> tuple[Plan, dict[str, str]]:
    """``old`` as the engine matches it to ``new``: a resource of ``new`` whose URN ``old`` lacks takes over the old
    resource its first matching alias names, and keeps its state (pulumi/pulumi ``pkg/resource/deploy/
    step_generator.go``: ``generateAliases``, ``collapseAliasToUrn``, ``inheritedChildAlias``). Its URN first, then
    its own aliases, each completed from the resource (name, type, parent, stack, project); a parent taken over by
    an alias carries it to its children, whose names swap the parent's new name for its old one. Returns ``old``
    with those resources, and every reference to them, under their new URNs, and new URN -> old URN. An alias that
    names a resource ``new`` also has, or one another resource took over first, is an error for the engine: it is
    not followed here, so the change shows the delete and the create."""
    old_urns, new_urns = {r.urn for r in old.resources}, {r.urn for r in new.resources}
    adopted: dict[str, str] = {}
    for resource in _parents_first(new.resources):  # a child's aliases depend on its parent's
        if resource.urn in old_urns:
            continue
        candidates = _alias_urns(resource, adopted)
        found = next((urn for urn in candidates if urn in old_urns - new_urns - set(adopted.values())), None)
        if found is not None:
            adopted[resource.urn] = found
    if not adopted:
        return old, {}
    to_new = {before: after for after, before in adopted.items()}

    def moved(urn: str) -> str:
        return to_new.get(urn, urn)

    resources = [
        dataclasses.replace(
            resource,
            urn=moved(resource.urn),
            parent=moved(resource.parent) if resource.parent else resource.parent,
            dependencies=sorted(moved(urn) for urn in resource.dependencies),
            property_dependencies={
                key: sorted(moved(urn) for urn in urns) for key, urns in resource.property_dependencies.items()
            },
            provider=moved(resource.provider) if resource.provider else resource.provider,
        )
        for resource in old.resources
    ]
    return dataclasses.replace(old, resources=resources), adopted


def _keep_identities(base: Plan, new: Plan, adopted: Mapping[str, str]) -> Plan:
    """``new`` with what the fake cloud computed for each adopted resource (its id, and its outputs that are not
    inputs: ARNs, generated names, endpoints) replaced by the base's, wherever those values appear. The engine keeps
    an adopted resource's state, so its consumers see the old values; offline, the fake cloud derives them from the
    new URN. What the program derives from them (a checksum of a config that holds an endpoint) still differs."""
    region = base.region or new.region or "us-east-1"
    before_plan, after_plan = _with_outputs(base, region), _with_outputs(new, region)
    swaps: dict[str, str] = {}
    for new_urn, old_urn in adopted.items():
        before, after = before_plan.by_urn(old_urn), after_plan.by_urn(new_urn)
        outputs = {key: value for key, value in after.outputs.items() if key not in after.inputs}
        earlier = dict(_string_leaves(before.outputs))
        computed = [(after.id, before.id), *((value, earlier.get(path)) for path, value in _string_leaves(outputs))]
        for now, then in computed:
            if (
                isinstance(now, str)
                and isinstance(then, str)
                and now != then
                and min(len(now), len(then)) >= _MIN_COMPUTED_LENGTH
            ):
                swaps[now] = then
    if not swaps:
        return new
    pattern = re.compile("|".join(re.escape(value) for value in sorted(swaps, key=len, reverse=True)))

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda match: swaps[match.group(0)], value)
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    resources = [
        dataclasses.replace(
            resource, inputs=swap(resource.inputs), outputs=swap(resource.outputs), id=swap(resource.id)
        )
        for resource in new.resources
    ]
    return dataclasses.replace(new, resources=resources)


def _string_leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) of every string inside ``value`` (a secret's ARN in a list of objects, say)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_leaves(item, _child_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_leaves(item, f"{path}[{index}]")


def _with_outputs(plan: Plan, region: str) -> Plan:
    """``plan`` with the fake cloud's ids and outputs: as evaluated, or replayed for a plan read from JSON."""
    evaluated = any(resource.id or resource.outputs for resource in plan.resources)
    return plan if evaluated else with_fake_outputs(plan, region)


def _parents_first(resources: list[PlannedResource]) -> list[PlannedResource]:
    """``resources`` ordered by their depth in the tree, as the program registers them: every parent before its
    children (a plan lists them by URN)."""
    parents = {resource.urn: resource.parent for resource in resources}

    def depth(urn: str | None) -> int:
        return 1 + depth(parents[urn]) if urn in parents else 0

    return sorted(resources, key=lambda resource: depth(resource.parent))


def _alias_urns(resource: PlannedResource, adopted: Mapping[str, str]) -> list[str]:
    """The URNs ``resource`` may have had, in the engine's order: its own aliases, then those its parent's alias
    (when the parent was taken over by one) gives it."""
    stack, project, _, _ = urn_parts(resource.urn)
    own = [_collapse(alias, resource, adopted, stack, project) for alias in resource.options.get("aliases") or []]
    found = list(own)
    if resource.parent is not None and resource.parent in adopted:
        parent_alias, parent_name = adopted[resource.parent], urn_parts(resource.parent)[3]
        # The resource's own type and name, and each of its aliases' (the last of a qualified type is its own).
        names = [(resource.type, resource.name)]
        names += [(qualified.rsplit("$", 1)[-1], name) for _, _, qualified, name in map(urn_parts, own)]
        for child_type, child_name in names:
            if child_name.startswith(parent_name):  # "{parent}-details" follows the parent's old name
                child_name = urn_parts(parent_alias)[3] + child_name[len(parent_name) :]
            found.append(make_urn(stack, project, child_type, child_name, parent_alias))
    return list(dict.fromkeys(found))


def _collapse(
    alias: Mapping[str, Any], resource: PlannedResource, adopted: Mapping[str, str], stack: str, project: str
) -> str:
    """One alias as a URN, what it leaves out taken from the resource (``collapseAliasToUrn``)."""
    if alias.get("urn"):
        return str(alias["urn"])
    parent = str(alias.get("parentUrn") or "")
    parent = adopted.get(parent, parent) if parent else resource.parent
    return make_urn(
        alias.get("stack") or stack,
        alias.get("project") or project,
        alias.get("type") or resource.type,
        alias.get("name") or resource.name,
        None if alias.get("noParent") else parent,
    )


def _change(
    resource: PlannedResource, previous: PlannedResource | None, op: Op, keys: list[str], diffs: list[Difference]
) -> Change:
    current = resource if op != "delete" else previous or resource
    before = previous or resource
    if op == "create":
        protected = bool(resource.options.get("protect"))
    elif op == "update":
        protected = bool(before.options.get("protect") or resource.options.get("protect"))
    else:  # the engine refuses to replace or delete what its state marks protected
        protected = bool(before.options.get("protect"))
    return Change(
        urn=current.urn,
        type=current.type,
        name=current.name,
        op=op,
        holds=stateful_data(current.type),
        protected=protected,
        retained=bool(before.options.get("retainOnDelete")),
        replace_keys=tuple(keys),
        diffs=tuple(sorted(diffs, key=lambda diff: (diff.option, diff.path))),
    )


def _replace_keys(new: PlannedResource, diffs: Iterable[Difference], unknown: set[str], replaceable: bool) -> list[str]:
    """What forces ``new`` to be replaced, given its differences (``replaceable``: not one of the program's own
    components, which are never replaced themselves); a provider that forces it is added by the caller."""
    changed = sorted({diff.input for diff in diffs if not diff.option})
    keys: list[str] = []
    if changed and new.type in known_types():
        keys += replace_keys(new.type, changed)
    elif changed and replaceable:
        unknown.add(new.type)
    for entry in new.options.get("replaceOnChanges") or []:
        if (entry == "*" and changed) or any(
            _at_or_below(path, entry) or _at_or_below(entry, path) for path in changed
        ):
            keys.append(entry if entry != "*" else changed[0])
    return list(dict.fromkeys(keys))


# ---------------------------------------------------------------------------------------------- providers


def _package(type_: str) -> str:
    """The provider package of a resource type (``aws:rds/instance:Instance`` -> ``aws``)."""
    return type_.partition(":")[0]


def _provider_type(package: str) -> str:
    return f"pulumi:providers:{package}"


def _provider_of(resource: PlannedResource, plan: Plan) -> PlannedResource | None:
    """The explicit provider ``resource`` uses, or None for its package's default provider."""
    if not resource.provider:
        return None
    try:
        return plan.by_urn(resource.provider)
    except KeyError:  # a provider the plan does not hold: compared by reference only
        return None


def _provider_config(resource: PlannedResource, plan: Plan) -> dict[str, Any]:
    """The configuration of the provider ``resource`` uses: an explicit provider's inputs; for the default AWS
    provider, the stack's region (the rest of its configuration is the stack's ``aws:`` config, which both sides of
    a change share)."""
    provider = _provider_of(resource, plan)
    if provider is not None:
        return dict(provider.inputs)
    if _package(resource.type) == "aws" and plan.region is not None:
        return {"region": plan.region}
    return {}


def _provider_name(resource: PlannedResource) -> str:
    """``pulumi:providers:aws::edge-us-east-1`` for an explicit provider, ``pulumi:providers:aws::default`` for the
    package's default one."""
    if resource.provider:  # urn:pulumi:STACK::PROJECT::[PARENT-TYPE$]TYPE::NAME
        qualified_type, _, name = resource.provider.split("::", 2)[2].rpartition("::")
        return f"{qualified_type.rpartition('$')[2]}::{name}"
    return f"{_provider_type(_package(resource.type))}::default"


def _provider_move(
    old: PlannedResource, old_plan: Plan, new: PlannedResource, new_plan: Plan, unknown: set[str]
) -> tuple[Difference, bool] | None:
    """The difference a change of provider makes to a custom resource and whether it replaces the resource, as the
    engine's ``providerChanged`` decides: a provider of another package replaces it; otherwise the new provider's
    ``DiffConfig`` over the old and new configuration does, when it reports a replacement. None: same provider."""
    if not new.custom or (old.provider or None) == (new.provider or None):
        return None
    difference = Difference(PROVIDER, _provider_name(old), _provider_name(new), PROVIDER)
    old_provider, new_provider = _provider_of(old, old_plan), _provider_of(new, new_plan)
    packages = {
        provider.type if provider is not None else _provider_type(_package(resource.type))
        for provider, resource in ((old_provider, old), (new_provider, new))
    }
    if len(packages) > 1:
        return difference, True
    (provider_type,) = packages
    if provider_type not in known_types():
        unknown.add(provider_type)
        return difference, False
    changed = {diff.input for diff in differences(_provider_config(old, old_plan), _provider_config(new, new_plan))}
    return difference, bool(replace_keys(provider_type, changed))


def _effective(resource: PlannedResource, plan: Plan) -> PlannedResource:
    """``resource`` with the inputs its provider fills in when they are absent, as the provider diffs them: a
    Region-aware AWS resource's ``region`` (one the replacement table lists ``region`` for) is its provider's."""
    if (
        "region" in resource.inputs
        or _package(resource.type) != "aws"
        or resource.type not in known_types()
        or "region" not in table()[resource.type].replace_on
    ):
        return resource
    region = _provider_config(resource, plan).get("region")
    if region is None:
        return resource
    return dataclasses.replace(resource, inputs={**resource.inputs, "region": region})


def _at_or_below(path: str, entry: str) -> bool:
    """``path`` is ``entry`` or inside it (list indices normalised)."""
    segments, prefix = path_segments(path), path_segments(entry)
    return segments[: len(prefix)] == prefix


def _resource_differences(old: PlannedResource, new: PlannedResource) -> Iterator[Difference]:
    ignored = [str(path) for path in new.options.get("ignoreChanges") or []]
    for diff in _differences(old.inputs, new.inputs, "", None):
        # The engine keeps the old value of an ignored input (what a change there would do is no change at all).
        if not any(_at_or_below(diff.input, path) for path in ignored):
            yield diff
    for option, default in OPTION_DEFAULTS.items():
        before, after = old.options.get(option, default), new.options.get(option, default)
        if before != after:
            yield Difference(f"options.{option}", before, after, f"options.{option}")


def _child_path(path: str, key: str) -> str:
    if key and all(char not in key for char in '.[]"') and not key.isspace():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _as_document(value: Any) -> Any:
    """The JSON object or array a string holds, else None."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            document = json.loads(value)
        except ValueError:
            return None
        return document if isinstance(document, dict | list) else None
    return None


def differences(old: Any, new: Any, path: str = "") -> Iterator[Difference]:
    """Every changed leaf between two values (inputs, say), JSON held in strings compared structurally."""
    return _differences(old, new, path, None)


def _differences(old: Any, new: Any, path: str, document_input: str | None) -> Iterator[Difference]:
    """Every changed leaf between ``old`` and ``new`` (``document_input``: the input holding the JSON being
    compared, when inside one)."""
    input_path = document_input or path
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from _differences(old.get(key, ABSENT), new.get(key, ABSENT), _child_path(path, key), document_input)
        return
    if isinstance(old, list) and isinstance(new, list):
        yield from _list_differences(old, new, path, document_input)
        return
    old_document, new_document = _as_document(old), _as_document(new)
    if old_document is not None and new_document is not None:
        yield from _differences(old_document, new_document, path, input_path)
        return
    yield Difference(path, old, new, input_path)


def _list_differences(old: list[Any], new: list[Any], path: str, document_input: str | None) -> Iterator[Difference]:
    """Items compared pairwise where both lists have them; an item added or removed elsewhere is one difference
    (so one statement added to a policy is one line, not a shift of every statement after it)."""
    from difflib import SequenceMatcher

    keys = [json.dumps(item, sort_keys=True) for item in old], [json.dumps(item, sort_keys=True) for item in new]
    for tag, old_start, old_end, new_start, new_end in SequenceMatcher(None, *keys, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        pairs = min(old_end - old_start, new_end - new_start)
        for offset in range(pairs):
            yield from _differences(
                old[old_start + offset], new[new_start + offset], f"{path}[{new_start + offset}]", document_input
            )
        for index in range(old_start + pairs, old_end):
            yield Difference(f"{path}[{index}]", old[index], ABSENT, document_input or path)
        for index in range(new_start + pairs, new_end):
            yield Difference(f"{path}[{index}]", ABSENT, new[index], document_input or path)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _leaves(value[key], _child_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _computed_values(resource: PlannedResource, *, identity_only: bool) -> set[str]:
    """The values only the provider knows once the resource exists (its id, ARN, generated name, endpoint), secret
    ones included (``identity_only``: only its id and those under an identity's key)."""
    given = {value for _, value in _leaves(resource.plain_inputs) if isinstance(value, str)}
    outputs = resource.plain_outputs
    if identity_only:
        outputs = {key: value for key, value in outputs.items() if key in _IDENTITY_KEYS or key.endswith(("Arn", "Id"))}
    computed = {value for _, value in _leaves(outputs) if isinstance(value, str)} | {resource.id}
    return {
        value
        for value in computed - given
        if len(value) >= _MIN_COMPUTED_LENGTH and value not in (SECRET, UNKNOWN) and not value.isdigit()
    }


def _held(resource: PlannedResource, values: set[str]) -> set[str]:
    """Those of ``values`` that ``resource``'s inputs hold."""
    strings = [value for _, value in _leaves(resource.plain_inputs) if isinstance(value, str)]
    return {item for item in values if any(item in value for value in strings)}


def _unknown_differences(
    old: PlannedResource, new: PlannedResource, computed: Mapping[str, str]
) -> Iterator[Difference]:
    """The inputs of ``new`` that hold one of ``computed`` (value -> the resource being created or replaced, or
    updated with an unknown input, that it is an output of)."""
    old_values = dict(_leaves(old.inputs))
    ignored = [str(path) for path in new.options.get("ignoreChanges") or []]
    # Secret inputs are looked into (their values stay out of the difference: it shows the old, masked, value).
    for path, value in _leaves(new.plain_inputs):
        sources = sorted({source for item, source in computed.items() if isinstance(value, str) and item in value})
        if sources and not any(_at_or_below(path, entry) for entry in ignored):
            yield Difference(path, old_values.get(path, ABSENT), UNKNOWN, path, via=sources[0])


def _tree_order(resources: Sequence[PlannedResource]) -> list[PlannedResource]:
    """Parents before their children, siblings by URN: the order ``pulumi preview`` lists them in."""
    urns = {resource.urn for resource in resources}
    by_parent: dict[str | None, list[PlannedResource]] = {}
    for resource in sorted(resources, key=lambda r: r.urn):
        by_parent.setdefault(resource.parent if resource.parent in urns else None, []).append(resource)
    ordered: list[PlannedResource] = []

    def walk(parent: str | None) -> None:
        for child in by_parent.get(parent, []):
            ordered.append(child)
            walk(child.urn)

    walk(None)
    return ordered


# ---------------------------------------------------------------------------------------------- policy inputs


def with_fake_outputs(plan: Plan, region: str) -> Plan:
    """``plan`` (e.g. read from JSON, which keeps inputs only) with the ids and outputs the fake cloud gives each
    resource, as the engine's own run would have: what stack policies read (a flow log's ``vpcId`` is its VPC's id).
    Secrets stay masked, so policies compare two such plans alike."""
    cloud = FakeCloud(region=region)
    parents = {resource.parent for resource in plan.resources}
    resources: dict[str, PlannedResource] = {}
    # Explicit providers first: a resource's region is its provider's.
    for resource in sorted(plan.resources, key=lambda r: not r.type.startswith("pulumi:providers:")):
        resource_id, state = cloud.create(
            resource.type,
            resource.name,
            resource.urn,
            dict(resource.inputs),
            custom=resource.custom,
            # Offline, a remote component (pulumi-eks's) has no children: the plugin builds them at deploy time.
            remote=not resource.custom and resource.urn not in parents,
            provider=f"{resource.provider}::id" if resource.provider else "",
        )
        resources[resource.urn] = dataclasses.replace(resource, id=resource_id, outputs=normalise(state))
    return dataclasses.replace(plan, resources=[resources[resource.urn] for resource in plan.resources])


# ---------------------------------------------------------------------------------------------- display


def short_type(type_: str) -> str:
    """The type token as Pulumi displays it: ``aws:rds/instance:Instance`` -> ``aws:rds:Instance``."""
    package, _, rest = type_.partition(":")
    module, _, name = rest.partition(":")
    head, _, last = module.rpartition("/")
    if head and name and last == name[:1].lower() + name[1:]:
        return f"{package}:{head}:{name}"
    return type_


def summary_line(counts: Mapping[str, int]) -> str:
    """Pulumi's resource summary: ``+ 3 to create, ~ 2 to update, +-1 to replace, - 1 to delete, 280 unchanged``."""
    parts = []
    for op in OPS:
        if counts.get(op):
            marker = MARKERS[op]
            parts.append(f"{marker}{' ' if len(marker) == 1 else ''}{counts[op]} to {op}")
    if counts.get("same") or not parts:
        parts.append(f"{counts.get('same', 0)} unchanged")
    return ", ".join(parts)


def render_value(value: Any) -> str:
    """A value as JSON (strings quoted, ``true``/``null``), on one line."""
    return "[unknown]" if value == UNKNOWN else json.dumps(_json_value(value), ensure_ascii=False)


def _json_value(value: Any) -> Any:
    return None if value is ABSENT else value


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def difference_line(diff: Difference, width: int) -> str:
    """``~ path: old → new`` (``+ path: new`` when added, ``- path: old`` when removed), fitted to ``width``."""
    if diff.old is ABSENT:
        head = f"+ {diff.path}: "
        return elide(head + elide(render_value(diff.new), max(width - len(head), 12)), width)
    if diff.new is ABSENT:
        head = f"- {diff.path}: "
        return elide(head + elide(render_value(diff.old), max(width - len(head), 12)), width)
    head = f"~ {diff.path}: "
    note = f"  (known once {diff.via} exists)" if diff.via else ""
    old, new = render_value(diff.old), render_value(diff.new)
    room = max(width - len(head) - len(note) - 3, 24)
    if len(old) + len(new) > room:  # share the room, giving the shorter value what it needs
        old_room = max(min(len(old), room // 2), room - len(new))
        old, new = elide(old, old_room), elide(new, room - min(len(old), old_room))
    return elide(f"{head}{old} → {new}{note}", width)


def warning_lines(change: Change, stack: str) -> list[str]:
    """What replacing, deleting or moving ``change``'s resource destroys or breaks, and whether ``pulumi up`` would
    refuse it."""
    lines = [f"{change.marker:<3}{change.short_type}  {change.name}  ({change.op})"]
    if change.op == "replace":
        causes = f" (known only once {', '.join(change.causes)} exists)" if change.causes else ""
        lines.append(f"      forced by: {', '.join(change.replace_keys)}{causes}")
    elif change.op == "delete":
        lines.append("      deleted: no longer in the program")
    elif change.moved_by:
        inputs = sorted({diff.input for diff in change.diffs if diff.via in change.moved_by})
        lines.append(f"      moves onto what replaces {', '.join(change.moved_by)} ({', '.join(inputs)})")
    lines += [f"      also replaces: {which} ({path})" for path, which in change.replaces_others.items()]
    if change.holds is not None and change.op != "update":
        kept = " -- kept in AWS (retainOnDelete), but no longer managed" if change.retained else ""
        lines.append(f"      destroys: {change.holds}{kept}")
    if change.protected and change.op != "update":
        lines.append(
            f"      `pulumi up` would fail: the resource is protected in stack '{stack}' (unprotect it first, alone)"
        )
    return lines


def render(changes: ChangeSet, *, width: int | None = None, quiet: bool = False) -> str:
    """The change as ``pulumi preview --diff`` users read it: warnings first, then one line per changed resource
    with its differences, then the summary line."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    lines = [f"Changes to stack '{changes.stack}' against {changes.against} (offline: nothing is changed)", ""]
    if changes.warnings:
        lines.append("WARNING: this change replaces, deletes or moves resources that hold data or are protected:")
        for change in changes.warnings:
            lines += [f"  {line}" for line in warning_lines(change, changes.stack)]
        lines.append("")
    if not quiet and changes.changes:
        type_width = max(len(change.short_type) for change in changes.changes) + 2
        name_width = max(len(change.name) for change in changes.changes) + 2
        lines.append(f"     {'Type':<{type_width}}{'Name':<{name_width}}Plan")
        for change in changes.changes:
            keys = f"  [diff: {', '.join(change.replace_keys)}]" if change.replace_keys else ""
            if change.may_replace:
                keys = "  [may replace: " + ", ".join(f"{k} ({why})" for k, why in change.may_replace.items()) + "]"
            lines.append(
                elide(
                    f" {change.marker:<3} {change.short_type:<{type_width}}{change.name:<{name_width}}"
                    f"{change.op}{keys}",
                    width,
                )
            )
            lines += [f"         {difference_line(diff, width - 9)}" for diff in change.diffs]
            lines += [f"         also replaces: {which} ({path})" for path, which in change.replaces_others.items()]
        lines.append("")
    if changes.unknown_types:
        lines.append(f"note: no replacement data for {', '.join(changes.unknown_types)}: shown as updated in place")
    lines += [f"renamed by an alias (the same resource): {before} → {after}" for before, after in changes.renamed]
    lines += ["Resources:", f"    {summary_line(changes.counts())}"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class PolicyDelta:
    """Policy violations only after the change (``new``) and only before it (``resolved``), by (policy, resource)."""

    new: list[Violation] = field(default_factory=list)
    resolved: list[Violation] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"new": [_violation_json(v) for v in self.new], "resolved": [_violation_json(v) for v in self.resolved]}


def policy_delta(old: Plan, new: Plan, regions: tuple[str, str], config: Path) -> PolicyDelta:
    """The working tree's policy pack over both plans, each as its JSON holds it (secrets masked) with the fake
    cloud's outputs: both are seen alike, so a difference is the change's, not the way a plan was obtained."""
    from stacks.offline.policy_run import check  # loaded here: stacks/__main__.py's docstring

    old = adopt_aliases(old, new)[0]  # a resource taken over by an alias keeps its violations' keys
    before = check(with_fake_outputs(Plan.from_json(old.to_json()), regions[0]), config)[0]
    after = check(with_fake_outputs(Plan.from_json(new.to_json()), regions[1]), config)[0]
    before_keys = {(violation.policy, violation.urn) for violation in before}
    after_keys = {(violation.policy, violation.urn) for violation in after}
    return PolicyDelta(
        new=[violation for violation in after if (violation.policy, violation.urn) not in before_keys],
        resolved=[violation for violation in before if (violation.policy, violation.urn) not in after_keys],
    )


def render_policy_delta(delta: PolicyDelta) -> str:
    """The violations the change introduces (``+``) and resolves (``-``), as the policy run prints them."""
    lines = [f"Policies: this change introduces {len(delta.new)} and resolves {len(delta.resolved)} violation(s)"]
    for sign, violations in (("+", delta.new), ("-", delta.resolved)):
        for violation in violations:
            lines.append(f"    {sign} [{violation.enforcement.value}]  {violation.policy}  ({violation.resource})")
            lines += [f"          {line}" for line in violation.message.splitlines()]
    return "\n".join(lines)


def _violation_json(violation: Violation) -> dict[str, Any]:
    return {
        "policy": violation.policy,
        "urn": violation.urn,
        "enforcement": violation.enforcement.value,
        "severity": violation.severity,
        "message": violation.message,
    }


# ---------------------------------------------------------------------------------------------- the base revision


class RevisionError(Exception):
    """A revision that is not a commit here, or whose own preview failed: reported in one message."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["git", "-C", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - git, fixed arguments


def repository_root(directory: Path) -> Path:
    found = _git(directory, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise RevisionError(f"{directory} is not in a git repository: --against needs one")
    return Path(found.stdout.strip())


def resolve_revision(revision: str, directory: Path) -> str:
    """The full sha of the commit ``revision`` names."""
    found = _git(
        repository_root(directory), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
    )
    if found.returncode != 0 or not found.stdout.strip():
        raise RevisionError(f"--against {revision}: not a commit of this repository")
    return found.stdout.strip()


class BaseEvaluation:
    """The plan of ``stack`` at commit ``sha``: evaluated by that revision's own code and ``Pulumi.<stack>.yaml``, in
    a temporary worktree (the working tree is never touched) and a process of its own (this one has imported the
    working tree's packages), started on entering so that it runs while this process evaluates the working tree."""

    def __init__(self, sha: str, stack: str, project_dir: Path) -> None:
        self.sha, self.stack = sha, stack
        self.root = repository_root(project_dir)
        self.project = project_dir.resolve().relative_to(self.root)
        self.scratch = Path(tempfile.mkdtemp(prefix="stacks-against-"))
        self.tree = self.scratch / "tree"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def project_dir(self) -> Path:
        return self.tree / self.project

    def __enter__(self) -> BaseEvaluation:
        try:
            added = _git(self.root, "worktree", "add", "--detach", "--quiet", str(self.tree), self.sha)
            if added.returncode != 0:
                raise RevisionError(f"--against {self.sha[:12]}: git worktree add failed: {added.stderr.strip()}")
            if (self.project_dir / f"Pulumi.{self.stack}.yaml").is_file():
                command = [
                    sys.executable,
                    "-m",
                    "stacks",
                    "preview",
                    self.stack,
                    "--json",
                    str(self.scratch / "plan.json"),
                ]
                if self.project != Path():  # --project-dir is younger than --json; the default is the repository
                    command += ["--project-dir", str(self.project_dir)]
                environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
                with (self.scratch / "stderr").open("wb") as errors:
                    self.process = subprocess.Popen(  # noqa: S603 - this interpreter, this command line
                        command, cwd=self.tree, env=environment, stdout=subprocess.DEVNULL, stderr=errors
                    )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        _git(self.root, "worktree", "remove", "--force", str(self.tree))
        _git(self.root, "worktree", "prune")
        shutil.rmtree(self.scratch, ignore_errors=True)

    def result(self) -> tuple[Plan, str]:
        """The base plan (no resources when the stack did not exist there) and the stack's region there; the plan
        has its region also when that revision did not record it (read from its ``Pulumi.<stack>.yaml``)."""
        if self.process is None:
            return Plan(project="", stack=self.stack, resources=[], outputs={}), "us-east-1"
        if self.process.wait() != 0:
            reason = (self.scratch / "stderr").read_text(errors="replace").strip().splitlines() or ["(no output)"]
            raise RevisionError(f"the offline preview of '{self.stack}' at {self.sha[:12]} failed: {reason[-1]}")
        plan = Plan.read_json(self.scratch / "plan.json")
        if plan.region is None:
            _, config, _ = load_config(self.stack, self.project_dir)
            plan = dataclasses.replace(plan, region=config.get("aws:region", "us-east-1"))
        return plan, plan.region or "us-east-1"
