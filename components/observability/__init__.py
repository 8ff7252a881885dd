"""Observability and audit: Container Insights, the shop's metrics, alarms, the dashboard and the CloudTrail trail."""

from components.observability.component import ClusterTelemetry, Observability, ObservabilityArgs
from components.observability.shop import ShopTelemetry
from components.observability.telemetry import (
    AGENT_NAMESPACE,
    AGENT_OTLP_HTTP_PORT,
    AGENT_POD_LABELS,
    AGENT_TRACES_ENDPOINT,
)

__all__ = [
    "AGENT_NAMESPACE",
    "AGENT_OTLP_HTTP_PORT",
    "AGENT_POD_LABELS",
    "AGENT_TRACES_ENDPOINT",
    "ClusterTelemetry",
    "Observability",
    "ObservabilityArgs",
    "ShopTelemetry",
]
