"""Security groups of the data stores (one port, one client group, nothing else), and the one-port TCP rule that
they and the rotation function's group are made of."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def single_client_security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    port: int,
    client_security_group_id: pulumi.Input[str],
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.SecurityGroup:
    """A group admitting TCP ``port`` from members of ``client_security_group_id`` only.

    It has no egress rule: the provider removes the allow-all egress rule AWS adds to a new group, and a data store
    only answers connections, which security groups allow back statefully.
    """
    group = aws.ec2.SecurityGroup(
        name,
        vpc_id=vpc_id,
        description=description,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    tcp_rule(
        f"{name}-from-clients",
        aws.vpc.SecurityGroupIngressRule,
        security_group_id=group.id,
        port=port,
        peer_security_group_id=client_security_group_id,
        description=f"TCP {port} from the EKS nodes and pods only",
        tags=tags,
        parent=group,
    )
    return group


def tcp_rule(
    name: str,
    rule: type[aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule],
    *,
    security_group_id: pulumi.Input[str],
    port: int,
    description: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    peer_security_group_id: pulumi.Input[str] | None = None,
    cidr_ipv4: str | None = None,
) -> None:
    """One ingress or egress ``rule`` of ``security_group_id`` for TCP ``port``, to or from a group or a range."""
    rule(
        name,
        security_group_id=security_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=peer_security_group_id,
        cidr_ipv4=cidr_ipv4,
        description=description,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
