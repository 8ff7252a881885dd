"""The fake cloud behind the offline preview: realistic answers to provider invokes and computed outputs.

Offline, nothing is created: every resource's outputs are its inputs plus what the real provider would
compute (ids, ARNs, endpoints, DNS names, ...), in the real provider's shapes and camelCase names. Values are
derived from the resource's URN, so a plan is identical from run to run and diffs between stacks are clean.

Add an ``@outputs(...)`` function for a resource type whose computed outputs the program reads, and an
``@invoke(...)`` function for each provider function the program calls. An invoke without one is an error
(a silent empty answer would hide bugs); a resource without one gets generic outputs (id, arn, name).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

ACCOUNT_ID = "123456789012"

# The secret marker the Pulumi wire format uses; values wrapped in it stay secret in the program.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


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

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.urn.encode()).hexdigest()

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
        region = self.cloud.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.cloud.account_id}:{resource}"

    def secret(self, value: Any) -> dict[str, Any]:
        """Mark an output secret, as the engine does for a provider's secret outputs."""
        if isinstance(value, str):
            self.cloud.secret_values.add(value)
        return {_SIG_KEY: _SECRET_SIG, "value": value}


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

    def call(self, args: MockCallArgs) -> dict:  # type: ignore[override] - a dict is the no-failures form
        fake = _INVOKES.get(args.token)
        if fake is None:
            raise MissingFake(
                f"the offline preview has no answer for provider function {args.token}; "
                "add an @invoke fake in stacks/offline/fakes.py"
            )
        return fake(self, args.args)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        raise NotImplementedError("the recording monitor calls create() instead")

    def create(self, type_: str, name: str, urn: str, inputs: dict[str, Any], *, custom: bool) -> tuple[str, dict]:
        """The id and output state of a new resource."""
        resource = FakeResource(type_, name, urn, inputs, self)
        fake = _OUTPUTS.get(type_)
        if not custom and fake is None:
            return "", {}  # a local component: its outputs are registered by the program itself
        state = {**inputs}
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


# ---------------------------------------------------------------------------------------------- invokes


@invoke("aws:index/getCallerIdentity:getCallerIdentity")
def _caller_identity(cloud: FakeCloud, args: dict) -> dict:
    return {
        "accountId": cloud.account_id,
        "arn": f"arn:aws:sts::{cloud.account_id}:assumed-role/offline-preview/offline",
        "userId": "AROAOFFLINEPREVIEW:offline",
        "id": cloud.account_id,
    }


@invoke("aws:index/getPartition:getPartition")
def _partition(cloud: FakeCloud, args: dict) -> dict:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}


@invoke("aws:index/getRegion:getRegion")
def _region(cloud: FakeCloud, args: dict) -> dict:
    region = args.get("region") or cloud.region
    return {
        "region": region,
        "name": region,
        "id": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
        "description": f"Offline preview of {region}",
    }


@invoke("aws:index/getAvailabilityZones:getAvailabilityZones")
def _availability_zones(cloud: FakeCloud, args: dict) -> dict:
    region = args.get("region") or cloud.region
    short = "".join(part[0] if not part.isdigit() else part for part in region.split("-"))
    letters = "abcd"
    return {
        "names": [f"{region}{letter}" for letter in letters],
        "zoneIds": [f"{short}-az{index + 1}" for index in range(len(letters))],
        "groupNames": [region] * len(letters),
        "id": region,
        "state": args.get("state"),
    }


# ---------------------------------------------------------------------------------------------- resources


@outputs("aws:kms/key:Key")
def _kms_key(resource: FakeResource) -> dict:
    key_id = resource.uuid()
    return {"id": key_id, "keyId": key_id, "arn": resource.arn("kms", f"key/{key_id}")}


@outputs("aws:kms/alias:Alias")
def _kms_alias(resource: FakeResource) -> dict:
    name = resource.physical_name()
    return {"id": name, "arn": resource.arn("kms", name), "targetKeyArn": resource.arn("kms", "key/target")}


@outputs("aws:iam/role:Role")
def _iam_role(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=64)
    return {
        "id": name,
        "name": name,
        "arn": resource.arn("iam", f"role{resource.inputs.get('path', '/')}{name}", regional=False),
        "uniqueId": f"AROA{resource.hex_id(17).upper()}",
    }


@outputs("aws:iam/rolePolicy:RolePolicy")
def _iam_role_policy(resource: FakeResource) -> dict:
    return {"id": f"{resource.inputs.get('role')}:{resource.physical_name()}"}


@outputs("aws:cloudwatch/logGroup:LogGroup")
def _log_group(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=512)
    return {"id": name, "name": name, "arn": resource.arn("logs", f"log-group:{name}")}


@outputs("aws:ec2/vpc:Vpc")
def _vpc(resource: FakeResource) -> dict:
    return {
        "defaultSecurityGroupId": f"sg-0{resource.hex_id(16)}",
        "defaultNetworkAclId": f"acl-0{resource.hex_id(16)}",
        "mainRouteTableId": f"rtb-0{resource.hex_id(16)}",
        "ownerId": resource.cloud.account_id,
    }


@outputs("aws:ec2/eip:Eip")
def _eip(resource: FakeResource) -> dict:
    octets = resource.digest[:4]
    public_ip = "203.0.113." + str(int(octets, 16) % 254 + 1)  # TEST-NET-3, never routable
    return {"allocationId": f"eipalloc-0{resource.hex_id(16)}", "publicIp": public_ip}


@outputs("aws:ec2/vpcEndpoint:VpcEndpoint")
def _vpc_endpoint(resource: FakeResource) -> dict:
    service = str(resource.inputs.get("serviceName", ""))
    dns = f"vpce-0{resource.hex_id(16)}.{service.rsplit('.', 1)[-1]}.{resource.cloud.region}.vpce.amazonaws.com"
    return {"dnsEntries": [{"dnsName": dns, "hostedZoneId": "Z7HUB22UULQXV"}], "state": "available"}


@outputs("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString")
def _random_string(resource: FakeResource) -> dict:
    length = int(resource.inputs.get("length", 16))
    alphabet = base64.b64encode(hashlib.sha512(resource.urn.encode()).digest()).decode()
    value = (alphabet.replace("/", "x").replace("+", "y") * (length // len(alphabet) + 1))[:length]
    fake: dict[str, Any] = {"result": resource.secret(value)}
    if resource.type.endswith("RandomPassword"):
        fake["bcryptHash"] = resource.secret("$2a$10$" + value)
    return fake


@outputs("random:index/randomId:RandomId")
def _random_id(resource: FakeResource) -> dict:
    raw = hashlib.sha256(resource.urn.encode()).digest()[: int(resource.inputs.get("byteLength", 8))]
    return {
        "hex": raw.hex(),
        "dec": str(int.from_bytes(raw, "big")),
        "b64Std": base64.b64encode(raw).decode(),
        "b64Url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
