"""Progressive delivery of the shop (issue 18): the web pods as an Argo Rollout, prod by canary through the ALB's
weighted target groups, staging by blue-green, both checked by a CloudWatch analysis that aborts a bad release;
the custom resources valid for the vendored CRDs of the pinned Argo Rollouts version; ``pulumi up`` waits for the
outcome."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import Policy

from ci import custom_resources, manifests
from ci.offline import StackFiles
from policies.rules import workloads
from stacks.exit_codes import Exit
from stacks.offline.fakes.aws_observability import target_group_arn_suffix
from stacks.offline.lifecycle import depends_on
from stacks.offline.plan import Plan, PlannedResource
from stacks.offline.report import kubernetes_objects, write_manifests
from stacks.settings import ShopSettings
from tests.conftest import plan_for
from tests.policy_support import messages, policy_id
from tests.shop_plan import (
    ANALYSIS_TEMPLATE,
    HPA,
    INGRESS,
    PDB,
    RELEASE,
    SERVICE,
    jobs,
    obj,
    platform_settings,
    rollout,
)

ROLLING = {"shopReleaseStrategy": "rolling"}
ACTION = "alb.ingress.kubernetes.io/actions.shop"


def spec(plan: Plan) -> dict[str, Any]:
    return rollout(plan).inputs["spec"]


def template(plan: Plan) -> PlannedResource:
    return obj(plan, ANALYSIS_TEMPLATE, "shop-release-health")


def settings_of(plan: Plan) -> ShopSettings:
    return platform_settings(plan.stack).shop


def backend(plan: Plan) -> dict[str, Any]:
    (rule,) = obj(plan, INGRESS, "shop").inputs["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    return path["backend"]["service"]


def services(plan: Plan) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in plan.resources
        if r.type == SERVICE and r.inputs["metadata"]["namespace"] == "shop"
    }


# ---------------------------------------------------------------------------------------------- strategies


def test_prod_releases_by_canary_through_the_albs_weighted_target_groups(prod: Plan) -> None:
    canary = spec(prod)["strategy"]["canary"]
    assert (canary["stableService"], canary["canaryService"]) == ("shop", "shop-canary")
    assert canary["trafficRouting"] == {"alb": {"ingress": "shop", "rootService": "shop", "servicePort": 80}}
    # The Ingress routes through the forward action Argo Rollouts rewrites at each step.
    assert backend(prod) == {"name": "shop", "port": {"name": "use-annotation"}}
    assert canary["dynamicStableScale"] is True  # no second full set: the quota's surge suffices
    assert (canary["maxUnavailable"], canary["maxSurge"]) == (0, "25%")


def test_each_canary_weight_is_followed_by_an_analysis(prod: Plan) -> None:
    steps = spec(prod)["strategy"]["canary"]["steps"]
    weights = settings_of(prod).canary_weights
    assert weights == (10, 50)
    assert [step.get("setWeight") for step in steps[::2]] == list(weights)
    for step in steps[1::2]:
        assert step["analysis"]["templates"] == [{"templateName": "shop-release-health"}]
    assert len(steps) == 2 * len(weights)


def test_the_initial_forward_action_is_the_one_argo_rollouts_writes_when_nothing_is_released(prod: Plan) -> None:
    """The load balancer controller builds the ALB before the Rollout first reconciles; the value is Go's compact
    JSON of getForwardActionString at weight 0, so a later `pulumi up` and the controller agree on it."""
    value = obj(prod, INGRESS, "shop").inputs["metadata"]["annotations"][ACTION]
    assert value == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":['
        '{"ServiceName":"shop-canary","ServicePort":"80","Weight":0},'
        '{"ServiceName":"shop","ServicePort":"80","Weight":100}]}}'
    )


def test_staging_releases_blue_green_behind_a_preview_service(staging: Plan) -> None:
    blue_green = spec(staging)["strategy"]["blueGreen"]
    settings = settings_of(staging)
    assert (blue_green["activeService"], blue_green["previewService"]) == ("shop", "shop-preview")
    assert blue_green["autoPromotionEnabled"] is True
    assert blue_green["autoPromotionSeconds"] == settings.blue_green_preview_seconds
    # The previous set outlives the post-promotion analysis, so that its failure switches straight back.
    assert blue_green["scaleDownDelaySeconds"] >= settings.analysis_seconds
    assert blue_green["postPromotionAnalysis"]["templates"] == [{"templateName": "shop-release-health"}]
    assert backend(staging) == {"name": "shop", "port": {"name": "http"}}
    assert ACTION not in obj(staging, INGRESS, "shop").inputs["metadata"]["annotations"]


def test_a_rolling_stack_updates_pods_without_traffic_routing_or_analysis() -> None:
    plan = plan_for("staging", ROLLING)
    assert spec(plan)["strategy"] == {"canary": {"maxSurge": "25%", "maxUnavailable": 0}}
    assert set(services(plan)) == {"shop"}
    assert backend(plan) == {"name": "shop", "port": {"name": "http"}}


def test_the_services_argo_rollouts_switches_select_every_web_pod_on_the_app_port(plan: Plan) -> None:
    """Argo Rollouts adds each set's pod hash to these selectors; the rest is the Rollout's own selector."""
    found = services(plan)
    second = "shop-canary" if "canary" in spec(plan)["strategy"] else "shop-preview"
    assert set(found) == {"shop", second}
    for service in found.values():
        assert service["selector"] == spec(plan)["selector"]["matchLabels"]
        assert service["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
        assert service["type"] == "ClusterIP"


def test_the_ingress_waits_for_every_service_it_routes_to(plan: Plan) -> None:
    """Each Service gets a target group; on destroy the load balancer goes before them."""
    ingress = obj(plan, INGRESS, "shop")
    for name in services(plan):
        assert depends_on(plan, ingress, obj(plan, SERVICE, name)), name


def test_the_alarms_watch_the_stable_target_group_behind_the_canary_action(prod: Plan) -> None:
    """The ALB controller names a forward action's target groups ``<ns>/<ingress>-<service>:<port>``
    (model_build_target_group.go buildTargetGroupResourceID): the stable one is ``shop:80``, not the Ingress's
    ``use-annotation`` port, which has no target group."""
    expected = target_group_arn_suffix(
        {
            "elbv2.k8s.aws/cluster": prod.one("eks:index:Cluster").inputs["name"],
            "ingress.k8s.aws/stack": "shop/shop",
            "ingress.k8s.aws/resource": "shop/shop-shop:80",
        }
    )
    alarms = json.dumps([r.inputs for r in prod.resources if r.type.startswith("aws:cloudwatch/")])
    assert set(re.findall(r'"TargetGroup": "([^"]+)"', alarms)) == {expected}


# ---------------------------------------------------------------------------------------------- kept properties


def test_the_autoscaler_scales_the_rollout_and_the_budget_covers_every_set(plan: Plan) -> None:
    hpa = obj(plan, HPA, "shop").inputs["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "shop"}
    assert "replicas" not in spec(plan)
    budget = obj(plan, PDB, "shop").inputs["spec"]
    assert budget["selector"]["matchLabels"] == spec(plan)["selector"]["matchLabels"]


def test_pods_spread_per_set_by_the_rollouts_pod_hash(plan: Plan) -> None:
    """A Rollout's ReplicaSets label their pods ``rollouts-pod-template-hash`` (not ``pod-template-hash``): spreading
    by it counts the new set apart from the old one."""
    for constraint in spec(plan)["template"]["spec"]["topologySpreadConstraints"]:
        assert constraint["matchLabelKeys"] == ["rollouts-pod-template-hash"]


def test_the_new_pods_start_after_the_migration_and_with_argo_rollouts_and_the_analysis_in_place(plan: Plan) -> None:
    web = rollout(plan)
    needs = [
        jobs(plan)["migrate"],
        template(plan),
        plan.one(RELEASE, "cluster-argo-rollouts"),
        plan.one(RELEASE, "cluster-aws-load-balancer-controller"),
        *(obj(plan, SERVICE, name) for name in services(plan)),
    ]
    assert [need.name for need in needs if not depends_on(plan, web, need)] == []
    assert depends_on(plan, template(plan), plan.one(RELEASE, "cluster-argo-rollouts"))


def test_pulumi_up_waits_for_a_healthy_release_long_enough_for_every_analysis(plan: Plan) -> None:
    """pulumi-kubernetes >= 4.18 honours ``pulumi.com/waitFor``; an aborted release (phase Degraded) never matches,
    so the update fails once the timeout is over."""
    annotations = rollout(plan).inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.phase}=Healthy"
    settings = settings_of(plan)
    analyses = len(settings.canary_weights) if settings.release_strategy == "canary" else 1
    assert int(annotations["pulumi.com/timeoutSeconds"]) > analyses * settings.analysis_seconds + 600
    assert spec(plan)["progressDeadlineAbort"] is True


# ---------------------------------------------------------------------------------------------- analysis


def _queries(metric: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {query["id"]: query for query in metric["provider"]["cloudWatch"]["metricDataQueries"]}


def test_the_canary_analysis_reads_the_canarys_own_target_group(prod: Plan) -> None:
    analysis_spec = template(prod).inputs["spec"]
    assert analysis_spec["args"] == [{"name": "load-balancer"}, {"name": "target-group"}]
    (step,) = spec(prod)["strategy"]["canary"]["steps"][1:2]
    assert step["analysis"]["args"] == [
        {"name": "load-balancer", "valueFrom": {"fieldRef": {"fieldPath": "status.alb.loadBalancer.fullName"}}},
        {"name": "target-group", "valueFrom": {"fieldRef": {"fieldPath": "status.alb.canaryTargetGroup.fullName"}}},
    ]
    for metric in analysis_spec["metrics"]:
        for query in _queries(metric).values():
            if "metricStat" in query:
                assert query["metricStat"]["metric"]["dimensions"] == [
                    {"name": "TargetGroup", "value": "targetgroup/{{args.target-group}}"},
                    {"name": "LoadBalancer", "value": "app/{{args.load-balancer}}"},
                ]
    # The controller records them in the status only with target group verification on.
    assert plan_release_values(prod)["controller"]["awsVerifyTargetGroup"] is True


def plan_release_values(plan: Plan) -> dict[str, Any]:
    return plan.one(RELEASE, "cluster-argo-rollouts").inputs["values"]


def test_the_blue_green_analysis_reads_the_whole_load_balancer_after_the_switch(staging: Plan) -> None:
    """Once switched, all the load balancer's traffic is the new set's."""
    analysis = spec(staging)["strategy"]["blueGreen"]["postPromotionAnalysis"]
    (argument,) = analysis["args"]
    assert argument["name"] == "load-balancer"
    assert argument["value"].startswith("shop-staging-alb/")  # the ARN suffix without "app/"
    analysis_spec = template(staging).inputs["spec"]
    assert analysis_spec["args"] == [{"name": "load-balancer"}]
    for metric in analysis_spec["metrics"]:
        for query in _queries(metric).values():
            if "metricStat" in query:
                dimensions = query["metricStat"]["metric"]["dimensions"]
                assert dimensions == [{"name": "LoadBalancer", "value": "app/{{args.load-balancer}}"}]


def test_the_analysis_fails_fast_on_5xx_share_and_p99_latency(plan: Plan) -> None:
    settings = settings_of(plan)
    metrics = {metric["name"]: metric for metric in template(plan).inputs["spec"]["metrics"]}
    assert set(metrics) == {"error-rate", "p99-latency"}
    for metric in metrics.values():
        assert metric["failureLimit"] == 0  # the first failed measurement aborts
        assert metric["count"] == settings.analysis_measurements
        assert metric["interval"] == f"{settings.analysis_interval_seconds}s"
    errors = _queries(metrics["error-rate"])
    assert errors["errors"]["metricStat"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert errors["requests"]["metricStat"]["metric"]["metricName"] == "RequestCount"
    assert [q["metricStat"]["stat"] for q in (errors["errors"], errors["requests"])] == ["Sum", "Sum"]
    assert [q["returnData"] for q in (errors["errors"], errors["requests"])] == [False, False]
    assert errors["error_percent"]["expression"] == "100 * FILL(errors, 0) / requests"
    assert metrics["error-rate"]["successCondition"] == "all(result[0].Values, {# <= 1.0})"
    (p99,) = _queries(metrics["p99-latency"]).values()
    assert (p99["metricStat"]["metric"]["metricName"], p99["metricStat"]["stat"]) == ("TargetResponseTime", "p99")
    assert metrics["p99-latency"]["successCondition"] == "all(result[0].Values, {# <= 1.5})"
    for metric in metrics.values():
        for query in _queries(metric).values():
            if "metricStat" in query:
                assert query["metricStat"]["metric"]["namespace"] == "AWS/ApplicationELB"


def test_the_thresholds_are_settings() -> None:
    plan = plan_for("prod", {"shopAnalysisMaxErrorPermille": 25, "shopAnalysisMaxP99LatencyMs": 800})
    metrics = {metric["name"]: metric for metric in template(plan).inputs["spec"]["metrics"]}
    assert metrics["error-rate"]["successCondition"] == "all(result[0].Values, {# <= 2.5})"
    assert metrics["p99-latency"]["successCondition"] == "all(result[0].Values, {# <= 0.8})"


# ---------------------------------------------------------------------------------------------- CRD schemas


def custom_objects(plan: Plan) -> list[dict[str, Any]]:
    return [manifest for manifest in kubernetes_objects(plan) if custom_resources.is_custom(manifest)]


@pytest.mark.parametrize(("stack", "variant"), [("staging", None), ("prod", None), ("staging", ROLLING)])
def test_the_custom_resources_are_valid_for_the_pinned_crds(stack: str, variant: dict[str, str] | None) -> None:
    checked = custom_objects(plan_for(stack, variant))
    assert sorted(manifest["kind"] for manifest in checked) == ["AnalysisTemplate", "Rollout"]
    assert [problem for manifest in checked for problem in custom_resources.problems(manifest)] == []


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (["spec", "strategy", "canary", "stepz"], [], "Additional properties"),
        (["spec", "strategy", "canary", "steps", 0, "setWeight"], "ten", "is not of type 'integer'"),
        (["spec", "strategy", "canary", "trafficRouting", "alb", "servicePort"], None, "None is not of type"),
        (["spec", "template", "spec", "containers", 0, "securityContext", "privileged"], "yes", "not of type"),
    ],
)
def test_the_schema_check_rejects_a_broken_rollout(prod: Plan, path: list[Any], value: Any, error: str) -> None:
    (manifest,) = [m for m in custom_objects(prod) if m["kind"] == "Rollout"]
    broken = copy.deepcopy(manifest)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    found = list(custom_resources.problems(broken))
    assert found and any(error in problem for problem in found), found


def test_the_vendored_crds_are_those_of_the_pinned_charts_app_version(plan: Plan) -> None:
    """Chart 2.41.0 installs Argo Rollouts v1.9.0: a new chart pin comes with its version's CRDs."""
    assert plan.one(RELEASE, "cluster-argo-rollouts").inputs["version"] == "2.41.0"
    (directory,) = [path.name for path in custom_resources.CRD_DIRECTORY.iterdir()]
    assert directory == "argo-rollouts-v1.9.0"
    readme = (custom_resources.CRD_DIRECTORY / directory / "README.md").read_text()
    assert "tag `v1.9.0`" in readme and "2.41.0" in readme
    assert set(custom_resources.schemas()) == {
        ("argoproj.io/v1alpha1", "Rollout"),
        ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    }


# ---------------------------------------------------------------------------------------------- settings


def _problems(environment: str, **fields: Any) -> dict[str, str]:
    settings = ShopSettings(image_tag="abc", image_digest="sha256:" + "0" * 64, **fields)
    return dict(settings.problems(environment))  # type: ignore[arg-type]


def test_settings_reject_weights_that_do_not_increase_and_a_delay_shorter_than_the_analysis() -> None:
    assert "canary_weights" in _problems("staging", canary_weights=(50, 10))
    assert "canary_weights" in _problems("staging", canary_weights=(10, 100))
    assert "canary_weights" not in _problems("staging", canary_weights=(5, 25, 75))
    short = _problems("staging", blue_green_scale_down_delay_seconds=60)
    assert "analysis" in short["blue_green_scale_down_delay_seconds"]


def test_prod_never_releases_without_an_analysis() -> None:
    assert "release_strategy" in _problems("prod", release_strategy="rolling")
    assert "release_strategy" not in _problems("staging", release_strategy="rolling")


def test_a_blue_green_quota_fits_a_second_full_set() -> None:
    """Both sets run at full size until the switch: max replicas twice, and the Jobs."""
    fields = {"max_replicas": 4, "quota_pods": 9}
    assert "quota_pods" not in _problems("staging", release_strategy="canary", **fields)
    assert "must be at least 10" in _problems("staging", release_strategy="blue_green", **fields)["quota_pods"]


def test_the_manifest_check_fails_a_stack_on_an_invalid_custom_resource(prod: Plan, tmp_path: Path) -> None:
    """`make validate-manifests` (ci/manifests.py): built-in kinds through kubernetes-validate, custom resources
    through their CRDs; one unknown field in the Rollout fails the stack."""
    files = StackFiles(tmp_path / "prod")
    write_manifests(prod, files.manifests)
    files.plan.write_text(json.dumps({"resources": [{"type": "eks:index:Cluster", "inputs": {"version": "1.35"}}]}))
    assert manifests.validate(files) == Exit.OK
    (path,) = [path for path in files.manifests.glob("*-rollout-shop.yaml")]
    rollout_manifest = yaml.safe_load(path.read_text())
    rollout_manifest["spec"]["strategy"]["canary"]["stepz"] = []
    path.write_text(yaml.safe_dump(rollout_manifest))
    assert manifests.validate(files) == Exit.FAILED


# ---------------------------------------------------------------------------------------------- policy pack


def _with_pod(resource: PlannedResource, **security: Any) -> PlannedResource:
    """The planned Rollout with its container's securityContext changed."""
    inputs = copy.deepcopy(resource.inputs)
    (container,) = inputs["spec"]["template"]["spec"]["containers"]
    container["securityContext"] = {**container["securityContext"], **security}
    return dataclasses.replace(resource, inputs=inputs, outputs={**resource.outputs, **inputs})


@pytest.mark.parametrize(
    ("rule", "security"),
    [
        (workloads.k8s_no_privilege_escalation, {"privileged": True}),
        (workloads.k8s_run_as_non_root, {"runAsUser": 0}),
        (workloads.k8s_read_only_root_filesystem, {"readOnlyRootFilesystem": False}),
    ],
    ids=policy_id,
)
def test_the_policy_pack_checks_the_rollouts_pods_like_a_deployments(
    prod: Plan, rule: Policy, security: dict[str, Any]
) -> None:
    """A privileged container (or a root user, a writable root filesystem) in the Rollout's pod template is caught
    as it would be in a Deployment's; the planned Rollout passes."""
    planned = rollout(prod)
    assert messages(rule, planned) == []
    assert messages(rule, _with_pod(planned, **security)) != []


def test_the_pack_finds_the_rollouts_autoscaler_and_disruption_budget(prod: Plan) -> None:
    """Its replicas (the HPA's minimum) and its PodDisruptionBudget are checked like a Deployment's."""
    web, hpa, budget = rollout(prod), obj(prod, HPA, "shop"), obj(prod, PDB, "shop")
    assert messages(workloads.k8s_minimum_replicas, web, hpa) == []
    assert messages(workloads.k8s_minimum_replicas, web) != []
    assert messages(workloads.k8s_pod_disruption_budget, web, budget) == []
    assert messages(workloads.k8s_pod_disruption_budget, web) != []
