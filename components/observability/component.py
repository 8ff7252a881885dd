"""Observability and audit of one stack: Container Insights, container logs and the shop's Prometheus metrics,
alarms that e-mail the team, one dashboard, and the CloudTrail trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext
from components.observability import shop, signals, telemetry
from components.observability.alarms import Alarm, metric_alarm
from components.observability.alerting import AlertTopicArgs, alert_topic
from components.observability.audit import AuditTrailArgs, audit_trail
from components.observability.dashboard import Graph, Row, dashboard_body
from components.observability.shop import ShopTelemetry
from stacks.settings import KeySettings, ObservabilitySettings


@dataclass(frozen=True)
class ClusterTelemetry:
    name: str
    """Physical cluster name: log group names and the ``ClusterName`` dimension."""
    ready_name: pulumi.Input[str]
    """The same name, resolved once the control plane exists (for the add-on and its Pod Identity)."""
    compute_ready: Sequence[pulumi.Resource]
    """Node groups and the add-ons pods need; the observability add-on's DaemonSets wait for them."""
    min_nodes: int
    """The node groups' minimum sizes, added up: fewer nodes means capacity was lost."""


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs:
    settings: ObservabilitySettings
    key_settings: KeySettings
    context: StackContext
    force_destroy: bool
    """Let `pulumi destroy` empty the trail bucket (staging)."""
    logs_key_arn: pulumi.Input[str]
    """Encrypts every log group (its key policy admits CloudWatch Logs)."""
    cluster: ClusterTelemetry
    shop: ShopTelemetry
    database_identifier: pulumi.Input[str]
    carts_table_name: pulumi.Input[str]
    rotation_function_names: Mapping[str, pulumi.Input[str]]
    """The secrets' rotation functions by kind (components/rotation.py): any error of one pages."""
    cache_replication_group_id: pulumi.Input[str]
    cache_node_count: int
    distribution_id: pulumi.Input[str]
    cdn_web_acl_name: str
    origin_web_acl_name: str
    origin_health_check_id: pulumi.Input[str] | None
    """Route 53's check of the origin (None without one): its alarm pages."""
    access_logs_bucket: pulumi.Input[str]
    """The logs bucket, for the trail bucket's S3 server access logs."""
    access_logs_prefix: str


class Observability(PlatformComponent):
    """Telemetry, alarms, the dashboard and the audit trail. Alarm names start with ``alarm_name_prefix`` (the
    deploy pipeline's alarm gate watches them after each deploy). Protected in prod: the log groups, the keys, the
    trail bucket and the alert topics (their confirmed subscriptions)."""

    pulumi_type = "shop:observability:Observability"
    component = "observability"

    alarm_name_prefix: str
    alarm_regions: list[str]
    """Regions holding the stack's alarms: its own, and us-east-1 for CloudFront's (unless they are the same)."""
    alarm_topic_arns: dict[str, pulumi.Output[str]]
    """The alert topic of each alarm region."""
    dashboard_name: str
    container_log_group_names: dict[str, str]
    checkout_metric_namespace: str
    """Where the shop's checkout counts from its logs go (``CheckoutsFailed``, ``OrdersPlaced``)."""
    trail_arn: pulumi.Output[str] | None
    """None when ``obsCloudtrailEnabled`` is off (an organisation trail records the account)."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self._name = name
        self._args = args
        naming, account, settings, cluster = self.naming, self.context.account, args.settings, args.cluster
        self.alarm_name_prefix = naming.physical("alarm") + "-"
        self.alarm_regions = sorted({account.region, signals.GLOBAL_METRICS_REGION})
        self.alarm_topic_arns = {
            region: alert_topic(
                f"{name}-alerts" if region == account.region else f"{name}-alerts-{region}",
                AlertTopicArgs(
                    region=region,
                    alarm_name_prefix=self.alarm_name_prefix,
                    emails=settings.alarm_emails,
                    key_settings=args.key_settings,
                    tags=self.tags("alerts"),
                ),
                component=self,
            ).arn
            for region in self.alarm_regions
        }

        log_groups = telemetry.container_log_groups(
            name,
            cluster_name=cluster.name,
            retention_days=settings.container_log_retention_days,
            logs_key_arn=args.logs_key_arn,
            tags=self.tags("container-logs"),
            component=self,
        )
        self.container_log_group_names = {
            kind: telemetry.log_group_name(cluster.name, kind) for kind in telemetry.LOG_GROUP_KINDS
        }
        telemetry.cloudwatch_observability_addon(
            name,
            account=account,
            role_scope=self.context.role_scope,
            cluster_name=cluster.name,
            cluster=cluster.ready_name,
            version=settings.cloudwatch_observability_version,
            scraping=shop.prometheus_scraping(args.shop),
            log_groups=list(log_groups.values()),
            cluster_ready=cluster.compute_ready,
            tags=self.tags("container-insights"),
            parent=self,
        )
        self.checkout_metric_namespace = naming.path("checkout")
        shop.checkout_metric_filters(
            name,
            log_group=log_groups["application"],
            namespace=args.shop.namespace,
            metric_namespace=self.checkout_metric_namespace,
            naming=naming,
            parent=self,
        )

        region = account.region
        load_balancer, target_group = shop.load_balancer_dimensions(cluster.name, args.shop)
        shop_metrics = signals.ShopMetrics(
            load_balancer=load_balancer,
            target_group=target_group,
            cluster_name=cluster.name,
            namespace=args.shop.namespace,
            pod_name=args.shop.deployment_name,
            pod_selector=args.shop.pod_selector,
            checkout_namespace=self.checkout_metric_namespace,
            region=region,
        )
        cache_nodes = [
            pulumi.Output.from_input(args.cache_replication_group_id).apply(lambda group, n=n: f"{group}-{n:03d}")
            for n in range(1, args.cache_node_count + 1)
        ]
        alarms = [
            *signals.shop_alarms(settings, shop_metrics),
            *signals.database_alarms(settings, args.database_identifier, region),
            *signals.cache_alarms(settings, cache_nodes, region),
            *signals.carts_alarms(args.carts_table_name, region),
            *signals.rotation_alarms(args.rotation_function_names, region),
            *signals.edge_alarms(settings, args.distribution_id, args.cdn_web_acl_name, args.origin_health_check_id),
            *signals.cluster_alarms(cluster.name, cluster.min_nodes, region),
        ]
        alarm_arns = [self._alarm(alarm).arn for alarm in alarms]

        self.dashboard_name = naming.physical("overview")
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=self.dashboard_name,
            dashboard_body=dashboard_body(self._dashboard_rows(alarms, cache_nodes, shop_metrics), alarm_arns),
            opts=self.child(),
        )

        self.trail_arn = None
        if settings.cloudtrail_enabled:
            self.trail_arn = audit_trail(
                f"{name}-trail",
                AuditTrailArgs(
                    settings=settings,
                    key_settings=args.key_settings,
                    logs_key_arn=args.logs_key_arn,
                    access_logs_bucket=args.access_logs_bucket,
                    access_logs_prefix=args.access_logs_prefix,
                    tags=self.tags("trail"),
                    force_destroy=args.force_destroy,
                ),
                component=self,
            ).arn

        self.register_outputs(
            {
                "alarm_name_prefix": self.alarm_name_prefix,
                "alarm_regions": self.alarm_regions,
                "alarm_topic_arns": self.alarm_topic_arns,
                "dashboard_name": self.dashboard_name,
                "container_log_group_names": self.container_log_group_names,
                "checkout_metric_namespace": self.checkout_metric_namespace,
                "trail_arn": self.trail_arn,
            }
        )

    def _alarm(self, alarm: Alarm) -> aws.cloudwatch.MetricAlarm:
        return metric_alarm(
            f"{self._name}-{alarm.key}",
            alarm,
            alarm_name=self.alarm_name_prefix + alarm.key,
            topic_arn=self.alarm_topic_arns[alarm.region],
            evaluation_periods=self._args.settings.alarm_evaluation_periods,
            stack_region=self.context.account.region,
            tags=self.tags(f"alarm-{alarm.key}"),
            parent=self,
        )

    def _dashboard_rows(
        self, alarms: Sequence[Alarm], cache_nodes: Sequence[pulumi.Input[str]], shop_metrics: signals.ShopMetrics
    ) -> list[Row]:
        args = self._args
        region = self.context.account.region
        by_key = {alarm.key: alarm for alarm in alarms}
        watched = {alarm.key: alarm.metrics for alarm in alarms}
        cluster = args.cluster.name
        return [
            *self._shop_rows(by_key, shop_metrics),
            Row(
                "Cluster",
                [
                    Graph("Nodes", watched["eks-nodes-below-minimum"]),
                    Graph(
                        "Node CPU and memory (%)",
                        [
                            signals.container_insights("node_cpu_utilization", "Average", cluster, region),
                            signals.container_insights("node_memory_utilization", "Average", cluster, region),
                        ],
                    ),
                    Graph(
                        "Failed nodes",
                        [signals.container_insights("cluster_failed_node_count", "Maximum", cluster, region)],
                    ),
                ],
            ),
            Row(
                "Database and cache",
                [
                    Graph("Database CPU (%)", watched["db-cpu"]),
                    Graph("Database connections", watched["db-connections"]),
                    Graph(
                        "Database free storage and memory (bytes)",
                        [*watched["db-free-storage"], *watched["db-freeable-memory"]],
                    ),
                    Graph("Cache engine CPU (%)", watched["cache-engine-cpu"]),
                    Graph("Cache memory (%)", watched["cache-memory"]),
                    Graph(
                        "Cache hits and misses",
                        [
                            signals.elasticache(metric, "Sum", node, region)
                            for node in cache_nodes
                            for metric in ("CacheHits", "CacheMisses")
                        ],
                        stacked=True,
                    ),
                ],
            ),
            Row(
                "Edge",
                [
                    Graph(
                        "CloudFront requests",
                        [signals.cloudfront("Requests", "Sum", args.distribution_id)],
                    ),
                    Graph("CloudFront 5xx (%)", watched["cdn-5xx"]),
                    Graph(
                        "CloudFront web ACL: allowed and blocked",
                        [
                            signals.waf(
                                metric, args.cdn_web_acl_name, signals.GLOBAL_METRICS_REGION, cloudfront_scope=True
                            )
                            for metric in ("AllowedRequests", "BlockedRequests")
                        ],
                    ),
                    Graph(
                        "Origin web ACL: allowed and blocked",
                        [
                            signals.waf(metric, args.origin_web_acl_name, region, cloudfront_scope=False)
                            for metric in ("AllowedRequests", "BlockedRequests")
                        ],
                    ),
                ],
            ),
        ]

    def _shop_rows(self, alarms: dict[str, Alarm], shop_metrics: signals.ShopMetrics) -> list[Row]:
        """The shop's golden signals: traffic and errors, then latency and saturation."""
        return [
            Row(
                "Shop: traffic and errors",
                [
                    Graph("Requests a minute", [shop_metrics.load_balancer_metric("RequestCount", "Sum")]),
                    Graph("Checkouts failed and orders placed a minute", alarms["checkout-failures"].metrics),
                    Graph.of_alarm("Load balancer 5xx (% of requests)", alarms["alb-5xx"]),
                    Graph.of_alarm("Shop 5xx (% of requests)", alarms["shop-5xx"]),
                    Graph.of_alarm("Checkout failures (% of checkouts)", alarms["checkout-failures"]),
                ],
            ),
            Row(
                "Shop: latency and saturation",
                [
                    Graph(
                        "Response time p50 and p99 (s)",
                        [shop_metrics.load_balancer_metric("TargetResponseTime", stat) for stat in ("p50", "p99")],
                    ),
                    Graph(
                        "Pod CPU and memory (% of limit)",
                        [
                            shop_metrics.pod_metric(f"pod_{resource}_utilization_over_pod_limit", "Average")
                            for resource in ("cpu", "memory")
                        ],
                    ),
                    Graph(
                        "Healthy and unhealthy targets",
                        [
                            shop_metrics.target_group_metric("HealthyHostCount", "Minimum"),
                            *alarms["shop-unhealthy-targets"].metrics,
                        ],
                    ),
                    Graph("Container restarts", alarms["shop-pod-restarts"].metrics),
                    Graph(
                        "Catalog cache lookups (Prometheus)",
                        [
                            shop_metrics.prometheus_metric(shop.CACHE_LOOKUPS, "Sum", **series)
                            for series in shop.CACHE_LOOKUP_SERIES
                        ],
                        stacked=True,
                    ),
                ],
            ),
        ]
