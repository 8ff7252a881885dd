"""Human-readable views of a plan: the preview tree, the type summary, a stack diff, Kubernetes manifests."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from stacks.offline import changes
from stacks.offline.changes import summary_line
from stacks.offline.plan import Plan, PlannedResource


def tree(plan: Plan) -> str:
    """Resources grouped under their parents, like ``pulumi preview``."""
    stack_urn = f"urn:pulumi:{plan.stack}::{plan.project}::pulumi:pulumi:Stack::{plan.project}-{plan.stack}"
    by_parent: dict[str | None, list[PlannedResource]] = {}
    for resource in plan.resources:
        parent = resource.parent if resource.parent != stack_urn else None
        by_parent.setdefault(parent, []).append(resource)

    rows: list[tuple[str, str, str]] = [("", "pulumi:pulumi:Stack", f"{plan.project}-{plan.stack}")]

    def walk(parent: str | None, indent: str) -> None:
        children = by_parent.get(parent, [])
        for index, resource in enumerate(children):
            last = index == len(children) - 1
            rows.append((indent + ("└─ " if last else "├─ "), resource.type, resource.name))
            walk(resource.urn, indent + ("   " if last else "│  "))

    walk(None, "")
    type_width = max(len(prefix) + len(type_) for prefix, type_, _ in rows) + 2
    lines = [f"Previewing stack '{plan.stack}' of project '{plan.project}' (offline: nothing is created)", ""]
    lines.append(f"     {'Type':<{type_width}}Name")
    lines += [" +   " + f"{prefix + type_:<{type_width}}{name}" for prefix, type_, name in rows]
    return "\n".join(lines)


def summary(plan: Plan) -> str:
    counts = plan.type_counts()
    width = max((len(type_) for type_ in counts), default=0) + 2
    lines = ["Resources by type:"]
    lines += [f"    {type_:<{width}}{count:>4}" for type_, count in counts.items()]
    lines.append(f"    {summary_line({'create': len(plan.resources)})}")
    return "\n".join(lines)


def outputs(plan: Plan) -> str:
    lines = ["Outputs:"]
    width = max((len(name) for name in plan.outputs), default=0) + 2
    lines += [f"    {name:<{width}}{value!r}" for name, value in plan.outputs.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- diff


#: (path, value in the left stack, value in the right stack), e.g. ("inputs.multiAz", False, True); a value only in
#: one stack is ``changes.ABSENT`` in the other.
Difference = tuple[str, Any, Any]


def _key(resource: PlannedResource) -> tuple[str, str]:
    return resource.type, resource.name


def _differences(left: PlannedResource, right: PlannedResource, stacks: tuple[str, str]) -> Iterator[Difference]:
    """(path, left value, right value) of every input or option that differs other than by the stack's name
    (physical names, tags, URNs, keys naming them: ``stacks`` is the (left, right) pair of names); JSON held in
    strings is compared structurally, so a policy differing in one statement is one difference."""

    def renamed(value: Any) -> str:
        return json.dumps(value, sort_keys=True).replace(*stacks)

    fields = {"inputs": left.inputs, "options": left.options}
    other_fields = {"inputs": right.inputs, "options": right.options}
    found = list(changes.differences(fields, other_fields))
    # A key that names the stack is one removed and one added: the same but for the name.
    removed = {(diff.path.replace(*stacks), renamed(diff.old)) for diff in found if diff.new is changes.ABSENT}
    added = {(diff.path, renamed(diff.new)) for diff in found if diff.old is changes.ABSENT}
    for diff in found:
        if diff.new is changes.ABSENT and (diff.path.replace(*stacks), renamed(diff.old)) in added:
            continue
        if diff.old is changes.ABSENT and (diff.path, renamed(diff.new)) in removed:
            continue
        if isinstance(diff.old, str) and isinstance(diff.new, str) and diff.old.replace(*stacks) == diff.new:
            continue
        yield diff.path, diff.old, diff.new


def differences(left: Plan, right: Plan) -> dict[tuple[str, str], list[Difference]]:
    """For each resource of both stacks (by type and logical name) whose inputs or options differ: (path, left
    value, right value) of each difference."""
    right_index = {_key(r): r for r in right.resources}
    found: dict[tuple[str, str], list[Difference]] = {}
    for resource in left.resources:
        other = right_index.get(_key(resource))
        if other is None:
            continue
        different = list(_differences(resource, other, (left.stack, right.stack)))
        if different:
            found[_key(resource)] = different
    return found


def diff(left: Plan, right: Plan, width: int | None = None) -> str:
    """Resources only in one stack, and inputs/options that differ, matched by (type, logical name); values as
    JSON, lines fitted to ``width`` (the terminal's)."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    left_keys = {_key(r): None for r in left.resources}
    right_keys = {_key(r): None for r in right.resources}
    lines = [f"Differences between stack '{left.stack}' (-) and stack '{right.stack}' (+):", ""]
    only_left = [k for k in left_keys if k not in right_keys]
    only_right = [k for k in right_keys if k not in left_keys]
    for title, keys, sign in ((left.stack, only_left, "-"), (right.stack, only_right, "+")):
        lines.append(f"Only in {title} ({len(keys)}):")
        lines += [f"  {sign} {changes.short_type(type_)}  {name}" for type_, name in keys]
        lines.append("")
    changed = differences(left, right)
    lines.append("Different inputs or options:")
    for (type_, name), found in changed.items():
        lines.append(f"  ~ {changes.short_type(type_)}  {name}")
        lines += [
            f"      {changes.difference_line(changes.Difference(path, old, new, path), width - 6)}"
            for path, old, new in found
        ]
    lines += [
        "",
        f"{len(only_left)} only in {left.stack}, {len(only_right)} only in {right.stack}, "
        f"{len(changed)} with different inputs",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- manifests


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    """Every Kubernetes object the stack would create, as a manifest (Helm releases are not objects)."""
    objects = []
    for resource in plan.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith("kubernetes:helm"):
            continue
        manifest = {key: value for key, value in resource.inputs.items() if not key.startswith("__")}
        objects.append(manifest)
    return objects


def write_manifests(plan: Plan, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, manifest in enumerate(kubernetes_objects(plan), start=1):
        metadata = manifest.get("metadata") or {}
        parts = [metadata.get("namespace") or "cluster", manifest.get("kind", "Object"), metadata.get("name", "")]
        slug = re.sub(r"[^a-zA-Z0-9.-]+", "-", "-".join(p for p in parts if p)).strip("-").lower()
        path = directory / f"{index:03d}-{slug}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    return written
