"""The fake cloud behind the offline preview: realistic answers to provider invokes and computed outputs.

Offline, nothing is created: every resource's outputs are its inputs plus what the real provider would
compute (ids, ARNs, endpoints, DNS names, ...), in the real provider's shapes and camelCase names. Values are
derived from the resource's URN without the stack's name (``FakeResource.seed``), so a plan is identical from run
to run and the same resource has the same ids in every stack (diffs between stacks show only real differences).

Add an ``@outputs(...)`` function for a resource type whose computed outputs the program reads, and an
``@invoke(...)`` function for each provider function the program calls, in the module of this package for
that area (one module per provider area, imported at the end of this file). An invoke without a fake is an
error (a silent empty answer would hide bugs); a resource without one gets generic outputs (id, arn, name).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from stacks.offline.plan import secret

ACCOUNT_ID = "123456789012"


class MissingFake(Exception):
    """The program called a provider function the offline preview cannot answer yet."""


@dataclass(frozen=True)
class FakeResource:
    """One resource as the fake cloud sees it while computing its outputs."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    cloud: FakeCloud
    region: str
    """Where the resource lives: its ``region`` input, else its provider's region, else the stack's."""

    @property
    def seed(self) -> str:
        """What the fake values derive from: the URN without the stack's name, so that the same resource gets the
        same ids in every stack and a diff between stacks shows only real differences."""
        return self.urn.split("::", 1)[1]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.seed.encode()).hexdigest()

    def hex_id(self, length: int = 17) -> str:
        return self.digest[:length]

    def uuid(self) -> str:
        d = self.digest
        return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"

    def physical_name(self, prop: str = "name", max_length: int = 255) -> str:
        """The input name, or what Pulumi auto-naming would produce (logical name + random suffix)."""
        given = self.inputs.get(prop)
        if isinstance(given, str) and given:
            return given
        prefix = self.inputs.get(f"{prop}Prefix")
        base = prefix if isinstance(prefix, str) and prefix else f"{self.name}-"
        return f"{base}{self.hex_id(7)}"[:max_length]

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.cloud.account_id}:{resource}"

    def secret(self, value: Any) -> dict[str, Any]:
        """Mark an output secret, as the engine does for a provider's secret outputs."""
        if isinstance(value, str):
            self.cloud.secret_values.add(value)
        return secret(value)


OutputFake = Callable[[FakeResource], dict[str, Any]]
InvokeFake = Callable[["FakeCloud", dict[str, Any]], dict[str, Any]]

_OUTPUTS: dict[str, OutputFake] = {}
_INVOKES: dict[str, InvokeFake] = {}
#: ID prefixes of EC2-style resources, whose ids are "<prefix>-<17 hex digits>".
_EC2_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
}


def outputs(*types: str) -> Callable[[OutputFake], OutputFake]:
    """Register the computed outputs of resource ``types``."""

    def register(fake: OutputFake) -> OutputFake:
        for token in types:
            _OUTPUTS[token] = fake
        return fake

    return register


def invoke(*tokens: str) -> Callable[[InvokeFake], InvokeFake]:
    """Register the answer to provider functions ``tokens``."""

    def register(fake: InvokeFake) -> InvokeFake:
        for token in tokens:
            _INVOKES[token] = fake
        return fake

    return register


@dataclass
class FakeCloud(Mocks):
    """Answers the mock monitor: one instance per offline preview run."""

    region: str
    account_id: str = ACCOUNT_ID
    #: Every secret value the fake cloud generated (e.g. random passwords), to check that none leaks.
    secret_values: set[str] = field(default_factory=set)
    #: Region of each explicit AWS provider (e.g. the us-east-1 one for CloudFront's certificate), by URN.
    provider_regions: dict[str, str] = field(default_factory=dict)
    #: What each Secrets Manager secret holds, by secret ARN: its ``AWSCURRENT`` value (the program's version).
    stored_secrets: dict[str, Any] = field(default_factory=dict)

    def call(self, args: MockCallArgs) -> dict:  # type: ignore[override] - a dict is the no-failures form
        fake = _INVOKES.get(args.token)
        if fake is None:
            raise MissingFake(
                f"the offline preview has no answer for provider function {args.token}; "
                "add an @invoke fake in the stacks/offline/fakes/ module of its area"
            )
        return fake(self, args.args)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        raise NotImplementedError("the recording monitor calls create() instead")

    def create(
        self,
        type_: str,
        name: str,
        urn: str,
        inputs: dict[str, Any],
        *,
        custom: bool,
        remote: bool = False,
        provider: str = "",
    ) -> tuple[str, dict]:
        """The id and output state of a new resource; ``provider`` is the engine's ``<urn>::<id>`` reference.

        A ``remote`` component (built by a provider plugin, e.g. pulumi-eks) has only the outputs its fake returns:
        the real plugin registers its own outputs and never echoes its inputs."""
        if type_ == "pulumi:providers:aws":
            self.provider_regions[urn] = inputs.get("region") or self.region
        region = inputs.get("region") or self.provider_regions.get(provider.rsplit("::", 1)[0], self.region)
        resource = FakeResource(type_, name, urn, inputs, self, region)
        fake = _OUTPUTS.get(type_)
        if not (custom or remote) and fake is None:
            return "", {}  # a local component: its outputs are registered by the program itself
        state = {} if remote else {**inputs}
        if type_.startswith("aws:"):
            state.update(_generic_aws_outputs(resource))
        if fake is not None:
            state.update(fake(resource))
        resource_id = state.pop("id", None) or _default_id(resource)
        return resource_id, state


def _default_id(resource: FakeResource) -> str:
    prefix = _EC2_ID_PREFIXES.get(resource.type)
    if prefix:
        return f"{prefix}-0{resource.hex_id(16)}"
    if resource.type.startswith("pulumi:providers:"):
        return resource.uuid()
    return resource.physical_name() if resource.type.startswith("aws:") else f"{resource.name}-{resource.hex_id(8)}"


def _generic_aws_outputs(resource: FakeResource) -> dict[str, Any]:
    # aws:<module>/<camelType>:<Type> -> service "<module>", resource path "<type>/<id or name>"
    module, _, type_name = resource.type.split(":")[1].partition("/")
    kind = re.sub(r"(?<!^)(?=[A-Z])", "-", type_name).lower()
    identity = _EC2_ID_PREFIXES.get(resource.type)
    path = f"{identity}-0{resource.hex_id(16)}" if identity else resource.physical_name()
    generic: dict[str, Any] = {"arn": resource.arn(module, f"{kind}/{path}")}
    if not identity:
        generic["name"] = resource.physical_name()
    if "tags" in resource.inputs:
        generic["tagsAll"] = resource.inputs["tags"]
    return generic


# The fakes of each area register themselves on import.
from stacks.offline.fakes import aws_cicd, aws_core, aws_data, aws_edge, aws_observability, eks, kubernetes, random  # noqa: E402, F401
