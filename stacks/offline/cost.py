"""What a stack costs per month, from its offline plan and a pinned price table (docs/cost.md).

Each resource type has a rule that turns the resource's inputs into charges, or an explicit "free" entry in the price
table; a type with neither stops the estimate (a test keeps every type the stacks use covered). A charge is either
**fixed** -- hours x hourly price, or a monthly price: what the stack costs while nobody uses it -- or **usage**-based,
priced from the usage assumptions (``stacks.settings.cost.CostSettings``). Each charge is rounded to the cent, so the
parts of a breakdown add up to its totals exactly.

The price of a resource is the one of its region: its own ``region`` input (pulumi-aws v7), else its provider's,
else the stack's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

from stacks.offline.engine import load_config
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import parse
from stacks.settings.cost import CostSettings

PRICES = Path(__file__).parent / "prices" / "aws.json"
#: A price table older than this gets a warning: AWS changes prices, and adds cheaper instance generations.
STALE_AFTER_DAYS = 90
GLOBAL = "global"
#: gp3 storage on RDS includes this many IOPS below 400 GB (and 12,000 from 400 GB, PostgreSQL).
RDS_GP3_BASELINE_IOPS = 3000
RDS_GP3_LARGE_BASELINE_IOPS = 12000
RDS_GP3_LARGE_FROM_GB = 400
#: Days in an average month: log ingestion per day x this is a month's.
DAYS_PER_MONTH = 365 / 12
#: What EKS gives a managed node group that names no instance type or disk size (CreateNodegroup's defaults).
EKS_DEFAULT_INSTANCE_TYPE = "t3.medium"
EKS_DEFAULT_DISK_GB = 20

Kind = Literal["fixed", "usage"]


class PriceError(Exception):
    """The price table lacks something the plan needs, or is malformed: reported in one message."""


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    """On-demand prices by (name, region), and the resource types that cost nothing, with why."""

    path: Path
    #: When its oldest price was read.
    date: date
    hours_per_month: int
    prices: Mapping[tuple[str, str], Price]
    free: Mapping[str, str]

    def price(self, name: str, region: str) -> float:
        found = self.prices.get((name, region)) or self.prices.get((name, GLOBAL))
        if found is None:
            raise PriceError(f"{self.path.name}: no price for {name} in {region}; add it (docs/cost.md)")
        return found.usd

    def free_reason(self, type_: str) -> str | None:
        if type_ in self.free:
            return self.free[type_]
        package = type_.split(":", 1)[0]
        return self.free.get(f"{package}:*") or self.free.get(type_.rsplit(":", 1)[0] + ":*")

    def age_days(self, today: date) -> int:
        return (today - self.date).days


def load_prices(path: Path = PRICES) -> PriceTable:
    return _load_prices(path.resolve())


@cache
def _load_prices(path: Path) -> PriceTable:
    try:
        document = json.loads(path.read_text())
        prices = {
            (entry["name"], entry["region"]): Price(float(entry["usd"]), entry["unit"], entry["source"])
            for entry in document["prices"]
        }
        return PriceTable(
            path=path,
            date=min(date.fromisoformat(entry["read"]) for entry in document["prices"]),
            hours_per_month=int(document["hoursPerMonth"]),
            prices=prices,
            free=dict(document["free"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PriceError(f"{path}: not a price table ({type(error).__name__}: {error})") from error


@dataclass(frozen=True)
class Charge:
    kind: Kind
    monthly: float
    basis: str


@dataclass(frozen=True)
class ResourceCost:
    urn: str
    type: str
    name: str
    #: The top-level component the resource belongs to (``network``, ``cluster``, ...).
    component: str
    charges: tuple[Charge, ...]

    @property
    def fixed(self) -> float:
        return _sum(charge.monthly for charge in self.charges if charge.kind == "fixed")

    @property
    def usage(self) -> float:
        return _sum(charge.monthly for charge in self.charges if charge.kind == "usage")

    @property
    def monthly(self) -> float:
        return _sum(charge.monthly for charge in self.charges)

    @property
    def basis(self) -> str:
        return "; ".join(charge.basis for charge in self.charges)

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "component": self.component,
            "monthly": self.monthly,
            "fixed": self.fixed,
            "usage": self.usage,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class Estimate:
    stack: str
    region: str
    prices: PriceTable
    usage_assumptions: CostSettings
    #: Every resource that costs something, in plan order.
    resources: tuple[ResourceCost, ...]

    @property
    def fixed(self) -> float:
        return _sum(resource.fixed for resource in self.resources)

    @property
    def usage(self) -> float:
        return _sum(resource.usage for resource in self.resources)

    @property
    def total(self) -> float:
        return _sum(resource.monthly for resource in self.resources)

    def by_component(self) -> dict[str, list[ResourceCost]]:
        grouped: dict[str, list[ResourceCost]] = {}
        for resource in self.resources:
            grouped.setdefault(resource.component, []).append(resource)
        return grouped

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "currency": "USD",
            "priceDate": self.prices.date.isoformat(),
            "monthly": {"fixed": self.fixed, "usage": self.usage, "total": self.total},
            "assumptions": _assumptions(self.usage_assumptions),
            "resources": [resource.to_json() for resource in self.resources],
        }


def _sum(values: Iterable[float]) -> float:
    return round(math.fsum(values), 2)


def _assumptions(usage: CostSettings) -> dict[str, int]:
    return {name: getattr(usage, name) for name in type(usage).__pydantic_fields__}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Context:
    """What a rule may read besides its resource."""

    plan: Plan
    prices: PriceTable
    usage: CostSettings
    region: str
    by_urn: Mapping[str, PlannedResource] = field(repr=False)

    @property
    def hours(self) -> int:
        return self.prices.hours_per_month

    def region_of(self, resource: PlannedResource) -> str:
        own = resource.inputs.get("region")
        if isinstance(own, str) and own:
            return own
        provider = self.by_urn.get(resource.provider or "")
        if provider is not None and isinstance(provider.inputs.get("region"), str):
            return provider.inputs["region"]
        return self.region

    def price(self, name: str, resource: PlannedResource) -> float:
        return self.prices.price(name, self.region_of(resource))

    def hourly(self, name: str, resource: PlannedResource, count: float, what: str) -> Charge:
        unit = self.price(name, resource)
        monthly = round(count * unit * self.hours, 2)
        return Charge("fixed", monthly, f"{_count(count)} {what} x {self.hours} h x ${unit:g}/h")

    def monthly(self, name: str, resource: PlannedResource, count: float, what: str, kind: Kind = "fixed") -> Charge:
        unit = self.price(name, resource)
        return Charge(kind, round(count * unit, 2), f"{_count(count)} {what} x ${unit:g}")

    def count_of(self, type_: str) -> int:
        return sum(1 for resource in self.plan.resources if resource.type == type_)


def _count(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.3g}"


Rule = Callable[[PlannedResource, _Context], list[Charge]]
RULES: dict[str, Rule] = {}


def rule(*types: str) -> Callable[[Rule], Rule]:
    def register(function: Rule) -> Rule:
        for type_ in types:
            RULES[type_] = function
        return function

    return register


#: Resources charged one flat monthly price each: type -> (price key, what is charged).
FLAT_MONTHLY: dict[str, tuple[str, str]] = {
    "aws:kms/key:Key": ("kms.key", "customer managed key"),
    "aws:secretsmanager/secret:Secret": ("secretsmanager.secret", "secret"),
    # The filter is free; the custom metric it publishes (one without dimensions) is not.
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ("cloudwatch.custom_metric", "custom metric"),
    "aws:cloudwatch/dashboard:Dashboard": ("cloudwatch.dashboard", "dashboard"),
    "aws:route53/zone:Zone": ("route53.zone", "hosted zone"),
}


def _flat_monthly(price: str, what: str) -> Rule:
    def charge(resource: PlannedResource, context: _Context) -> list[Charge]:
        return [context.monthly(price, resource, 1, what)]

    return charge


RULES.update({type_: _flat_monthly(price, what) for type_, (price, what) in FLAT_MONTHLY.items()})


@rule("eks:index:Cluster")
def _eks_cluster(resource: PlannedResource, context: _Context) -> list[Charge]:
    return [context.hourly("eks.cluster", resource, 1, "control plane (standard support)")]


@rule("eks:index:ManagedNodeGroup")
def _node_group(resource: PlannedResource, context: _Context) -> list[Charge]:
    """The group at its desired size, each node its first instance type (the on-demand allocation's first choice)
    and its root volume from the launch template (or the group's ``diskSize``)."""
    inputs = resource.inputs
    nodes = int(inputs.get("scalingConfig", {}).get("desiredSize", 0))
    instance_type = (inputs.get("instanceTypes") or [EKS_DEFAULT_INSTANCE_TYPE])[0]
    hourly = context.price(f"ec2.instance.{instance_type}", resource)
    basis = f"{nodes} x {instance_type} (desired size) x {context.hours} h x ${hourly:g}/h"
    if inputs.get("capacityType") == "SPOT":
        hourly *= context.usage.spot_percent / 100
        basis += f" x {context.usage.spot_percent}% (Spot)"
    charges = [Charge("fixed", round(nodes * hourly * context.hours, 2), basis)]
    volume_gb = _node_volume_gb(resource, context)
    charges.append(context.monthly("ebs.gp3.storage", resource, nodes * volume_gb, f"GB gp3 ({volume_gb} GB a node)"))
    return charges


def _node_volume_gb(resource: PlannedResource, context: _Context) -> int:
    for urn in resource.dependencies:
        template = context.by_urn.get(urn)
        if template is not None and template.type == "aws:ec2/launchTemplate:LaunchTemplate":
            mappings = template.inputs.get("blockDeviceMappings") or []
            return sum(int(mapping.get("ebs", {}).get("volumeSize", 0)) for mapping in mappings)
    return int(resource.inputs.get("diskSize", EKS_DEFAULT_DISK_GB))


@rule("aws:ec2/natGateway:NatGateway")
def _nat_gateway(resource: PlannedResource, context: _Context) -> list[Charge]:
    share = context.usage.nat_gb / context.count_of(resource.type)
    return [
        context.hourly("nat.hour", resource, 1, "NAT gateway"),
        context.monthly("nat.gb", resource, share, "GB processed (costNatGb split across the gateways)", "usage"),
    ]


@rule("aws:ec2/eip:Eip")
def _elastic_ip(resource: PlannedResource, context: _Context) -> list[Charge]:
    return [context.hourly("ipv4.hour", resource, 1, "public IPv4 address")]


@rule("aws:ec2/vpcEndpoint:VpcEndpoint")
def _vpc_endpoint(resource: PlannedResource, context: _Context) -> list[Charge]:
    if resource.inputs.get("vpcEndpointType", "Gateway") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    zones = len(resource.inputs.get("subnetIds") or [])
    interface = [r for r in context.plan.of_type(resource.type) if r.inputs.get("vpcEndpointType") == "Interface"]
    share = context.usage.endpoint_gb / len(interface)
    return [
        context.hourly("endpoint.interface.hour", resource, zones, "zone(s)"),
        context.monthly("endpoint.interface.gb", resource, share, "GB processed (costEndpointGb split)", "usage"),
    ]


@rule("aws:dynamodb/table:Table")
def _dynamodb_table(resource: PlannedResource, context: _Context) -> list[Charge]:
    """On-demand capacity: DynamoDB bills requests, GB stored and point-in-time backups, no fixed charge; the
    estimate has no usage figure for them (carts are a few KB each), so the table adds nothing."""
    return []


@rule("aws:rds/instance:Instance")
def _database(resource: PlannedResource, context: _Context) -> list[Charge]:
    """Instance hours and gp3 storage, both doubled by a Multi-AZ standby (AWS bills the standby's instance hours and
    storage like the primary's), IOPS above the gp3 baseline, and the Secrets Manager secret RDS manages for the
    master password."""
    inputs = resource.inputs
    copies = 2 if inputs.get("multiAz") else 1
    deployment = "Multi-AZ: primary + standby" if copies == 2 else "Single-AZ"
    instance_class = inputs["instanceClass"]
    engine = inputs.get("engine", "postgres")
    charges = [context.hourly(f"rds.{engine}.{instance_class}", resource, copies, f"{instance_class} ({deployment})")]
    storage_gb = int(inputs.get("allocatedStorage", 0))
    charges.append(
        context.monthly("rds.gp3.storage", resource, copies * storage_gb, f"GB gp3 ({storage_gb} GB x {copies})")
    )
    baseline = RDS_GP3_LARGE_BASELINE_IOPS if storage_gb >= RDS_GP3_LARGE_FROM_GB else RDS_GP3_BASELINE_IOPS
    extra_iops = max(0, int(inputs.get("iops", 0)) - baseline)
    if extra_iops:
        charges.append(context.monthly("rds.gp3.iops", resource, copies * extra_iops, "IOPS above the gp3 baseline"))
    if inputs.get("manageMasterUserPassword"):
        charges.append(context.monthly("secretsmanager.secret", resource, 1, "secret RDS manages for the password"))
    return charges


@rule("aws:elasticache/replicationGroup:ReplicationGroup")
def _cache(resource: PlannedResource, context: _Context) -> list[Charge]:
    inputs = resource.inputs
    nodes = int(inputs.get("numCacheClusters") or 0) or int(inputs.get("numNodeGroups", 1)) * (
        int(inputs.get("replicasPerNodeGroup", 0)) + 1
    )
    node_type = inputs["nodeType"]
    engine = inputs.get("engine", "redis")
    return [context.hourly(f"elasticache.{engine}.{node_type}", resource, nodes, f"{node_type} node(s)")]


@rule("kubernetes:networking.k8s.io/v1:Ingress")
def _ingress(resource: PlannedResource, context: _Context) -> list[Charge]:
    """The Application Load Balancer the AWS Load Balancer Controller provisions for an Ingress of class alb: its
    hours, a public IPv4 address in each public subnet it spans when internet-facing (the controller picks the
    subnets tagged ``kubernetes.io/role/elb``), and its capacity units for the traffic CloudFront forwards."""
    annotations = resource.inputs.get("metadata", {}).get("annotations", {})
    if not any(key.startswith("alb.ingress.kubernetes.io/") for key in annotations):
        return []
    charges = [context.hourly("alb.hour", resource, 1, "Application Load Balancer")]
    if annotations.get("alb.ingress.kubernetes.io/scheme") == "internet-facing":
        zones = sum(
            1
            for subnet in context.plan.of_type("aws:ec2/subnet:Subnet")
            if (subnet.inputs.get("tags") or {}).get("kubernetes.io/role/elb") == "1"
        )
        charges.append(context.hourly("ipv4.hour", resource, zones, "public IPv4 address(es), one a public subnet"))
    charges.append(_load_balancer_capacity(resource, context))
    return charges


def _load_balancer_capacity(resource: PlannedResource, context: _Context) -> Charge:
    """LCU-hours: the larger of processed GB per hour (1 LCU = 1 GB/h) and new connections per second (1 LCU =
    25/s), counting every forwarded request as a new connection (an upper bound: CloudFront reuses connections)."""
    share = context.usage.origin_percent / 100
    hours = context.hours
    gb_per_hour = context.usage.cdn_gb_out * share / hours
    connections_per_second = context.usage.requests_millions * 1e6 * share / (hours * 3600)
    lcu = max(gb_per_hour, connections_per_second / 25)
    unit = context.price("alb.lcu", resource)
    return Charge("usage", round(lcu * hours * unit, 2), f"{lcu:.3g} LCU x {hours} h x ${unit:g} (costOriginPercent)")


@rule("aws:wafv2/webAcl:WebAcl")
def _web_acl(resource: PlannedResource, context: _Context) -> list[Charge]:
    """The ACL, each of its rules (a managed rule group counts as one), and the requests it inspects: every request
    for CloudFront's ACL, the forwarded share for a regional (load balancer) ACL."""
    rules = len(resource.inputs.get("rules") or [])
    requests = context.usage.requests_millions
    if resource.inputs.get("scope") == "REGIONAL":
        requests = requests * context.usage.origin_percent / 100
    return [
        context.monthly("waf.web_acl", resource, 1, "web ACL"),
        context.monthly("waf.rule", resource, rules, "rule(s)"),
        context.monthly("waf.requests", resource, requests, "million requests inspected", "usage"),
    ]


@rule("aws:cloudwatch/metricAlarm:MetricAlarm")
def _alarm(resource: PlannedResource, context: _Context) -> list[Charge]:
    """Charged per metric the alarm reads (a metric math alarm per metric in its expression); high resolution (a
    period under a minute) costs three times as much."""
    inputs = resource.inputs
    queries = [query for query in inputs.get("metricQueries") or [] if "metric" in query]
    periods = [int(query["metric"].get("period", 60)) for query in queries]
    if inputs.get("metricName"):
        periods.append(int(inputs.get("period", 60)))
    standard = sum(1 for period in periods if period >= 60)
    high = len(periods) - standard
    charges = []
    if standard:
        charges.append(context.monthly("cloudwatch.alarm.metric", resource, standard, "alarm metric(s)"))
    if high:
        charges.append(
            context.monthly("cloudwatch.alarm.metric.high_resolution", resource, high, "high-resolution metric(s)")
        )
    return charges


@rule("aws:cloudwatch/logGroup:LogGroup")
def _log_group(resource: PlannedResource, context: _Context) -> list[Charge]:
    """Its even share of the stack's daily logs, ingested every day and stored for its retention period (steady
    state; a group that never expires is counted at one year). Stored size is the ingested size: CloudWatch bills
    compressed bytes, so storage is an upper bound."""
    gb_per_day = context.usage.log_gb_per_day / context.count_of(resource.type)
    retention_days = int(resource.inputs.get("retentionInDays") or 0) or 365
    monthly_gb = gb_per_day * DAYS_PER_MONTH
    return [
        context.monthly("logs.ingestion", resource, monthly_gb, "GB ingested (costLogGbPerDay split)", "usage"),
        context.monthly(
            "logs.storage", resource, gb_per_day * retention_days, f"GB stored ({retention_days} days)", "usage"
        ),
    ]


@rule("aws:route53/healthCheck:HealthCheck")
def _health_check(resource: PlannedResource, context: _Context) -> list[Charge]:
    """Priced as a check of an AWS endpoint (the stack checks its own load balancer), plus each optional feature it
    uses: HTTPS, string matching, a 10-second interval, latency measurement."""
    inputs = resource.inputs
    features = [
        name
        for name, used in (
            ("HTTPS", str(inputs.get("type", "")).startswith("HTTPS")),
            ("string matching", str(inputs.get("type", "")).endswith("STR_MATCH")),
            ("fast interval", int(inputs.get("requestInterval", 30)) == 10),
            ("latency measurement", bool(inputs.get("measureLatency"))),
        )
        if used
    ]
    charges = [context.monthly("route53.health_check.aws", resource, 1, "health check (AWS endpoint)")]
    if features:
        what = "optional feature(s): " + ", ".join(features)
        charges.append(context.monthly("route53.health_check.aws.feature", resource, len(features), what))
    return charges


@rule("aws:cloudfront/distribution:Distribution")
def _distribution(resource: PlannedResource, context: _Context) -> list[Charge]:
    """Data out and HTTPS requests at the United States/Europe rates (the first 10 TB tier); origin fetches from the
    load balancer and the bucket are free."""
    requests = context.usage.requests_millions * 100  # in 10,000s
    return [
        context.monthly("cloudfront.gb_out", resource, context.usage.cdn_gb_out, "GB out (costCdnGbOut)", "usage"),
        context.monthly("cloudfront.https_requests", resource, requests, "x 10,000 HTTPS requests", "usage"),
    ]


@rule("aws:s3/bucket:Bucket")
def _bucket(resource: PlannedResource, context: _Context) -> list[Charge]:
    return [
        context.monthly(
            "s3.standard.storage", resource, context.usage.bucket_gb, "GB S3 Standard (costBucketGb)", "usage"
        )
    ]


# ---------------------------------------------------------------------------------------------- estimate


def unpriced_types(types: Iterable[str], prices: PriceTable) -> list[str]:
    """The resource types among ``types`` with neither a rule nor a free entry."""
    return sorted({type_ for type_ in types if type_ not in RULES and prices.free_reason(type_) is None})


def estimate(plan: Plan, usage: CostSettings, region: str, prices: PriceTable | None = None) -> Estimate:
    """The monthly cost of ``plan`` (whose default region is ``region``) under the ``usage`` assumptions."""
    prices = prices or load_prices()
    missing = unpriced_types((resource.type for resource in plan.resources), prices)
    if missing:
        raise PriceError(
            f"{prices.path.name}: no rule and no free entry for {', '.join(missing)}; add one (docs/cost.md)"
        )
    by_urn = {resource.urn: resource for resource in plan.resources}
    context = _Context(plan=plan, prices=prices, usage=usage, region=region, by_urn=by_urn)
    costs = []
    for resource in plan.resources:
        price_rule = RULES.get(resource.type)
        charges = tuple(price_rule(resource, context)) if price_rule else ()
        if charges:
            component = _component(resource, by_urn)
            costs.append(ResourceCost(resource.urn, resource.type, resource.name, component, charges))
    return Estimate(plan.stack, region, prices, usage, tuple(costs))


def _component(resource: PlannedResource, by_urn: Mapping[str, PlannedResource]) -> str:
    """The name of the outermost component above ``resource`` (itself when it has no parent in the plan)."""
    current = resource
    while current.parent is not None and current.parent in by_urn:
        current = by_urn[current.parent]
    return current.name


# ---------------------------------------------------------------------------------------------- change


@dataclass(frozen=True)
class CostChange:
    urn: str
    type: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return round(self.after - self.before, 2)

    def to_json(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "before": self.before, "after": self.after, "delta": self.delta}


def changes(before: Estimate, after: Estimate) -> list[CostChange]:
    """Each resource whose monthly cost differs between two estimates (added and removed ones included)."""
    old = {resource.urn: resource for resource in before.resources}
    new = {resource.urn: resource for resource in after.resources}
    found = []
    for urn in [*new, *(urn for urn in old if urn not in new)]:
        resource = new.get(urn) or old[urn]
        was = old[urn].monthly if urn in old else 0.0
        now = new[urn].monthly if urn in new else 0.0
        if was != now:
            found.append(CostChange(urn, resource.type, was, now))
    return found


def delta_json(before: Estimate, after: Estimate, revision: str) -> dict[str, Any]:
    return {
        "revision": revision,
        "monthly": {"fixed": before.fixed, "usage": before.usage, "total": before.total},
        "delta": {
            "fixed": round(after.fixed - before.fixed, 2),
            "usage": round(after.usage - before.usage, 2),
            "total": round(after.total - before.total, 2),
        },
        "resources": [change.to_json() for change in changes(before, after)],
    }


# ---------------------------------------------------------------------------------------------- text


def money(value: float) -> str:
    return f"${value:,.2f}"


def signed(value: float) -> str:
    sign = "+" if value > 0 else "-" if value < 0 else "±"
    return f"{sign}${abs(value):,.2f}"


def _short_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _short_type(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def render(estimate_: Estimate) -> str:
    """The breakdown: the totals, then per component its resources with their monthly cost and basis."""
    prices = estimate_.prices
    lines = [
        f"Monthly cost of {estimate_.stack} ({estimate_.region}), USD, on-demand prices of {prices.date.isoformat()} "
        f"({prices.path.name}), {prices.hours_per_month} hours a month",
        f"  fixed {money(estimate_.fixed)} + usage {money(estimate_.usage)} = {money(estimate_.total)}",
    ]
    components = sorted(
        estimate_.by_component().items(), key=lambda item: -_sum(resource.monthly for resource in item[1])
    )
    for component, resources in components:
        total = _sum(resource.monthly for resource in resources)
        lines += ["", f"{component:<44} {money(total):>12}"]
        for resource in sorted(resources, key=lambda resource: -resource.monthly):
            lines.append(f"  {resource.name:<42} {money(resource.monthly):>12}  {_short_type(resource.type)}")
            lines += [
                f"      {charge.kind:<5} {money(charge.monthly):>10}  {charge.basis}" for charge in resource.charges
            ]
    usage = estimate_.usage_assumptions
    lines += [
        "",
        "Usage assumptions (cost* settings, docs/cost.md): "
        + ", ".join(f"{name}={value}" for name, value in _assumptions(usage).items()),
    ]
    return "\n".join(lines)


def render_change(before: Estimate, after: Estimate, revision: str) -> str:
    lines = [
        f"Monthly cost change of {after.stack} since {revision}: {money(before.total)} -> {money(after.total)} "
        f"({signed(round(after.total - before.total, 2))}; fixed {signed(round(after.fixed - before.fixed, 2))}, "
        f"usage {signed(round(after.usage - before.usage, 2))})"
    ]
    for change in changes(before, after):
        lines.append(
            f"  {signed(change.delta):>12}  {_short_name(change.urn):<40} {money(change.before):>10} -> "
            f"{money(change.after):<10} {_short_type(change.type)}"
        )
    if len(lines) == 1:
        lines.append("  no resource changes cost")
    return "\n".join(lines)


def stale_warning(prices: PriceTable, today: date) -> list[str]:
    age = prices.age_days(today)
    if age <= STALE_AFTER_DAYS:
        return []
    return [f"warning: the price table is {age} days old (over {STALE_AFTER_DAYS}); refresh it: make cost-prices"]


def stack_usage(stack: str, project_dir: Path) -> tuple[CostSettings, str]:
    """The usage assumptions and the region of ``stack``, from its config (SettingsError when it is invalid)."""
    project, config, secret_keys = load_config(stack, project_dir)
    settings = parse(config, project=project, stack=stack, secret_keys=secret_keys)
    return settings.cost, settings.stack.region
