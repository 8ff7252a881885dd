"""The shop's Redis-compatible cache: an ElastiCache replication group in the data subnets, TLS and AUTH only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext
from components.log_groups import encrypted_log_group
from components.security_groups import single_client_security_group
from components.snapshots import final_snapshot_identifier
from stacks.settings import CacheSettings

PORT = 6379
#: Logs ElastiCache delivers to CloudWatch Logs.
LOG_TYPES = ("slow-log", "engine-log")


@dataclass(frozen=True, kw_only=True)
class CacheArgs:
    settings: CacheSettings
    context: StackContext
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    """Data-tier subnets, one per zone."""
    availability_zones: pulumi.Input[Sequence[str]]
    """The zones of those subnets, in order: the primary goes to the first, each replica to the next."""
    client_security_group_id: pulumi.Input[str]
    """The EKS node/pod security group: the only source admitted on 6379."""
    data_key_arn: pulumi.Input[str]
    """Encrypts the cache data and snapshots at rest."""
    logs_key_arn: pulumi.Input[str]
    """Encrypts the slow and engine log groups."""
    auth_token: pulumi.Input[str]
    """The AUTH token (a secret), from AppSecrets."""
    auth_secret_arn: pulumi.Input[str]
    """The Secrets Manager secret holding that token, handed on to clients."""


class Cache(PlatformComponent):
    """A cluster-mode-disabled replication group: one primary, optional replicas in other zones (placed explicitly,
    one zone after another, rather than wherever ElastiCache chooses).

    Clients connect with TLS (``rediss://``) to ``primary_endpoint_address``:``port`` and authenticate with the
    token in ``auth_secret_arn``; unencrypted connections are refused (transit encryption mode ``required``).
    The replication group and its log groups hold data (protected in prod).
    """

    pulumi_type = "shop:data:Cache"
    component = "cache"

    primary_endpoint_address: pulumi.Output[str]
    port: int
    auth_secret_arn: pulumi.Input[str]
    security_group_id: pulumi.Output[str]
    replication_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        settings = args.settings
        naming = self.naming

        security_group = single_client_security_group(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            port=PORT,
            client_security_group_id=args.client_security_group_id,
            description=f"{settings.engine}: 6379 from the EKS nodes and pods only",
            tags=self.tags("cache"),
            parent=self,
        )
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=naming.physical("cache"),
            description="Data-tier subnets of the shop cache",
            subnet_ids=list(args.subnet_ids),
            tags=self.tags("cache"),
            opts=self.child(),
        )
        # The family is part of the name so a major upgrade creates the new group before the old one goes.
        parameter_group = aws.elasticache.ParameterGroup(
            f"{name}-params",
            name=naming.physical(f"cache-{settings.parameter_group_family}".replace(".", "-")),
            family=settings.parameter_group_family,
            description="Shop cache: eviction policy",
            parameters=[
                aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value=settings.maxmemory_policy)
            ],
            tags=self.tags("cache"),
            opts=self.child(),
        )
        log_groups = {
            log_type: encrypted_log_group(
                f"{name}-{log_type}",
                log_group_name=f"/aws/elasticache/{naming.physical('cache')}/{log_type}",
                retention_days=settings.log_retention_days,
                kms_key_arn=args.logs_key_arn,
                tags=self.tags(f"cache-{log_type}"),
                component=self,
            )
            for log_type in LOG_TYPES
        }
        delivery_policy = self._log_delivery_policy(name, list(log_groups.values()))

        group_id = naming.physical("cache", max_length=40)
        replication_group = aws.elasticache.ReplicationGroup(
            f"{name}-replication-group",
            replication_group_id=group_id,
            description=f"Shop cache ({settings.engine} {settings.engine_version})",
            engine=settings.engine,
            engine_version=settings.engine_version,
            auto_minor_version_upgrade=True,
            # Changes happen during `pulumi up`, not in the maintenance window: a deferred engine upgrade would keep
            # the old parameter group in use when the same `up` deletes it.
            apply_immediately=True,
            node_type=settings.node_type,
            port=PORT,
            parameter_group_name=parameter_group.name,
            # Availability: replicas in other zones take over automatically.
            num_cache_clusters=settings.node_count,
            preferred_cache_cluster_azs=pulumi.Output.from_input(args.availability_zones).apply(
                lambda zones: [zones[index % len(zones)] for index in range(settings.node_count)]
            ),
            automatic_failover_enabled=settings.replicated,
            multi_az_enabled=settings.replicated,
            # Network: data subnets, one security group.
            subnet_group_name=subnet_group.name,
            security_group_ids=[security_group.id],
            # Encryption and authentication.
            at_rest_encryption_enabled=True,
            kms_key_id=args.data_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            # The generated value seeds the group at creation only: from then on the token is the rotation function's
            # (components/rotation.py), and the program must not set it back (ignore_changes below).
            auth_token=args.auth_token,
            # A rotation adds the new token and keeps the previous one valid until the next, so clients holding it
            # keep working until they re-read the secret; SET is only allowed after a ROTATE.
            auth_token_update_strategy="ROTATE",  # noqa: S106 - a strategy name, not a token
            # Snapshots and maintenance.
            snapshot_retention_limit=settings.snapshot_retention_days,
            snapshot_window=settings.snapshot_window,
            final_snapshot_identifier=(
                final_snapshot_identifier(name, key="replicationGroupId", identifier=group_id, parent=self)
                if settings.final_snapshot
                else None
            ),
            maintenance_window=settings.maintenance_window,
            log_delivery_configurations=[
                aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                    destination=group.name,
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type=log_type,
                )
                for log_type, group in log_groups.items()
            ],
            tags=self.tags("cache"),
            opts=self.child(holds_data=True, depends_on=[delivery_policy], ignore_changes=["authToken"]),
        )

        self.primary_endpoint_address = replication_group.primary_endpoint_address
        self.port = PORT
        self.auth_secret_arn = args.auth_secret_arn
        self.security_group_id = security_group.id
        self.replication_group_id = replication_group.id
        self.register_outputs(
            {
                "primary_endpoint_address": self.primary_endpoint_address,
                "port": self.port,
                "auth_secret_arn": self.auth_secret_arn,
                "security_group_id": self.security_group_id,
                "replication_group_id": self.replication_group_id,
            }
        )

    def _log_delivery_policy(
        self, name: str, groups: list[aws.cloudwatch.LogGroup]
    ) -> aws.cloudwatch.LogResourcePolicy:
        """Lets the log delivery service write to these two groups for this account's resources only.

        Without it, CloudWatch Logs adds an account-wide policy on first delivery (if the deployer may).
        """
        account = self.context.account
        document = pulumi.Output.all(*[group.arn for group in groups]).apply(
            lambda arns: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ElastiCacheLogDelivery",
                            "Effect": "Allow",
                            "Principal": {"Service": account.service_principal("delivery.logs")},
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [f"{arn}:log-stream:*" for arn in arns],
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": account.id},
                                "ArnLike": {"aws:SourceArn": account.arn("logs", "*")},
                            },
                        }
                    ],
                }
            )
        )
        return aws.cloudwatch.LogResourcePolicy(
            f"{name}-log-delivery",
            policy_name=self.naming.physical("cache-log-delivery"),
            policy_document=document,
            opts=self.child(),
        )
