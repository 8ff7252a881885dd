"""Rotation with Lambda (components/rotation.py): the packaged function, its least-privilege role, logs, alarm,
invoke permission and per-secret schedules (prod every 30 days, staging none unless configured)."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi

from components.rotation import FUNCTION_SOURCE, ROTATION_ACTIONS, package
from stacks.offline.plan import Plan
from tests.conftest import plan_for
from tests.data_layer import ACCOUNT, key_arn

FUNCTION = "aws:lambda/function:Function"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
PERMISSION = "aws:lambda/permission:Permission"
ROTATED = ("session", "admin-token")


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
    assert set(package(FUNCTION_SOURCE)[0].assets) == {"rotate.py"}


def test_the_function_runs_the_packaged_rotation_code_on_python_3_12(prod: Plan) -> None:
    function = prod.one(FUNCTION, "rotation-function")
    assert function.inputs["runtime"] == "python3.12" and function.inputs["handler"] == "rotate.handler"
    assert function.inputs["sourceCodeHash"] == package(FUNCTION_SOURCE)[1]
    assert "environment" not in function.inputs  # no secret, nor anything else, in its configuration


def test_the_role_is_scoped_and_allowed_exactly_the_rotation_actions(prod: Plan) -> None:
    role = prod.one("aws:iam/role:Role", "rotation-role")
    assert role.inputs["path"] == "/shop/prod/" and role.inputs["permissionsBoundary"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    statements = {
        s["Sid"]: s
        for s in json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "rotation-role-policy").inputs["policy"])[
            "Statement"
        ]
    }
    assert set(statements) == {
        "RotateTheGeneratedSecrets",
        "GenerateValues",
        "UseTheSecretsKeyThroughSecretsManager",
        "WriteItsLogs",
    }
    rotate = statements["RotateTheGeneratedSecrets"]
    assert rotate["Action"] == ROTATION_ACTIONS
    assert sorted(rotate["Resource"]) == sorted(_secret_arn(prod, p) for p in ROTATED)
    assert statements["GenerateValues"]["Action"] == ["secretsmanager:GetRandomPassword"]
    kms = statements["UseTheSecretsKeyThroughSecretsManager"]
    assert kms["Resource"] == key_arn(prod, "secrets")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
    log_group = prod.one("aws:cloudwatch/logGroup:LogGroup", "rotation-logs")
    assert statements["WriteItsLogs"]["Resource"] == f"{log_group.outputs['arn']}:*"


def test_logs_go_to_an_encrypted_log_group_and_errors_raise_an_alarm(prod: Plan) -> None:
    function = prod.one(FUNCTION, "rotation-function")
    log_group = prod.one("aws:cloudwatch/logGroup:LogGroup", "rotation-logs")
    assert log_group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"
    assert log_group.inputs["kmsKeyId"] == key_arn(prod, "logs") and log_group.inputs["retentionInDays"]
    assert function.inputs["loggingConfig"]["logGroup"] == log_group.inputs["name"]
    alarm = prod.one("aws:cloudwatch/metricAlarm:MetricAlarm", "observability-rotation-errors")
    (query,) = alarm.inputs["metricQueries"]
    assert query["metric"]["namespace"] == "AWS/Lambda" and query["metric"]["metricName"] == "Errors"
    assert query["metric"]["dimensions"] == {"FunctionName": function.inputs["name"]}
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm.inputs["alarmActions"] == [prod.outputs["observability"]["alarmTopicArns"]["eu-west-1"]]


def test_only_secrets_manager_may_invoke_it_and_only_for_these_secrets(prod: Plan) -> None:
    permissions = prod.of_type(PERMISSION)
    assert sorted(p.inputs["sourceArn"] for p in permissions) == sorted(_secret_arn(prod, p) for p in ROTATED)
    for permission in permissions:
        assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
        assert permission.inputs["sourceAccount"] == ACCOUNT
        assert permission.inputs["action"] == "lambda:InvokeFunction"


def test_prod_rotates_every_30_days_staging_not_unless_configured(staging: Plan, prod: Plan) -> None:
    function_arn = prod.one(FUNCTION, "rotation-function").outputs["arn"]
    rotations = {r.name: r.inputs for r in prod.of_type(ROTATION)}
    assert set(rotations) == {f"rotation-{p}" for p in ROTATED}
    for purpose in ROTATED:
        inputs = rotations[f"rotation-{purpose}"]
        assert inputs["secretId"] == _secret_arn(prod, purpose)
        assert inputs["rotationLambdaArn"] == function_arn
        assert inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert staging.of_type(ROTATION) == [] and len(staging.of_type(FUNCTION)) == 1
    scheduled = plan_for("staging", {"secretsLambdaRotationDays": 7})
    assert {r.inputs["rotationRules"]["automaticallyAfterDays"] for r in scheduled.of_type(ROTATION)} == {7}
