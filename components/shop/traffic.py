"""How traffic reaches the shop and what the shop may reach: who may connect to the load balancer, its Ingress
annotations, and the NetworkPolicies of the shop's pods."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.kubernetes_network import DNS_EGRESS, POD_IDENTITY_EGRESS, ip_blocks, ports
from components.shop.pods import HTTP_PORT, INTERNAL_PORT, READY_PATH

networking = k8s.networking.v1
meta = k8s.meta.v1

ALB = "alb.ingress.kubernetes.io"
#: TLS 1.3 and 1.2 with forward-secret AEAD ciphers only (AWS's recommended policy for TLS 1.2+ clients).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HTTPS = 443
#: CloudFront's servers that connect to origins (an AWS-managed prefix list, the same name in every region).
CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"


@dataclass(frozen=True)
class Client:
    """Who may open connections to the load balancer: an AWS-managed prefix list."""

    purpose: str
    prefix_list_name: str
    description: str


def load_balancer_clients(region: str, *, health_checked: bool) -> list[Client]:
    """CloudFront, and Route 53's health checkers when the edge checks the origin's ``/readyz``: nobody else reaches
    the load balancer (the origin web ACL then admits CloudFront's requests by their secret header)."""
    clients = [Client("cloudfront", CLOUDFRONT_ORIGIN_FACING, "HTTPS from CloudFront's origin-facing servers")]
    if health_checked:
        health_checkers = f"com.amazonaws.{region}.route53-healthchecks"
        clients.append(Client("health-checks", health_checkers, "HTTPS from Route 53's health checkers (/readyz)"))
    return clients


@dataclass(frozen=True)
class LoadBalancerSecurityGroups:
    ids: list[pulumi.Output[str]]
    ready: list[pulumi.Resource]
    """The groups and their rules: the Ingress depends on all of them (its dependency on a group's ID alone does
    not include the group's rules)."""


def load_balancer_security_groups(
    name: str,
    *,
    clients: Sequence[Client],
    pod_cidrs: Sequence[str],
    vpc_id: pulumi.Input[str],
    load_balancer_name: str,
    physical_name: Callable[[str], str],
    tags: Callable[[str], dict[str, str]],
    parent: pulumi.Resource,
) -> LoadBalancerSecurityGroups:
    """HTTPS in from the load balancer's ``clients`` only; out to the pods' app port only (on the first group: the
    rules of all of a load balancer's groups apply together). ``physical_name`` and ``tags`` name and tag a purpose.

    One group per client: a rule naming a managed prefix list counts as the list's maximum size against the 60
    rules a group holds by default, and CloudFront's weighs 55 (Route 53's health checkers' 25).
    """
    groups: list[aws.ec2.SecurityGroup] = []
    rules: list[pulumi.Resource] = []
    for client in clients:
        purpose = f"alb-{client.purpose}"
        group = aws.ec2.SecurityGroup(
            f"{name}-{purpose}-sg",
            name=physical_name(purpose),
            vpc_id=vpc_id,
            description=f"Load balancer {load_balancer_name}: {client.description}",
            tags=tags(purpose),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        rules.append(
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{purpose}-https",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                prefix_list_id=aws.ec2.get_managed_prefix_list_output(name=client.prefix_list_name).id,
                description=client.description,
                tags=tags(purpose),
                opts=pulumi.ResourceOptions(parent=group),
            )
        )
        groups.append(group)
    for index, cidr in enumerate(pod_cidrs, start=1):
        rules.append(
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-alb-to-pods-{index}",
                security_group_id=groups[0].id,
                ip_protocol="tcp",
                from_port=HTTP_PORT,
                to_port=HTTP_PORT,
                cidr_ipv4=cidr,
                description="Requests and health checks to the shop's pods (IP targets) on their app port",
                tags=tags("alb-to-pods"),
                opts=pulumi.ResourceOptions(parent=groups[0]),
            )
        )
    return LoadBalancerSecurityGroups(ids=[group.id for group in groups], ready=[*groups, *rules])


@dataclass(frozen=True)
class LoadBalancer:
    """The internet-facing ALB the AWS Load Balancer Controller builds from the Ingress."""

    name: str
    subnet_ids: Sequence[pulumi.Input[str]]
    """The public subnets, named rather than discovered by tag: the Ingress depends on them, so on destroy the
    load balancer is gone before its subnets are deleted."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Its only security groups (the controller's own, open to the internet, is never created)."""
    certificate_arn: pulumi.Input[str]
    web_acl_arn: pulumi.Input[str]
    logs_bucket: pulumi.Input[str]
    logs_prefix: str
    deletion_protection: bool
    deregistration_seconds: int
    tags: Mapping[str, str]


def _pairs(values: Mapping[str, object]) -> str:
    """``key=value,...`` as the controller's annotations take them (booleans lower-case)."""
    return ",".join(f"{key}={str(v).lower() if isinstance(v, bool) else v}" for key, v in values.items())


def ingress_annotations(balancer: LoadBalancer) -> dict[str, pulumi.Input[str]]:
    """HTTPS only (no HTTP listener: CloudFront and the health check use HTTPS), the given security groups, the
    edge's certificate and web ACL, access logs, pod IPs as targets."""
    attributes = pulumi.Output.from_input(balancer.logs_bucket).apply(
        lambda bucket: _pairs(
            {
                "access_logs.s3.enabled": True,
                "access_logs.s3.bucket": bucket,
                "access_logs.s3.prefix": balancer.logs_prefix,
                # Requests with header names that are not valid HTTP never reach the shop (request smuggling).
                "routing.http.drop_invalid_header_fields.enabled": True,
                "deletion_protection.enabled": balancer.deletion_protection,
            }
        )
    )
    return {
        f"{ALB}/load-balancer-name": balancer.name,
        f"{ALB}/scheme": "internet-facing",
        # Straight to pod IPs: no NodePort, so nodes need not accept traffic from the load balancer.
        f"{ALB}/target-type": "ip",
        f"{ALB}/subnets": pulumi.Output.all(*balancer.subnet_ids).apply(",".join),
        f"{ALB}/listen-ports": json.dumps([{"HTTPS": HTTPS}]),
        f"{ALB}/security-groups": pulumi.Output.all(*balancer.security_group_ids).apply(",".join),
        # The controller lets the load balancer reach the pods through its shared backend security group.
        f"{ALB}/manage-backend-security-group-rules": "true",
        f"{ALB}/certificate-arn": balancer.certificate_arn,
        f"{ALB}/ssl-policy": TLS_POLICY,
        f"{ALB}/wafv2-acl-arn": balancer.web_acl_arn,
        f"{ALB}/load-balancer-attributes": attributes,
        # As long as a terminating pod still answers (see pods.py): in-flight requests finish, none are cut off.
        f"{ALB}/target-group-attributes": f"deregistration_delay.timeout_seconds={balancer.deregistration_seconds}",
        f"{ALB}/backend-protocol": "HTTP",
        f"{ALB}/healthcheck-path": READY_PATH,
        f"{ALB}/healthcheck-port": "traffic-port",
        f"{ALB}/success-codes": "200",
        f"{ALB}/healthcheck-interval-seconds": "10",
        f"{ALB}/healthcheck-timeout-seconds": "5",
        f"{ALB}/healthy-threshold-count": "2",
        f"{ALB}/unhealthy-threshold-count": "2",
        f"{ALB}/tags": _pairs(balancer.tags),
    }


# ---------------------------------------------------------------------------------------------- network policies


@dataclass(frozen=True)
class MetricsScraper:
    """The pods that scrape the shop's ``/metrics``, by namespace and labels, and receive its traces (the CloudWatch
    agent)."""

    namespace: str
    pod_labels: Mapping[str, str]
    traces_endpoint: str
    """OTLP/HTTP, the URL the shop posts its spans to (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)."""
    traces_port: int
    """The port behind ``traces_endpoint``: the only one the shop's pods may reach on the scraper's pods."""


@dataclass(frozen=True)
class Peers:
    """The networks on the other side of the shop's connections, as CIDRs of the VPC's subnets and of AWS, and the
    scraper of its metrics."""

    load_balancer_cidrs: Sequence[str]
    """Public subnets, where the load balancer's nodes are."""
    data_cidrs: Sequence[str]
    """Data subnets, where PostgreSQL and Redis are."""
    database_port: pulumi.Input[int]
    cache_port: pulumi.Input[int]
    vpc_cidr: str
    service_cidr: str
    """The cluster's Service range: ClusterIPs, among them the Kubernetes API's in-cluster address."""
    aws_endpoint_cidrs: Sequence[str]
    """Subnets of the interface VPC endpoints (Secrets Manager, STS, ...), which hold nothing else; empty when AWS
    APIs are reached through NAT."""
    s3_cidrs: pulumi.Input[Sequence[str]]
    """S3's regional addresses, which the VPC's gateway endpoint routes to (S3 has no interface endpoint here)."""
    dynamodb_cidrs: pulumi.Input[Sequence[str]]
    """DynamoDB's regional addresses (the carts table), which its gateway endpoint routes to."""
    metrics_scraper: MetricsScraper


def _pods(labels: Mapping[str, str]) -> meta.LabelSelectorArgs:
    return meta.LabelSelectorArgs(match_labels=dict(labels))


def web_ingress(peers: Peers, web_pods: Mapping[str, str]) -> networking.NetworkPolicySpecArgs:
    """The web pods' app port, from the load balancer (requests and health checks). Nothing reaches the internal
    port."""
    return networking.NetworkPolicySpecArgs(
        pod_selector=_pods(web_pods),
        policy_types=["Ingress"],
        ingress=[
            networking.NetworkPolicyIngressRuleArgs(
                from_=ip_blocks(peers.load_balancer_cidrs), ports=ports("TCP", HTTP_PORT)
            )
        ],
    )


def metrics_ingress(scraper: MetricsScraper, web_pods: Mapping[str, str]) -> networking.NetworkPolicySpecArgs:
    """The web pods' internal port (``/metrics``, the admin), from the metrics scraper's pods only.

    The CloudWatch agent scrapes with ``hostNetwork``, so its requests come from its node's address. The VPC CNI's
    network policy controller resolves a pod selector to the selected pods' IPs, which for a host-network pod is
    its node's IP: this peer admits exactly the nodes that run an agent, as they come and go. A CIDR could not do
    better: pods take their IPs from the nodes' subnets, so the node subnets would admit every pod as well.
    """
    scraper_pods = networking.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": scraper.namespace}),
        pod_selector=_pods(scraper.pod_labels),
    )
    return networking.NetworkPolicySpecArgs(
        pod_selector=_pods(web_pods),
        policy_types=["Ingress"],
        ingress=[networking.NetworkPolicyIngressRuleArgs(from_=[scraper_pods], ports=ports("TCP", INTERNAL_PORT))],
    )


def aws_https_peers(peers: Peers) -> pulumi.Input[list[networking.NetworkPolicyPeerArgs]]:
    """Where the shop's AWS API calls (Secrets Manager, S3, DynamoDB) go.

    With interface endpoints, exactly their subnets and S3's and DynamoDB's addresses (their gateway endpoints).
    Without them (staging's saving: AWS APIs through NAT, whose public addresses no NetworkPolicy can list), any
    address except the VPC (nodes, pods, the control plane's interfaces) and the Service range (ClusterIPs, the
    Kubernetes API's in-cluster address).
    """
    if not peers.aws_endpoint_cidrs:
        return [
            networking.NetworkPolicyPeerArgs(
                ip_block=networking.IPBlockArgs(cidr="0.0.0.0/0", except_=[peers.vpc_cidr, peers.service_cidr])
            )
        ]
    return pulumi.Output.all(
        pulumi.Output.from_input(peers.s3_cidrs), pulumi.Output.from_input(peers.dynamodb_cidrs)
    ).apply(lambda gateways: ip_blocks([*peers.aws_endpoint_cidrs, *gateways[0], *gateways[1]]))


def egress(peers: Peers, shop_pods: Mapping[str, str]) -> networking.NetworkPolicySpecArgs:
    """All the shop's pods (web and Jobs) talk to: DNS, the database, the cache, their AWS credentials, AWS's APIs
    over HTTPS (``aws_https_peers``) and the CloudWatch agent's trace port. Never other pods, nodes, Services or the
    Kubernetes API. The agent runs with ``hostNetwork``: its pod selector resolves to its nodes' addresses
    (``metrics_ingress``), and only on this one port."""
    agent = peers.metrics_scraper
    return networking.NetworkPolicySpecArgs(
        pod_selector=_pods(shop_pods),
        policy_types=["Egress"],
        egress=[
            DNS_EGRESS,
            networking.NetworkPolicyEgressRuleArgs(
                to=ip_blocks(peers.data_cidrs), ports=ports("TCP", peers.database_port)
            ),
            networking.NetworkPolicyEgressRuleArgs(
                to=ip_blocks(peers.data_cidrs), ports=ports("TCP", peers.cache_port)
            ),
            networking.NetworkPolicyEgressRuleArgs(to=aws_https_peers(peers), ports=ports("TCP", HTTPS)),
            POD_IDENTITY_EGRESS,
            networking.NetworkPolicyEgressRuleArgs(
                to=[
                    networking.NetworkPolicyPeerArgs(
                        namespace_selector=meta.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": agent.namespace}
                        ),
                        pod_selector=_pods(agent.pod_labels),
                    )
                ],
                ports=ports("TCP", agent.traces_port),
            ),
        ],
    )
