"""Running one policy of the pack over hand-built resources, through the same bridge as the offline run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from pulumi_policy import Policy

from stacks.offline.plan import UNKNOWN, Plan, PlannedResource
from stacks.offline.policy_run import Violation, evaluate, reconcile

STACK_URN = "urn:pulumi:test::proj::pulumi:pulumi:Stack::proj-test"


def resource(
    type_: str,
    name: str = "subject",
    props: dict[str, Any] | None = None,
    *,
    outputs: dict[str, Any] | None = None,
    parent_types: Sequence[str] = (),
    dependencies: Sequence[PlannedResource] = (),
    protect: bool = False,
    id: str = "",
) -> PlannedResource:
    """A planned resource with ``props`` as inputs (``outputs``: what the fake cloud adds for stack rules)."""
    qualified = "$".join([*parent_types, type_])
    inputs = props or {}
    return PlannedResource(
        urn=f"urn:pulumi:test::proj::{qualified}::{name}",
        type=type_,
        name=name,
        parent=STACK_URN,
        dependencies=sorted(dependency.urn for dependency in dependencies),
        provider=None,
        options={"protect": protect, "retainOnDelete": False, "deleteBeforeReplace": False, "ignoreChanges": []},
        inputs=inputs,
        custom=True,
        id=id,
        outputs={**inputs, **(outputs or {})},
    )


def check(
    policy: Policy,
    *resources: PlannedResource,
    config: dict[str, Any] | None = None,
    stack_outputs: dict[str, Any] | None = None,
) -> list[Violation]:
    """The violations ``policy`` reports for a stack of ``resources`` (config: the policy's properties)."""
    settings, problems = reconcile([policy], {"all": "mandatory", policy.name: config or {}})
    assert problems == []
    plan = Plan(project="proj", stack="test", resources=list(resources), outputs=stack_outputs or {})
    return evaluate(plan, settings, [policy])


def messages(policy: Policy, *resources: PlannedResource, **options: Any) -> list[str]:
    return [violation.message for violation in check(policy, *resources, **options)]


def flagged(policy: Policy, *resources: PlannedResource, **options: Any) -> list[str]:
    """Names of the resources in violation."""
    return [violation.urn.rsplit("::", 1)[-1] for violation in check(policy, *resources, **options)]


def policy_id(value: object) -> str:
    """A pytest id for a parametrised policy: its name."""
    return str(getattr(value, "name", value))


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaf_paths(item, (*path, index))
    if path:
        yield path


def _with_unknown(value: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return UNKNOWN
    head, *rest = path
    if isinstance(value, dict):
        return {key: _with_unknown(item, tuple(rest)) if key == head else item for key, item in value.items()}
    return [_with_unknown(item, tuple(rest)) if index == head else item for index, item in enumerate(value)]


def unknown_variants(resources: Sequence[PlannedResource]) -> Iterator[tuple[str, list[PlannedResource]]]:
    """The stack once per property of each resource (leaf or subtree), with that property unknown, as it is
    during a preview when it depends on a resource not created yet."""
    for position, subject in enumerate(resources):
        for path in _leaf_paths(subject.inputs):
            changed = _with_unknown(subject.inputs, path)
            # No secrets-revealed views: kept, they would still show the property known to the policies.
            variant = replace(
                subject,
                inputs=changed,
                outputs={**subject.outputs, **changed},
                revealed_inputs=None,
                revealed_outputs=None,
            )
            where = f"{subject.name}.{'.'.join(map(str, path))}"
            yield where, [*resources[:position], variant, *resources[position + 1 :]]


def undecided(violation: Violation) -> bool:
    """The advisory entry of a check that could not decide during preview (it names the unknown value)."""
    return violation.message.startswith(f"can't run policy '{violation.policy}' during preview")


def assert_compliant_even_when_unknown(policy: Policy, *resources: PlannedResource, **options: Any) -> None:
    """``resources`` pass ``policy``, and with any one property unknown they are never in violation (at most
    reported as undecided, an advisory entry that names the value)."""
    assert messages(policy, *resources, **options) == []
    for where, variant in unknown_variants(resources):
        found = check(policy, *variant, **options)
        assert [violation.message for violation in found if not undecided(violation)] == [], f"with {where} unknown"
