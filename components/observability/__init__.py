"""Observability and audit: Container Insights, alarms, the dashboard and the CloudTrail trail."""

from components.observability.component import ClusterTelemetry, Observability, ObservabilityArgs

__all__ = ["ClusterTelemetry", "Observability", "ObservabilityArgs"]
