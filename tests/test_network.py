"""The network on the offline plan of both stacks: tiers, egress, isolation of the data and endpoint tiers, endpoints,
the cluster's Service range, logs."""

from __future__ import annotations

import json
from ipaddress import IPv4Network

import pytest

from components.network import kubernetes_service_cidr, plan_subnets
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import SettingsError, parse

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
EXPECTED_ZONES = {"staging": 2, "prod": 3}
#: The subnet tiers of each stack: the endpoint tier exists with interface endpoints only (prod).
EXPECTED_TIERS = {"staging": ("public", "private", "data"), "prod": ("public", "private", "data", "endpoints")}


def tier(plan: Plan, name: str) -> list[PlannedResource]:
    return sorted((s for s in plan.of_type(SUBNET) if s.inputs["tags"]["tier"] == name), key=lambda s: s.name)


def routes_of(plan: Plan, table: PlannedResource) -> list[PlannedResource]:
    return [r for r in plan.of_type(ROUTE) if r.inputs["routeTableId"] == table.id]


def table_of(plan: Plan, subnet: PlannedResource) -> PlannedResource:
    (association,) = [a for a in plan.of_type(ASSOCIATION) if a.inputs["subnetId"] == subnet.id]
    (table,) = [t for t in plan.of_type(ROUTE_TABLE) if t.id == association.inputs["routeTableId"]]
    return table


def test_vpc_has_dns_and_the_configured_cidr(plan: Plan) -> None:
    vpc = plan.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["cidrBlock"] == {"staging": "10.40.0.0/16", "prod": "10.50.0.0/16"}[plan.stack]


def test_each_tier_has_one_subnet_per_zone(plan: Plan) -> None:
    zones = EXPECTED_ZONES[plan.stack]
    assert {s.inputs["tags"]["tier"] for s in plan.of_type(SUBNET)} == set(EXPECTED_TIERS[plan.stack])
    for name in EXPECTED_TIERS[plan.stack]:
        subnets = tier(plan, name)
        assert len(subnets) == zones, name
        assert len({s.inputs["availabilityZone"] for s in subnets}) == zones, f"{name} subnets share a zone"


def test_subnets_are_inside_the_vpc_and_never_overlap(plan: Plan) -> None:
    vpc = IPv4Network(plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    networks = [IPv4Network(s.inputs["cidrBlock"]) for s in plan.of_type(SUBNET)]
    assert all(n.subnet_of(vpc) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_no_subnet_assigns_public_ips(plan: Plan) -> None:
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in plan.of_type(SUBNET))


def test_load_balancer_discovery_and_cluster_tags(plan: Plan) -> None:
    cluster_tag = f"kubernetes.io/cluster/shop-{plan.stack}-eks"
    for subnet in tier(plan, "public"):
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert subnet.inputs["tags"][cluster_tag] == "shared"
    for subnet in tier(plan, "private"):
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert subnet.inputs["tags"][cluster_tag] == "shared"
    for subnet in tier(plan, "data") + tier(plan, "endpoints"):
        assert not any(key.startswith("kubernetes.io/") for key in subnet.inputs["tags"]), subnet.name


def test_nat_gateways_one_per_zone_in_prod_and_single_in_staging(plan: Plan) -> None:
    nats = plan.of_type(NAT)
    assert len(nats) == {"staging": 1, "prod": 3}[plan.stack]
    assert {n.inputs["subnetId"] for n in nats} <= {s.id for s in tier(plan, "public")}
    assert all(n.inputs["connectivityType"] == "public" for n in nats)


def test_each_private_subnet_egresses_through_nat(plan: Plan) -> None:
    nat_ids = [n.id for n in sorted(plan.of_type(NAT), key=lambda n: n.name)]
    used = []
    for subnet in tier(plan, "private"):
        (route,) = routes_of(plan, table_of(plan, subnet))
        assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
        assert route.inputs["natGatewayId"] in nat_ids
        used.append(route.inputs["natGatewayId"])
    if plan.stack == "prod":
        assert used == nat_ids, "each zone must use its own NAT gateway so one zone's failure stays in that zone"


def test_public_subnets_route_to_the_internet_gateway(plan: Plan) -> None:
    igw = plan.one("aws:ec2/internetGateway:InternetGateway").id
    for subnet in tier(plan, "public"):
        (route,) = routes_of(plan, table_of(plan, subnet))
        assert (route.inputs["destinationCidrBlock"], route.inputs["gatewayId"]) == ("0.0.0.0/0", igw)


@pytest.mark.parametrize("name", ["data", "endpoints"])
def test_data_and_endpoint_tiers_have_no_route_out_of_the_vpc(plan: Plan, name: str) -> None:
    for subnet in tier(plan, name):
        table = table_of(plan, subnet)
        assert routes_of(plan, table) == [], f"{subnet.name} must keep only the local route"
        assert not table.inputs.get("routes"), "no inline routes either"


def test_route_tables_per_tier_and_zone(plan: Plan) -> None:
    tables = len(EXPECTED_TIERS[plan.stack]) * EXPECTED_ZONES[plan.stack]
    assert len(plan.of_type(ROUTE_TABLE)) == tables
    assert len(plan.of_type(ASSOCIATION)) == tables


def test_s3_gateway_endpoint_serves_every_tier_but_the_endpoints(plan: Plan) -> None:
    gateway = plan.one(ENDPOINT, "network-s3")
    assert gateway.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    table_ids = {table_of(plan, s).id for name in ("public", "private", "data") for s in tier(plan, name)}
    assert set(gateway.inputs["routeTableIds"]) == table_ids


def test_interface_endpoints_in_prod_only_and_alone_in_their_tier(prod: Plan, staging: Plan) -> None:
    """The endpoint subnets hold the endpoints' interfaces and nothing else, so that a NetworkPolicy allowing HTTPS to
    them allows exactly AWS's APIs."""
    interface = [e for e in prod.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]
    services = {e.inputs["serviceName"].removeprefix("com.amazonaws.eu-west-1.") for e in interface}
    assert services == {"ecr.api", "ecr.dkr", "sts", "secretsmanager", "logs", "ec2"}
    endpoint_subnet_ids = {s.id for s in tier(prod, "endpoints")}
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert set(endpoint.inputs["subnetIds"]) == endpoint_subnet_ids
        assert len(endpoint.inputs["securityGroupIds"]) == 1
    users = [
        r.name
        for r in prod.resources
        if r.type not in (ENDPOINT, ASSOCIATION) and any(i in json.dumps(r.inputs) for i in endpoint_subnet_ids)
    ]
    assert users == [], "only the interface endpoints may live in the endpoint tier"
    assert [e for e in staging.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"] == []


def test_endpoint_security_group_admits_only_https_from_the_vpc(prod: Plan) -> None:
    rules = [
        r for r in prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if "endpoints" in r.name
    ]
    assert len(rules) == 1
    rule = rules[0].inputs
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"], rule["cidrIpv4"]) == ("tcp", 443, 443, "10.50.0.0/16")
    assert rule["description"]


def test_default_security_group_is_adopted_and_emptied(plan: Plan) -> None:
    default = plan.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["ingress"] == []
    assert default.inputs["egress"] == []


def test_flow_logs_go_to_an_encrypted_log_group_with_retention(plan: Plan) -> None:
    flow_log = plan.one("aws:ec2/flowLog:FlowLog")
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert flow_log.inputs["vpcId"] == plan.one("aws:ec2/vpc:Vpc").id
    assert group.inputs["retentionInDays"] == {"staging": 30, "prod": 365}[plan.stack]
    logs_key = plan.one("aws:kms/key:Key", "logs-key")
    assert group.inputs["kmsKeyId"] == logs_key.outputs["arn"]


def test_flow_log_role_is_least_privilege(plan: Plan) -> None:
    role = plan.one("aws:iam/role:Role", "network-flow-logs-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    (statement,) = json.loads(
        plan.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs-role-policy").inputs["policy"]
    )["Statement"]
    group_arn = plan.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs").outputs["arn"]
    assert statement["Resource"] == [group_arn, f"{group_arn}:*"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}


def test_workload_security_group_exists_for_nodes_and_data_stores(plan: Plan) -> None:
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "network-workloads-sg")
    assert group.inputs["description"]
    assert not group.inputs.get("ingress"), "ingress comes from explicit, described rules only"


@pytest.mark.parametrize(("cidr", "zones"), [("10.0.0.0/16", 3), ("10.0.0.0/20", 3), ("172.16.0.0/18", 2)])
def test_subnet_plan_is_carved_from_the_vpc_without_overlap(cidr: str, zones: int) -> None:
    vpc = IPv4Network(cidr)
    plan = plan_subnets(vpc, zones)
    everything = [*plan.public, *plan.private, *plan.data, *plan.endpoints]
    assert len(everything) == 4 * zones
    assert all(n.subnet_of(vpc) for n in everything)
    assert not any(a.overlaps(b) for i, a in enumerate(everything) for b in everything[i + 1 :])
    assert all(n.prefixlen == vpc.prefixlen + 2 for n in plan.private), "pods need the big private subnets"
    assert all(n.num_addresses >= 128 for n in [*plan.public, *plan.data])
    # One interface per endpoint service and zone, plus AWS's 5 reserved addresses: a /27 holds 27 endpoints.
    assert all(n.num_addresses >= 32 for n in plan.endpoints)


def test_the_clusters_service_range_is_pinned_outside_the_vpc(plan: Plan) -> None:
    """Pinned (EKS would otherwise pick one of two ranges unseen), so that the shop's egress policy can exclude the
    ClusterIPs and the Kubernetes API's in-cluster address."""
    vpc = IPv4Network(plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    service_range = plan.one("eks:index:Cluster").inputs["kubernetesServiceIpAddressRange"]
    assert service_range == str(kubernetes_service_cidr(vpc))
    assert not IPv4Network(service_range).overlaps(vpc)


@pytest.mark.parametrize(
    ("vpc", "service_range"),
    [("10.40.0.0/16", "172.20.0.0/16"), ("172.20.0.0/18", "10.100.0.0/16"), ("192.168.0.0/16", "172.20.0.0/16")],
)
def test_the_service_range_is_the_eks_default_that_does_not_overlap_the_vpc(vpc: str, service_range: str) -> None:
    assert kubernetes_service_cidr(IPv4Network(vpc)) == IPv4Network(service_range)


def test_interface_endpoints_must_serve_secrets_manager() -> None:
    """The shop's pods reach AWS APIs through the interface endpoints only: without a Secrets Manager endpoint they
    could not read their secrets."""
    config = {
        "aws:region": "eu-west-1",
        "shop-platform:environment": "prod",
        "shop-platform:domain": "shop.example.com",
        "shop-platform:shopImageTag": "3f1c2a9",
        "shop-platform:shopImageDigest": "sha256:" + "0" * 64,
    }
    assert parse(config, project="shop-platform", stack="prod").network.interface_endpoints
    with pytest.raises(SettingsError, match="shop-platform:vpcInterfaceEndpointServices: must include secretsmanager"):
        parse(
            {**config, "shop-platform:vpcInterfaceEndpointServices": '["sts", "logs"]'},
            project="shop-platform",
            stack="prod",
        )
