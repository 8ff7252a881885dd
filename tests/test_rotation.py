"""Rotation with Lambda (components/rotation.py): the packaged functions (one per kind of secret), their
least-privilege roles, logs, alarms, invoke permissions and per-secret schedules (prod every 30 days, staging none
unless configured); the AUTH token's function in the VPC, and the program leaving the rotated token alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.rotation import FUNCTION_SOURCE, ROTATION_ACTIONS, package
from stacks.offline.plan import Plan
from tests.conftest import plan_for
from tests.data_layer import ACCOUNT, key_arn

FUNCTION = "aws:lambda/function:Function"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
PERMISSION = "aws:lambda/permission:Permission"
ROTATED = ("session", "admin-token")
#: Each function (by its component's name), its handler and the secrets it alone rotates.
FUNCTIONS = {
    "rotation": ("rotate.handler", ROTATED),
    "redis-rotation": ("redis_auth.handler", ("redis-auth",)),
    "origin-rotation": ("origin_verify.handler", ("origin-verify",)),
}
CACHE_SG = "cache-sg"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def _secret_arn(plan: Plan, purpose: str) -> str:
    return plan.one("aws:secretsmanager/secret:Secret", f"secrets-{purpose}").outputs["arn"]


def test_the_same_source_gives_the_same_archive_hash_and_a_change_a_new_one(tmp_path: Path) -> None:
    (tmp_path / "rotate.py").write_text("VALUE = 1\n")
    (tmp_path / "__init__.py").write_text("")
    archive, first = package(tmp_path)
    assert isinstance(archive, pulumi.AssetArchive) and set(archive.assets) == {"rotate.py"}
    assert package(tmp_path)[1] == first
    (tmp_path / "rotate.py").write_text("VALUE = 2\n")
    assert package(tmp_path)[1] != first
    assert set(package(FUNCTION_SOURCE)[0].assets) == {"rotate.py", "redis_auth.py", "origin_verify.py"}


def test_the_functions_run_the_packaged_rotation_code_on_python_3_12(prod: Plan) -> None:
    for name, (handler, _) in FUNCTIONS.items():
        function = prod.one(FUNCTION, f"{name}-function")
        assert function.inputs["runtime"] == "python3.12" and function.inputs["handler"] == handler
        assert function.inputs["sourceCodeHash"] == package(FUNCTION_SOURCE)[1]
    # No secret, nor anything else, in the generated secrets' function's configuration.
    assert "environment" not in prod.one(FUNCTION, "rotation-function").inputs


def _statements(plan: Plan, name: str) -> dict[str, Any]:
    policy = plan.one("aws:iam/rolePolicy:RolePolicy", f"{name}-role-policy").inputs["policy"]
    return {statement["Sid"]: statement for statement in json.loads(policy)["Statement"]}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_role_is_scoped_and_allowed_the_rotation_actions_on_its_own_secrets_only(prod: Plan, name: str) -> None:
    role = prod.one("aws:iam/role:Role", f"{name}-role")
    assert role.inputs["path"] == "/shop/prod/" and role.inputs["permissionsBoundary"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    statements = _statements(prod, name)
    assert set(statements) >= {
        "RotateTheGeneratedSecrets",
        "GenerateValues",
        "UseTheSecretsKeyThroughSecretsManager",
        "WriteItsLogs",
    }
    rotate = statements["RotateTheGeneratedSecrets"]
    assert rotate["Action"] == ROTATION_ACTIONS
    assert sorted(rotate["Resource"]) == sorted(_secret_arn(prod, p) for p in FUNCTIONS[name][1])
    assert statements["GenerateValues"]["Action"] == ["secretsmanager:GetRandomPassword"]
    kms = statements["UseTheSecretsKeyThroughSecretsManager"]
    assert kms["Resource"] == key_arn(prod, "secrets")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
    log_group = prod.one("aws:cloudwatch/logGroup:LogGroup", f"{name}-logs")
    assert statements["WriteItsLogs"]["Resource"] == f"{log_group.outputs['arn']}:*"


def test_only_the_tokens_function_may_touch_the_cache_and_only_that_replication_group(prod: Plan) -> None:
    assert len(_statements(prod, "rotation")) == 4  # the generated secrets' function: nothing beyond its secrets
    statements = _statements(prod, "redis-rotation")
    assert set(statements) - {"RotateTheGeneratedSecrets", "GenerateValues"} == {
        "UseTheSecretsKeyThroughSecretsManager",
        "WriteItsLogs",
        "RotateTheCachesToken",
        "CreateItsInterfacesInItsSubnets",
        "ManageItsInterfaces",
        "DescribeNetworkInterfaces",
    }
    group_id = prod.one(REPLICATION_GROUP, "cache-replication-group").inputs["replicationGroupId"]
    token = statements["RotateTheCachesToken"]
    assert token["Action"] == ["elasticache:DescribeReplicationGroups", "elasticache:ModifyReplicationGroup"]
    assert token["Resource"] == f"arn:aws:elasticache:eu-west-1:{ACCOUNT}:replicationgroup:{group_id}"
    vpc = prod.one(FUNCTION, "redis-rotation-function").inputs["vpcConfig"]
    interfaces = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:network-interface/*"
    assert statements["CreateItsInterfacesInItsSubnets"]["Resource"] == [
        interfaces,
        *(f"arn:aws:ec2:eu-west-1:{ACCOUNT}:subnet/{subnet}" for subnet in vpc["subnetIds"]),
        *(f"arn:aws:ec2:eu-west-1:{ACCOUNT}:security-group/{group}" for group in vpc["securityGroupIds"]),
    ]
    assert statements["ManageItsInterfaces"]["Resource"] == interfaces
    assert statements["DescribeNetworkInterfaces"] == {
        "Sid": "DescribeNetworkInterfaces",
        "Effect": "Allow",
        "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
        "Resource": "*",
    }


def test_the_tokens_function_runs_in_the_private_subnets_and_reaches_only_the_cache_and_https(prod: Plan) -> None:
    function = prod.one(FUNCTION, "redis-rotation-function")
    group = prod.one("aws:ec2/securityGroup:SecurityGroup", "redis-rotation-sg")
    assert function.inputs["vpcConfig"] == {
        "subnetIds": prod.outputs["privateSubnetIds"],
        "securityGroupIds": [group.id],
    }
    cache_sg = prod.one("aws:ec2/securityGroup:SecurityGroup", CACHE_SG).id
    egress = {r.name: r.inputs for r in prod.of_type(EGRESS) if r.inputs["securityGroupId"] == group.id}
    assert set(egress) == {"redis-rotation-to-cache", "redis-rotation-to-aws-apis"}
    to_cache = egress["redis-rotation-to-cache"]
    assert (to_cache["fromPort"], to_cache["toPort"], to_cache["referencedSecurityGroupId"]) == (6379, 6379, cache_sg)
    apis = egress["redis-rotation-to-aws-apis"]
    assert (apis["fromPort"], apis["toPort"], apis["cidrIpv4"]) == (443, 443, "0.0.0.0/0")
    admitted = [r.inputs for r in prod.of_type(INGRESS) if r.inputs["securityGroupId"] == cache_sg]
    assert sorted((r["fromPort"], r["referencedSecurityGroupId"]) for r in admitted) == sorted(
        [
            (6379, group.id),
            (6379, prod.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg").id),
        ]
    )
    # Time to wait for the group to apply a modification; the generated secrets' function needs seconds.
    assert (function.inputs["timeout"], prod.one(FUNCTION, "rotation-function").inputs["timeout"]) == (900, 30)
    # Its one setting names the group; the token it reads from Secrets Manager.
    group_id = prod.one(REPLICATION_GROUP, "cache-replication-group").inputs["replicationGroupId"]
    assert function.inputs["environment"] == {"variables": {"REPLICATION_GROUP_ID": group_id}}
    # The generated secrets' function needs no network of the VPC's: it stays out of it.
    assert "vpcConfig" not in prod.one(FUNCTION, "rotation-function").inputs


def test_the_program_leaves_the_rotated_token_alone(prod: Plan) -> None:
    """After a rotation the replication group's token and the secret's value are the function's: the generated
    value seeds them at creation only, and `pulumi up` must not set either back."""
    assert prod.one(REPLICATION_GROUP, "cache-replication-group").options["ignoreChanges"] == ["authToken"]
    versions = {v.name: v.options.get("ignoreChanges") or [] for v in prod.of_type(VERSION)}
    assert versions.pop("secrets-redis-auth-value") == ["secretString"]
    assert versions.pop("secrets-origin-verify-value") == ["secretString"]
    assert all(not ignored for ignored in versions.values())  # the shop reads the others: nothing to fight


@pytest.mark.parametrize("name", FUNCTIONS)
def test_logs_go_to_an_encrypted_log_group_and_errors_raise_an_alarm(prod: Plan, name: str) -> None:
    function = prod.one(FUNCTION, f"{name}-function")
    log_group = prod.one("aws:cloudwatch/logGroup:LogGroup", f"{name}-logs")
    assert log_group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"
    assert log_group.inputs["kmsKeyId"] == key_arn(prod, "logs") and log_group.inputs["retentionInDays"]
    assert function.inputs["loggingConfig"]["logGroup"] == log_group.inputs["name"]
    alarm_name = {
        "rotation": "rotation-errors",
        "redis-rotation": "rotation-redis-auth-errors",
        "origin-rotation": "rotation-origin-verify-errors",
    }[name]
    alarm = prod.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"observability-{alarm_name}")
    (query,) = alarm.inputs["metricQueries"]
    assert query["metric"]["namespace"] == "AWS/Lambda" and query["metric"]["metricName"] == "Errors"
    assert query["metric"]["dimensions"] == {"FunctionName": function.inputs["name"]}
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm.inputs["alarmActions"] == [prod.outputs["observability"]["alarmTopicArns"]["eu-west-1"]]


def test_only_secrets_manager_may_invoke_each_function_and_only_for_its_own_secrets(prod: Plan) -> None:
    permissions = prod.of_type(PERMISSION)
    assert len(permissions) == sum(len(purposes) for _, purposes in FUNCTIONS.values())
    for name, (_, purposes) in FUNCTIONS.items():
        function_name = prod.one(FUNCTION, f"{name}-function").inputs["name"]
        mine = [p for p in permissions if p.inputs["function"] == function_name]
        assert sorted(p.inputs["sourceArn"] for p in mine) == sorted(_secret_arn(prod, p) for p in purposes)
    for permission in permissions:
        assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
        assert permission.inputs["sourceAccount"] == ACCOUNT
        assert permission.inputs["action"] == "lambda:InvokeFunction"


def test_prod_rotates_every_30_days_staging_not_unless_configured(staging: Plan, prod: Plan) -> None:
    rotations = {r.name: r.inputs for r in prod.of_type(ROTATION)}
    assert set(rotations) == {f"{name}-{p}" for name, (_, purposes) in FUNCTIONS.items() for p in purposes}
    for name, (_, purposes) in FUNCTIONS.items():
        function_arn = prod.one(FUNCTION, f"{name}-function").outputs["arn"]
        for purpose in purposes:
            inputs = rotations[f"{name}-{purpose}"]
            assert inputs["secretId"] == _secret_arn(prod, purpose)
            assert inputs["rotationLambdaArn"] == function_arn
            assert inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert staging.of_type(ROTATION) == [] and len(staging.of_type(FUNCTION)) == len(FUNCTIONS)
    scheduled = plan_for("staging", {"secretsLambdaRotationDays": 7})
    assert len(scheduled.of_type(ROTATION)) == len(rotations)
    assert {r.inputs["rotationRules"]["automaticallyAfterDays"] for r in scheduled.of_type(ROTATION)} == {7}
