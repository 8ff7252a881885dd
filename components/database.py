"""The shop's PostgreSQL database: RDS in the data subnets, reachable only from the cluster's nodes and pods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext
from components.iam import GrantedRole, granted_service_role
from components.log_groups import encrypted_log_group
from components.security_groups import single_client_security_group
from components.snapshots import final_snapshot_identifier
from stacks.settings import DatabaseSettings

PORT = 5432
#: Logs RDS exports to CloudWatch Logs (server log with the statement/duration logging, and major upgrades).
LOG_EXPORTS = ("postgresql", "upgrade")


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    settings: DatabaseSettings
    context: StackContext
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    """Data-tier subnets, one per zone."""
    client_security_group_id: pulumi.Input[str]
    """The EKS node/pod security group: the only source admitted on 5432."""
    data_key_arn: pulumi.Input[str]
    """Encrypts storage, snapshots and Performance Insights."""
    secrets_key_arn: pulumi.Input[str]
    """Encrypts the RDS-managed master user secret."""
    logs_key_arn: pulumi.Input[str]
    """Encrypts the exported log groups."""


class Database(PlatformComponent):
    """RDS for PostgreSQL with TLS enforced, CMK encryption, backups, monitoring and logs.

    RDS generates the master password and keeps it in Secrets Manager (``manage_master_user_password``), so no
    password is ever in config or Pulumi state; consumers read ``master_secret_arn`` (JSON with username and
    password). IAM database authentication is on for roles that prefer short-lived tokens. The instance and its
    log groups hold data (protected in prod).
    """

    pulumi_type = "shop:data:Database"
    component = "database"

    address: pulumi.Output[str]
    port: pulumi.Output[int]
    db_name: str
    master_secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    instance_arn: pulumi.Output[str]
    instance_identifier: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        settings = args.settings
        naming = self.naming
        identifier = naming.physical("postgres")

        security_group = single_client_security_group(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            port=PORT,
            client_security_group_id=args.client_security_group_id,
            description="PostgreSQL: 5432 from the EKS nodes and pods only",
            tags=self.tags("postgres"),
            parent=self,
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=naming.physical("postgres"),
            description="Data-tier subnets of the shop database",
            subnet_ids=list(args.subnet_ids),
            tags=self.tags("postgres"),
            opts=self.child(),
        )
        # The family is part of the name so a major upgrade creates the new group before the old one goes.
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            name=naming.physical(settings.parameter_group_family),
            family=settings.parameter_group_family,
            description="TLS-only connections; DDL and slow statement logging",
            parameters=[
                # Applied at boot: valid whether or not the engine version treats the parameter as dynamic.
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1", apply_method="pending-reboot"),
                aws.rds.ParameterGroupParameterArgs(name="log_statement", value=settings.log_statement),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value=str(settings.log_min_duration_statement_ms)
                ),
            ],
            tags=self.tags(settings.parameter_group_family),
            opts=self.child(),
        )
        log_groups = [
            encrypted_log_group(
                f"{name}-{log}-logs",
                log_group_name=f"/aws/rds/instance/{identifier}/{log}",
                retention_days=settings.log_retention_days,
                kms_key_arn=args.logs_key_arn,
                tags=self.tags(f"postgres-{log}-logs"),
                component=self,
            )
            for log in LOG_EXPORTS
        ]
        monitoring_role = self._monitoring_role(name, args, identifier)
        final_snapshot = (
            final_snapshot_identifier(name, key="identifier", identifier=identifier, parent=self)
            if settings.final_snapshot
            else None
        )

        instance = aws.rds.Instance(
            f"{name}-postgres",
            identifier=identifier,
            engine="postgres",
            engine_version=str(settings.engine_major_version),
            auto_minor_version_upgrade=True,
            # A new dbEngineMajorVersion is an in-place major upgrade, which RDS refuses without this flag.
            allow_major_version_upgrade=True,
            # Changes happen during `pulumi up`, not in the next maintenance window: a deferred upgrade would keep
            # the old parameter group in use when the same `up` deletes it, and show as pending in every preview.
            apply_immediately=True,
            instance_class=settings.instance_class,
            db_name=settings.database_name,
            username=settings.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.secrets_key_arn,
            iam_database_authentication_enabled=True,
            port=PORT,
            # Network: private subnets, one security group, never a public address.
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            multi_az=settings.multi_az,
            ca_cert_identifier=settings.ca_cert_identifier,
            parameter_group_name=parameter_group.name,
            # Storage: gp3, encrypted with the data key, autoscaling up to the ceiling.
            storage_type="gp3",
            allocated_storage=settings.allocated_storage_gb,
            max_allocated_storage=settings.max_allocated_storage_gb,
            storage_encrypted=True,
            kms_key_id=args.data_key_arn,
            # Backups and deletion.
            backup_retention_period=settings.backup_retention_days,
            backup_window=settings.backup_window,
            maintenance_window=settings.maintenance_window,
            copy_tags_to_snapshot=True,
            deletion_protection=settings.deletion_protection,
            skip_final_snapshot=not settings.final_snapshot,
            final_snapshot_identifier=final_snapshot,
            delete_automated_backups=not settings.final_snapshot,
            # Observability.
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.data_key_arn,
            performance_insights_retention_period=settings.performance_insights_retention_days,
            monitoring_interval=settings.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.role.arn,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            tags=self.tags("postgres"),
            # Its log groups before it exports logs; Enhanced Monitoring's permissions for as long as it runs.
            opts=self.child(holds_data=True, depends_on=[*log_groups, *monitoring_role.grants]),
        )

        self.address = instance.address
        self.port = instance.port
        self.db_name = settings.database_name
        self.master_secret_arn = instance.master_user_secrets.apply(_managed_secret_arn)
        self.security_group_id = security_group.id
        self.instance_arn = instance.arn
        self.instance_identifier = instance.identifier
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "db_name": self.db_name,
                "master_secret_arn": self.master_secret_arn,
                "security_group_id": self.security_group_id,
                "instance_arn": self.instance_arn,
                "instance_identifier": self.instance_identifier,
            }
        )

    def _monitoring_role(self, name: str, args: DatabaseArgs, identifier: str) -> GrantedRole:
        """Enhanced Monitoring publishes OS metrics to the RDSOSMetrics log group that RDS manages.

        The statements are AWS's AmazonRDSEnhancedMonitoringRole narrowed to that group in this account and region.
        """
        account = self.context.account
        metrics_group = account.arn("logs", "log-group:RDSOSMetrics")
        return granted_service_role(
            f"{name}-monitoring-role",
            scope=self.context.role_scope,
            service=account.service_principal("monitoring.rds"),
            description="RDS Enhanced Monitoring of the shop database",
            trust_conditions={
                "StringEquals": {"aws:SourceAccount": account.id},
                "ArnLike": {"aws:SourceArn": account.arn("rds", f"db:{identifier}")},
            },
            statements=[
                {
                    "Sid": "ManageTheMetricsLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                    "Resource": [metrics_group, f"{metrics_group}:*"],
                },
                {
                    "Sid": "WriteMetrics",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                        "logs:GetLogEvents",
                    ],
                    "Resource": [f"{metrics_group}:log-stream:*"],
                },
            ],
            tags=self.tags("postgres-monitoring"),
            parent=self,
        )


def _managed_secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret]) -> str:
    arn = secrets[0].secret_arn
    assert arn, "RDS reports the master user secret of an instance with manage_master_user_password"
    return arn
