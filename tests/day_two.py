"""Day-two scenarios: what `pulumi up` would do to go from one offline plan to another.

The engine's decisions are ``stacks.offline.changes.compare``'s, those ``python -m stacks preview --against`` shows
(docs/reviewing.md): creates and deletes by URN, updates and replacements by the provider's replacement data, a
changed provider as the engine decides; as ``pulumi up`` carries them out, where a consumer of a replaced resource
sees its new identity (id, ARNs) once it exists rather than every output unknown. This module only gives each change
the resource as it was and as it will be, for scenarios to look into.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stacks.offline import changes as diff_engine
from stacks.offline.changes import Op
from stacks.offline.plan import Plan, PlannedResource
from stacks.offline.replacements import path_segments


@dataclass(frozen=True)
class Change:
    """One resource's change, with the resource before (None for a create) and after (None for a delete)."""

    change: diff_engine.Change
    before: PlannedResource | None
    after: PlannedResource | None

    @property
    def urn(self) -> str:
        return self.change.urn

    @property
    def op(self) -> Op:
        return self.change.op

    @property
    def type(self) -> str:
        return self.change.type

    @property
    def name(self) -> str:
        return self.change.name

    @property
    def resource(self) -> PlannedResource:
        """The resource as it is after the change (as it was, for a delete)."""
        found = self.after or self.before
        assert found is not None
        return found

    @property
    def keys(self) -> frozenset[str]:
        """Top-level inputs that changed (empty for creates and deletes)."""
        return frozenset(path_segments(diff.input)[0] for diff in self.change.diffs if not diff.option)

    @property
    def protected(self) -> bool:
        """Protected in the state the engine acts on: a protected resource cannot be replaced or deleted."""
        return bool(self.before and self.before.options.get("protect"))


def changes(before: Plan, after: Plan) -> dict[str, Change]:
    """Every resource `pulumi up` would touch going from ``before`` to ``after``, by URN (unchanged ones omitted)."""
    olds = {resource.urn: resource for resource in before.resources}
    news = {resource.urn: resource for resource in after.resources}
    return {
        change.urn: Change(change, olds.get(change.urn), news.get(change.urn))
        for change in diff_engine.compare(before, after, "day two", during_up=True).changes
    }


def of_op(found: Mapping[str, Change], op: Op) -> list[Change]:
    return [change for change in found.values() if change.op == op]


def touched(found: Mapping[str, Change], type_: str) -> list[Change]:
    return [change for change in found.values() if change.type == type_]
