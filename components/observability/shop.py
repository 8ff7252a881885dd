"""The shop's telemetry beyond Container Insights: the load balancer and target group the AWS Load Balancer
Controller built for its Ingress (found by name and by the controller's tags, once the Ingress exists), the
checkout counts its logs carry, and the scraping of its Prometheus ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.naming import Naming
from components.observability.signals import CHECKOUTS_FAILED, ORDERS_PLACED
from components.observability.telemetry import PrometheusScraping
from components.shop.release import SERVICE_PORT as ROLLOUT_SERVICE_PORT

#: The backend port of an Ingress that routes through an ``alb.ingress.kubernetes.io/actions.<service>`` action.
STABLE_ACTION_PORT = "use-annotation"

#: The scrape job; its name is also the ``job`` label the agent's metric declarations match.
METRICS_JOB = "shop"
#: The shop's catalog cache lookups (app/shop/observability.py), by ``cache`` and ``result``.
CACHE_LOOKUPS = "shop_cache_requests_total"
CACHE_LOOKUP_SERIES = tuple(
    {"cache": cache, "result": result} for cache in ("catalog_local", "catalog_redis") for result in ("hit", "miss")
)
#: The log events (app/README.md "Logs") counted by the checkout metric filters.
CHECKOUT_EVENTS = {CHECKOUTS_FAILED: "checkout_failed", ORDERS_PLACED: "order_placed"}


@dataclass(frozen=True)
class ShopTelemetry:
    """The shop as the composition hands it over."""

    ingress: k8s.networking.v1.Ingress
    """Its controller builds the load balancer: the look-ups wait for it and read its backend."""
    load_balancer_name: str
    namespace: pulumi.Input[str]
    deployment_name: str
    app_label: str
    """Every shop pod carries ``app.kubernetes.io/name=<app_label>``."""
    metrics_port: int
    """The pods' port serving ``/metrics``."""

    @property
    def pod_selector(self) -> str:
        return f"app.kubernetes.io/name={self.app_label}"


def prometheus_scraping(shop: ShopTelemetry) -> PrometheusScraping:
    """The shop's pods that declare the metrics port (the web pods; the Jobs declare none), once a minute, and its
    catalog cache lookups as CloudWatch metrics by cluster, namespace, cache and result."""
    scrape = {
        "job_name": METRICS_JOB,
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": [{"role": "pod", "selectors": [{"role": "pod", "label": shop.pod_selector}]}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_number"],
                "regex": str(shop.metrics_port),
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "Namespace"},
        ],
    }
    cache_lookups = {
        "source_labels": ["job"],
        "label_matcher": f"^{METRICS_JOB}$",
        "dimensions": [["ClusterName", "Namespace", "cache", "result"]],
        "metric_selectors": [f"^{CACHE_LOOKUPS}$"],
    }
    return PrometheusScraping(scrape_configs=[scrape], metric_declarations=[cache_lookups])


def only_backend(spec: k8s.networking.v1.outputs.IngressSpec) -> str:
    """``<service>:<port>`` of the Ingress's one backend, as the controller writes it into its target group's tags."""
    paths = [path for rule in spec.rules or () for path in (rule.http.paths if rule.http else ())]
    services = [path.backend.service for path in paths if path.backend.service]
    if len(services) != 1 or (port := services[0].port) is None:
        raise ValueError("the shop's Ingress must route to one Service port: its alarms watch one target group")
    if port.name == STABLE_ACTION_PORT:
        # A canary's Ingress forwards through Argo Rollouts' action: its stable target group is the Service's on
        # the Rollout's port (components/shop/release.py).
        return f"{services[0].name}:{ROLLOUT_SERVICE_PORT}"
    return f"{services[0].name}:{port.name or port.number}"


def controller_tags(cluster_name: str, namespace: str, ingress: str, backend: str) -> dict[str, str]:
    """The tags the AWS Load Balancer Controller gives the target group of an Ingress backend: its cluster, its
    stack (``<namespace>/<ingress>`` outside an IngressGroup) and its resource id
    ``<namespace>/<ingress>-<service>:<port>`` (the controller's ``pkg/deploy/tracking/provider.go``)."""
    stack = f"{namespace}/{ingress}"
    return {
        "elbv2.k8s.aws/cluster": cluster_name,
        "ingress.k8s.aws/stack": stack,
        "ingress.k8s.aws/resource": f"{stack}-{backend}",
    }


def load_balancer_dimensions(cluster_name: str, shop: ShopTelemetry) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The CloudWatch ``LoadBalancer`` and ``TargetGroup`` dimensions (ARN suffixes) of the shop's load balancer.

    The controller creates both once the Ingress exists, so the look-ups depend on it: a preview of a new stack
    leaves them unknown instead of failing to find them. The target group is found by its tags, since the
    controller names it after a hash."""
    after_ingress = pulumi.InvokeOutputOptions(depends_on=[shop.ingress])
    load_balancer = aws.lb.get_load_balancer_output(name=shop.load_balancer_name, opts=after_ingress)
    metadata = shop.ingress.metadata
    tags = pulumi.Output.all(metadata.namespace, metadata.name, shop.ingress.spec.apply(only_backend)).apply(
        lambda ingress: controller_tags(cluster_name, *ingress)
    )
    target_group = aws.lb.get_target_group_output(tags=tags, opts=after_ingress)
    return load_balancer.arn_suffix, target_group.arn_suffix


def checkout_metric_filters(
    prefix: str,
    *,
    log_group: aws.cloudwatch.LogGroup,
    namespace: pulumi.Input[str],
    metric_namespace: str,
    naming: Naming,
    parent: pulumi.Resource,
) -> list[aws.cloudwatch.LogMetricFilter]:
    """Failed checkouts and placed orders per minute, from the shop's JSON log events in the application log group.

    Fluent Bit nests a container's JSON log line under ``log_processed`` and adds the pod's ``kubernetes``
    metadata; only events from the shop's namespace count. Every other log event publishes 0, so the metrics have
    a value for every minute with logs and a failure rate needs no filling in."""
    return [
        aws.cloudwatch.LogMetricFilter(
            f"{prefix}-{event.replace('_', '-')}",
            name=naming.physical(event.replace("_", "-")),
            log_group_name=log_group.name,
            pattern=pulumi.Output.from_input(namespace).apply(
                lambda name, event=event: (
                    f'{{ ($.kubernetes.namespace_name = "{name}") && ($.log_processed.event = "{event}") }}'
                )
            ),
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=metric, namespace=metric_namespace, value="1", default_value="0", unit="Count"
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for metric, event in CHECKOUT_EVENTS.items()
    ]
