"""The composition: which components a stack consists of and how their inputs and outputs are wired."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.account import Account
from components.base import StackContext
from components.cache import Cache, CacheArgs
from components.carts import CartsTable, CartsTableArgs
from components.cluster import Cluster, ClusterArgs, ShopAccess
from components.database import Database, DatabaseArgs
from components.deploy_runner import DeployRunner, DeployRunnerArgs
from components.edge import Edge, EdgeArgs, cdn
from components.edge.edge import THROUGH_CLOUDFRONT_RULE
from components.keys import Keys, KeysArgs
from components.naming import Naming
from components.network import Network, NetworkArgs
from components.observability import (
    AGENT_NAMESPACE,
    AGENT_OTLP_HTTP_PORT,
    AGENT_POD_LABELS,
    AGENT_TRACES_ENDPOINT,
    ClusterTelemetry,
    Observability,
    ObservabilityArgs,
    ShopTelemetry,
)
from components.rotation import CacheAccess, EdgeAccess, SecretRotation, SecretRotationArgs
from components.secrets import AppSecrets, AppSecretsArgs
from components.shop import (
    AppSecretArns,
    Buckets,
    CacheEndpoint,
    ClusterTarget,
    DatabaseEndpoint,
    MetricsScraper,
    Origin,
    Peers,
    Shop,
    ShopArgs,
)
from components.storage import AssetStorage, AssetStorageArgs
from stacks.settings import PlatformSettings


@dataclass(frozen=True)
class Platform:
    """Everything one stack builds; attributes are the components, for exports and tests."""

    naming: Naming
    account: Account
    keys: Keys
    network: Network
    secrets: AppSecrets
    database: Database
    cache: Cache
    carts: CartsTable
    storage: AssetStorage
    cluster: Cluster
    deploy_runner: DeployRunner | None
    """None without runner settings (a stack whose deploys reach the Kubernetes API from outside the VPC)."""
    edge: Edge
    observability: Observability
    shop: Shop


def build(settings: PlatformSettings) -> Platform:
    naming = Naming(prefix=settings.stack.name_prefix, stack=pulumi.get_stack())
    account = Account.current(settings.stack.region)
    context = StackContext.of_stack(naming, account, bounded=settings.stack.workload_boundary, protect=settings.is_prod)
    keys = Keys("keys", KeysArgs(settings=settings.keys, context=context))
    cluster_name = naming.physical("eks", max_length=100)
    network = Network(
        "network",
        NetworkArgs(
            settings=settings.network,
            context=context,
            cluster_name=cluster_name,
            logs_key_arn=keys.logs_key_arn,
        ),
    )
    secrets = AppSecrets(
        "secrets",
        AppSecretsArgs(settings=settings.secrets, context=context, secrets_key_arn=keys.secrets_key_arn),
    )
    database = Database(
        "database",
        DatabaseArgs(
            settings=settings.database,
            context=context,
            vpc_id=network.vpc_id,
            subnet_ids=network.data_subnet_ids,
            client_security_group_id=network.workload_security_group_id,
            data_key_arn=keys.data_key_arn,
            secrets_key_arn=keys.secrets_key_arn,
            logs_key_arn=keys.logs_key_arn,
        ),
    )
    cache = Cache(
        "cache",
        CacheArgs(
            settings=settings.cache,
            context=context,
            vpc_id=network.vpc_id,
            subnet_ids=network.data_subnet_ids,
            availability_zones=network.availability_zones,
            client_security_group_id=network.workload_security_group_id,
            data_key_arn=keys.data_key_arn,
            logs_key_arn=keys.logs_key_arn,
            auth_token=secrets.redis_auth_token,
            auth_secret_arn=secrets.redis_auth_secret_arn,
        ),
    )
    carts = CartsTable("carts", CartsTableArgs(context=context, data_key_arn=keys.data_key_arn))
    storage = AssetStorage(
        "storage",
        AssetStorageArgs(
            settings=settings.storage,
            context=context,
            data_key_arn=keys.data_key_arn,
            cloudfront_log_source_arn=cdn.log_delivery_source_arn(context.account, context.naming),
        ),
    )
    cluster = Cluster(
        "cluster",
        ClusterArgs(
            settings=settings.cluster,
            context=context,
            name=cluster_name,
            vpc_id=network.vpc_id,
            vpc_cidr=network.vpc_cidr,
            service_cidr=network.kubernetes_service_cidr,
            private_subnet_ids=network.private_subnet_ids,
            egress_ready=network.egress_ready,
            workload_security_group_id=network.workload_security_group_id,
            secrets_key_arn=keys.secrets_key_arn,
            logs_key_arn=keys.logs_key_arn,
            volumes_key_arn=keys.volumes_key_arn,
            shop_access=ShopAccess(
                secret_arns=[
                    secrets.session_secret_arn,
                    secrets.admin_token_secret_arn,
                    secrets.redis_auth_secret_arn,
                    secrets.origin_verify_secret_arn,
                    database.master_secret_arn,
                ],
                secrets_key_arn=keys.secrets_key_arn,
                assets_bucket_arn=storage.assets_bucket_arn,
                assets_prefix=storage.assets_media_prefix,
                data_key_arn=keys.data_key_arn,
                carts_table_arn=carts.table_arn,
            ),
        ),
    )
    # It needs the VPC and the deployer group only, not the control plane: the first deploy's phase one creates it.
    deploy_runner = (
        DeployRunner(
            "deploy-runner",
            DeployRunnerArgs(
                settings=settings.runner,
                context=context,
                vpc_id=network.vpc_id,
                subnet_ids=network.private_subnet_ids,
                security_group_id=cluster.deployer_security_group_id,
                logs_key_arn=keys.logs_key_arn,
            ),
        )
        if settings.runner.enabled
        else None
    )
    edge = Edge(
        "edge",
        EdgeArgs(
            settings=settings.edge,
            context=context,
            domain=settings.stack.domain,
            key_settings=settings.keys,
            logs_key_arn=keys.logs_key_arn,
            assets_bucket_regional_domain_name=storage.assets_bucket_regional_domain_name,
            logs_bucket_arn=storage.logs_bucket_arn,
            logs_prefix=storage.cloudfront_logs_prefix,
            logs_bucket_policy=storage.logs_bucket_policy,
            origin_verify=secrets.origin_verify_values,
        ),
    )
    storage.serve_through_cdn(edge.distribution_arn)
    shop = _shop(settings, context, keys, network, secrets, database, cache, carts, storage, cluster, edge)
    edge.route_origin(shop.load_balancer_hostname)
    rotations = _rotations(settings, context, keys, network, secrets, cache, edge)
    observability = _observability(
        settings, context, cluster_name, keys, database, cache, carts, rotations, storage, cluster, edge, shop
    )
    return Platform(
        naming=naming,
        account=account,
        keys=keys,
        network=network,
        secrets=secrets,
        database=database,
        cache=cache,
        carts=carts,
        storage=storage,
        cluster=cluster,
        deploy_runner=deploy_runner,
        edge=edge,
        observability=observability,
        shop=shop,
    )


def _shop(
    settings: PlatformSettings,
    context: StackContext,
    keys: Keys,
    network: Network,
    secrets: AppSecrets,
    database: Database,
    cache: Cache,
    carts: CartsTable,
    storage: AssetStorage,
    cluster: Cluster,
    edge: Edge,
) -> Shop:
    naming, account = context.naming, context.account
    # The bootstrap's ECR repository (components/image_registry.py) unless the stack names another.
    repository = (
        settings.shop.image_repository
        or f"{account.id}.dkr.ecr.{account.region}.{account.dns_suffix}/{naming.prefix}/app"
    )
    return Shop(
        "shop",
        ShopArgs(
            settings=settings.shop,
            context=context,
            environment=settings.stack.environment,
            region=account.region,
            image_repository=repository,
            cluster=ClusterTarget(
                provider=cluster.kubernetes_provider,
                namespace=cluster.shop_namespace,
                service_account_name=cluster.shop_service_account_name,
                node_selector=cluster.shop_node_selector,
                ingress_class_name=cluster.ingress_class_name,
                load_balancer_controller=cluster.alb_controller_ready,
                rollouts_controller=cluster.rollouts_controller_ready,
            ),
            database=DatabaseEndpoint(
                address=database.address,
                port=database.port,
                name=database.db_name,
                secret_arn=database.master_secret_arn,
            ),
            cache=CacheEndpoint(
                address=cache.primary_endpoint_address, port=cache.port, auth_secret_arn=cache.auth_secret_arn
            ),
            carts_table=carts.table_name,
            secret_arns=AppSecretArns(
                session=secrets.session_secret_arn,
                admin_token=secrets.admin_token_secret_arn,
                origin_verify=secrets.origin_verify_secret_arn,
            ),
            buckets=Buckets(
                assets=storage.assets_bucket_name,
                assets_key_arn=keys.data_key_arn,
                media_prefix=storage.assets_media_prefix,
                logs=storage.logs_bucket_name,
                logs_policy=storage.logs_bucket_policy,
                load_balancer_logs_prefix=storage.alb_logs_prefix,
            ),
            origin=Origin(
                hostname=edge.origin_hostname,
                certificate_arn=edge.origin_certificate_arn,
                web_acl_arn=edge.origin_web_acl_arn,
                public_url=edge.shop_url,
                health_checked=edge.origin_health_check_id is not None,
            ),
            peers=Peers(
                load_balancer_cidrs=network.public_cidrs,
                data_cidrs=network.data_cidrs,
                database_port=database.port,
                cache_port=cache.port,
                vpc_cidr=network.vpc_cidr,
                service_cidr=network.kubernetes_service_cidr,
                aws_endpoint_cidrs=network.interface_endpoint_cidrs,
                s3_cidrs=network.s3_cidrs,
                dynamodb_cidrs=network.dynamodb_cidrs,
                # The CloudWatch agent scrapes the shop's /metrics (components/observability/telemetry.py).
                metrics_scraper=MetricsScraper(
                    namespace=AGENT_NAMESPACE,
                    pod_labels=AGENT_POD_LABELS,
                    traces_endpoint=AGENT_TRACES_ENDPOINT,
                    traces_port=AGENT_OTLP_HTTP_PORT,
                ),
            ),
            vpc_id=network.vpc_id,
            load_balancer_subnet_ids=network.public_subnet_ids,
            pod_cidrs=network.private_cidrs,
        ),
    )


def _rotations(
    settings: PlatformSettings,
    context: StackContext,
    keys: Keys,
    network: Network,
    secrets: AppSecrets,
    cache: Cache,
    edge: Edge,
) -> list[SecretRotation]:
    """One function per kind of secret, each allowed on its own secrets only; all on the same schedule."""
    common: dict[str, Any] = {
        "context": context,
        "secrets_key_arn": keys.secrets_key_arn,
        "logs_key_arn": keys.logs_key_arn,
        "schedule_days": settings.secrets.lambda_rotation_days,
        "log_retention_days": settings.observability.container_log_retention_days,
    }
    generated = SecretRotationArgs(
        kind="generated",
        handler="rotate.handler",
        description="the shop's session key and admin token",
        secret_arns={"session": secrets.session_secret_arn, "admin-token": secrets.admin_token_secret_arn},
        **common,
    )
    redis_auth = SecretRotationArgs(
        kind="redis-auth",
        handler="redis_auth.handler",
        description="the cache's AUTH token",
        secret_arns={"redis-auth": secrets.redis_auth_secret_arn},
        cache=CacheAccess(
            replication_group_id=cache.replication_group_id,
            security_group_id=cache.security_group_id,
            port=cache.port,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
        ),
        **common,
    )
    origin_verify = SecretRotationArgs(
        kind="origin-verify",
        handler="origin_verify.handler",
        description="CloudFront's origin header",
        secret_arns={"origin-verify": secrets.origin_verify_secret_arn},
        edge=EdgeAccess(
            web_acl_arn=edge.origin_web_acl_arn,
            web_acl_id=edge.origin_web_acl_id,
            web_acl_name=edge.origin_web_acl_name,
            web_acl_scope="REGIONAL",
            rule_name=THROUGH_CLOUDFRONT_RULE,
            distribution_id=edge.distribution_id,
            distribution_arn=edge.distribution_arn,
            origin_id=cdn.LOAD_BALANCER_ORIGIN,
            header=cdn.ORIGIN_VERIFY_HEADER,
        ),
        **common,
    )
    return [
        SecretRotation("rotation", generated),
        SecretRotation("redis-rotation", redis_auth),
        SecretRotation("origin-rotation", origin_verify),
    ]


def _observability(
    settings: PlatformSettings,
    context: StackContext,
    cluster_name: str,
    keys: Keys,
    database: Database,
    cache: Cache,
    carts: CartsTable,
    rotations: list[SecretRotation],
    storage: AssetStorage,
    cluster: Cluster,
    edge: Edge,
    shop: Shop,
) -> Observability:
    return Observability(
        "observability",
        ObservabilityArgs(
            settings=settings.observability,
            key_settings=settings.keys,
            context=context,
            force_destroy=settings.storage.force_destroy,
            logs_key_arn=keys.logs_key_arn,
            cluster=ClusterTelemetry(
                name=cluster_name,
                ready_name=cluster.name,
                compute_ready=cluster.compute_ready,
                min_nodes=settings.cluster.system_min_size + settings.cluster.app_min_size,
            ),
            shop=ShopTelemetry(
                ingress=shop.ingress,
                load_balancer_name=shop.load_balancer_name,
                namespace=shop.namespace,
                deployment_name=shop.deployment_name,
                app_label=shop.app_label,
                metrics_port=shop.metrics_port,
            ),
            database_identifier=database.instance_identifier,
            carts_table_name=carts.table_name,
            rotation_function_names={rotation.kind: rotation.function_name for rotation in rotations},
            cache_replication_group_id=cache.replication_group_id,
            cache_node_count=settings.cache.node_count,
            distribution_id=edge.distribution_id,
            cdn_web_acl_name=edge.cloudfront_web_acl_name,
            origin_web_acl_name=edge.origin_web_acl_name,
            origin_health_check_id=edge.origin_health_check_id,
            access_logs_bucket=storage.logs_bucket_name,
            access_logs_prefix=storage.access_logs_prefix,
        ),
    )
