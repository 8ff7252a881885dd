"""What every rule builds on: plain views of resources, explicit unknowns, resource pairing and the registry.

Rules never touch ``pulumi_policy`` arguments directly. The registry converts them once into plain ``Resource``
and ``Stack`` views: dicts and lists, with every value the engine cannot know yet (during ``pulumi preview``)
replaced by ``UNKNOWN``. A rule never guesses about an unknown value: it reports everything it can decide, and
names what it cannot with ``report.undecided(...)``, which the engine shows as an advisory "can't run policy ...
during preview" entry. Resource rules run again during ``pulumi up`` with resolved inputs before each resource is
created, and a mandatory violation stops it; stack rules run once, after ``pulumi up`` has created or updated
everything, so a check that can be made on one resource is a resource rule.

A rule is a check function whose docstring is its description (and a "Fix:" paragraph its remediation), declared
with ``@rules.resource(severity, types)`` or ``@rules.stack(severity)``; the helpers ``require_true``,
``require_cmk`` and ``require_attached`` build the common checks from a documented stub.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

#: Policy tags that say how a rule is enforced per stack (policies/config/*.json): security rules are mandatory
#: everywhere; resilience (HA, protection) and cost rules are advisory in staging.
SECURITY = "security"
RESILIENCE = "resilience"
COST = "cost"

#: ``types=(EVERY_TYPE,)``: a resource rule that sees every resource.
EVERY_TYPE = "*"

_UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


class _Unknown:
    """A value the engine cannot know during preview (it depends on a resource not created yet)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


def plain(value: Any) -> Any:
    """The engine's (proxied) property values as plain dicts and lists, unknowns as ``UNKNOWN``.

    pulumi_policy wraps properties in proxies that raise ``UnknownValueError`` when an unknown is read; reading
    each value once here keeps that out of the rules.
    """
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def dig(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``: None where something is missing, ``UNKNOWN`` where something is unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(value, dict) and isinstance(key, str):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        else:
            return None
    return value


def enabled(value: Any) -> bool:
    """True for ``true`` (some AWS inputs are the strings "true"/"false")."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def off(value: Any) -> bool:
    """Known, and not true (unset counts as off: AWS defaults these switches to off)."""
    return value is not UNKNOWN and not enabled(value)


def customer_managed_key(value: Any) -> bool:
    """A KMS key id/ARN of our own, or one not known yet (an ``alias/aws/...`` key is AWS-managed: no key policy
    of ours applies)."""
    if value is UNKNOWN:
        return True
    return isinstance(value, str) and bool(value) and "alias/aws/" not in value


def items(value: Any) -> list[Any]:
    """The known elements of a list (an unknown or missing list has none)."""
    return [item for item in value if item is not UNKNOWN] if isinstance(value, list) else []


def partly_unknown(value: Any) -> bool:
    """Unknown, or a list with an unknown element (which ``items`` leaves out)."""
    return value is UNKNOWN or (isinstance(value, list) and any(item is UNKNOWN for item in value))


def strings(value: Any) -> list[str]:
    """A string or list of strings (as in IAM documents) as a list of its known strings."""
    if isinstance(value, str):
        return [value]
    return [item for item in items(value) if isinstance(item, str)]


def given(value: Any) -> bool:
    """Set to something (an unknown value counts: it will be set to whatever it resolves to)."""
    return value is UNKNOWN or value not in (None, "", [], {})


def document(value: Any) -> Any:
    """A JSON policy document (string or object) as an object; ``UNKNOWN`` if unknown, None if unreadable."""
    if value is UNKNOWN or isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            return plain(json.loads(value))
        except json.JSONDecodeError:
            return None
    return None


def statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of an IAM/KMS/S3 policy document (a single statement may be an object)."""
    parsed = document(policy)
    found = dig(parsed, "Statement") if isinstance(parsed, dict) else None
    if isinstance(found, dict):
        return [found]
    return [statement for statement in items(found) if isinstance(statement, dict)]


# ---------------------------------------------------------------------------------------------- views

#: Properties by which resources refer to each other.
_IDENTITY_KEYS = ("id", "arn", "name", "bucket", "keyId")


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it. ``props`` are inputs (resource rules) or outputs (stack rules)."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    protect: bool = False
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    def get(self, *path: str | int) -> Any:
        return dig(self.props, *path)

    @property
    def stack(self) -> str:
        """The stack, from the URN (``urn:pulumi:<stack>::<project>::...``)."""
        return self.urn.split("::", 1)[0].rsplit(":", 1)[-1]

    @property
    def project(self) -> str:
        parts = self.urn.split("::")
        return parts[1] if len(parts) > 1 else ""

    @property
    def ancestor_types(self) -> list[str]:
        """Types of the resource's parents, outermost first, from the URN (``...::a$b$type::name``)."""
        parts = self.urn.split("::")
        return parts[2].split("$")[:-1] if len(parts) >= 4 else []

    def identity_unknown(self) -> bool:
        """Whether a property others may refer to it by is not known yet."""
        return UNKNOWN in (*(self.get(key) for key in _IDENTITY_KEYS), self.get("metadata", "name"))

    def identities(self) -> set[str]:
        """Strings other resources use to refer to this one: id, ARN (and the id that ends it), names."""
        found: set[str] = set()
        for key in _IDENTITY_KEYS:
            value = self.get(key)
            if isinstance(value, str) and value:
                found.add(value)
                if key == "arn":
                    found.add(value.rsplit("/", 1)[-1])
        metadata_name = self.get("metadata", "name")
        if isinstance(metadata_name, str) and metadata_name:
            found.add(metadata_name)
        return found


#: Whether a referring property pointed at resources of the given candidates (the list, possibly empty) or
#: cannot be told yet (None: its value is unknown and the engine gave no dependency that decides it).
Referents = list[Resource] | None


@dataclass(frozen=True)
class Stack:
    """Every resource of the stack (outputs as props), for rules that relate resources to each other."""

    resources: tuple[Resource, ...]
    config: Mapping[str, Any] = field(default_factory=dict)

    def of_type(self, *types: str) -> list[Resource]:
        return [resource for resource in self.resources if resource.type in types]

    def referents(self, source: Resource, prop: str, candidates: Sequence[Resource], values: Any = None) -> Referents:
        """The candidates that ``source.<prop>`` refers to (ids, ARNs or names).

        Known values are matched against each candidate's identities. Unknown ones (a resource created in the
        same preview), or known ones while a candidate's identity is unknown, fall back on the engine's property
        dependencies, then on resource dependencies when they single out one candidate. ``values`` replaces the
        value of ``prop`` (for references nested inside it).
        """
        raw = source.get(prop) if values is None else values
        wanted = raw if isinstance(raw, list) else [raw]
        if raw is None or wanted == []:
            return []
        if all(isinstance(value, str) for value in wanted):
            matched = [candidate for candidate in candidates if candidate.identities() & set(wanted)]
            if matched or not any(candidate.identity_unknown() for candidate in candidates):
                return matched
        through_property = source.property_dependencies.get(prop)
        if through_property:
            return [candidate for candidate in candidates if candidate.urn in through_property]
        depended_on = [candidate for candidate in candidates if candidate.urn in source.dependencies]
        return depended_on if len(depended_on) == 1 else None

    def attachments(
        self, owners: Sequence[Resource], attached: Sequence[Resource], prop: str
    ) -> tuple[dict[str, list[Resource]], list[Resource]]:
        """For each owner (by URN), the ``attached`` resources whose ``prop`` refers to it, and the attached
        resources that cannot be placed yet (any owner without an attachment may be theirs)."""
        by_owner: dict[str, list[Resource]] = {owner.urn: [] for owner in owners}
        unplaced: list[Resource] = []
        for resource in attached:
            found = self.referents(resource, prop, owners)
            if found is None:
                unplaced.append(resource)
                continue
            for owner in found:
                by_owner[owner.urn].append(resource)
        return by_owner, unplaced


def resource_view(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Resource:
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=plain(args.props),
        protect=bool(args.opts.protect),
        parent=args.opts.parent or None,
        config=config,
    )


def stack_view(args: StackValidationArgs, config: Mapping[str, Any]) -> Stack:
    resources = tuple(
        Resource(
            type=resource.resource_type,
            name=resource.name,
            urn=resource.urn,
            props=plain(resource.props),
            protect=bool(resource.opts.protect),
            parent=resource.parent.urn if resource.parent is not None else None,
            dependencies=tuple(dependency.urn for dependency in resource.dependencies),
            property_dependencies={
                prop: tuple(dependency.urn for dependency in dependencies)
                for prop, dependencies in resource.property_dependencies.items()
            },
            config=config,
        )
        for resource in args.resources
    )
    return Stack(resources=resources, config=config)


# ---------------------------------------------------------------------------------------------- registry

_P = TypeVar("_P", bound=Policy)


class Undecided(UnknownValueError):
    """What a check could not decide because values are unknown during preview, raised once the check has
    reported everything it could decide. The engine turns it into the advisory "can't run policy ... during
    preview" entry, so the undecided value is visible and no other resource's verdict is lost."""

    def __init__(self, what: Sequence[str]) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.message = "undecided until the values are known: " + "; ".join(what)


@dataclass
class _Reporter:
    """Collects what a check could not decide; ``finish`` raises it after the check."""

    undecided_values: list[str] = field(default_factory=list)

    def undecided(self, what: str) -> None:
        """Note a check that cannot be decided yet, naming the unknown value (``<resource>.<property>``)."""
        self.undecided_values.append(what)

    def finish(self) -> None:
        if self.undecided_values:
            raise Undecided(self.undecided_values)


@dataclass
class ResourceReport(_Reporter):
    """``report(message)``: a violation of the resource validated; ``report.undecided(what)``: not decidable yet."""

    emit: Callable[[str], None] = print

    def __call__(self, message: str) -> None:
        self.emit(message)


@dataclass
class StackReport(_Reporter):
    """``report(message, resource)``: a violation by one resource (None: the stack); ``report.undecided(what)``."""

    emit: Callable[[str, Resource | None], None] = lambda message, resource: None

    def __call__(self, message: str, resource: Resource | None) -> None:
        self.emit(message, resource)


ResourceCheck = Callable[[Resource, ResourceReport], None]
#: A stub function that only names and documents a rule a helper builds (``@rules.require_true(...)``).
Declaration = Callable[[], None]
StackCheck = Callable[[Stack, StackReport], None]


@dataclass
class Rules:
    """The policies of one domain module, declared with ``@rules.resource(...)``, ``@rules.stack(...)`` or a helper.

    Every violation message ends with the rule's remediation, so the CLI output says what to change.
    ``config`` maps property names to JSON-schema declarations with a ``default``; checks read the effective
    values (defaults overlaid with the stack's policy config) from ``resource.config`` / ``stack.config``.
    """

    policies: list[Policy] = field(default_factory=list)

    def resource(
        self,
        severity: Severity,
        types: Iterable[str],
        *,
        fix: str | None = None,
        category: str = SECURITY,
        config: dict[str, dict[str, Any]] | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> Callable[[ResourceCheck], ResourceValidationPolicy]:
        """Declares the decorated check as a resource rule for ``types``. Unless given, its name is the function's
        (``_`` as ``-``), its description the docstring's text and its fix the docstring's ``Fix:`` paragraph."""
        applies_to = frozenset(types)

        def register(check: ResourceCheck) -> ResourceValidationPolicy:
            def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
                if args.resource_type not in applies_to and EVERY_TYPE not in applies_to:
                    return
                resource = resource_view(args, _settings(config, args.get_config()))
                report = ResourceReport(emit=lambda message: report_violation(_with_fix(message, rule_fix), None))
                check(resource, report)
                report.finish()

            rule_name, rule_description, rule_fix = _identity(check, name, description, fix)
            options = _policy_options(severity, rule_fix, category, config)
            return self._add(ResourceValidationPolicy(rule_name, rule_description, validate=validate, **options))

        return register

    def require_true(
        self,
        *,
        prop: str,
        severity: Severity,
        types: Iterable[str],
        category: str = SECURITY,
        consequence: str = "",
    ) -> Callable[[Declaration], ResourceValidationPolicy]:
        """A rule that one boolean input must be true (unset counts as false, as AWS defaults these to off),
        named and documented by the decorated stub."""

        def check(resource: Resource, report: ResourceReport) -> None:
            value = resource.get(prop)
            if value is UNKNOWN:
                report.undecided(f"{resource.name}.{prop}")
            elif off(value):
                report(f"{prop} is not true{consequence}.")

        return lambda stub: self.resource(severity, types, category=category, **_documented(stub))(check)

    def require_cmk(
        self, *, prop: str, types: Iterable[str], severity: Severity = Severity.MEDIUM, when: str | None = None
    ) -> Callable[[Declaration], ResourceValidationPolicy]:
        """A rule that ``prop`` names a customer-managed KMS key (when the boolean ``when`` is on, if given)."""

        def check(resource: Resource, report: ResourceReport) -> None:
            if (when is None or enabled(resource.get(when))) and not customer_managed_key(resource.get(prop)):
                report(f"{prop} does not name a customer-managed KMS key (an AWS-managed key would be used).")

        return lambda stub: self.resource(severity, types, **_documented(stub))(check)

    def require_attached(
        self,
        *,
        owners: Sequence[str],
        attached: Sequence[str],
        prop: str,
        missing: str,
        severity: Severity,
        counts: Callable[[Stack, Resource, Resource], bool | None] = lambda _stack, _owner, _side: True,
        exempt: Callable[[Stack], tuple[set[str], list[str]]] | None = None,
    ) -> Callable[[Declaration], StackValidationPolicy]:
        """A rule that every resource of the ``owners`` types has a resource of the ``attached`` types whose
        ``prop`` refers to it (and that ``counts(stack, owner, side)``: None when not known yet). ``exempt``
        names owners (by URN) that need none, and the values that keep it from telling them all yet. An
        attachment not placeable yet leaves the owners without one undecided -- reported, never silently passed,
        and never for the owners it cannot belong to."""

        def check(stack: Stack, report: StackReport) -> None:
            candidates = stack.of_type(*owners)
            by_owner, unplaced = stack.attachments(candidates, stack.of_type(*attached), prop)
            exempted, exempt_unknown = exempt(stack) if exempt else (set(), [])
            unknown = [f"{resource.name}.{prop}" for resource in unplaced] + exempt_unknown
            for owner in candidates:
                verdicts = {side.name: counts(stack, owner, side) for side in by_owner[owner.urn]}
                if owner.urn in exempted or True in verdicts.values():
                    continue
                undecided = unknown + [side for side, verdict in verdicts.items() if verdict is None]
                if undecided:
                    report.undecided(f"whether {owner.name} has one ({', '.join(undecided)})")
                else:
                    report(missing, owner)

        return lambda stub: self.stack(severity, **_documented(stub))(check)

    def stack(
        self,
        severity: Severity,
        *,
        fix: str | None = None,
        category: str = SECURITY,
        config: dict[str, dict[str, Any]] | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> Callable[[StackCheck], StackValidationPolicy]:
        """Declares the decorated check as a stack rule (named and described as ``resource`` says)."""

        def register(check: StackCheck) -> StackValidationPolicy:
            def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
                stack = stack_view(args, _settings(config, args.get_config()))
                report = StackReport(
                    emit=lambda message, resource: report_violation(
                        _with_fix(message, rule_fix), resource.urn if resource else None
                    )
                )
                check(stack, report)
                report.finish()

            rule_name, rule_description, rule_fix = _identity(check, name, description, fix)
            options = _policy_options(severity, rule_fix, category, config)
            return self._add(StackValidationPolicy(rule_name, rule_description, validate=validate, **options))

        return register

    def _add(self, policy: _P) -> _P:
        if any(existing.name == policy.name for existing in self.policies):
            raise ValueError(f"policy {policy.name} is declared twice")
        self.policies.append(policy)
        return policy


def _identity(
    check: Callable[..., None], name: str | None, description: str | None, fix: str | None
) -> tuple[str, str, str]:
    """A rule's name, description and fix: as given, else from the check function's name and docstring (its text,
    then a paragraph starting "Fix:")."""
    text, _, documented_fix = (check.__doc__ or "").partition("Fix:")
    return (
        name or check.__name__.replace("_", "-"),
        description or " ".join(text.split()),
        fix or " ".join(documented_fix.split()),
    )


class _Documented(TypedDict):
    name: str
    description: str
    fix: str


def _documented(stub: Declaration) -> _Documented:
    """The name, description and fix a declaration stub gives a rule."""
    name, description, fix = _identity(stub, None, None, None)
    return {"name": name, "description": description, "fix": fix}


def _with_fix(message: str, remediation: str) -> str:
    return f"{message} Fix: {remediation}"


def _policy_options(
    severity: Severity, remediation: str, category: str, config: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """The metadata every policy of the pack declares (category as its tag, config as its schema)."""
    return {
        "severity": severity,
        "tags": [category],
        "remediation_steps": remediation,
        "config_schema": PolicyConfigSchema(properties=config) if config else None,
    }


def _settings(config: dict[str, dict[str, Any]] | None, given_config: Mapping[str, Any]) -> dict[str, Any]:
    """Schema defaults overlaid with the configured values (the CLI applies the defaults too)."""
    defaults = {key: declaration["default"] for key, declaration in (config or {}).items()}
    return {**defaults, **given_config}
