"""What the shop component takes: the cluster it runs in, the endpoints and secrets it is configured with, its
buckets, its origin at the edge and its network peers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.base import StackContext
from components.shop.traffic import Peers
from stacks.settings import ShopSettings
from stacks.settings.base import Environment


@dataclass(frozen=True)
class ClusterTarget:
    """The cluster the shop runs in, as the cluster component provides it."""

    provider: k8s.Provider
    """Every Kubernetes object of the shop is created through it."""
    namespace: pulumi.Input[str]
    """Exists with the restricted Pod Security Standard and a default-deny NetworkPolicy."""
    service_account_name: pulumi.Input[str]
    """Bound to the shop's IAM role by EKS Pod Identity; the shop creates the ServiceAccount itself."""
    node_selector: Mapping[str, str]
    ingress_class_name: str
    load_balancer_controller: pulumi.Resource
    """The Ingress, the Services, the Rollout and the Jobs wait for it: its webhooks admit them (a pod gets its
    load balancer readiness gate when it is created, or never)."""
    rollouts_controller: pulumi.Resource
    """Argo Rollouts and its CRDs: the Rollout and the AnalysisTemplate wait for it."""


@dataclass(frozen=True)
class DatabaseEndpoint:
    address: pulumi.Input[str]
    port: pulumi.Input[int]
    name: str
    secret_arn: pulumi.Input[str]
    """RDS-managed secret with the master credentials (the shop re-reads it after a rotation)."""


@dataclass(frozen=True)
class CacheEndpoint:
    address: pulumi.Input[str]
    port: int
    auth_secret_arn: pulumi.Input[str]


@dataclass(frozen=True)
class AppSecretArns:
    session: pulumi.Input[str]
    admin_token: pulumi.Input[str]
    origin_verify: pulumi.Input[str]
    """The value CloudFront sends in X-Origin-Verify; the shop rejects requests without it."""


@dataclass(frozen=True)
class Origin:
    """How the edge reaches the shop: the origin's name, its regional certificate and web ACL."""

    hostname: str
    certificate_arn: pulumi.Input[str]
    web_acl_arn: pulumi.Input[str]
    public_url: str
    """The shop's canonical URL; CloudFront serves /static and /media under it, so it is the CDN base URL."""
    health_checked: bool
    """Route 53 health-checks ``https://<hostname>/readyz``: its checkers must reach the load balancer."""


@dataclass(frozen=True)
class Buckets:
    assets: pulumi.Input[str]
    assets_key_arn: pulumi.Input[str]
    """The KMS key of the assets bucket's default encryption (the deployment's static files use it too)."""
    media_prefix: str
    logs: pulumi.Input[str]
    logs_policy: pulumi.Resource
    """The logs bucket's policy, which admits the load balancer's access logs."""
    load_balancer_logs_prefix: str


@dataclass(frozen=True)
class ShopArgs:
    settings: ShopSettings
    context: StackContext
    """With ``protect``, the load balancer has deletion protection (prod)."""
    environment: Environment
    region: str
    image_repository: str
    """Registry and repository of the image (the settings' value, or the bootstrap's ECR repository)."""
    cluster: ClusterTarget
    database: DatabaseEndpoint
    cache: CacheEndpoint
    carts_table: pulumi.Input[str]
    """The DynamoDB table of carts (components/carts.py): the shop keeps carts there."""
    secret_arns: AppSecretArns
    buckets: Buckets
    origin: Origin
    peers: Peers
    vpc_id: pulumi.Input[str]
    """The VPC of the load balancer's security groups."""
    load_balancer_subnet_ids: Sequence[pulumi.Input[str]]
    """The public subnets the internet-facing load balancer lives in."""
    pod_cidrs: Sequence[str]
    """The subnets pods take their IPs from: the only place the load balancer connects to."""
