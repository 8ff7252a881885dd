"""Where the stack is deployed: account, partition and region, for building ARNs and service principals."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws


@dataclass(frozen=True)
class Account:
    """The AWS account, partition and region the stack deploys into (plain values, known at program start)."""

    id: str
    partition: str
    region: str
    dns_suffix: str = "amazonaws.com"

    @classmethod
    def current(cls, region: str) -> Account:
        """The account and partition of the credentials the program runs with (looked up once), in ``region``."""
        caller = aws.get_caller_identity()
        partition = aws.get_partition()
        return cls(id=caller.account_id, partition=partition.partition, region=region, dns_suffix=partition.dns_suffix)

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.id}:root"

    def arn(self, service: str, resource: str, *, region: str | None = None, global_service: bool = False) -> str:
        """An ARN in this account, e.g. ``arn("logs", "log-group:/aws/eks/x/cluster:*")``."""
        arn_region = "" if global_service else (region or self.region)
        return f"arn:{self.partition}:{service}:{arn_region}:{self.id}:{resource}"

    def service_principal(self, service: str, *, regional: bool = False) -> str:
        """``logs.<region>.amazonaws.com`` (regional) or ``vpc-flow-logs.amazonaws.com``."""
        return f"{service}.{self.region}.{self.dns_suffix}" if regional else f"{service}.{self.dns_suffix}"

    def endpoint_service(self, service: str) -> str:
        """The VPC endpoint service name, e.g. ``com.amazonaws.eu-west-1.s3``."""
        return f"com.amazonaws.{self.region}.{service}"
