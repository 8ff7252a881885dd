"""The machinery every settings section shares: config-key naming, common value types, problem reporting.

A *section* is a frozen pydantic dataclass holding one component's settings. Its fields are read from flat
project config keys ``<prefix><FieldInPascalCase>`` (``vpc`` + ``az_count`` -> ``vpcAzCount``) because Pulumi
project config declarations only support scalar and array types, not objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from ipaddress import IPv4Network
from typing import Annotated, Any, Literal, TypeVar, cast, dataclass_transform

from pydantic import AfterValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_pascal
from pydantic.dataclasses import dataclass

Environment = Literal["staging", "prod"]
#: What a section is checked as when the stack's environment is not known (invalid or missing): its own rules,
#: without prod's. ``problems(environment)`` yields prod-only problems only for "prod".
BASELINE_ENVIRONMENT: Environment = "staging"

#: (field name, message): one problem with one setting.
Problem = tuple[str, str]

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy API).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _valid_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of the CloudWatch Logs retention periods {LOG_RETENTION_DAYS}")
    return days


def _no_internet_wide(network: IPv4Network) -> IPv4Network:
    if network.prefixlen == 0:
        raise ValueError("0.0.0.0/0 opens this to the whole internet; list the networks that need access")
    return network


def overlapping_pairs(cidrs: Sequence[IPv4Network]) -> Iterator[tuple[IPv4Network, IPv4Network]]:
    """Each pair of entries of ``cidrs`` that overlap (a repeat included), the earlier entry first."""
    for index, second in enumerate(cidrs):
        for first in cidrs[:index]:
            if first.overlaps(second):
                yield first, second


#: Days a CloudWatch log group keeps its events. Every field of this type is a log group's retention, which prod
#: keeps at least ``PROD_MIN_LOG_RETENTION_DAYS`` (``log_retention_fields``).
RetentionDays = Annotated[int, AfterValidator(_valid_retention)]
#: PCI DSS v4.0 requirement 10.5.1: a year of audit log history (the last three months immediately available,
#: which CloudWatch Logs is throughout).
PROD_MIN_LOG_RETENTION_DAYS = 365


def log_retention_fields(section: type) -> list[str]:
    """The fields of a settings section that are log group retentions (typed ``RetentionDays``)."""
    return [
        name
        for name, info in section.__pydantic_fields__.items()  # type: ignore[attr-defined]
        if any(getattr(check, "func", None) is _valid_retention for check in info.metadata)
    ]


#: A CIDR that grants access to something; never the whole internet.
AllowedCidr = Annotated[IPv4Network, AfterValidator(_no_internet_wide)]


S = TypeVar("S")


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(Field,))
def section(prefix: str) -> Callable[[type[S]], type[S]]:
    """Make a class a settings section: a frozen, keyword-only pydantic dataclass read from ``<prefix>...`` keys.

    Unknown fields are rejected, and values are coerced from the strings Pulumi config delivers ("3", "true").
    A section may define ``problems(environment)`` for checks that span fields or depend on the environment; its
    checks that hold everywhere must not depend on the environment (they also run when it is not known).
    """

    def alias(field: str) -> str:
        return prefix + to_pascal(field) if prefix else to_camel(field)

    config = ConfigDict(alias_generator=alias, validate_by_name=True, validate_by_alias=True, extra="forbid")

    def wrap(cls: type[S]) -> type[S]:
        cls.CONFIG_PREFIX = prefix  # type: ignore[attr-defined]
        if not hasattr(cls, "problems"):
            cls.problems = _no_problems  # type: ignore[attr-defined]
        return cast("type[S]", dataclass(frozen=True, kw_only=True, config=config)(cls))

    return wrap


def _no_problems(self: Any, environment: Environment) -> Iterator[Problem]:
    return iter(())
