"""How much the shop may use and how it scales: its namespace's quota and limit range, and its autoscaler."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.shop.pods import quantities
from stacks.settings import ShopSettings

core = k8s.core.v1
autoscaling = k8s.autoscaling.v2


def quota_spec(settings: ShopSettings) -> k8s.core.v1.ResourceQuotaSpecArgs:
    """What the namespace may consume in all: it must fit a full-scale rollout and the Jobs (the settings check
    that). No LoadBalancer or NodePort Services: traffic enters through the Ingress only."""
    quota = {
        "pods": str(settings.quota_pods),
        "cpu": f"{settings.quota_cpu_millicores}m",
        "memory": f"{settings.quota_memory_mib}Mi",
        "ephemeral-storage": f"{settings.quota_ephemeral_storage_mib}Mi",
    }
    hard = {"pods": quota.pop("pods")}
    for resource, amount in quota.items():
        hard[f"requests.{resource}"] = amount
        hard[f"limits.{resource}"] = amount
    hard |= {"services.loadbalancers": "0", "services.nodeports": "0"}
    return core.ResourceQuotaSpecArgs(hard=hard)


def limit_range_spec(settings: ShopSettings) -> k8s.core.v1.LimitRangeSpecArgs:
    """Per-container defaults and ceilings for anything created without its own requests and limits."""
    limits = quantities(settings, "limit")
    return core.LimitRangeSpecArgs(
        limits=[
            core.LimitRangeItemArgs(
                type="Container", default=limits, default_request=quantities(settings, "request"), max=limits
            )
        ]
    )


def autoscaler_spec(
    settings: ShopSettings, rollout_name: pulumi.Input[str]
) -> k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs:
    """CPU and memory targets between the settings' minimum and maximum replicas, on the Rollout (through its scale
    subresource; Argo Rollouts splits the count between the stable and the new set during a release)."""
    return autoscaling.HorizontalPodAutoscalerSpecArgs(
        scale_target_ref=autoscaling.CrossVersionObjectReferenceArgs(
            api_version="argoproj.io/v1alpha1", kind="Rollout", name=rollout_name
        ),
        min_replicas=settings.min_replicas,
        max_replicas=settings.max_replicas,
        metrics=[
            autoscaling.MetricSpecArgs(
                type="Resource",
                resource=autoscaling.ResourceMetricSourceArgs(
                    name=resource,
                    target=autoscaling.MetricTargetArgs(type="Utilization", average_utilization=percent),
                ),
            )
            for resource, percent in (
                ("cpu", settings.cpu_target_percent),
                ("memory", settings.memory_target_percent),
            )
        ],
        behavior=autoscaling.HorizontalPodAutoscalerBehaviorArgs(
            # Up fast (double per minute), down slowly: one pod a minute once load has stayed low.
            scale_up=autoscaling.HPAScalingRulesArgs(
                stabilization_window_seconds=0,
                select_policy="Max",
                policies=[autoscaling.HPAScalingPolicyArgs(type="Percent", value=100, period_seconds=60)],
            ),
            scale_down=autoscaling.HPAScalingRulesArgs(
                stabilization_window_seconds=settings.scale_down_stabilization_seconds,
                select_policy="Min",
                policies=[autoscaling.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=60)],
            ),
        ),
    )
