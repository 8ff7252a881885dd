"""Human-readable views of a plan: the preview tree, the type summary, a stack diff, Kubernetes manifests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

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
    lines.append(f"    + {len(plan.resources) + 1} to create (including the stack)")
    return "\n".join(lines)


def outputs(plan: Plan) -> str:
    lines = ["Outputs:"]
    width = max((len(name) for name in plan.outputs), default=0) + 2
    lines += [f"    {name:<{width}}{value!r}" for name, value in plan.outputs.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- diff


def _key(resource: PlannedResource) -> tuple[str, str]:
    return resource.type, resource.name


def _differences(left: Any, right: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            yield from _differences(left.get(key), right.get(key), f"{path}.{key}" if path else key)
    elif left != right:
        yield path, left, right


def diff(left: Plan, right: Plan) -> str:
    """Resources only in one stack, and inputs/options that differ, matched by (type, logical name)."""
    left_index = {_key(r): r for r in left.resources}
    right_index = {_key(r): r for r in right.resources}
    lines = [f"Differences between stack '{left.stack}' (-) and stack '{right.stack}' (+):", ""]
    only_left = [k for k in left_index if k not in right_index]
    only_right = [k for k in right_index if k not in left_index]
    for title, keys, sign in ((left.stack, only_left, "-"), (right.stack, only_right, "+")):
        lines.append(f"Only in {title} ({len(keys)}):")
        lines += [f"  {sign} {type_}  {name}" for type_, name in keys]
        lines.append("")
    changed = 0
    lines.append("Different inputs or options:")
    for key, resource in left_index.items():
        other = right_index.get(key)
        if other is None:
            continue
        fields = {"inputs": resource.inputs, "options": resource.options}
        other_fields = {"inputs": other.inputs, "options": other.options}
        differences = [d for d in _differences(fields, other_fields, "") if not _stack_specific(*d, left, right)]
        if differences:
            changed += 1
            lines.append(f"  ~ {key[0]}  {key[1]}")
            lines += [f"      {path}: {old!r} -> {new!r}" for path, old, new in differences]
    lines += [
        "",
        f"{len(only_left)} only in {left.stack}, {len(only_right)} only in {right.stack}, "
        f"{changed} with different inputs",
    ]
    return "\n".join(lines)


def _stack_specific(path: str, old: Any, new: Any, left: Plan, right: Plan) -> bool:
    # A value that differs only by the stack's name (physical names, tags, URNs) is not a real difference.
    if isinstance(old, str) and isinstance(new, str):
        return old.replace(left.stack, right.stack) == new
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return all(_stack_specific(path, a, b, left, right) for a, b in zip(old, new, strict=True))
    return False


# ---------------------------------------------------------------------------------------------- manifests


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    """Every Kubernetes object the stack would create, as a manifest (Helm releases are not objects)."""
    objects = []
    for resource in plan.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith("kubernetes:helm"):
            continue
        if resource.type.startswith("pulumi:providers:"):
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
