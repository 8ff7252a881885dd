"""The VPC: public, private, data and endpoint subnet tiers over N zones, egress, endpoints and flow logs."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext
from components.iam import granted_service_role
from stacks.settings import NetworkSettings
from stacks.settings.network import kubernetes_service_cidr


@dataclass(frozen=True)
class SubnetPlan:
    """Subnet CIDRs per tier, one per availability zone, all carved from the VPC CIDR."""

    public: tuple[IPv4Network, ...]
    private: tuple[IPv4Network, ...]
    data: tuple[IPv4Network, ...]
    endpoints: tuple[IPv4Network, ...]
    """Interface VPC endpoints only: their addresses are exactly these CIDRs, which NetworkPolicies can name."""


def plan_subnets(vpc: IPv4Network, az_count: int) -> SubnetPlan:
    """Private subnets get a quarter of the VPC each (pods take their IPs from them with the VPC CNI); the
    fourth quarter is cut in eighths for the small public (load balancers, NAT) and data tiers, and its last eighth
    in quarters for the endpoint tier (one network interface per endpoint and zone), leaving one eighth free for a
    future tier. For a /16: private /18, public and data /21, endpoints /23; for a /20: endpoints /27."""
    if not 1 <= az_count <= 3:
        raise ValueError(f"az_count must be 1-3, got {az_count}")
    quarters = list(vpc.subnets(prefixlen_diff=2))
    eighths = list(quarters[3].subnets(prefixlen_diff=3))
    return SubnetPlan(
        public=tuple(eighths[:az_count]),
        private=tuple(quarters[:az_count]),
        data=tuple(eighths[4 : 4 + az_count]),
        endpoints=tuple(list(eighths[7].subnets(prefixlen_diff=2))[:az_count]),
    )


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    settings: NetworkSettings
    context: StackContext
    cluster_name: str
    """EKS cluster that uses the subnets; tagged on them for load balancer and node discovery."""
    logs_key_arn: pulumi.Input[str]
    """KMS key that encrypts the flow log group."""


class Network(PlatformComponent):
    """The VPC and what it decided: its subnet plan (``subnet_plan`` and the tiers' CIDRs as strings), whether it has
    interface endpoints (``interface_endpoint_cidrs`` empty if not), the cluster's Service range. Consumers take
    these from here instead of planning again."""

    pulumi_type = "shop:network:Network"
    component = "network"

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    subnet_plan: SubnetPlan
    public_cidrs: list[str]
    """The public tier's CIDRs: the load balancers' addresses."""
    private_cidrs: list[str]
    """The private tier's CIDRs: the nodes' and, with the VPC CNI, the pods' addresses."""
    data_cidrs: list[str]
    """The data tier's CIDRs: the databases' and caches' addresses."""
    interface_endpoint_cidrs: list[str]
    """The interface endpoints' addresses (their subnets' CIDRs); empty without interface endpoints."""
    kubernetes_service_cidr: str
    """The EKS cluster's Service range, outside the VPC (planned here with the rest of the address space)."""
    availability_zones: pulumi.Output[list[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    data_subnet_ids: list[pulumi.Output[str]]
    endpoint_subnet_ids: list[pulumi.Output[str]]
    """The interface endpoints' subnets; empty without interface endpoints."""
    endpoint_security_group_id: pulumi.Output[str] | None
    s3_cidrs: pulumi.Output[list[str]]
    """The addresses S3 answers on in this region (its prefix list), which the gateway endpoint routes to S3."""
    dynamodb_cidrs: pulumi.Output[list[str]]
    """The addresses DynamoDB answers on in this region, which its gateway endpoint routes from the private subnets."""
    workload_security_group_id: pulumi.Output[str]
    """Attached to EKS nodes (and so to pods); databases and caches admit traffic only from this group."""
    flow_log_group_name: pulumi.Output[str]
    egress_ready: list[pulumi.Resource]
    """The private subnets' routes out and the VPC endpoints: what nodes and pods reach AWS through (depend on them:
    a dependency on a route table or on this component does not include its routes)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self._name = name
        self._args = args
        settings = args.settings
        plan = self.subnet_plan = plan_subnets(settings.cidr, settings.az_count)
        self.vpc_cidr = str(settings.cidr)
        self.public_cidrs = [str(cidr) for cidr in plan.public]
        self.private_cidrs = [str(cidr) for cidr in plan.private]
        self.data_cidrs = [str(cidr) for cidr in plan.data]
        self.interface_endpoint_cidrs = [str(cidr) for cidr in plan.endpoints] if settings.interface_endpoints else []
        self.kubernetes_service_cidr = str(kubernetes_service_cidr(settings.cidr))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=self.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self.tags("vpc"),
            opts=self.child(),
        )
        self.vpc_id = vpc.id
        # Adopt the default security group and strip its allow-all rules so nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=self.tags("default-locked"),
            opts=self.child(),
        )

        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        )
        self.availability_zones = zones.names.apply(lambda names: list(names[: settings.az_count]))

        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        public = self._tier("public", plan.public, vpc, {**cluster_tag, "kubernetes.io/role/elb": "1"})
        private = self._tier("private", plan.private, vpc, {**cluster_tag, "kubernetes.io/role/internal-elb": "1"})
        data = self._tier("data", plan.data, vpc, {})
        endpoints = self._tier("endpoints", plan.endpoints, vpc, {}) if self.interface_endpoint_cidrs else []
        self.public_subnet_ids = [subnet.id for subnet in public]
        self.private_subnet_ids = [subnet.id for subnet in private]
        self.data_subnet_ids = [subnet.id for subnet in data]
        self.endpoint_subnet_ids = [subnet.id for subnet in endpoints]

        internet_gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=self.tags("igw"), opts=self.child()
        )
        nat_count = settings.az_count if settings.nat_gateways == "one_per_az" else 1
        nat_gateways = [self._nat_gateway(index, public[index], internet_gateway) for index in range(nat_count)]

        route_tables: list[aws.ec2.RouteTable] = []
        private_tables: list[aws.ec2.RouteTable] = []
        self.egress_ready = []
        for index in range(settings.az_count):
            public_table = self._route_table("public", index, public[index], vpc)
            aws.ec2.Route(
                f"{name}-public-{index + 1}-internet",
                route_table_id=public_table.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=internet_gateway.id,
                opts=self.child(public_table),
            )
            private_table = self._route_table("private", index, private[index], vpc)
            private_route = aws.ec2.Route(
                f"{name}-private-{index + 1}-nat",
                route_table_id=private_table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_gateways[min(index, nat_count - 1)].id,
                opts=self.child(private_table),
            )
            self.egress_ready.append(private_route)
            private_tables.append(private_table)
            # The data tier has only the local route: databases and caches never reach or face the internet.
            data_table = self._route_table("data", index, data[index], vpc)
            route_tables += [public_table, private_table, data_table]
            if endpoints:
                # Local route only, and no S3 route either: endpoint interfaces answer, they never call out.
                self._route_table("endpoints", index, endpoints[index], vpc)

        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=self.context.account.endpoint_service("s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in route_tables],
            tags=self.tags("s3-gateway"),
            opts=self.child(),
        )
        self.egress_ready.append(s3_endpoint)
        # Read on every update, so that the addresses follow AWS's changes to the list.
        self.s3_cidrs = aws.ec2.get_prefix_list_output(
            name=self.context.account.endpoint_service("s3")
        ).cidr_blocks.apply(list)
        # DynamoDB (the carts table) from the pods' subnets only: no NAT charge, and the table's traffic stays in AWS.
        dynamodb_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-dynamodb",
            vpc_id=vpc.id,
            service_name=self.context.account.endpoint_service("dynamodb"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_tables],
            tags=self.tags("dynamodb-gateway"),
            opts=self.child(),
        )
        self.egress_ready.append(dynamodb_endpoint)
        self.dynamodb_cidrs = aws.ec2.get_prefix_list_output(
            name=self.context.account.endpoint_service("dynamodb")
        ).cidr_blocks.apply(list)
        self.endpoint_security_group_id = (
            self._interface_endpoints(vpc, self.endpoint_subnet_ids) if self.interface_endpoint_cidrs else None
        )
        self.workload_security_group_id = self._workload_security_group(vpc)
        self.flow_log_group_name = self._flow_logs(vpc)

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "data_subnet_ids": self.data_subnet_ids,
                "endpoint_subnet_ids": self.endpoint_subnet_ids,
                "workload_security_group_id": self.workload_security_group_id,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )

    def _tier(
        self, tier: str, cidrs: tuple[IPv4Network, ...], vpc: aws.ec2.Vpc, discovery_tags: dict[str, str]
    ) -> list[aws.ec2.Subnet]:
        return [
            aws.ec2.Subnet(
                f"{self._name}-{tier}-{index + 1}",
                vpc_id=vpc.id,
                cidr_block=str(cidr),
                availability_zone=self.availability_zones.apply(lambda zones, i=index: zones[i]),
                map_public_ip_on_launch=False,
                tags=self.tags(f"{tier}-{index + 1}", tier=tier, **discovery_tags),
                opts=self.child(),
            )
            for index, cidr in enumerate(cidrs)
        ]

    def _nat_gateway(
        self, index: int, subnet: aws.ec2.Subnet, internet_gateway: aws.ec2.InternetGateway
    ) -> aws.ec2.NatGateway:
        address = aws.ec2.Eip(
            f"{self._name}-nat-{index + 1}-ip", domain="vpc", tags=self.tags(f"nat-{index + 1}"), opts=self.child()
        )
        return aws.ec2.NatGateway(
            f"{self._name}-nat-{index + 1}",
            allocation_id=address.id,
            subnet_id=subnet.id,
            connectivity_type="public",
            tags=self.tags(f"nat-{index + 1}"),
            opts=self.child(depends_on=[internet_gateway]),
        )

    def _route_table(self, tier: str, index: int, subnet: aws.ec2.Subnet, vpc: aws.ec2.Vpc) -> aws.ec2.RouteTable:
        table = aws.ec2.RouteTable(
            f"{self._name}-{tier}-{index + 1}-rt",
            vpc_id=vpc.id,
            tags=self.tags(f"{tier}-{index + 1}", tier=tier),
            opts=self.child(),
        )
        association = aws.ec2.RouteTableAssociation(
            f"{self._name}-{tier}-{index + 1}-rta",
            route_table_id=table.id,
            subnet_id=subnet.id,
            opts=self.child(table),
        )
        if tier == "private":  # without it the subnet falls back to the main table: no way out
            self.egress_ready.append(association)
        return table

    def _interface_endpoints(self, vpc: aws.ec2.Vpc, subnet_ids: list[pulumi.Output[str]]) -> pulumi.Output[str]:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg",
            vpc_id=vpc.id,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            tags=self.tags("endpoints"),
            opts=self.child(),
        )
        https_from_vpc = aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-https-from-vpc",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=self.vpc_cidr,
            description="HTTPS to AWS APIs from nodes and pods in this VPC",
            tags=self.tags("endpoints-https"),
            opts=self.child(group),
        )
        for service in self._args.settings.interface_endpoint_services:
            endpoint = aws.ec2.VpcEndpoint(
                f"{self._name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=self.context.account.endpoint_service(service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[group.id],
                tags=self.tags(f"{service}-endpoint"),
                opts=self.child(),
            )
            self.egress_ready += [endpoint, https_from_vpc]
        return group.id

    def _workload_security_group(self, vpc: aws.ec2.Vpc) -> pulumi.Output[str]:
        # Ingress rules (control plane, node to node) belong to the cluster, which adds them to this group.
        group = aws.ec2.SecurityGroup(
            f"{self._name}-workloads-sg",
            vpc_id=vpc.id,
            description="EKS nodes and pods: the only clients the data stores admit",
            tags=self.tags("workloads"),
            opts=self.child(),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-workloads-egress",
            security_group_id=group.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description="Nodes and pods reach the data tier, VPC endpoints and, through NAT, public registries",
            tags=self.tags("workloads-egress"),
            opts=self.child(group),
        )
        return group.id

    def _flow_logs(self, vpc: aws.ec2.Vpc) -> pulumi.Output[str]:
        args, account = self._args, self.context.account
        group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            name=f"/aws/vpc/{self.naming.physical('vpc')}/flow-logs",
            retention_in_days=args.settings.flow_log_retention_days,
            kms_key_id=args.logs_key_arn,
            tags=self.tags("flow-logs"),
            opts=self.child(holds_data=True),
        )
        delivery_role = granted_service_role(
            f"{self._name}-flow-logs-role",
            scope=self.context.role_scope,
            service=account.service_principal("vpc-flow-logs"),
            description="VPC flow logs delivery into its own log group",
            trust_conditions={
                "StringEquals": {"aws:SourceAccount": account.id},
                "ArnLike": {"aws:SourceArn": account.arn("ec2", "vpc-flow-log/*")},
            },
            statements=group.arn.apply(
                lambda arn: [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": [arn, f"{arn}:*"],
                    }
                ]
            ),
            tags=self.tags("flow-logs"),
            parent=self,
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=vpc.id,
            traffic_type=args.settings.flow_log_traffic,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=delivery_role.role.arn,
            max_aggregation_interval=60,
            tags=self.tags("flow-log"),
            # CreateFlowLogs accepts a role it cannot use yet; delivery then fails until the policy exists.
            opts=self.child(depends_on=delivery_role.grants),
        )
        return group.name
