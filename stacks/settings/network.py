"""Settings of the network layer (components/network.py)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field, field_validator

from stacks.settings.base import Environment, Problem, RetentionDays, section

#: AWS services reached through interface endpoints so that nodes and pods need no NAT for them.
DEFAULT_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "secretsmanager", "logs", "ec2")
#: The private address blocks of RFC 1918, the only ones a VPC of this platform is carved from.
RFC_1918 = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16"))
#: Docker's default bridge network on the nodes: a VPC overlapping it makes those addresses unreachable from them.
DOCKER_BRIDGE = IPv4Network("172.17.0.0/16")
#: The two ranges EKS picks a cluster's Service addresses from when none is given, in the order it prefers them.
EKS_SERVICE_RANGES = (IPv4Network("172.20.0.0/16"), IPv4Network("10.100.0.0/16"))


def kubernetes_service_cidr(vpc: IPv4Network) -> IPv4Network:
    """The cluster's Service range (ClusterIPs, the API server's in-cluster address): the first of EKS's two default
    ranges that does not overlap the VPC, which is the one EKS itself would pick, so pinning it changes no cluster."""
    return next(cidr for cidr in EKS_SERVICE_RANGES if not cidr.overlaps(vpc))


@section(prefix="vpc")
class NetworkSettings:
    """The VPC: address plan, availability zones, egress and flow logs."""

    cidr: IPv4Network = Field(
        default=IPv4Network("10.40.0.0/16"),
        description="VPC IPv4 CIDR (RFC 1918, /16 to /20); subnets of all three tiers are carved from it.",
    )
    az_count: int = Field(default=3, ge=2, le=3, description="Number of availability zones to spread over (2-3).")
    nat_gateways: Literal["one_per_az", "single"] = Field(
        default="one_per_az",
        description="NAT gateways: 'one_per_az' (zone-independent egress; required in prod) or 'single' (cheaper).",
    )
    interface_endpoints: bool = Field(
        default=True,
        description="Create interface VPC endpoints (ECR, STS, Secrets Manager, Logs, EC2); required in prod.",
    )
    interface_endpoint_services: tuple[str, ...] = Field(
        default=DEFAULT_INTERFACE_ENDPOINTS,
        min_length=1,
        description="Service names (after com.amazonaws.<region>.) that get an interface endpoint.",
    )
    flow_log_retention_days: RetentionDays = Field(
        default=365, description="Retention of the VPC flow log group, in days (a CloudWatch Logs period)."
    )
    flow_log_traffic: Literal["ALL", "ACCEPT", "REJECT"] = Field(
        default="ALL", description="Which traffic the VPC flow log records."
    )

    @field_validator("cidr")
    @classmethod
    def _plannable(cls, cidr: IPv4Network) -> IPv4Network:
        if not any(cidr.subnet_of(block) for block in RFC_1918):
            raise ValueError("must be a private (RFC 1918) range such as 10.40.0.0/16")
        if not 16 <= cidr.prefixlen <= 20:
            raise ValueError("prefix must be between /16 and /20 so that every tier has room in each zone")
        if cidr.overlaps(DOCKER_BRIDGE):
            raise ValueError(f"overlaps {DOCKER_BRIDGE}, Docker's bridge network on the nodes; choose another range")
        return cidr

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if self.interface_endpoints and "secretsmanager" not in self.interface_endpoint_services:
            yield (
                "interface_endpoint_services",
                "must include secretsmanager: with interface endpoints, the shop's pods may reach AWS APIs only "
                "through them (and S3)",
            )
        if environment != "prod":
            return
        if self.nat_gateways != "one_per_az":
            yield "nat_gateways", "prod needs 'one_per_az': a single NAT gateway is a staging-only saving"
        if not self.interface_endpoints:
            yield "interface_endpoints", "prod keeps AWS API traffic on interface endpoints; set it to true"
