"""How a new image reaches shoppers: the web pods as an Argo Rollout, released per stack by canary, blue-green or
rolling update, with an AnalysisTemplate whose CloudWatch queries abort a bad release (docs/releases.md).

Field names and semantics are Argo Rollouts v1.9.0's (``pkg/apis/rollouts/v1alpha1``; the CRDs are vendored under
components/cluster/crds/ and the plan's objects are validated against them). Canary traffic is split by the AWS Load
Balancer Controller: Argo Rollouts writes the weighted forward action into the Ingress's
``alb.ingress.kubernetes.io/actions.<root service>`` annotation, which the Ingress's ``use-annotation`` backend uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components.shop.pods import ROLLOUT_POD_HASH_LABEL
from stacks.settings import ShopSettings
from stacks.settings.shop import ReleaseStrategy

API_VERSION = "argoproj.io/v1alpha1"
#: Argo Rollouts adds it to the selectors of the Services it switches.
POD_HASH_LABEL = ROLLOUT_POD_HASH_LABEL
#: Routed by the Ingress: the stable set (canary), the active set (blue-green), every web pod (rolling).
STABLE_SERVICE = "shop"
CANARY_SERVICE = "shop-canary"
#: Blue-green's new set before the switch: not routed by the load balancer, reached in the cluster only.
PREVIEW_SERVICE = "shop-preview"
SERVICE_PORT = 80
ANALYSIS_TEMPLATE = "shop-release-health"
#: A release that makes no progress for this long (pods not ready, a weight not applied) aborts.
PROGRESS_DEADLINE_SECONDS = 600
#: pulumi-kubernetes (v4.18+) waits for this before it reports the Rollout created or updated.
WAIT_FOR = "jsonpath={.status.phase}=Healthy"
#: Margin on top of the analyses and the deadline for ``pulumi up``'s wait (pods starting, ALB registration).
WAIT_MARGIN_SECONDS = 300
ALB_ANNOTATION = "alb.ingress.kubernetes.io"
ELB_METRICS = "AWS/ApplicationELB"
#: What each measurement reads: the last few minutes of the load balancer's one-minute metrics.
ANALYSIS_WINDOW = "5m"
METRIC_PERIOD_SECONDS = 60


def services(strategy: ReleaseStrategy) -> list[str]:
    """The Services of the web pods: the routed one, and the one Argo Rollouts points at the new set."""
    second = {"canary": [CANARY_SERVICE], "blue_green": [PREVIEW_SERVICE], "rolling": []}[strategy]
    return [STABLE_SERVICE, *second]


def ingress_backend_port(strategy: ReleaseStrategy) -> str:
    """A canary's traffic follows the forward action Argo Rollouts writes (the controller's ``use-annotation``);
    otherwise the Ingress routes to the stable Service's port."""
    return "use-annotation" if strategy == "canary" else "http"


def ingress_annotations(strategy: ReleaseStrategy) -> dict[str, str]:
    """For a canary, the forward action as Argo Rollouts writes it when the release is complete (everything to the
    stable Service): the load balancer controller can build the ALB before the Rollout's first reconcile, and the
    value is byte for byte the controller's (``rollout/trafficrouting/alb/alb.go`` getForwardActionString, Go's
    compact JSON), so that ``pulumi up`` and Argo Rollouts agree on it whenever no release is under way."""
    if strategy != "canary":
        return {}
    target_groups = [(CANARY_SERVICE, 0), (STABLE_SERVICE, 100)]
    action = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"ServiceName": service, "ServicePort": str(SERVICE_PORT), "Weight": weight}
                for service, weight in target_groups
            ]
        },
    }
    return {f"{ALB_ANNOTATION}/actions.{STABLE_SERVICE}": json.dumps(action, separators=(",", ":"))}


def rollout_annotations(settings: ShopSettings) -> dict[str, str]:
    """pulumi-kubernetes' await overrides (provider/pkg/metadata): what to wait for, and how long (the annotation
    rather than customTimeouts, so that the plan shows it)."""
    return {"pulumi.com/waitFor": WAIT_FOR, "pulumi.com/timeoutSeconds": str(wait_seconds(settings))}


def wait_seconds(settings: ShopSettings) -> int:
    """How long ``pulumi up`` waits for the Rollout to become healthy: every analysis at full length, blue-green's
    preview, the progress deadline and a margin. An aborted release never becomes healthy: the wait then fails."""
    analyses = {"canary": len(settings.canary_weights), "blue_green": 1, "rolling": 0}[settings.release_strategy]
    preview = settings.blue_green_preview_seconds if settings.release_strategy == "blue_green" else 0
    return analyses * settings.analysis_seconds + preview + PROGRESS_DEADLINE_SECONDS + WAIT_MARGIN_SECONDS


def strategy_spec(settings: ShopSettings, analysis_args: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The Rollout's ``spec.strategy``."""
    if settings.release_strategy == "blue_green":
        return {
            "blueGreen": {
                "activeService": STABLE_SERVICE,
                "previewService": PREVIEW_SERVICE,
                "autoPromotionEnabled": True,
                "autoPromotionSeconds": settings.blue_green_preview_seconds,
                # The previous set stays while the analysis runs: a failure switches traffic back at once.
                "scaleDownDelaySeconds": settings.blue_green_scale_down_delay_seconds,
                "postPromotionAnalysis": _analysis(analysis_args),
            }
        }
    # Full capacity throughout: new pods must be ready (and healthy in the load balancer, through the namespace's
    # readiness gates) before an old one stops.
    canary: dict[str, Any] = {"maxSurge": "25%", "maxUnavailable": 0}
    if settings.release_strategy == "canary":
        steps: list[dict[str, Any]] = []
        for weight in settings.canary_weights:
            steps += [{"setWeight": weight}, {"analysis": _analysis(analysis_args)}]
        canary |= {
            "stableService": STABLE_SERVICE,
            "canaryService": CANARY_SERVICE,
            "trafficRouting": {
                "alb": {"ingress": STABLE_SERVICE, "rootService": STABLE_SERVICE, "servicePort": SERVICE_PORT}
            },
            # The stable set shrinks as the canary grows: a release needs no second full set of pods.
            "dynamicStableScale": True,
            "steps": steps,
        }
    return {"canary": canary}


def _analysis(args: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"templates": [{"templateName": ANALYSIS_TEMPLATE}], "args": [dict(arg) for arg in args]}


def canary_analysis_args() -> list[dict[str, Any]]:
    """The canary's own target group and its load balancer, from the Rollout's status: target group verification
    (the controller's ``--aws-verify-target-group``) records them there, without the ARNs' ``app/`` and
    ``targetgroup/`` prefixes (``rollout/trafficrouting/alb/alb.go`` updateLoadBalancerStatus)."""
    return [
        {"name": name, "valueFrom": {"fieldRef": {"fieldPath": f"status.alb.{field}.fullName"}}}
        for name, field in (("load-balancer", "loadBalancer"), ("target-group", "canaryTargetGroup"))
    ]


def blue_green_analysis_args(load_balancer_arn_suffix: pulumi.Input[str]) -> list[dict[str, Any]]:
    """After the switch all of the load balancer's traffic is the new set's: the analysis reads the load balancer's
    metrics (its ARN suffix ``app/<name>/<id>``, without ``app/`` like the canary's argument)."""
    name = pulumi.Output.from_input(load_balancer_arn_suffix).apply(lambda suffix: suffix.removeprefix("app/"))
    return [{"name": "load-balancer", "value": name}]


def analysis_template_spec(settings: ShopSettings) -> dict[str, Any]:
    """5xx share and p99 latency of the new image's requests, measured every interval; the first measurement over
    a threshold fails the analysis and aborts the release (all traffic back to the stable set). No requests in a
    minute gives no data point, which passes: an idle canary has nothing to judge."""
    per_target_group = settings.release_strategy == "canary"
    dimensions = [{"name": "LoadBalancer", "value": "app/{{args.load-balancer}}"}]
    args = [{"name": "load-balancer"}]
    if per_target_group:
        dimensions.insert(0, {"name": "TargetGroup", "value": "targetgroup/{{args.target-group}}"})
        args.append({"name": "target-group"})

    def stat(query_id: str, metric: str, statistic: str, *, returned: bool) -> dict[str, Any]:
        return {
            "id": query_id,
            "metricStat": {
                "metric": {"namespace": ELB_METRICS, "metricName": metric, "dimensions": dimensions},
                "period": METRIC_PERIOD_SECONDS,
                "stat": statistic,
            },
            "returnData": returned,
        }

    def metric(name: str, queries: list[dict[str, Any]], highest: float) -> dict[str, Any]:
        return {
            "name": name,
            "interval": f"{settings.analysis_interval_seconds}s",
            "count": settings.analysis_measurements,
            # Fail fast: the first failed measurement fails the analysis.
            "failureLimit": 0,
            "successCondition": f"all(result[0].Values, {{# <= {highest}}})",
            "provider": {"cloudWatch": {"interval": ANALYSIS_WINDOW, "metricDataQueries": queries}},
        }

    error_rate = [
        stat("errors", "HTTPCode_Target_5XX_Count", "Sum", returned=False),
        stat("requests", "RequestCount", "Sum", returned=False),
        {"id": "error_percent", "expression": "100 * FILL(errors, 0) / requests", "label": "5xx percent"},
    ]
    latency = [stat("p99", "TargetResponseTime", "p99", returned=True)]
    return {
        "args": args,
        "metrics": [
            metric("error-rate", error_rate, settings.analysis_max_error_permille / 10),
            metric("p99-latency", latency, settings.analysis_max_p99_latency_ms / 1000),
        ],
    }
