"""Secrets Manager rotation with Lambda for the generated secrets the shop verifies itself (session key, admin
token): the function in ``functions/rotate_generated``, its role, logs and the rotation schedules. The alarm on
its errors is observability's (``signals.rotation_alarms``), like every other alarm."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext
from components.iam import granted_service_role
from components.log_groups import encrypted_log_group

FUNCTION_SOURCE = Path(__file__).resolve().parents[1] / "functions" / "rotate_generated"
HANDLER = "rotate.handler"
RUNTIME = "python3.12"
#: What the function needs on the secrets it rotates (AWS's rotation templates' policy, without a database).
ROTATION_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]


def package(directory: Path) -> tuple[pulumi.AssetArchive, str]:
    """The function's code as an archive of the directory's ``.py`` files, and the base64 SHA-256 of their names
    and contents: the same source gives the same hash, so an unchanged function is never redeployed."""
    files = sorted(path for path in directory.glob("*.py") if path.name != "__init__.py")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    # Paths relative to the working directory, which Pulumi sets to the project's: the plan is then the same
    # wherever the repository is checked out (preview --against evaluates another revision in another directory).
    archive = pulumi.AssetArchive({path.name: pulumi.FileAsset(os.path.relpath(path)) for path in files})
    return archive, base64.b64encode(digest.digest()).decode()


@dataclass(frozen=True)
class SecretRotationArgs:
    context: StackContext
    secret_arns: Mapping[str, pulumi.Input[str]]
    """The secrets to rotate, by purpose (``session``, ``admin-token``)."""
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    schedule_days: int
    """Days between scheduled rotations; 0: none scheduled (``rotate-secret`` still works)."""
    log_retention_days: int


class SecretRotation(PlatformComponent):
    """One rotation function for all the generated secrets, allowed exactly the rotation actions on them."""

    pulumi_type = "shop:data:SecretRotation"
    component = "rotation"

    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    """Observability alarms on its errors (``rotation-errors``)."""

    def __init__(self, name: str, args: SecretRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        account = self.context.account
        function_name = self.naming.physical("rotate-generated", max_length=64)
        log_group = encrypted_log_group(
            f"{name}-logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention_days=args.log_retention_days,
            kms_key_arn=args.logs_key_arn,
            tags=self.tags("rotation-logs"),
            component=self,
        )
        secret_arns = list(args.secret_arns.values())
        statements = pulumi.Output.all(secret_arns, args.secrets_key_arn, log_group.arn).apply(
            lambda values: _statements(values[0], values[1], values[2], account.region, account.dns_suffix)
        )
        granted = granted_service_role(
            f"{name}-role",
            scope=self.context.role_scope,
            service=account.service_principal("lambda"),
            description="Secrets Manager rotation function of the shop's generated secrets",
            statements=statements,
            tags=self.tags("rotation"),
            parent=self,
        )
        archive, source_hash = package(FUNCTION_SOURCE)
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description="Rotates the shop's session key and admin token (functions/rotate_generated)",
            role=granted.role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            code=archive,
            source_code_hash=source_hash,
            timeout=30,
            memory_size=128,
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=self.tags("rotation"),
            opts=self.child(depends_on=[*granted.grants, log_group]),
        )
        for purpose, secret_arn in args.secret_arns.items():
            permission = aws.lambda_.Permission(
                f"{name}-{purpose}-invoke",
                action="lambda:InvokeFunction",
                function=function.name,
                principal=f"secretsmanager.{account.dns_suffix}",
                source_arn=secret_arn,
                source_account=account.id,
                opts=self.child(function),
            )
            if args.schedule_days:
                aws.secretsmanager.SecretRotation(
                    f"{name}-{purpose}",
                    secret_id=secret_arn,
                    rotation_lambda_arn=function.arn,
                    rotation_rules={"automatically_after_days": args.schedule_days},
                    opts=self.child(depends_on=[permission]),
                )
        self.function_arn = function.arn
        self.function_name = function.name
        self.register_outputs({"function_arn": self.function_arn, "function_name": self.function_name})


def _statements(
    secret_arns: list[str], secrets_key_arn: str, log_group_arn: str, region: str, dns_suffix: str
) -> list[dict[str, Any]]:
    return [
        {"Sid": "RotateTheGeneratedSecrets", "Effect": "Allow", "Action": ROTATION_ACTIONS, "Resource": secret_arns},
        {
            # GetRandomPassword acts on no resource: IAM accepts only "*" for it.
            "Sid": "GenerateValues",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetRandomPassword"],
            "Resource": "*",
        },
        {
            "Sid": "UseTheSecretsKeyThroughSecretsManager",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": secrets_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.{dns_suffix}"}},
        },
        {
            "Sid": "WriteItsLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
    ]
