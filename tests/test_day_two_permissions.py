"""What a data store or the audit trail needs while it is created, updated or deleted is in its dependency chain:
the permissions of the role a service acts with (a dependency on the role alone does not include its policy)."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

#: (resource type, name) -> the inline policy of the role the service acts with for it.
USERS = {
    # CreateTrail checks that its CloudWatch Logs role may write to the group, and fails otherwise.
    ("aws:cloudtrail/trail:Trail", "observability-trail"): "observability-trail-logs-role-policy",
    # Enhanced Monitoring publishes with its role from the moment the instance exists until it is deleted.
    ("aws:rds/instance:Instance", "database-postgres"): "database-monitoring-role-policy",
    # A flow log created before its role may write delivers nothing until someone notices the access error.
    ("aws:ec2/flowLog:FlowLog", "network-flow-log"): "network-flow-logs-role-policy",
}


@pytest.mark.parametrize(("user", "policy"), sorted(USERS.items()))
def test_each_service_waits_for_its_roles_permissions(prod: Plan, user: tuple[str, str], policy: str) -> None:
    resource = prod.one(*user)
    assert prod.one(ROLE_POLICY, policy).urn in resource.dependencies
