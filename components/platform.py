"""The composition: which components a stack consists of and how their inputs and outputs are wired."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.keys import Keys, KeysArgs
from components.naming import Naming
from components.network import Network, NetworkArgs
from stacks.settings import PlatformSettings


@dataclass(frozen=True)
class Platform:
    """Everything one stack builds; attributes are the components, for exports and tests."""

    naming: Naming
    account: Account
    keys: Keys
    network: Network


def build(settings: PlatformSettings) -> Platform:
    naming = Naming(prefix=settings.stack.name_prefix, stack=pulumi.get_stack())
    caller = aws.get_caller_identity()
    partition = aws.get_partition()
    account = Account(
        id=caller.account_id,
        partition=partition.partition,
        region=settings.stack.region,
        dns_suffix=partition.dns_suffix,
    )
    keys = Keys("keys", KeysArgs(settings=settings.keys, naming=naming, account=account, protect=settings.is_prod))
    network = Network(
        "network",
        NetworkArgs(
            settings=settings.network,
            naming=naming,
            account=account,
            cluster_name=naming.physical("eks", max_length=100),
            logs_key_arn=keys.logs_key_arn,
        ),
    )
    return Platform(naming=naming, account=account, keys=keys, network=network)


def export(platform: Platform) -> None:
    """Stack outputs: identifiers other stacks, pipelines and operators need; never secret values."""
    network = platform.network
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("vpcCidr", network.vpc_cidr)
    pulumi.export("availabilityZones", network.availability_zones)
    pulumi.export("publicSubnetIds", network.public_subnet_ids)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("dataSubnetIds", network.data_subnet_ids)
    pulumi.export("flowLogGroup", network.flow_log_group_name)
    pulumi.export(
        "kmsKeyArns",
        {
            "data": platform.keys.data_key_arn,
            "secrets": platform.keys.secrets_key_arn,
            "logs": platform.keys.logs_key_arn,
        },
    )
