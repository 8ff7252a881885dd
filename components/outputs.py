"""The stack's outputs: identifiers that other stacks, pipelines and operators need, never secret values."""

from __future__ import annotations

import pulumi

from components.platform import Platform


def export(platform: Platform) -> None:
    """Every stack output of ``platform``."""
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
            "volumes": platform.keys.volumes_key_arn,
        },
    )
    export_data_layer(platform)
    export_edge(platform)
    export_cluster(platform)
    export_observability(platform)
    pulumi.export("shopImage", platform.shop.image)


def export_data_layer(platform: Platform) -> None:
    """Where the data stores are and which secrets and groups guard them: identifiers only, never values."""
    database, cache, storage, secrets = platform.database, platform.cache, platform.storage, platform.secrets
    pulumi.export(
        "database",
        {
            "address": database.address,
            "port": database.port,
            "name": database.db_name,
            "masterSecretArn": database.master_secret_arn,
            "securityGroupId": database.security_group_id,
            "instanceArn": database.instance_arn,
        },
    )
    pulumi.export(
        "cache",
        {
            "primaryEndpointAddress": cache.primary_endpoint_address,
            "port": cache.port,
            "authSecretArn": cache.auth_secret_arn,
            "securityGroupId": cache.security_group_id,
            "replicationGroupId": cache.replication_group_id,
        },
    )
    pulumi.export(
        "buckets",
        {
            "assetsName": storage.assets_bucket_name,
            "assetsArn": storage.assets_bucket_arn,
            "assetsRegionalDomainName": storage.assets_bucket_regional_domain_name,
            "logsName": storage.logs_bucket_name,
            "logsArn": storage.logs_bucket_arn,
            "logsRegionalDomainName": storage.logs_bucket_regional_domain_name,
        },
    )
    pulumi.export(
        "appSecretArns",
        {
            "redisAuth": secrets.redis_auth_secret_arn,
            "session": secrets.session_secret_arn,
            "adminToken": secrets.admin_token_secret_arn,
            "originVerify": secrets.origin_verify_secret_arn,
        },
    )


def export_cluster(platform: Platform) -> None:
    """How to reach and extend the cluster. No kubeconfig: `aws eks update-kubeconfig --name <name>` writes one."""
    cluster = platform.cluster
    pulumi.export(
        "cluster",
        {
            "name": cluster.name,
            "kubernetesVersion": cluster.kubernetes_version,
            "oidcProviderArn": cluster.oidc_provider_arn,
            "clusterSecurityGroupId": cluster.cluster_security_group_id,
            "deployerSecurityGroupId": cluster.deployer_security_group_id,
            "nodeSecurityGroupId": platform.network.workload_security_group_id,
            "shopNamespace": cluster.shop_namespace,
            "shopServiceAccount": cluster.shop_service_account_name,
            "shopRoleArn": cluster.shop_role_arn,
        },
    )


def export_edge(platform: Platform) -> None:
    """What the shop's Ingress, the deploy pipeline and the domain's delegation need: identifiers, never secrets."""
    edge = platform.edge
    pulumi.export("shopUrl", edge.shop_url)
    exported: dict[str, object] = {
        "shopUrls": edge.shop_urls,
        "zoneId": edge.zone_id,
        "cloudfrontDomain": edge.distribution_domain_name,
        "distributionId": edge.distribution_id,
        "distributionArn": edge.distribution_arn,
        "cloudfrontCertificateArn": edge.cloudfront_certificate_arn,
        "cloudfrontWebAclArn": edge.cloudfront_web_acl_arn,
        "originHostname": edge.origin_hostname,
        "originCertificateArn": edge.origin_certificate_arn,
        "originWebAclArn": edge.origin_web_acl_arn,
    }
    if edge.name_servers is not None:
        exported["nameServers"] = edge.name_servers
    if edge.origin_health_check_id is not None:
        exported["originHealthCheckId"] = edge.origin_health_check_id
    if edge.dnssec_ds_records:
        # What the parent zone publishes to make resolvers trust the signed zone (docs/operations.md, DNSSEC).
        exported["dnssecDsRecords"] = edge.dnssec_ds_records
    if edge.query_log_group_name is not None:
        exported["queryLogGroup"] = edge.query_log_group_name
    pulumi.export("edge", exported)


def export_observability(platform: Platform) -> None:
    """Where to look and what the deploy pipeline's alarm gate watches (ci/alarms.py reads alarmNamePrefix and
    alarmRegions)."""
    observability = platform.observability
    pulumi.export("alarmNamePrefix", observability.alarm_name_prefix)
    pulumi.export("alarmRegions", observability.alarm_regions)
    exported: dict[str, object] = {
        "alarmTopicArns": observability.alarm_topic_arns,
        "dashboard": observability.dashboard_name,
        "containerLogGroups": observability.container_log_group_names,
        "checkoutMetricNamespace": observability.checkout_metric_namespace,
    }
    if observability.trail_arn is not None:
        exported["trailArn"] = observability.trail_arn
    pulumi.export("observability", exported)
