"""What the platform watches: the metrics of each resource the stack creates, and the alarms on them.

Thresholds come from settings; every alarm says what it means and where to look first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components import carts
from components.observability import telemetry
from components.observability.alarms import ABOVE, BELOW, Alarm, Metric, across
from stacks.settings import ObservabilitySettings

GIB = 1024**3
MIB = 1024**2
#: CloudFront and CLOUDFRONT-scope WAF publish their metrics in this region only.
GLOBAL_METRICS_REGION = "us-east-1"
CONTAINER_INSIGHTS = "ContainerInsights"
APPLICATION_ELB = "AWS/ApplicationELB"
#: Metrics the shop's log metric filters publish (components/observability/shop.py), per minute.
CHECKOUTS_FAILED = "CheckoutsFailed"
ORDERS_PLACED = "OrdersPlaced"


# ---------------------------------------------------------------------------------------------- metrics


def rds(name: str, stat: str, identifier: pulumi.Input[str], region: str) -> Metric:
    return Metric("AWS/RDS", name, {"DBInstanceIdentifier": identifier}, stat, region)


def elasticache(name: str, stat: str, cache_cluster_id: pulumi.Input[str], region: str) -> Metric:
    return Metric("AWS/ElastiCache", name, {"CacheClusterId": cache_cluster_id}, stat, region)


def cloudfront(name: str, stat: str, distribution_id: pulumi.Input[str]) -> Metric:
    return Metric(
        "AWS/CloudFront", name, {"DistributionId": distribution_id, "Region": "Global"}, stat, GLOBAL_METRICS_REGION
    )


def waf(name: str, web_acl: str, region: str, *, cloudfront_scope: bool) -> Metric:
    """All rules of a web ACL (by its metric name); regional ACLs' metrics also carry their region."""
    dimensions = {"WebACL": web_acl, "Rule": "ALL"}
    if not cloudfront_scope:
        dimensions["Region"] = region
    return Metric("AWS/WAFV2", name, dimensions, "Sum", region)


def container_insights(name: str, stat: str, cluster_name: str, region: str, **dimensions: pulumi.Input[str]) -> Metric:
    return Metric(CONTAINER_INSIGHTS, name, {"ClusterName": cluster_name, **dimensions}, stat, region)


@dataclass(frozen=True)
class ShopMetrics:
    """Where the shop's metrics are: its load balancer and target group (as CloudWatch names them: the ARN
    suffixes), its pods in Container Insights, and the namespace its log metric filters publish to."""

    load_balancer: pulumi.Input[str]
    target_group: pulumi.Input[str]
    cluster_name: str
    namespace: pulumi.Input[str]
    pod_name: str
    """Container Insights' ``PodName`` of the web pods: their Deployment's name."""
    pod_selector: str
    """``kubectl -l`` selector of the shop's pods, for runbooks."""
    checkout_namespace: str
    region: str

    def load_balancer_metric(self, name: str, stat: str) -> Metric:
        return Metric(APPLICATION_ELB, name, {"LoadBalancer": self.load_balancer}, stat, self.region)

    def target_group_metric(self, name: str, stat: str) -> Metric:
        dimensions = {"LoadBalancer": self.load_balancer, "TargetGroup": self.target_group}
        return Metric(APPLICATION_ELB, name, dimensions, stat, self.region)

    def pod_metric(self, name: str, stat: str) -> Metric:
        return container_insights(
            name, stat, self.cluster_name, self.region, Namespace=self.namespace, PodName=self.pod_name
        )

    def prometheus_metric(self, name: str, stat: str, **labels: str) -> Metric:
        """A metric the agent made of the pods' scraped samples (``telemetry.PrometheusScraping``)."""
        dimensions = {"ClusterName": self.cluster_name, "Namespace": self.namespace, **labels}
        return Metric(telemetry.PROMETHEUS_METRIC_NAMESPACE, name, dimensions, stat, self.region)

    def checkout_metric(self, name: str) -> Metric:
        """A checkout count from the logs; no dimensions, the namespace is this stack's own."""
        return Metric(self.checkout_namespace, name, {}, "Sum", self.region)


# ---------------------------------------------------------------------------------------------- alarms


def database_alarms(settings: ObservabilitySettings, identifier: pulumi.Input[str], region: str) -> list[Alarm]:
    """The shop's PostgreSQL instance. It has no read replica (the Multi-AZ standby replicates synchronously and
    reports no ReplicaLag), so there is no replica lag alarm."""
    return [
        Alarm(
            "db-cpu",
            "The shop database's CPU is saturated; queries slow down and checkouts time out.",
            "Performance Insights > Top SQL for the query that grew; check for a missing index or a runaway job; "
            "raise dbInstanceClass if load grew for good.",
            [rds("CPUUtilization", "Average", identifier, region)],
            ABOVE,
            settings.db_cpu_percent,
            f"{settings.db_cpu_percent} %",
        ),
        Alarm(
            "db-free-storage",
            "The shop database is running out of disk; at zero it stops accepting writes.",
            "Storage autoscaling grows up to dbMaxAllocatedStorageGb: check whether it reached that ceiling, then "
            "look for bloated tables or WAL held by a replication slot.",
            [rds("FreeStorageSpace", "Minimum", identifier, region)],
            BELOW,
            settings.db_free_storage_gib * GIB,
            f"{settings.db_free_storage_gib} GiB",
        ),
        Alarm(
            "db-freeable-memory",
            "The shop database is short of memory; the cache hit ratio drops and the OS may swap.",
            "Performance Insights for memory-hungry queries (sorts, hashes); check the connection count; raise "
            "dbInstanceClass if the working set outgrew it.",
            [rds("FreeableMemory", "Minimum", identifier, region)],
            BELOW,
            settings.db_freeable_memory_mib * MIB,
            f"{settings.db_freeable_memory_mib} MiB",
        ),
        Alarm(
            "db-connections",
            "The shop database has unusually many connections; near max_connections new ones are refused.",
            "Compare with the shop's replicas x pool size; look for connections idle in transaction "
            "(pg_stat_activity) or a deploy that doubled the pods.",
            [rds("DatabaseConnections", "Maximum", identifier, region)],
            ABOVE,
            settings.db_connections,
            f"{settings.db_connections} connections",
        ),
    ]


def cache_alarms(settings: ObservabilitySettings, node_ids: Sequence[pulumi.Input[str]], region: str) -> list[Alarm]:
    """The shop's cache, over every node (the primary can move on failover). Replication lag only with replicas."""

    def nodes(name: str, stat: str) -> list[Metric]:
        return [elasticache(name, stat, node, region) for node in node_ids]

    alarms = [
        Alarm(
            "cache-cpu",
            "A cache node's host CPU is saturated.",
            "Check the shop's cache request rate (dashboard) and slow commands (slow log in CloudWatch Logs); "
            "raise cacheNodeType if traffic grew.",
            nodes("CPUUtilization", "Average"),
            ABOVE,
            settings.cache_cpu_percent,
            f"{settings.cache_cpu_percent} %",
            expression=across(len(node_ids), "MAX"),
        ),
        Alarm(
            "cache-engine-cpu",
            "A cache node's engine thread is saturated; every command waits behind it.",
            "Slow log for expensive commands (KEYS, large ranges); check hot keys; raise cacheNodeType.",
            nodes("EngineCPUUtilization", "Average"),
            ABOVE,
            settings.cache_engine_cpu_percent,
            f"{settings.cache_engine_cpu_percent} %",
            expression=across(len(node_ids), "MAX"),
        ),
        Alarm(
            "cache-memory",
            "A cache node's memory is nearly full; it evicts keys and the shop falls back to the database.",
            "Check key growth and TTLs of the shop's cache entries; raise cacheNodeType.",
            nodes("DatabaseMemoryUsagePercentage", "Maximum"),
            ABOVE,
            settings.cache_memory_percent,
            f"{settings.cache_memory_percent} %",
            expression=across(len(node_ids), "MAX"),
        ),
        Alarm(
            "cache-evictions",
            "The cache evicts keys under memory pressure; sessions and carts may be lost.",
            "Check memory usage and key growth; raise cacheNodeType.",
            nodes("Evictions", "Sum"),
            ABOVE,
            settings.cache_evictions,
            f"{settings.cache_evictions} evictions a minute",
            expression=across(len(node_ids), "SUM"),
        ),
    ]
    if len(node_ids) > 1:
        alarms.append(
            Alarm(
                "cache-replication-lag",
                "A cache replica lags behind the primary; a failover now would lose recent writes.",
                "Check the primary's write rate and network throughput; a lag that keeps growing needs a larger "
                "node type.",
                nodes("ReplicationLag", "Maximum"),
                ABOVE,
                settings.cache_replication_lag_seconds,
                f"{settings.cache_replication_lag_seconds} s",
                expression=across(len(node_ids), "MAX"),
            )
        )
    return alarms


def route53_health(health_check_id: pulumi.Input[str]) -> Metric:
    """1 while the check's checkers mostly succeed, 0 otherwise; Route 53 publishes it in us-east-1 only."""
    return Metric(
        "AWS/Route53", "HealthCheckStatus", {"HealthCheckId": health_check_id}, "Minimum", GLOBAL_METRICS_REGION
    )


def origin_alarm(health_check_id: pulumi.Input[str]) -> Alarm:
    return Alarm(
        "origin-unhealthy",
        "Route 53's health checkers get no ready answer from the origin (its /readyz): the shop is down or "
        "unreachable behind CloudFront, whether or not anyone is shopping.",
        "Route 53 console > the health check's failure reasons (TLS, timeout, status); then the load balancer's "
        "target health and the shop's readiness (database, cache) as in the 5xx runbooks.",
        [route53_health(health_check_id)],
        BELOW,
        1,
        "healthy (1)",
        # No data means the check itself is gone or paused, not that the origin is down.
        treat_missing_data="missing",
    )


def carts_alarms(table_name: pulumi.Input[str], region: str) -> list[Alarm]:
    """Requests to the carts table that failed: throttled (a burst past what on-demand capacity had adapted to, or
    a hot cart) or refused by DynamoDB itself. Either means shoppers' cart edits failed with a 5xx."""

    def per_operation(name: str) -> list[Metric]:
        return [
            Metric("AWS/DynamoDB", name, {"TableName": table_name, "Operation": action.split(":")[1]}, "Sum", region)
            for action in carts.ITEM_ACTIONS
        ]

    return [
        Alarm(
            "carts-throttled",
            "Requests to the carts table are throttled; cart edits fail.",
            "Check the table's consumed capacity and throttled keys (CloudWatch Contributor Insights) on the "
            "dashboard; an on-demand table doubles its capacity within 30 minutes of a new peak.",
            [
                Metric("AWS/DynamoDB", "ReadThrottleEvents", {"TableName": table_name}, "Sum", region),
                Metric("AWS/DynamoDB", "WriteThrottleEvents", {"TableName": table_name}, "Sum", region),
            ],
            ABOVE,
            0,
            "0 requests",
            expression=across(2, "SUM"),
        ),
        Alarm(
            "carts-errors",
            "DynamoDB failed requests to the carts table (HTTP 500s on its side); cart edits fail.",
            "Check the AWS Health Dashboard for DynamoDB in the region and the shop's cart_store errors in its logs; "
            "the shop retries each call up to 3 times.",
            per_operation("SystemErrors"),
            ABOVE,
            0,
            "0 requests",
            expression=across(len(carts.ITEM_ACTIONS), "SUM"),
        ),
    ]


def rotation_alarms(function_names: Mapping[str, pulumi.Input[str]], region: str) -> list[Alarm]:
    """The secrets' rotation functions, by kind (``generated``: ``rotation-errors``, else ``rotation-<kind>-errors``):
    a failed rotation leaves the secret at its current value, and Secrets Manager refuses the next one until its
    pending version is cleared."""
    return [
        Alarm(
            "rotation-errors" if kind == "generated" else f"rotation-{kind}-errors",
            "A secret rotation failed: the secret keeps its current value and the next rotation is refused until "
            "the pending version is cleared.",
            "docs/operations.md, Rotation with Lambda (a failed rotation, recovery): the function's log group names "
            "the secret, version and step.",
            [Metric("AWS/Lambda", "Errors", {"FunctionName": function_name}, "Sum", region)],
            ABOVE,
            0,
            "0 errors",
        )
        for kind, function_name in function_names.items()
    ]


def edge_alarms(
    settings: ObservabilitySettings,
    distribution_id: pulumi.Input[str],
    cdn_web_acl: str,
    origin_health_check_id: pulumi.Input[str] | None,
) -> list[Alarm]:
    """CloudFront's and its web ACL's, and the origin health check's when there is one: it pages even when no
    shopper is around to make CloudFront's error rate move."""
    origin = [] if origin_health_check_id is None else [origin_alarm(origin_health_check_id)]
    return [
        *origin,
        Alarm(
            "cdn-5xx",
            "CloudFront returns server errors to shoppers.",
            "Compare with the load balancer 5xx alarms: if they are quiet, the origin is unreachable from "
            "CloudFront (origin DNS, certificate, origin web ACL); else follow the shop's 5xx runbook.",
            [cloudfront("5xxErrorRate", "Average", distribution_id)],
            ABOVE,
            settings.cdn_errors_percent,
            f"{settings.cdn_errors_percent} % of requests",
        ),
        Alarm(
            "waf-blocked-spike",
            "The CloudFront web ACL blocks an unusual number of requests: an attack, or a rule blocking real shoppers.",
            "WAF console > the web ACL's sampled requests: which rule blocks, from where; a false positive needs a "
            "rule exclusion, an attack may need a lower rate limit.",
            [waf("BlockedRequests", cdn_web_acl, GLOBAL_METRICS_REGION, cloudfront_scope=True)],
            ABOVE,
            settings.waf_blocked_requests,
            f"{settings.waf_blocked_requests} blocked requests a minute",
        ),
    ]


def cluster_alarms(cluster_name: str, min_nodes: int, region: str) -> list[Alarm]:
    return [
        Alarm(
            "eks-nodes-below-minimum",
            "The cluster has fewer nodes than its node groups' minimum: capacity was lost.",
            "EKS console > node groups > health issues; EC2 Auto Scaling activity of the node groups (spot "
            "interruptions, capacity errors); kubectl get nodes.",
            [container_insights("cluster_node_count", "Minimum", cluster_name, region)],
            BELOW,
            min_nodes,
            f"{min_nodes} nodes",
            # No data means Container Insights stopped reporting, not that nodes are gone.
            treat_missing_data="missing",
        ),
    ]


def shop_alarms(settings: ObservabilitySettings, shop: ShopMetrics) -> list[Alarm]:
    """The shop as shoppers see it: errors from the load balancer and from the pods, slow responses, targets
    failing health checks, restarting containers and failing checkouts. Error rates are metric math over the
    load balancer's counts (its 5xx counts are only published for minutes that have some)."""
    requests = shop.load_balancer_metric("RequestCount", "Sum")
    logs = telemetry.log_group_name(shop.cluster_name, "application")
    pods = f"kubectl get pods -A -l {shop.pod_selector}"
    return [
        Alarm(
            "alb-5xx",
            "The shop's load balancer answers with its own server errors (502/503/504): it reaches no healthy pod, "
            "or pods drop connections.",
            f"Look at shop-unhealthy-targets and the pods ({pods}); 502s right after a deploy point at pods "
            "that close connections while stopping; the load balancer's access logs (logs bucket, alb/) name the "
            "failing requests.",
            [shop.load_balancer_metric("HTTPCode_ELB_5XX_Count", "Sum"), requests],
            ABOVE,
            settings.alb_errors_percent,
            f"{settings.alb_errors_percent} % of requests",
            expression="100 * FILL(m1, 0) / m2",
        ),
        Alarm(
            "shop-5xx",
            "The shop's pods answer with server errors.",
            f"Logs Insights on {logs}: log_processed.status >= 500 or log_processed.event = 'unhandled_error', "
            "by log_processed.request_id; check the database and cache alarms; right after a deploy, roll back.",
            [shop.load_balancer_metric("HTTPCode_Target_5XX_Count", "Sum"), requests],
            ABOVE,
            settings.target_errors_percent,
            f"{settings.target_errors_percent} % of requests",
            expression="100 * FILL(m1, 0) / m2",
        ),
        Alarm(
            "shop-latency-p99",
            "The slowest 1 % of the shop's responses are slow.",
            "Compare with db-cpu, db-connections and the cache alarms; the dashboard's pod CPU (throttled at its "
            "limit?) and the autoscaler (kubectl get hpa -A); Performance Insights for slow queries.",
            [shop.load_balancer_metric("TargetResponseTime", "p99")],
            ABOVE,
            settings.target_p99_ms / 1000,  # TargetResponseTime is in seconds
            f"{settings.target_p99_ms} ms",
        ),
        Alarm(
            "shop-unhealthy-targets",
            "Shop pods fail the load balancer's health checks (/readyz) and get no traffic.",
            f"{pods}; /readyz fails while the database is unreachable or its schema is behind the image (the "
            "migrate Job); look at the database alarms and the pods' logs.",
            [shop.target_group_metric("UnHealthyHostCount", "Maximum")],
            ABOVE,
            settings.unhealthy_hosts,
            f"{settings.unhealthy_hosts} unhealthy targets",
        ),
        Alarm(
            "shop-pod-restarts",
            "The shop's containers restart: crashes, out-of-memory kills or failing liveness probes.",
            f"kubectl describe pods -A -l {shop.pod_selector} (Last State: OOMKilled or Error) and kubectl logs "
            "--previous of those pods; OOM kills need a larger shopMemoryLimitMib.",
            [shop.pod_metric("pod_number_of_container_restarts", "Sum")],
            ABOVE,
            settings.pod_restarts,
            f"{settings.pod_restarts} restarts a minute",
        ),
        Alarm(
            "checkout-failures",
            "An unusual share of checkouts fails (checkout_failed events against orders placed).",
            f"Logs Insights on {logs}: filter log_processed.event = 'checkout_failed' | stats count() by "
            "log_processed.reason. card_declined: the payment provider; out_of_stock: the catalog; cart_not_found: "
            "carts lost with the cache (cache alarms).",
            [shop.checkout_metric(CHECKOUTS_FAILED), shop.checkout_metric(ORDERS_PLACED)],
            ABOVE,
            settings.checkout_failure_percent,
            f"{settings.checkout_failure_percent} % of checkouts",
            # Minutes without checkouts count as 0 %, not as a division by zero.
            expression="IF(m1 + m2 > 0, 100 * m1 / (m1 + m2), 0)",
        ),
    ]
