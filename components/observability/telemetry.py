"""Container Insights: the amazon-cloudwatch-observability add-on (CloudWatch agent and Fluent Bit), its Pod
Identity role, and the log groups it writes to, created first with our retention and KMS key.

The add-on's Fluent Bit writes container logs to ``/aws/containerinsights/<cluster>/application`` (node and
kubelet logs to ``/dataplane`` and ``/host``) and the agent writes Container Insights performance events to
``/performance`` and scraped Prometheus metrics to ``/prometheus``. Both would create a missing group with
neither retention nor encryption; an existing group is used as it is.

The agent runs as a DaemonSet with ``hostNetwork`` (the add-on's chart sets it), so its scrapes come from the nodes'
addresses; a workload's NetworkPolicy admits it by ``AGENT_NAMESPACE`` and ``AGENT_POD_LABELS``.

The agent also receives the shop's traces (OTLP/HTTP on ``AGENT_TRACES_ENDPOINT``) and sends them to X-Ray: its
configuration's ``traces.traces_collected.application_signals`` opens the port; the Application Signals metrics
(``logs.metrics_collected.application_signals``, a log group and a service-linked role of their own) stay off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent
from components.cluster import ManagedAddon, ServiceAccount, managed_addons, pod_identity_role
from components.iam import RoleScope
from components.log_groups import encrypted_log_group

ADDON = "amazon-cloudwatch-observability"
#: The add-on's agent and Fluent Bit both run as this service account (its Helm chart's default).
AGENT_SERVICE_ACCOUNT = ServiceAccount("amazon-cloudwatch", "cloudwatch-agent")
AGENT_NAMESPACE = AGENT_SERVICE_ACCOUNT.namespace
#: The agent DaemonSet's pods: the add-on's operator names them after their AmazonCloudWatchAgent resource
#: (``cloudwatch-agent``); its target allocator's pods are ``cloudwatch-agent-target-allocator``.
AGENT_POD_LABELS = {"app.kubernetes.io/name": "cloudwatch-agent"}
LOG_GROUP_KINDS = ("application", "dataplane", "host", "performance", "prometheus")
PROMETHEUS_METRIC_NAMESPACE = "ContainerInsights/Prometheus"
#: Metric namespaces the agent publishes to directly (most Container Insights metrics arrive as log events).
AGENT_METRIC_NAMESPACES = ("ContainerInsights", PROMETHEUS_METRIC_NAMESPACE)
#: The agent's Service: the add-on's operator names it after the AmazonCloudWatchAgent resource (its
#: internal/naming ``Service``) and always gives it the Application Signals ports, 4315 (OTLP/gRPC), 4316 (OTLP/HTTP)
#: and 2000 (X-Ray proxy) (its internal/manifests/collector/ports.go).
AGENT_SERVICE = "cloudwatch-agent"
AGENT_OTLP_HTTP_PORT = 4316
#: What OTEL_EXPORTER_OTLP_TRACES_ENDPOINT of a workload names (the OTLP/HTTP exporter posts to it as it is).
AGENT_TRACES_ENDPOINT = f"http://{AGENT_SERVICE}.{AGENT_NAMESPACE}:{AGENT_OTLP_HTTP_PORT}/v1/traces"
#: AWS's AWSXrayWriteOnlyAccess without GetSamplingStatisticSummaries (a console read): segments and the agent's
#: telemetry out, the sampling rules and targets in (the agent's X-Ray proxy hands them to the SDKs).
XRAY_WRITE_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
#: Where the add-on's operator mounts the agent's Prometheus configuration (its ``agent.prometheus.config``).
PROMETHEUS_CONFIG_PATH = "/etc/prometheusconfig/prometheus.yaml"
#: Every target is scraped once a minute, the period of the alarms and the dashboard.
SCRAPE_INTERVAL = "60s"


@dataclass(frozen=True)
class PrometheusScraping:
    """What the agent scrapes and which samples become CloudWatch metrics."""

    scrape_configs: Sequence[dict[str, Any]]
    """Prometheus ``scrape_configs`` entries."""
    metric_declarations: Sequence[dict[str, Any]]
    """The agent's EMF ``metric_declaration`` entries: metrics (by regex) and the labels that become dimensions."""


def log_group_name(cluster_name: str, kind: str) -> str:
    return f"/aws/containerinsights/{cluster_name}/{kind}"


def container_log_groups(
    prefix: str,
    *,
    cluster_name: str,
    retention_days: int,
    logs_key_arn: pulumi.Input[str],
    tags: dict[str, str],
    component: PlatformComponent,
) -> dict[str, aws.cloudwatch.LogGroup]:
    """The Container Insights log groups by kind (``application``, ...)."""
    return {
        kind: encrypted_log_group(
            f"{prefix}-{kind}-logs",
            log_group_name=log_group_name(cluster_name, kind),
            retention_days=retention_days,
            kms_key_arn=logs_key_arn,
            tags=tags,
            component=component,
        )
        for kind in LOG_GROUP_KINDS
    }


def agent_statements(account: Account, cluster_name: str) -> list[dict[str, Any]]:
    """AWS's CloudWatchAgentServerPolicy narrowed to what the add-on does here: its log groups, its metric
    namespaces, the EC2 lookups that label node metrics, X-Ray writes for the traces it receives. No SSM (the
    configuration comes with the add-on). The add-on attaches no policy of its own: this role is all it has."""
    groups = account.arn("logs", f"log-group:{log_group_name(cluster_name, '*')}")
    return [
        {
            "Sid": "WriteContainerInsightsLogs",
            "Effect": "Allow",
            # CreateLogGroup: Fluent Bit asks for its group before writing; ours exists, so nothing is created.
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [groups, f"{groups}:log-stream:*"],
        },
        {
            "Sid": "FindLogGroups",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": account.arn("logs", "log-group:*"),  # the action is authorised on all groups at once
        },
        {
            "Sid": "PublishContainerMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData has no resource-level permissions; the namespace condition scopes it
            "Condition": {"StringEquals": {"cloudwatch:namespace": list(AGENT_METRIC_NAMESPACES)}},
        },
        {
            "Sid": "DescribeNodes",
            "Effect": "Allow",
            "Action": ["ec2:DescribeTags", "ec2:DescribeVolumes", "ec2:DescribeInstances"],
            "Resource": "*",  # EC2 Describe calls support no resource-level permissions
        },
        {
            "Sid": "SendTraces",
            "Effect": "Allow",
            "Action": list(XRAY_WRITE_ACTIONS),
            "Resource": "*",  # none of these actions has resource-level permissions
        },
    ]


def agent_configuration(cluster_name: str, scraping: PrometheusScraping) -> dict[str, Any]:
    """The add-on's configuration: Container Insights with enhanced observability, container logs, and Prometheus
    scraping, and traces over OTLP to X-Ray (``AGENT_TRACES_ENDPOINT``); Application Signals metrics left off.

    The add-on's operator writes ``agent.prometheus.config`` to ``PROMETHEUS_CONFIG_PATH`` in the agents. Its target
    allocator hands each scrape target to exactly one agent of the DaemonSet; without it the agent on every node
    would scrape every pod and multiply each count by the number of nodes. The samples that
    ``metric_declarations`` select become metrics in ``ContainerInsights/Prometheus`` (embedded metric format log
    events in the ``prometheus`` log group).
    """
    return {
        "agent": {
            "config": {
                "logs": {
                    "metrics_collected": {
                        "kubernetes": {"cluster_name": cluster_name, "enhanced_container_insights": True},
                        "prometheus": {
                            "cluster_name": cluster_name,
                            "log_group_name": log_group_name(cluster_name, "prometheus"),
                            "prometheus_config_path": PROMETHEUS_CONFIG_PATH,
                            "emf_processor": {
                                "metric_namespace": PROMETHEUS_METRIC_NAMESPACE,
                                "metric_declaration_dedup": True,
                                "metric_declaration": list(scraping.metric_declarations),
                            },
                        },
                    }
                },
                # Opens the agent's OTLP ports (AGENT_OTLP_HTTP_PORT) and sends what arrives to X-Ray.
                "traces": {"traces_collected": {"application_signals": {}}},
            },
            "prometheus": {
                "config": {
                    "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": "10s"},
                    "scrape_configs": list(scraping.scrape_configs),
                },
                "targetAllocator": {"enabled": True},
            },
        },
        "containerLogs": {"enabled": True},
    }


def cloudwatch_observability_addon(
    prefix: str,
    *,
    account: Account,
    role_scope: RoleScope,
    cluster_name: str,
    cluster: pulumi.Input[str],
    version: str,
    scraping: PrometheusScraping,
    log_groups: Sequence[pulumi.Resource],
    cluster_ready: Sequence[pulumi.Resource],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> pulumi.Resource:
    """The add-on with its own Pod Identity role. ``cluster`` resolves once the control plane exists;
    ``cluster_ready`` are the nodes its DaemonSets run on (EKS reports the add-on degraded without them)."""
    identity = pod_identity_role(
        f"{prefix}-cloudwatch-agent",
        account=account,
        scope=role_scope,
        cluster_name=cluster,
        service_account=AGENT_SERVICE_ACCOUNT,
        statements=agent_statements(account, cluster_name),
        description=f"CloudWatch agent and Fluent Bit of cluster {cluster_name}: Container Insights, logs and traces",
        tags=tags,
        parent=parent,
    )
    (addon,) = managed_addons(
        prefix,
        [ManagedAddon(ADDON, version, configuration=agent_configuration(cluster_name, scraping))],
        cluster_name=cluster,
        tags=tags,
        parent=parent,
        # Log groups first, or the agent and Fluent Bit create unencrypted ones; credentials before the pods start.
        depends_on=[*log_groups, identity.association, *cluster_ready],
    )
    return addon
