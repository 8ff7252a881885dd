"""The VPC flow log role trusts flow log delivery only for this account's own flow logs (the confused deputy guard
AWS documents for it), so no other account's flow log can be pointed at it."""

from __future__ import annotations

import json

from stacks.offline.plan import Plan

ACCOUNT = "123456789012"


def test_flow_log_role_is_assumable_only_for_this_accounts_flow_logs(plan: Plan) -> None:
    role = plan.one("aws:iam/role:Role", "network-flow-logs-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc-flow-log/*"},
    }
