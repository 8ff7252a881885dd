"""Network rules: VPC flow logs, the default security group, internet-facing ingress, rule descriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from .base import UNKNOWN, Resource, ResourceReport, Rules, Stack, StackReport, dig, items, strings

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

INTERNET = ("0.0.0.0/0", "::/0")
WEB_PORTS = (80, 443)
#: What Pulumi puts in a security group's description when the program gives none.
PULUMI_DEFAULT_DESCRIPTION = "Managed by Pulumi"


@rules.stack(
    "vpc-flow-logs-enabled",
    description="Every VPC records its traffic with a VPC flow log.",
    severity=Severity.MEDIUM,
    remediation="add an aws.ec2.FlowLog with vpc_id=<the VPC> delivering to a KMS-encrypted log group.",
)
def vpc_flow_logs_enabled(stack: Stack, report: StackReport) -> None:
    vpcs = stack.of_type(VPC)
    flow_logs, undecided = stack.attachments(vpcs, stack.of_type(FLOW_LOG), "vpcId")
    for vpc in vpcs:
        if not flow_logs[vpc.urn] and not undecided:
            report("The VPC has no flow log.", vpc)


@rules.stack(
    "vpc-default-security-group-closed",
    description="Every VPC's default security group is adopted and stripped of all rules.",
    severity=Severity.MEDIUM,
    remediation="add an aws.ec2.DefaultSecurityGroup with vpc_id=<the VPC>, ingress=[] and egress=[].",
)
def vpc_default_security_group_closed(stack: Stack, report: StackReport) -> None:
    vpcs = stack.of_type(VPC)
    defaults, undecided = stack.attachments(vpcs, stack.of_type(DEFAULT_SECURITY_GROUP), "vpcId")
    for vpc in vpcs:
        if not defaults[vpc.urn] and not undecided:
            report("The VPC's default security group keeps AWS's allow rules (it is not managed here).", vpc)
        for group in defaults[vpc.urn]:
            if items(group.get("ingress")) or items(group.get("egress")):
                report("The default security group has rules; anything launched without a group gets them.", group)


@dataclass(frozen=True)
class _Ingress:
    """One ingress permission, whichever resource declares it."""

    declared_by: Resource
    protocol: Any
    from_port: Any
    to_port: Any
    sources: list[str]

    @property
    def from_internet(self) -> bool:
        """Open to the internet, on a protocol and ports that are known (during preview they may not be)."""
        known = UNKNOWN not in (self.protocol, self.from_port, self.to_port)
        return known and any(source in INTERNET for source in self.sources)

    @property
    def web_only(self) -> bool:
        return str(self.protocol) in ("tcp", "6") and self.from_port == self.to_port and self.from_port in WEB_PORTS

    def describe(self) -> str:
        ports = "all ports" if str(self.protocol) in ("-1", "all") else f"ports {self.from_port}-{self.to_port}"
        return f"ingress from {', '.join(s for s in self.sources if s in INTERNET)} on {self.protocol} {ports}"


def _ingress(resource: Resource) -> list[_Ingress]:
    if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        return [
            _Ingress(
                resource,
                dig(rule, "protocol"),
                dig(rule, "fromPort"),
                dig(rule, "toPort"),
                strings(dig(rule, "cidrBlocks")) + strings(dig(rule, "ipv6CidrBlocks")),
            )
            for rule in items(resource.get("ingress"))
        ]
    if resource.type == SECURITY_GROUP_RULE and resource.get("type") == "ingress":
        sources = strings(resource.get("cidrBlocks")) + strings(resource.get("ipv6CidrBlocks"))
        return [_Ingress(resource, resource.get("protocol"), resource.get("fromPort"), resource.get("toPort"), sources)]
    if resource.type == INGRESS_RULE:
        sources = strings(resource.get("cidrIpv4")) + strings(resource.get("cidrIpv6"))
        return [
            _Ingress(resource, resource.get("ipProtocol"), resource.get("fromPort"), resource.get("toPort"), sources)
        ]
    return []


def _used_by_load_balancer(stack: Stack, group: Resource) -> bool:
    for balancer in stack.of_type(*LOAD_BALANCERS):
        if stack.referents(balancer, "securityGroups", [group]):
            return True
    for ingress in stack.of_type(K8S_INGRESS):
        annotation = ingress.get("metadata", "annotations", ALB_SECURITY_GROUPS_ANNOTATION)
        if isinstance(annotation, str):
            listed = [part.strip() for part in annotation.split(",")]
            if stack.referents(ingress, "metadata", [group], values=listed):
                return True
    return False


@rules.stack(
    "security-group-no-internet-ingress",
    description=(
        "No security group admits traffic from 0.0.0.0/0 or ::/0, except HTTP/HTTPS (80/443) to a load balancer."
    ),
    severity=Severity.CRITICAL,
    remediation=(
        "admit only the VPC CIDR, a source security group or a managed prefix list (e.g. CloudFront's origin-facing "
        "list); internet-facing 80/443 belongs on the load balancer's own security group."
    ),
)
def security_group_no_internet_ingress(stack: Stack, report: StackReport) -> None:
    groups = stack.of_type(SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
    for resource in stack.resources:
        for ingress in _ingress(resource):
            if not ingress.from_internet:
                continue
            if not ingress.web_only:
                report(f"The {ingress.describe()} is open to the internet.", resource)
                continue
            owners = (
                [resource]
                if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
                else stack.referents(resource, "securityGroupId", groups)
            )
            if owners is not None and not any(_used_by_load_balancer(stack, group) for group in owners):
                report(f"The {ingress.describe()} is on a security group no load balancer uses.", resource)


@rules.resource(
    "security-group-rule-descriptions",
    description="Every security group and each of its rules says what it is for.",
    severity=Severity.LOW,
    types=(SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE),
    remediation="set description= on the security group and on every ingress/egress rule (who talks to whom, why).",
)
def security_group_rule_descriptions(resource: Resource, report: ResourceReport) -> None:
    if resource.type == SECURITY_GROUP and resource.get("description") in (None, "", PULUMI_DEFAULT_DESCRIPTION):
        report("The security group has no description of its own.")
    if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        for direction in ("ingress", "egress"):
            for index, rule in enumerate(items(resource.get(direction))):
                if not dig(rule, "description"):
                    report(f"Inline {direction} rule #{index + 1} has no description.")
    elif not resource.get("description"):
        report("The rule has no description.")
