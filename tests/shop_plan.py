"""Look-ups the shop tests share: the shop's Kubernetes objects, its pod templates and the stack's shop settings."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from stacks.offline.engine import load_config
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import PlatformSettings, parse

SHOP = "shop:shop:Shop"
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
ANALYSIS_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
JOB = "kubernetes:batch/v1:Job"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
PRIORITY_CLASS = "kubernetes:scheduling.k8s.io/v1:PriorityClass"
RELEASE = "kubernetes:helm.sh/v3:Release"
ALB = "alb.ingress.kubernetes.io/"


@cache
def platform_settings(stack: str) -> PlatformSettings:
    project, config, _ = load_config(stack)
    return parse(config, project=project, stack=stack)


def shop_objects(plan: Plan) -> list[PlannedResource]:
    """Every Kubernetes object the shop component creates."""
    return [r for r in plan.descendants(plan.one(SHOP)) if r.type.startswith("kubernetes:")]


def obj(plan: Plan, type_: str, name: str) -> PlannedResource:
    """The shop's object of ``type_`` whose ``metadata.name`` is ``name``."""
    found = [r for r in shop_objects(plan) if r.type == type_ and r.inputs["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {type_} named {name!r}, found {len(found)}"
    return found[0]


def rollout(plan: Plan) -> PlannedResource:
    """The web pods (an Argo Rollout)."""
    return obj(plan, ROLLOUT, "shop")


def jobs(plan: Plan) -> dict[str, PlannedResource]:
    """The shop's Jobs by command (``migrate``, ``seed``)."""
    return {job.inputs["spec"]["template"]["spec"]["containers"][0]["args"][0]: job for job in plan_jobs(plan)}


def plan_jobs(plan: Plan) -> list[PlannedResource]:
    return [r for r in shop_objects(plan) if r.type == JOB]


def pod_templates(plan: Plan) -> dict[str, dict[str, Any]]:
    """Every pod template the shop runs (the Rollout's and each Job's), by object name."""
    workloads = [rollout(plan), *plan_jobs(plan)]
    return {w.inputs["metadata"]["name"]: w.inputs["spec"]["template"] for w in workloads}


def container(template: dict[str, Any]) -> dict[str, Any]:
    (only,) = template["spec"]["containers"]
    return only


def alb_annotations(plan: Plan) -> dict[str, str]:
    return obj(plan, INGRESS, "shop").inputs["metadata"]["annotations"]


def attributes(annotation: str) -> dict[str, str]:
    """``k=v,k=v`` annotation values as a dict."""
    return dict(pair.split("=", 1) for pair in annotation.split(","))


def subnet_cidrs(plan: Plan, tier: str) -> list[str]:
    return sorted(
        s.inputs["cidrBlock"] for s in plan.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == tier
    )


_QUANTITY = re.compile(r"^(\d+)(m|Mi|Gi)?$")


def quantity(value: str | int) -> int:
    """A CPU quantity in millicores (``250m``, ``2``) or a memory quantity in MiB (``512Mi``, ``1Gi``)."""
    match = _QUANTITY.match(str(value))
    assert match, f"unexpected quantity {value!r}"
    number, unit = int(match[1]), match[2]
    return {None: number * 1000, "m": number, "Mi": number, "Gi": number * 1024}[unit]
