"""Look-ups the data layer tests share: keys, data subnets, security group rules, policy documents, leaks."""

from __future__ import annotations

import json
from typing import Any

from stacks.offline.plan import Plan, PlannedResource

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ACCOUNT = "123456789012"
#: The only resources that may hold a secret value: its generators and the Secrets Manager versions storing it.
SECRET_HOLDERS = ("random:", "aws:secretsmanager/secretVersion:")


def key_arn(plan: Plan, purpose: str) -> str:
    return plan.one("aws:kms/key:Key", f"{purpose}-key").outputs["arn"]


def data_subnet_ids(plan: Plan) -> list[str]:
    return sorted(s.id for s in plan.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == "data")


def workload_security_group_id(plan: Plan) -> str:
    return plan.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg").id


def rules_of(plan: Plan, rule_type: str, group: PlannedResource) -> list[PlannedResource]:
    return [rule for rule in plan.of_type(rule_type) if rule.inputs["securityGroupId"] == group.id]


def document(resource: PlannedResource, field: str = "policy") -> dict[str, Any]:
    return json.loads(resource.inputs[field])


def statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    (found,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
    return found


def assert_admits_only_the_workloads_on(plan: Plan, group: PlannedResource, port: int) -> None:
    """One ingress rule (TCP ``port`` from the node/pod group), no inline rules, no egress at all."""
    (rule,) = rules_of(plan, INGRESS, group)
    assert rule.inputs["ipProtocol"] == "tcp"
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (port, port)
    assert rule.inputs["referencedSecurityGroupId"] == workload_security_group_id(plan)
    assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)
    assert not group.inputs.get("ingress") and not group.inputs.get("egress")
    assert rules_of(plan, EGRESS, group) == []


def plain_text_leaks(plan: Plan) -> list[str]:
    """Resources (other than the secret holders) whose inputs or outputs show a secret value in plain text."""
    leaks = []
    for resource in plan.resources:
        if resource.type.startswith(SECRET_HOLDERS):
            continue
        text = json.dumps({"inputs": resource.inputs, "outputs": resource.outputs})
        leaks += [f"{resource.type} {resource.name}" for value in plan.secret_values if value in text]
    return leaks
