"""Network rules: flow logs, the default security group, internet ingress, descriptions."""

from __future__ import annotations

from policies.rules import network
from stacks.offline.plan import UNKNOWN, PlannedResource
from tests.policy_support import assert_compliant_even_when_unknown, check, flagged, messages, resource

VPC_ARN = "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0aaa"
SG_ARN = "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0web"


def vpc() -> PlannedResource:
    return resource(network.VPC, "vpc", {"cidrBlock": "10.0.0.0/16"}, outputs={"arn": VPC_ARN})


def test_flow_logs_a_vpc_without_one_is_flagged() -> None:
    other = resource(network.FLOW_LOG, "other-vpc-log", {"vpcId": "vpc-0bbb", "trafficType": "ALL"})
    assert flagged(network.vpc_flow_logs_enabled, vpc(), other) == ["vpc"]


def test_flow_logs_a_vpc_with_one_passes() -> None:
    the_vpc = vpc()
    log = resource(network.FLOW_LOG, "log", {"vpcId": "vpc-0aaa", "trafficType": "ALL"}, dependencies=[the_vpc])
    assert_compliant_even_when_unknown(network.vpc_flow_logs_enabled, the_vpc, log)


def test_default_security_group_missing_or_with_rules_is_flagged() -> None:
    assert flagged(network.vpc_default_security_group_closed, vpc()) == ["vpc"]
    the_vpc = vpc()  # the rules are refused on the default group itself, before it is created
    open_default = resource(
        network.DEFAULT_SECURITY_GROUP,
        "default-sg",
        {"vpcId": "vpc-0aaa", "ingress": [{"protocol": "-1", "self": True}], "egress": []},
        dependencies=[the_vpc],
    )
    assert flagged(network.default_security_group_no_rules, the_vpc, open_default) == ["default-sg"]


def test_default_security_group_adopted_without_rules_passes() -> None:
    the_vpc = vpc()
    closed = resource(
        network.DEFAULT_SECURITY_GROUP,
        "default-sg",
        {"vpcId": "vpc-0aaa", "ingress": [], "egress": []},
        dependencies=[the_vpc],
    )
    assert_compliant_even_when_unknown(network.vpc_default_security_group_closed, the_vpc, closed)
    assert_compliant_even_when_unknown(network.default_security_group_no_rules, the_vpc, closed)


def group(name: str = "web-sg", **props: object) -> PlannedResource:
    return resource(
        network.SECURITY_GROUP,
        name,
        {"description": "web", **props},
        outputs={"arn": SG_ARN.replace("sg-0web", f"sg-0{name}")},
    )


def test_internet_ingress_on_ssh_is_flagged_whatever_declares_it() -> None:
    inline = group(ingress=[{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}])
    legacy_rule = resource(
        network.SECURITY_GROUP_RULE,
        "legacy",
        {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/0"]},
    )
    vpc_rule = resource(
        network.INGRESS_RULE,
        "all-traffic",
        {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-0web-sg"},
    )
    assert flagged(network.security_group_no_internet_ingress, inline, legacy_rule, vpc_rule) == [
        "web-sg",
        "legacy",
        "all-traffic",
    ]
    assert "all ports" in messages(network.security_group_no_internet_ingress, vpc_rule)[0]


def internet_https(*dependencies: PlannedResource) -> PlannedResource:
    """HTTPS from anywhere into the web group."""
    props = {
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
        "cidrIpv4": "0.0.0.0/0",
        "securityGroupId": "sg-0web-sg",
    }
    return resource(network.INGRESS_RULE, "https", props, dependencies=dependencies)


def test_internet_https_is_flagged_unless_a_load_balancer_uses_the_group() -> None:
    web = group()
    https = internet_https(web)
    assert messages(network.security_group_no_internet_ingress, web, https) == []
    assert flagged(network.security_group_web_ingress_load_balancer_only, web, https) == ["https"]
    balancer = resource(network.LOAD_BALANCERS[0], "alb", {"securityGroups": ["sg-0web-sg"]}, dependencies=[web])
    assert_compliant_even_when_unknown(network.security_group_web_ingress_load_balancer_only, web, https, balancer)


def test_internet_https_on_a_group_named_in_an_alb_ingress_annotation_passes() -> None:
    web = group()
    https = internet_https()
    ingress = resource(
        network.K8S_INGRESS,
        "shop",
        {"metadata": {"annotations": {network.ALB_SECURITY_GROUPS_ANNOTATION: "sg-0other, sg-0web-sg"}}},
    )
    assert messages(network.security_group_web_ingress_load_balancer_only, web, https, ingress) == []


def test_ingress_from_inside_the_vpc_passes() -> None:
    internal = group(ingress=[{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"]}])
    assert_compliant_even_when_unknown(network.security_group_no_internet_ingress, internal)


def test_descriptions_missing_on_group_or_rules_are_flagged() -> None:
    undescribed = resource(
        network.SECURITY_GROUP,
        "sg",
        {"description": "Managed by Pulumi", "egress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}]},
    )
    fix = f" Fix: {network.security_group_rule_descriptions.remediation_steps}"
    assert messages(network.security_group_rule_descriptions, undescribed) == [
        "The security group has no description of its own." + fix,
        "Inline egress rule #1 has no description." + fix,
    ]
    rule = resource(network.EGRESS_RULE, "rule", {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"})
    assert flagged(network.security_group_rule_descriptions, rule) == ["rule"]


def test_described_groups_and_rules_pass() -> None:
    described = resource(
        network.SECURITY_GROUP,
        "sg",
        {"description": "Nodes", "ingress": [{"protocol": "tcp", "fromPort": 443, "description": "API"}]},
    )
    rule = resource(network.SECURITY_GROUP_RULE, "rule", {"type": "ingress", "description": "Kubelet"})
    assert_compliant_even_when_unknown(network.security_group_rule_descriptions, described, rule)


def test_internet_https_on_a_group_is_undecided_while_the_ingress_annotation_is_unknown() -> None:
    """The ALB's security groups come from an Ingress annotation only known after the groups exist: the rule
    says it cannot tell yet (advisory), instead of blocking a legitimate load balancer group."""
    web = group()
    https = internet_https()
    ingress = resource(
        network.K8S_INGRESS, "shop", {"metadata": {"annotations": {network.ALB_SECURITY_GROUPS_ANNOTATION: UNKNOWN}}}
    )
    [found] = check(network.security_group_web_ingress_load_balancer_only, web, https, ingress)
    assert found.enforcement.value == "advisory"
    assert "whether a load balancer uses the security group of https" in found.message
