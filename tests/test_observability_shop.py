"""The shop's telemetry on the offline plan of both stacks: the load balancer look-ups, the checkout metric filters,
the Prometheus scraping of /metrics and the NetworkPolicy that admits only the scraper to the metrics port, and the
shop's traces to the CloudWatch agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components import deploy_access
from stacks.offline.plan import Plan, PlannedResource
from tests.observability_plan import ALARM, DASHBOARD, LOG_GROUP, alarms, metrics, shop_ingress
from tests.shop_plan import CONFIG_MAP, NETWORK_POLICY, obj, rollout
from tests.test_cicd_bootstrap import _statement

APP_README = Path(__file__).resolve().parents[1] / "app" / "README.md"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


def metric_filters(plan: Plan) -> dict[str, PlannedResource]:
    """The checkout metric filters by the metric they publish."""
    return {f.inputs["metricTransformation"]["name"]: f for f in plan.of_type(METRIC_FILTER)}


def agent_configuration(plan: Plan) -> dict[str, Any]:
    addon = plan.one("aws:eks/addon:Addon", "observability-amazon-cloudwatch-observability")
    return json.loads(addon.inputs["configurationValues"])


def web_container(plan: Plan) -> dict[str, Any]:
    (container,) = rollout(plan).inputs["spec"]["template"]["spec"]["containers"]
    return container


def policies_admitting(plan: Plan, port: int) -> list[PlannedResource]:
    """The shop namespace's NetworkPolicies with an ingress rule for ``port``."""
    return [
        policy
        for policy in plan.of_type(NETWORK_POLICY)
        if policy.inputs["metadata"]["namespace"] == "shop"
        for rule in policy.inputs["spec"].get("ingress", [])
        if any(p["port"] == port for p in rule.get("ports", []))
    ]


# ---------------------------------------------------------------------------------------------- load balancer


def test_load_balancer_look_ups_wait_for_the_ingress_its_controller_builds_them_for(plan: Plan) -> None:
    ingress = shop_ingress(plan).urn
    watching = [
        alarm for alarm in plan.of_type(ALARM) if any(m["namespace"] == "AWS/ApplicationELB" for m in metrics(alarm))
    ]
    assert {alarm.inputs["name"].split("-alarm-")[1] for alarm in watching} == {
        "alb-5xx",
        "shop-5xx",
        "shop-latency-p99",
        "shop-unhealthy-targets",
    }
    # Without the dependency a preview of a new stack would look for a load balancer that does not exist yet.
    for alarm in [*watching, plan.one(DASHBOARD)]:
        assert ingress in alarm.dependencies, alarm.name


# ---------------------------------------------------------------------------------------------- checkout metrics


def test_checkout_metric_filters_count_the_shops_own_events_in_its_application_log_group(plan: Plan) -> None:
    application = plan.one(LOG_GROUP, "observability-application-logs")
    namespace = rollout(plan).inputs["metadata"]["namespace"]
    filters = metric_filters(plan)
    assert set(filters) == {"CheckoutsFailed", "OrdersPlaced"}
    for metric, event in (("CheckoutsFailed", "checkout_failed"), ("OrdersPlaced", "order_placed")):
        found = filters[metric]
        assert found.inputs["logGroupName"] == application.inputs["name"]
        assert application.urn in found.dependencies, "the filter needs its log group"
        # Fluent Bit nests the app's JSON under log_processed and adds the pod's kubernetes metadata.
        assert found.inputs["pattern"] == (
            f'{{ ($.kubernetes.namespace_name = "{namespace}") && ($.log_processed.event = "{event}") }}'
        )
        assert found.inputs["metricTransformation"] == {
            "name": metric,
            "namespace": plan.outputs["observability"]["checkoutMetricNamespace"],
            "value": "1",
            "defaultValue": "0",  # every minute with logs has a value: no gaps in the failure rate
            "unit": "Count",
        }
        assert f"| `{event}`" in APP_README.read_text(), f"the shop no longer logs {event}"


def test_checkout_metrics_are_the_stacks_own(staging: Plan, prod: Plan) -> None:
    namespaces = {plan.outputs["observability"]["checkoutMetricNamespace"] for plan in (staging, prod)}
    assert namespaces == {"shop/staging/checkout", "shop/prod/checkout"}
    for plan in (staging, prod):
        assert {m["namespace"] for m in metrics(alarms(plan)["checkout-failures"])} == {
            plan.outputs["observability"]["checkoutMetricNamespace"]
        }


# ---------------------------------------------------------------------------------------------- Prometheus


def test_the_agent_scrapes_the_shops_metrics_port_and_each_target_once(plan: Plan) -> None:
    configuration = agent_configuration(plan)
    prometheus = configuration["agent"]["prometheus"]
    # The target allocator gives each pod to one agent; else every node's agent would scrape every pod.
    assert prometheus["targetAllocator"] == {"enabled": True}
    (job,) = prometheus["config"]["scrape_configs"]
    labels = rollout(plan).inputs["spec"]["template"]["metadata"]["labels"]
    ((sd,),) = [[config["selectors"][0]] for config in job["kubernetes_sd_configs"] if config["role"] == "pod"]
    assert sd["label"] == f"app.kubernetes.io/name={labels['app.kubernetes.io/name']}"
    ports = {port["name"]: port["containerPort"] for port in web_container(plan)["ports"]}
    keep = job["relabel_configs"][0]
    assert (keep["source_labels"], keep["action"], keep["regex"]) == (
        ["__meta_kubernetes_pod_container_port_number"],
        "keep",
        str(ports["internal"]),
    )
    assert job["metrics_path"] == "/metrics"
    assert prometheus["config"]["global"]["scrape_interval"] == "60s"


def test_scraped_cache_lookups_become_metrics_in_the_encrypted_prometheus_log_group(plan: Plan) -> None:
    collected = agent_configuration(plan)["agent"]["config"]["logs"]["metrics_collected"]["prometheus"]
    group = plan.one(LOG_GROUP, "observability-prometheus-logs").inputs["name"]
    assert collected["log_group_name"] == group
    assert collected["prometheus_config_path"] == "/etc/prometheusconfig/prometheus.yaml"
    emf = collected["emf_processor"]
    assert emf["metric_namespace"] == "ContainerInsights/Prometheus"
    (declaration,) = emf["metric_declaration"]
    assert declaration == {
        "source_labels": ["job"],
        "label_matcher": "^shop$",
        "dimensions": [["ClusterName", "Namespace", "cache", "result"]],
        "metric_selectors": ["^shop_cache_requests_total$"],
    }


def test_only_the_cloudwatch_agent_reaches_the_metrics_port(plan: Plan) -> None:
    port = {p["name"]: p["containerPort"] for p in web_container(plan)["ports"]}["internal"]
    (policy,) = policies_admitting(plan, port)
    spec = policy.inputs["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    web_pods = rollout(plan).inputs["spec"]["selector"]["matchLabels"]
    assert spec["podSelector"]["matchLabels"].items() <= web_pods.items()
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]
    # The agent scrapes with hostNetwork: the VPC CNI resolves its pods to their nodes' addresses.
    agent = plan.one(ASSOCIATION, "observability-cloudwatch-agent-association").inputs["namespace"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": agent}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cloudwatch-agent"}},
        }
    ]
    assert policy.urn in rollout(plan).dependencies, "pods start once the scraper may reach them"


# ---------------------------------------------------------------------------------------------- traces


def test_the_shop_sends_its_traces_to_the_cloudwatch_agents_otlp_http_port(plan: Plan) -> None:
    """The agent's Service is named after its AmazonCloudWatchAgent resource and always has the Application Signals
    ports (4316: OTLP/HTTP); the agent listens there once its configuration collects application_signals traces."""
    agent = plan.one(ASSOCIATION, "observability-cloudwatch-agent-association").inputs["namespace"]
    data = obj(plan, CONFIG_MAP, "shop-config").inputs["data"]
    assert data["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == f"http://cloudwatch-agent.{agent}:4316/v1/traces"
    assert data["OTEL_SERVICE_NAME"] == "shop"
    assert agent_configuration(plan)["agent"]["config"]["traces"] == {"traces_collected": {"application_signals": {}}}
    tracing = (Path(__file__).resolve().parents[1] / "app" / "shop" / "tracing.py").read_text()
    assert '"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"' in tracing  # the variable the app reads


def test_the_shops_pods_reach_the_agent_on_its_trace_port_only(plan: Plan) -> None:
    egress = obj(plan, NETWORK_POLICY, "shop-egress").inputs["spec"]["egress"]
    agent = plan.one(ASSOCIATION, "observability-cloudwatch-agent-association").inputs["namespace"]
    to_agent = [
        rule
        for rule in egress
        if any(
            peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": agent}
            for peer in rule["to"]
        )
    ]
    (rule,) = to_agent
    assert rule["ports"] == [{"protocol": "TCP", "port": 4316}]
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": agent}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cloudwatch-agent"}},
        }
    ]


# ---------------------------------------------------------------------------------------------- deploy roles


def test_deploy_and_preview_roles_may_look_the_load_balancer_up(bootstrap: Plan) -> None:
    needed = {
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTags",
    }
    assert needed <= set(deploy_access.LOAD_BALANCER_READ_ACTIONS)
    for stack in ("staging", "prod"):
        assert set(_statement(bootstrap, f"deploy-{stack}", "FindShopLoadBalancer")["Action"]) >= needed
        assert set(_statement(bootstrap, f"preview-{stack}", "ReadPlatformConfiguration")["Action"]) >= needed
