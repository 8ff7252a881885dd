"""Network rules: VPC flow logs, the default security group, internet-facing ingress, rule descriptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from .base import UNKNOWN, Resource, ResourceReport, Rules, Stack, StackReport, dig, items, partly_unknown, strings
from .semantics import PUBLIC_RANGE_CONFIG, internet_ranges

rules = Rules()

VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
#: The AWS Load Balancer Controller attaches the security groups listed in this Ingress annotation.
ALB_SECURITY_GROUPS_ANNOTATION = "alb.ingress.kubernetes.io/security-groups"

WEB_PORTS = (80, 443)
#: What Pulumi puts in a security group's description when the program gives none.
PULUMI_DEFAULT_DESCRIPTION = "Managed by Pulumi"


@rules.require_attached(
    owners=(VPC,), attached=(FLOW_LOG,), prop="vpcId", missing="The VPC has no flow log.", severity=Severity.MEDIUM
)
def vpc_flow_logs_enabled() -> None:
    """Every VPC records its traffic with a VPC flow log.

    Fix: add an aws.ec2.FlowLog with vpc_id=<the VPC> delivering to a KMS-encrypted log group.
    """


@rules.require_attached(
    owners=(VPC,),
    attached=(DEFAULT_SECURITY_GROUP,),
    prop="vpcId",
    missing="The VPC's default security group keeps AWS's allow rules (it is not managed here).",
    severity=Severity.MEDIUM,
)
def vpc_default_security_group_closed() -> None:
    """Every VPC's default security group is adopted (and default-security-group-no-rules empties it).

    Fix: add an aws.ec2.DefaultSecurityGroup with vpc_id=<the VPC>, ingress=[] and egress=[].
    """


@rules.resource(Severity.MEDIUM, (DEFAULT_SECURITY_GROUP,))
def default_security_group_no_rules(resource: Resource, report: ResourceReport) -> None:
    """An adopted default security group has no rules (anything launched without a group gets them).

    Fix: set ingress=[] and egress=[] on the aws.ec2.DefaultSecurityGroup.
    """
    if items(resource.get("ingress")) or items(resource.get("egress")):
        report("The default security group has rules; anything launched without a group gets them.")


@dataclass(frozen=True)
class _Ingress:
    """One ingress permission, whichever resource declares it."""

    declared_by: Resource
    protocol: Any
    from_port: Any
    to_port: Any
    sources: Any

    def from_internet(self, config: Mapping[str, Any]) -> list[str]:
        """The sources that open it to the internet (public space wider than the configured prefixes)."""
        return internet_ranges(strings(self.sources), config)

    @property
    def undecided(self) -> bool:
        return partly_unknown(self.sources) or UNKNOWN in (self.protocol, self.from_port, self.to_port)

    @property
    def web_only(self) -> bool:
        return str(self.protocol) in ("tcp", "6") and self.from_port == self.to_port and self.from_port in WEB_PORTS

    def describe(self, sources: list[str]) -> str:
        ports = "all ports" if str(self.protocol) in ("-1", "all") else f"ports {self.from_port}-{self.to_port}"
        return f"ingress from {', '.join(sources)} on {self.protocol} {ports}"


def _ingress(resource: Resource) -> list[_Ingress]:
    if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        return [
            _Ingress(
                resource,
                dig(rule, "protocol"),
                dig(rule, "fromPort"),
                dig(rule, "toPort"),
                [*strings(dig(rule, "cidrBlocks")), *strings(dig(rule, "ipv6CidrBlocks"))],
            )
            for rule in items(resource.get("ingress"))
        ]
    if resource.type == SECURITY_GROUP_RULE and resource.get("type") == "ingress":
        protocol, cidrs = "protocol", ("cidrBlocks", "ipv6CidrBlocks")
    elif resource.type == INGRESS_RULE:
        protocol, cidrs = "ipProtocol", ("cidrIpv4", "cidrIpv6")
    else:
        return []
    sources = [UNKNOWN] if any(partly_unknown(resource.get(key)) for key in cidrs) else []
    sources += [source for key in cidrs for source in strings(resource.get(key))]
    ports = resource.get("fromPort"), resource.get("toPort")
    return [_Ingress(resource, resource.get(protocol), *ports, sources)]


INGRESS_TYPES = (SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE)


@rules.resource(Severity.CRITICAL, INGRESS_TYPES, config=PUBLIC_RANGE_CONFIG)
def security_group_no_internet_ingress(resource: Resource, report: ResourceReport) -> None:
    """No security group admits traffic from the internet (public ranges wider than the configured prefix, 0.0.0.0/0 and
    0.0.0.0/1 + 128.0.0.0/1 alike) on any port but HTTP/HTTPS (80/443).

    Fix: admit only the VPC CIDR, a source security group or a managed prefix list (e.g. CloudFront's origin-facing
    list); internet-facing 80/443 belongs on the load balancer's own security group.
    """
    for ingress in _ingress(resource):
        internet = ingress.from_internet(resource.config)
        if internet and ingress.undecided:
            report.undecided(f"the ports of {resource.name}'s {ingress.describe(internet)}")
        elif internet and not ingress.web_only:
            report(f"The {ingress.describe(internet)} is open to the internet.")


def _used_by_load_balancer(stack: Stack, group: Resource) -> bool | None:
    """Whether a load balancer (or an ALB Ingress's security-groups annotation) uses the group; None: unknown."""
    for balancer in stack.of_type(*LOAD_BALANCERS):
        if stack.referents(balancer, "securityGroups", [group]):
            return True
    undecided = False
    for ingress in stack.of_type(K8S_INGRESS):
        annotation = ingress.get("metadata", "annotations", ALB_SECURITY_GROUPS_ANNOTATION)
        if isinstance(annotation, str):
            listed = [part.strip() for part in annotation.split(",")]
            found = stack.referents(ingress, "metadata", [group], values=listed)
            if found:
                return True
            undecided = undecided or found is None
        undecided = undecided or annotation is UNKNOWN
    return None if undecided else False


@rules.stack(Severity.CRITICAL, config=PUBLIC_RANGE_CONFIG)
def security_group_web_ingress_load_balancer_only(stack: Stack, report: StackReport) -> None:
    """HTTP/HTTPS (80/443) from the internet reaches only security groups a load balancer uses.

    Fix: put internet-facing 80/443 on the load balancer's own security group (or its Ingress annotation).
    """
    groups = stack.of_type(SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
    for resource in stack.resources:
        for ingress in _ingress(resource):
            internet = ingress.from_internet(stack.config)
            if not internet or not ingress.web_only:
                continue
            owners = (
                [resource]
                if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
                else stack.referents(resource, "securityGroupId", groups)
            )
            used = None if owners is None else [_used_by_load_balancer(stack, group) for group in owners]
            if used is None or (None in used and True not in used):
                report.undecided(f"whether a load balancer uses the security group of {resource.name}")
            elif True not in used:
                report(f"The {ingress.describe(internet)} is on a security group no load balancer uses.", resource)


@rules.resource(Severity.LOW, (SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE))
def security_group_rule_descriptions(resource: Resource, report: ResourceReport) -> None:
    """Every security group and each of its rules says what it is for.

    Fix: set description= on the security group and on every ingress/egress rule (who talks to whom, why).
    """
    if resource.type == SECURITY_GROUP and resource.get("description") in (None, "", PULUMI_DEFAULT_DESCRIPTION):
        report("The security group has no description of its own.")
    if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        for direction in ("ingress", "egress"):
            for index, rule in enumerate(items(resource.get(direction))):
                if not dig(rule, "description"):
                    report(f"Inline {direction} rule #{index + 1} has no description.")
    elif not resource.get("description"):
        report("The rule has no description.")
