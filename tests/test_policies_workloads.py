"""Kubernetes rules: pod security, containers, objects, and the rules across objects (PDB, policies, replicas)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import Policy

from policies.rules import workloads
from stacks.offline.plan import PlannedResource
from tests.policy_support import assert_compliant_even_when_unknown, flagged, messages, policy_id, resource

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2@sha256:" + "a" * 64
LABELS = {"app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "web"}
PROBE = {"httpGet": {"path": "/healthz", "port": 8000}}
CONTAINER = {
    "name": "web",
    "image": IMAGE,
    "ports": [{"containerPort": 8000}],
    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "livenessProbe": PROBE,
    "readinessProbe": PROBE,
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    },
}
DEPLOYMENT = {
    "metadata": {"name": "shop-web", "namespace": "shop", "labels": LABELS},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": LABELS},
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [CONTAINER],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    },
}


def deployment(container: dict[str, Any] | None = None, name: str = "web", **spec: Any) -> PlannedResource:
    """The compliant Deployment, with its container replaced and pod spec settings changed."""
    props = copy.deepcopy(DEPLOYMENT)
    pod = props["spec"]["template"]["spec"]
    if container is not None:
        pod["containers"] = [container]
    pod.update(spec)
    return resource(workloads.DEPLOYMENT, name, props)


def container(**change: Any) -> dict[str, Any]:
    merged = {**copy.deepcopy(CONTAINER), **change}
    return {key: value for key, value in merged.items() if value is not None}


def security(**change: Any) -> dict[str, Any]:
    return container(securityContext={**CONTAINER["securityContext"], **change})


POD_CASES: list[tuple[Policy, PlannedResource, str]] = [
    (
        workloads.k8s_run_as_non_root,
        deployment(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
        "runAsNonRoot",
    ),
    (workloads.k8s_run_as_non_root, deployment(security(runAsNonRoot=True, runAsUser=0)), "UID 0"),
    (workloads.k8s_no_privilege_escalation, deployment(security(privileged=True)), "privileged"),
    (
        workloads.k8s_no_privilege_escalation,
        deployment(security(allowPrivilegeEscalation=None)),
        "allowPrivilegeEscalation",
    ),
    (workloads.k8s_read_only_root_filesystem, deployment(security(readOnlyRootFilesystem=False)), "writable"),
    (workloads.k8s_drop_all_capabilities, deployment(security(capabilities={"drop": ["NET_RAW"]})), "ALL"),
    (
        workloads.k8s_drop_all_capabilities,
        deployment(security(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]})),
        "SYS_ADMIN",
    ),
    (workloads.k8s_seccomp_runtime_default, deployment(securityContext={"runAsNonRoot": True}), "Unconfined"),
    (workloads.k8s_seccomp_runtime_default, deployment(security(seccompProfile={"type": "Unconfined"})), "Unconfined"),
    (workloads.k8s_no_host_namespaces, deployment(hostPID=True), "hostPID"),
    (
        workloads.k8s_no_host_namespaces,
        deployment(container(ports=[{"containerPort": 80, "hostPort": 80}])),
        "host port",
    ),
    (workloads.k8s_no_host_path, deployment(volumes=[{"name": "docker", "hostPath": {"path": "/var/run"}}]), "docker"),
    (
        workloads.k8s_resources,
        deployment(container(resources={"requests": {"cpu": "1", "memory": "1Gi"}})),
        "limits.cpu",
    ),
    (workloads.k8s_probes, deployment(container(readinessProbe=None)), "readinessProbe"),
    (workloads.k8s_image_pinned, deployment(container(image="nginx")), "no version tag"),
    (workloads.k8s_image_pinned, deployment(container(image="registry:5000/shop:latest")), "no version tag"),
    (workloads.k8s_image_pinned, deployment(container(image="registry:5000/shop:1.4.2")), "digest"),
]


@pytest.mark.parametrize(
    ("policy", "subject", "expected"), POD_CASES, ids=[f"{c[0].name}-{i}" for i, c in enumerate(POD_CASES)]
)
def test_pod_rule_flags_the_weakened_workload(policy: Policy, subject: PlannedResource, expected: str) -> None:
    found = messages(policy, subject)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize("policy", sorted({case[0] for case in POD_CASES}, key=policy_id), ids=policy_id)
def test_pod_rule_passes_the_compliant_workload(policy: Policy) -> None:
    assert_compliant_even_when_unknown(policy, deployment())


def test_pod_rules_read_every_workload_kind_and_init_containers() -> None:
    root_init = {"name": "migrate", "image": IMAGE, "securityContext": {"runAsUser": 0}}
    job = {"spec": {"template": {"spec": {"containers": [CONTAINER], "initContainers": [root_init]}}}}
    cron = {"spec": {"jobTemplate": job}}
    pod = {"spec": job["spec"]["template"]["spec"]}
    subjects = [
        resource("kubernetes:batch/v1:Job", "job", job),
        resource("kubernetes:batch/v1:CronJob", "cron", cron),
        resource("kubernetes:core/v1:Pod", "pod", pod),
    ]
    assert flagged(workloads.k8s_run_as_non_root, *subjects) == ["job"] * 3 + ["cron"] * 3 + ["pod"] * 3


def test_digests_are_required_in_every_stack() -> None:
    tagged = deployment(container(image="registry:5000/shop:1.4.2"))
    assert "without an @sha256 digest" in messages(workloads.k8s_image_pinned, tagged)[0]
    assert workloads.k8s_image_pinned.config_schema is None  # no stack may relax it


def test_namespaces_enforce_the_restricted_profile() -> None:
    baseline = resource(
        workloads.NAMESPACE, "ns", {"metadata": {"name": "shop", "labels": {workloads.PSA_ENFORCE: "baseline"}}}
    )
    assert flagged(workloads.k8s_namespace_psa_restricted, baseline) == ["ns"]
    restricted = resource(
        workloads.NAMESPACE, "ns", {"metadata": {"name": "shop", "labels": {workloads.PSA_ENFORCE: "restricted"}}}
    )
    assert_compliant_even_when_unknown(workloads.k8s_namespace_psa_restricted, restricted)


def test_objects_name_a_namespace_other_than_default() -> None:
    service = resource(workloads.SERVICE, "svc", {"metadata": {"name": "shop"}, "spec": {"type": "ClusterIP"}})
    assert flagged(workloads.k8s_explicit_namespace, service, deployment()) == ["svc"]
    assert_compliant_even_when_unknown(workloads.k8s_explicit_namespace, deployment())


def test_load_balancer_services_are_flagged() -> None:
    public = resource(workloads.SERVICE, "svc", {"metadata": {"namespace": "shop"}, "spec": {"type": "LoadBalancer"}})
    assert flagged(workloads.k8s_service_cluster_ip_only, public) == ["svc"]
    internal = resource(workloads.SERVICE, "svc", {"metadata": {"namespace": "shop"}, "spec": {"type": "ClusterIP"}})
    assert_compliant_even_when_unknown(workloads.k8s_service_cluster_ip_only, internal)


def hpa(min_replicas: int | None = 2, target: str = "shop-web") -> PlannedResource:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "maxReplicas": 10,
    }
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return resource(workloads.HPAS[0], "hpa", {"metadata": {"namespace": "shop"}, "spec": spec})


def test_autoscalers_keep_at_least_the_minimum() -> None:
    assert flagged(workloads.k8s_hpa_min_replicas, hpa(None)) == ["hpa"]
    assert flagged(workloads.k8s_hpa_min_replicas, hpa(1)) == ["hpa"]
    assert_compliant_even_when_unknown(workloads.k8s_hpa_min_replicas, hpa(2))


# ---------------------------------------------------------------------------------------------- across objects


def without_replicas() -> PlannedResource:
    props = copy.deepcopy(DEPLOYMENT)
    del props["spec"]["replicas"]
    return resource(workloads.DEPLOYMENT, "web", props)


def test_replicas_below_the_minimum_or_unset_without_an_autoscaler_are_flagged() -> None:
    assert flagged(workloads.k8s_minimum_replicas, deployment(), config={"minimum": 4}) == ["web"]
    assert flagged(workloads.k8s_minimum_replicas, without_replicas()) == ["web"]
    assert flagged(workloads.k8s_minimum_replicas, without_replicas(), hpa(target="other")) == ["web"]


def test_replicas_set_or_kept_by_an_autoscaler_pass() -> None:
    assert_compliant_even_when_unknown(workloads.k8s_minimum_replicas, deployment())
    assert_compliant_even_when_unknown(workloads.k8s_minimum_replicas, without_replicas(), hpa())


def budget(**spec: Any) -> PlannedResource:
    props = {"metadata": {"namespace": "shop"}, "spec": {"selector": {"matchLabels": LABELS}, **spec}}
    return resource(workloads.PDB, "pdb", props)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"maxUnavailable": 0}, "blocks every node drain"),
        ({"minAvailable": 3}, "leaves no pod to evict"),
        ({"minAvailable": "100%"}, "leaves no pod to evict"),
        ({"minAvailable": 1, "maxUnavailable": 1}, "exactly one"),
        ({"maxUnavailable": "100%"}, "every pod to be evicted"),
    ],
    ids=["max-0", "min-all", "min-100%", "both", "max-100%"],
)
def test_invalid_disruption_budgets_are_flagged(spec: dict[str, Any], expected: str) -> None:
    found = messages(workloads.k8s_pod_disruption_budget, deployment(), budget(**spec))
    assert len(found) == 1 and expected in found[0], found


def test_a_workload_without_a_matching_budget_is_flagged() -> None:
    elsewhere = resource(
        workloads.PDB,
        "pdb",
        {"metadata": {"namespace": "other"}, "spec": {"selector": {"matchLabels": LABELS}, "maxUnavailable": 1}},
    )
    assert flagged(workloads.k8s_pod_disruption_budget, deployment(), elsewhere) == ["web"]


def test_a_matching_valid_budget_passes() -> None:
    assert_compliant_even_when_unknown(workloads.k8s_pod_disruption_budget, deployment(), budget(maxUnavailable=1))
    assert messages(workloads.k8s_pod_disruption_budget, deployment(), budget(minAvailable="50%")) == []


def network_policy(name: str, match_labels: dict[str, str], **spec: Any) -> PlannedResource:
    props = {"metadata": {"namespace": "shop"}, "spec": {"podSelector": {"matchLabels": match_labels}, **spec}}
    return resource(workloads.NETWORK_POLICY, name, props)


DEFAULT_DENY = {"policyTypes": ["Ingress", "Egress"]}
ALLOW_WEB = {"policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 8000}]}]}


def test_workloads_need_a_network_policy_of_their_own() -> None:
    deny_only = network_policy("deny", {}, **DEFAULT_DENY)
    assert flagged(workloads.k8s_network_policy_per_workload, deployment(), deny_only) == ["web"]
    other_app = network_policy("other", {"app.kubernetes.io/name": "admin"}, **ALLOW_WEB)
    assert flagged(workloads.k8s_network_policy_per_workload, deployment(), other_app) == ["web"]


def test_a_workload_selected_by_its_policy_passes() -> None:
    own = network_policy("web", {"app.kubernetes.io/component": "web"}, **ALLOW_WEB)
    assert_compliant_even_when_unknown(workloads.k8s_network_policy_per_workload, deployment(), own)


def test_namespaces_in_use_need_a_default_deny_policy() -> None:
    namespace = resource(workloads.NAMESPACE, "ns", {"metadata": {"name": "shop"}})
    ingress_only = network_policy("deny", {}, policyTypes=["Ingress"])
    assert flagged(workloads.k8s_default_deny_network_policy, namespace, deployment(), ingress_only) == ["ns"]
    allowing = network_policy("deny", {}, **ALLOW_WEB, egress=[{}])
    assert flagged(workloads.k8s_default_deny_network_policy, deployment(), allowing) == ["web"]


def test_a_default_deny_policy_per_namespace_passes() -> None:
    namespace = resource(workloads.NAMESPACE, "ns", {"metadata": {"name": "shop"}})
    deny = network_policy("deny", {}, **DEFAULT_DENY)
    assert_compliant_even_when_unknown(workloads.k8s_default_deny_network_policy, namespace, deployment(), deny)
