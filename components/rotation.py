"""Secrets Manager rotation with Lambda for the generated secrets: one function per kind of secret, each with its
own role allowed on its own secrets only, its logs and the rotation schedules. The code is in
``functions/rotate_generated`` (``rotate.py``: the session key and admin token the shop verifies itself;
``redis_auth.py``: the ElastiCache AUTH token; ``origin_verify.py``: CloudFront's origin header). The alarms on
their errors are observability's (``signals.rotation_alarms``), like every other alarm."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent, StackContext
from components.iam import granted_service_role
from components.log_groups import encrypted_log_group
from components.security_groups import tcp_rule

FUNCTION_SOURCE = Path(__file__).resolve().parents[1] / "functions" / "rotate_generated"
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


@dataclass(frozen=True, kw_only=True)
class CacheAccess:
    """The replication group whose AUTH token a function rotates: it must reach its primary endpoint."""

    replication_group_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    """The cache's group: it admits the function's group on ``port``."""
    port: int
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets (with the NAT route): the function's network interfaces."""


@dataclass(frozen=True, kw_only=True)
class EdgeAccess:
    """The origin web ACL rule that checks CloudFront's secret header, and the distribution origin that sends it."""

    web_acl_arn: pulumi.Input[str]
    web_acl_id: pulumi.Input[str]
    web_acl_name: str
    web_acl_scope: str
    rule_name: str
    distribution_id: pulumi.Input[str]
    distribution_arn: pulumi.Input[str]
    origin_id: str
    header: str

    def variables(self) -> dict[str, pulumi.Input[str]]:
        """The function's environment (functions/rotate_generated/origin_verify.py reads it)."""
        return {
            "WEB_ACL_NAME": self.web_acl_name,
            "WEB_ACL_ID": self.web_acl_id,
            "WEB_ACL_SCOPE": self.web_acl_scope,
            "RULE_NAME": self.rule_name,
            "DISTRIBUTION_ID": self.distribution_id,
            "ORIGIN_ID": self.origin_id,
            "HEADER_NAME": self.header,
        }


@dataclass(frozen=True, kw_only=True)
class SecretRotationArgs:
    context: StackContext
    kind: str
    """Names the function (``rotate-<kind>``) and its resources."""
    handler: str
    """``module.function`` in ``FUNCTION_SOURCE``."""
    description: str
    secret_arns: Mapping[str, pulumi.Input[str]]
    """The secrets to rotate, by purpose (``session``, ``admin-token``)."""
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    schedule_days: int
    """Days between scheduled rotations; 0: none scheduled (``rotate-secret`` still works)."""
    log_retention_days: int
    cache: CacheAccess | None = None
    """For the AUTH token's function: it runs in the VPC and may modify this group's token."""
    edge: EdgeAccess | None = None
    """For the origin header's function: it may edit this web ACL and this distribution (outside the VPC: both
    are public APIs, and it reaches no private address)."""


class SecretRotation(PlatformComponent):
    """One rotation function for one kind of secret, allowed exactly the rotation actions on those secrets."""

    pulumi_type = "shop:data:SecretRotation"
    component = "rotation"

    kind: str
    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    """Observability alarms on its errors (``rotation-errors``, ``rotation-<kind>-errors``)."""

    def __init__(self, name: str, args: SecretRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self.kind = args.kind
        account = self.context.account
        function_name = self.naming.physical(f"rotate-{args.kind}", max_length=64)
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
        # By kind: where the function runs (the cache's function in the VPC) and what it is told (not secrets: which
        # group, rule or origin to change; the values are read from Secrets Manager, never configured).
        placement: dict[str, Any] = {}
        if args.cache is not None:
            security_group = self._security_group(name, args.cache)
            placement = {
                "vpc_config": {"subnet_ids": list(args.cache.subnet_ids), "security_group_ids": [security_group.id]},
                "environment": {"variables": {"REPLICATION_GROUP_ID": args.cache.replication_group_id}},
            }
            statements = pulumi.Output.all(
                statements, args.cache.replication_group_id, list(args.cache.subnet_ids), security_group.id
            ).apply(lambda values: [*values[0], *_cache_statements(account, values[1], values[2], values[3])])
        if args.edge is not None:
            edge = args.edge
            placement = {"environment": {"variables": edge.variables()}}
            statements = pulumi.Output.all(statements, edge.web_acl_arn, edge.distribution_arn).apply(
                lambda values: [*values[0], *_edge_statements(values[1], values[2])]
            )
        granted = granted_service_role(
            f"{name}-role",
            scope=self.context.role_scope,
            service=account.service_principal("lambda"),
            description=f"Secrets Manager rotation function: {args.description}",
            statements=statements,
            tags=self.tags("rotation"),
            parent=self,
        )
        archive, source_hash = package(FUNCTION_SOURCE)
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description=f"Rotates {args.description} (functions/rotate_generated)",
            role=granted.role.arn,
            runtime=RUNTIME,
            handler=args.handler,
            code=archive,
            source_code_hash=source_hash,
            # The AUTH token's steps wait for the replication group to apply a modification, the origin header's
            # test for the distribution to deploy (minutes): Lambda's maximum, and the step fails on its own, logged,
            # before it (functions/rotate_generated/redis_auth.py, origin_verify.py).
            timeout=900 if args.cache or args.edge else 30,
            memory_size=128,
            **placement,
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

    def _security_group(self, name: str, cache: CacheAccess) -> aws.ec2.SecurityGroup:
        """The function's group: out to the cache's port, and HTTPS out to the AWS APIs; the cache admits it.

        Secrets Manager answers on the VPC's interface endpoint (private DNS); the ElastiCache API has none (one
        call per rotation does not pay for an endpoint's interfaces in every zone), so it is reached through the
        private subnets' NAT gateways: HTTPS goes to any address.
        """
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=cache.vpc_id,
            description="Rotation function: the cache's port and HTTPS to AWS APIs",
            tags=self.tags("rotation"),
            opts=self.child(),
        )
        tags = self.tags("rotation")
        tcp_rule(
            f"{name}-to-cache",
            aws.vpc.SecurityGroupEgressRule,
            security_group_id=group.id,
            port=cache.port,
            peer_security_group_id=cache.security_group_id,
            description="AUTH against the cache with the pending token",
            tags=tags,
            parent=group,
        )
        tcp_rule(
            f"{name}-to-aws-apis",
            aws.vpc.SecurityGroupEgressRule,
            security_group_id=group.id,
            port=443,
            cidr_ipv4="0.0.0.0/0",
            description="Secrets Manager (interface endpoint) and ElastiCache (through NAT) APIs",
            tags=tags,
            parent=group,
        )
        tcp_rule(
            f"{name}-cache-from-rotation",
            aws.vpc.SecurityGroupIngressRule,
            security_group_id=cache.security_group_id,
            port=cache.port,
            peer_security_group_id=group.id,
            description="The AUTH token's rotation function tests the new token",
            tags=tags,
            parent=group,
        )
        return group


def _cache_statements(
    account: Account, group_id: str, subnet_ids: list[str], security_group_id: str
) -> list[dict[str, Any]]:
    """The group's token, and the network interfaces Lambda creates for the function in the VPC (the actions of the
    AWSLambdaVPCAccessExecutionRole managed policy, on these subnets and this group where IAM allows it)."""
    interfaces = account.arn("ec2", "network-interface/*")
    return [
        {
            "Sid": "RotateTheCachesToken",
            "Effect": "Allow",
            "Action": ["elasticache:DescribeReplicationGroups", "elasticache:ModifyReplicationGroup"],
            "Resource": account.arn("elasticache", f"replicationgroup:{group_id}"),
        },
        {
            "Sid": "CreateItsInterfacesInItsSubnets",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [
                interfaces,
                *(account.arn("ec2", f"subnet/{subnet}") for subnet in subnet_ids),
                account.arn("ec2", f"security-group/{security_group_id}"),
            ],
        },
        {
            "Sid": "ManageItsInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            "Resource": interfaces,
        },
        {
            # Describe actions support no resource-level permissions: IAM accepts only "*" for them.
            "Sid": "DescribeNetworkInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Resource": "*",
        },
    ]


def _edge_statements(web_acl_arn: str, distribution_arn: str) -> list[dict[str, Any]]:
    """Read and update this web ACL and this distribution. UpdateWebACL also authorizes against the IP sets, regex
    pattern sets and rule groups of the account that the ACL references; the origin ACL references none (only AWS
    managed rule groups, which need no grant), so the ACL's ARN is the only resource."""
    return [
        {
            "Sid": "AcceptTheHeaderAtTheOrigin",
            "Effect": "Allow",
            "Action": ["wafv2:GetWebACL", "wafv2:UpdateWebACL"],
            "Resource": web_acl_arn,
        },
        {
            "Sid": "SendTheHeaderFromCloudFront",
            "Effect": "Allow",
            "Action": [
                "cloudfront:GetDistribution",
                "cloudfront:GetDistributionConfig",
                "cloudfront:UpdateDistribution",
            ],
            "Resource": distribution_arn,
        },
    ]


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
