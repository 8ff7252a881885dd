"""The CrossGuard pack (``policies/``) over an offline plan: what ``pulumi preview --policy-pack policies
--policy-pack-config policies/config/<stack>.json`` would report, without the CLI.

It calls the pack's own policy objects the way pulumi_policy's analyzer server does:

- resource policies get each resource's inputs (``ResourceValidationArgs``), wrapped in the SDK's
  unknown-checking proxy, with its options (protect, parent, ...) and provider;
- stack policies get every resource (``StackValidationArgs``) with its outputs as props -- offline, its inputs
  merged with the fake cloud's outputs -- and parents and dependencies linked; the root stack resource carries
  the stack outputs;
- secret values are shown in plain, as the engine shows them to policies (so a rule can find a leaked one).

Policy config is reconciled as the CLI does (schema defaults, then ``"all"``, then per-policy entries, then
validation against each policy's JSON schema). One deliberate difference: a config entry naming a policy the
pack does not have is an error here (the CLI ignores it, so a typo would silently leave a rule as it was).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from inspect import isawaitable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policies.rules import PACK_ENFORCEMENT, PACK_NAME, POLICIES
from stacks.offline.engine import PROJECT_DIR
from stacks.offline.plan import UNKNOWN, Plan, PlannedResource

POLICY_PACK_DIR = PROJECT_DIR / "policies"
STACK_TYPE = "pulumi:pulumi:Stack"
#: Stacks whose config may not lower a security rule below mandatory (staging relaxes resilience and cost only).
STRICT_STACKS = ("prod",)
SECURITY_TAG = "security"


class PolicyConfigError(Exception):
    """The policy config file is missing or invalid; the message names the file and every problem."""


@dataclass(frozen=True)
class PolicySettings:
    """How one policy runs for a stack: its enforcement level and its config properties."""

    enforcement: EnforcementLevel
    properties: dict[str, Any]


@dataclass(frozen=True)
class Violation:
    policy: str
    description: str
    severity: str
    enforcement: EnforcementLevel
    message: str
    urn: str
    """The resource in violation ("" when it is the stack as a whole)."""

    @property
    def mandatory(self) -> bool:
        return self.enforcement == EnforcementLevel.MANDATORY

    @property
    def resource(self) -> str:
        """``type: name`` of the resource, as the CLI shows it."""
        if not self.urn:
            return "the stack"
        parts = self.urn.split("::")
        return f"{parts[2].split('$')[-1]}: {parts[3]}"


# ---------------------------------------------------------------------------------------------- config


def config_path(stack: str) -> Path:
    return POLICY_PACK_DIR / "config" / f"{stack}.json"


def pack_version() -> str:
    document = yaml.safe_load((POLICY_PACK_DIR / "PulumiPolicy.yaml").read_text())
    return str(document["version"])


def load_settings(
    path: Path, policies: Sequence[Policy] = POLICIES, *, stack: str | None = None
) -> dict[str, PolicySettings]:
    """The settings of every policy from a ``--policy-pack-config`` JSON file, for ``stack`` (by default the
    file's name). A strict stack's config that lowers a security rule below mandatory is refused."""
    if not path.is_file():
        raise PolicyConfigError(f"{path}: no policy config for this stack")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise PolicyConfigError(f"{path.name}: malformed JSON (line {error.lineno}): {error.msg}") from None
    if not isinstance(raw, dict):
        raise PolicyConfigError(f"{path.name}: expected an object mapping policy names to settings")
    settings, problems = reconcile(policies, raw)
    if (stack or path.stem) in STRICT_STACKS:
        problems += _lowered_security_rules(policies, settings, stack or path.stem)
    if problems:
        listing = "\n".join(f"  {problem}" for problem in problems)
        raise PolicyConfigError(f"{path.name}: {len(problems)} policy config problem(s):\n{listing}")
    return settings


def _lowered_security_rules(
    policies: Sequence[Policy], settings: Mapping[str, PolicySettings], stack: str
) -> list[str]:
    blocking = (EnforcementLevel.MANDATORY, EnforcementLevel.REMEDIATE)
    return [
        f"{policy.name}: a security rule stays mandatory in {stack} (the config makes it "
        f"{settings[policy.name].enforcement.value}); change the pack in review instead"
        for policy in policies
        if SECURITY_TAG in (policy.tags or []) and settings[policy.name].enforcement not in blocking
    ]


def reconcile(policies: Sequence[Policy], raw: Mapping[str, Any]) -> tuple[dict[str, PolicySettings], list[str]]:
    """Settings per policy and the problems found, following the CLI's ReconcilePolicyPackConfig."""
    problems: list[str] = []
    entries: dict[str, tuple[EnforcementLevel | None, dict[str, Any]]] = {}
    for key, value in raw.items():
        entry = _entry(key, value, problems)
        if entry is not None:
            entries[key] = entry
    known = {policy.name: policy for policy in policies}
    problems += [f"{key}: the pack has no such policy" for key in entries if key != "all" and key not in known]

    all_level = entries.get("all", (None, {}))[0]
    settings: dict[str, PolicySettings] = {}
    for policy in policies:
        level = all_level or policy.enforcement_level or PACK_ENFORCEMENT
        properties = {key: spec["default"] for key, spec in _schema_properties(policy).items() if "default" in spec}
        if policy.name in entries:
            given_level, given_properties = entries[policy.name]
            level = given_level or level
            properties.update(given_properties)
        problems += _schema_problems(policy, properties)
        settings[policy.name] = PolicySettings(level, properties)
    return settings, problems


def _entry(key: str, value: Any, problems: list[str]) -> tuple[EnforcementLevel | None, dict[str, Any]] | None:
    if isinstance(value, str):
        level = _level(key, value, problems)
        return None if level is None else (level, {})
    if isinstance(value, dict):
        properties = dict(value)
        text = properties.pop("enforcementLevel", None)
        level = _level(key, text, problems) if text is not None else None
        return level, properties
    problems.append(f"{key}: {value!r} is not a valid value; must be a string or object")
    return None


def _level(key: str, value: Any, problems: list[str]) -> EnforcementLevel | None:
    try:
        return EnforcementLevel(value)
    except ValueError:
        choices = ", ".join(level.value for level in EnforcementLevel)
        problems.append(f"{key}: {value!r} is not a valid enforcement level ({choices})")
        return None


def _schema_properties(policy: Policy) -> dict[str, dict[str, Any]]:
    return policy.config_schema.properties if policy.config_schema else {}


def _schema_problems(policy: Policy, properties: dict[str, Any]) -> list[str]:
    if policy.config_schema is None:
        return []
    schema: dict[str, Any] = {"type": "object", "properties": policy.config_schema.properties}
    if policy.config_schema.required:
        schema["required"] = policy.config_schema.required
    errors = Draft7Validator(schema).iter_errors(properties)
    return [f"{policy.name}: {'.'.join(map(str, error.path)) or 'config'}: {error.message}" for error in errors]


# ---------------------------------------------------------------------------------------------- running


def _engine_value(value: Any) -> Any:
    """A normalised plan value as the engine hands it to the pack: unknowns become the SDK's sentinel."""
    if value == UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, list):
        return [_engine_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _engine_value(item) for key, item in value.items()}
    return value


def _props(values: Mapping[str, Any]) -> Any:
    return unknown_checking_proxy(_engine_value(dict(values)))


def _options(resource: PlannedResource) -> PolicyResourceOptions:
    options = resource.options
    return PolicyResourceOptions(
        protect=bool(options.get("protect")),
        ignore_changes=list(options.get("ignoreChanges", [])),
        delete_before_replace=True if options.get("deleteBeforeReplace") else None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(options.get("additionalSecretOutputs", [])),
        parent=resource.parent,
    )


def _outputs(resource: PlannedResource) -> dict[str, Any]:
    """What the engine shows stack policies: the resource's outputs, its id among them."""
    identity = {"id": resource.id} if resource.id else {}
    return {**resource.plain_inputs, **resource.plain_outputs, **identity}


def _stack_urn(plan: Plan) -> str:
    return f"urn:pulumi:{plan.stack}::{plan.project}::{STACK_TYPE}::{plan.project}-{plan.stack}"


def _stack_resources(plan: Plan, providers: Mapping[str, PolicyProviderResource]) -> list[PolicyResource]:
    """Every resource with its outputs, linked to parents and dependencies, after the root stack resource."""
    root = PolicyResource(
        STACK_TYPE,
        _props(plan.plain_outputs),
        _stack_urn(plan),
        f"{plan.project}-{plan.stack}",
        PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None),
        None,
        None,
        [],
        {},
    )
    by_urn = {root.urn: root}
    for resource in plan.resources:
        by_urn[resource.urn] = PolicyResource(
            resource.type,
            _props(_outputs(resource)),
            resource.urn,
            resource.name,
            _options(resource),
            providers.get(resource.provider or ""),
            None,
            [],
            {},
        )
    for resource in plan.resources:
        policy_resource = by_urn[resource.urn]
        policy_resource.parent = by_urn.get(resource.parent or "")
        policy_resource.dependencies = [by_urn[urn] for urn in resource.dependencies if urn in by_urn]
        policy_resource.property_dependencies = {
            prop: [by_urn[urn] for urn in urns if urn in by_urn]
            for prop, urns in resource.property_dependencies.items()
        }
    return list(by_urn.values())


def _providers(plan: Plan) -> dict[str, PolicyProviderResource]:
    return {
        resource.urn: PolicyProviderResource(resource.type, _props(resource.plain_inputs), resource.urn, resource.name)
        for resource in plan.resources
        if resource.type.startswith("pulumi:providers:")
    }


@dataclass(frozen=True)
class _Validated:
    """What resource policies see of one resource, built once per run."""

    resource: PlannedResource
    props: Any
    options: PolicyResourceOptions
    provider: PolicyProviderResource | None


def evaluate(
    plan: Plan, settings: Mapping[str, PolicySettings], policies: Sequence[Policy] = POLICIES
) -> list[Violation]:
    """Every violation the pack reports for ``plan``, in policy order."""
    providers = _providers(plan)
    validated = [
        _Validated(resource, _props(resource.plain_inputs), _options(resource), providers.get(resource.provider or ""))
        for resource in plan.resources
    ]
    stack_resources: list[PolicyResource] | None = None
    violations: list[Violation] = []
    for policy in policies:
        setting = settings[policy.name]
        level = EnforcementLevel.MANDATORY if setting.enforcement == EnforcementLevel.REMEDIATE else setting.enforcement
        if level == EnforcementLevel.DISABLED:
            continue
        config = setting.properties or None
        if isinstance(policy, ResourceValidationPolicy):
            for item in validated:
                args = ResourceValidationArgs(
                    item.resource.type,
                    item.props,
                    item.resource.urn,
                    item.resource.name,
                    item.options,
                    item.provider,
                    config,
                )
                _run(policy, partial(policy.validate, args), level, item.resource.urn, violations)
        elif isinstance(policy, StackValidationPolicy):
            stack_resources = stack_resources or _stack_resources(plan, providers)
            _run(policy, partial(policy.validate, StackValidationArgs(stack_resources, config)), level, "", violations)
    return violations


def _run(
    policy: Policy,
    validate: Callable[[Callable[[str, str | None], None]], Any],
    level: EnforcementLevel,
    resource_urn: str,
    violations: list[Violation],
) -> None:
    severity = policy.severity.value if policy.severity else "unspecified"

    def report(message: str, urn: str | None = None) -> None:
        # A resource policy always reports against the resource validated, as the engine does.
        where = resource_urn or urn or ""
        violations.append(Violation(policy.name, policy.description, severity, level, message, where))

    try:
        result = validate(report)
        if isawaitable(result):
            asyncio.run(result)  # type: ignore[arg-type] - pulumi_policy returns a coroutine here
    except UnknownValueError as error:
        # What the analyzer server reports when a policy reads a value only known after `pulumi up`.
        message = f"can't run policy '{policy.name}' during preview: {error.message}"
        violations.append(
            Violation(policy.name, policy.description, severity, EnforcementLevel.ADVISORY, message, resource_urn)
        )


# ---------------------------------------------------------------------------------------------- report


def report(violations: Sequence[Violation], *, config: Path, title: str = "Policies:") -> str:
    """Violations grouped under the pack, like the CLI's "Policies:" section."""
    mandatory = sum(violation.mandatory for violation in violations)
    advisory = len(violations) - mandatory
    status = "FAILED" if mandatory else "passed"
    try:
        shown_config = config.relative_to(PROJECT_DIR)
    except ValueError:
        shown_config = config
    lines = [title, f"    {status}  {PACK_NAME}@v{pack_version()} (local: policies, config: {shown_config})"]
    for violation in violations:
        lines.append(
            f"        - [{violation.enforcement.value}]  [severity: {violation.severity}]  {violation.policy}"
            f"  ({violation.resource})"
        )
        lines.append(f"          {violation.description}")
        lines += [f"          {line}" for line in violation.message.splitlines()]
    lines.append(f"    {mandatory} mandatory, {advisory} advisory violation(s)")
    return "\n".join(lines)


def check(plan: Plan, config: Path | None = None, *, preview_plan: Plan | None = None) -> tuple[list[Violation], str]:
    """The violations of ``plan`` under its stack's policy config (or ``config``), and the printed report.

    With ``preview_plan`` (the same program evaluated as ``pulumi preview`` sees it, ``engine.preview(...,
    as_preview=True)``) both verdicts are reported, the preview's first, and the violations are both runs'.
    """
    path = config or config_path(plan.stack)
    settings = load_settings(path, stack=plan.stack)
    violations = evaluate(plan, settings)
    text = report(violations, config=path, title="Policies (as `pulumi up` sees it, every resource created):")
    if preview_plan is None:
        return violations, report(violations, config=path)
    at_preview = evaluate(preview_plan, settings)
    title = "Policies (as `pulumi preview` sees it: outputs of resources not created yet are unknown):"
    return [*at_preview, *violations], f"{report(at_preview, config=path, title=title)}\n\n{text}"
