"""Usage assumptions of the cost estimate (``python -m stacks cost STACK``, docs/cost.md).

The plan says what a stack provisions (fixed, hourly costs); what it costs to *use* depends on traffic nobody can read
from a plan. These settings state that traffic, so that the usage-based part of an estimate is reproducible and
reviewable instead of hidden in code. No component reads them.
"""

from __future__ import annotations

from pydantic import Field

from stacks.settings.base import section


@section(prefix="cost")
class CostSettings:
    """Monthly traffic and data volumes the estimate prices usage-based charges from."""

    requests_millions: int = Field(
        default=10,
        ge=0,
        le=100_000,
        description="Requests to the shop per month, in millions: CloudFront requests and the CDN web ACL's "
        "inspections.",
    )
    cdn_gb_out: int = Field(
        default=200,
        ge=0,
        le=10_000_000,
        description="GB CloudFront serves to visitors per month (data transfer out to the internet).",
    )
    origin_percent: int = Field(
        default=30,
        ge=0,
        le=100,
        description="Percent of requests and bytes CloudFront forwards to the load balancer (cache misses, pages, "
        "the API): the load balancer's capacity units and the origin web ACL's inspections.",
    )
    nat_gb: int = Field(
        default=50,
        ge=0,
        le=10_000_000,
        description="GB per month through the NAT gateways (image pulls and calls to services outside the VPC), "
        "split evenly across them.",
    )
    endpoint_gb: int = Field(
        default=20,
        ge=0,
        le=10_000_000,
        description="GB per month through the interface VPC endpoints (ECR, STS, logs, ...), split evenly across them.",
    )
    log_gb_per_day: int = Field(
        default=2,
        ge=0,
        le=100_000,
        description="GB of logs the stack writes to CloudWatch Logs per day, split evenly across its log groups; "
        "each group stores its share for its retention period.",
    )
    bucket_gb: int = Field(
        default=10,
        ge=0,
        le=10_000_000,
        description="GB stored in each S3 bucket (S3 Standard).",
    )
    spot_percent: int = Field(
        default=35,
        ge=1,
        le=100,
        description="What a Spot node costs, in percent of the on-demand price of its first instance type (Spot "
        "prices move with demand; AWS quotes savings of up to 90%).",
    )
