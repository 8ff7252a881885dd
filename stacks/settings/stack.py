"""Settings that describe the stack as a whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from stacks.settings.base import Environment, Problem, section

_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


def _domain(value: str) -> str:
    if not _DOMAIN.match(value):
        raise ValueError("must be a lower-case DNS domain such as shop.example.com")
    return value


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError("must be an AWS region code such as eu-west-1")
    return value


Region = Annotated[str, AfterValidator(_region)]
#: Prefix of physical names and the `project` tag.
NamePrefix = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,11}$")]


@section(prefix="")
class StackSettings:
    """Identity of the stack: which environment it is, where it lives and what it is called."""

    environment: Environment = Field(
        description="Which environment this stack is (required, no default): 'prod' turns on every HA and protection "
        "requirement. A stack named staging or prod must be that environment."
    )
    region: Region = Field(description="AWS region of the stack (the `aws:region` config key).")
    domain: Annotated[str, AfterValidator(_domain)] = Field(
        description="DNS domain the shop is served under, e.g. example.com (required, no default)."
    )
    name_prefix: NamePrefix = Field(
        default="shop",
        description="Short prefix of physical resource names and the `project` tag (2-12 lower-case letters/digits).",
    )
    workload_boundary: bool = Field(
        default=True,
        description="Cap every IAM role the stack creates with the bootstrap's <namePrefix>-<stack>-workload-boundary "
        "policy (no IAM changes, no delivery state or keys). The bootstrap's deploy roles create no role without it; "
        "turn it off only to deploy a staging stack without the bootstrap. Required in prod.",
    )

    #: Settings whose config key lives outside the project namespace.
    EXTERNAL_KEYS: ClassVar[dict[str, str]] = {"region": "aws:region"}

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if environment == "prod" and not self.workload_boundary:
            yield "workload_boundary", "prod caps every role it creates with the bootstrap's workload boundary"
