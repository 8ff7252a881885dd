"""Kubernetes rules: pod security (the PSA "restricted" profile and more), resources, probes, images, replicas,
disruption budgets, network policies and services."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .base import (
    RESILIENCE,
    UNKNOWN,
    Resource,
    ResourceReport,
    Rules,
    Stack,
    StackReport,
    dig,
    items,
    partly_unknown,
    strings,
)
from .semantics import secret_in_setting, wide_public

rules = Rules()

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
#: Argo Rollouts' replacement for a Deployment (the shop's web pods): the same pod template under spec.template.
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
#: Where each workload kind keeps its pod spec.
POD_SPECS: dict[str, tuple[str, ...]] = {
    DEPLOYMENT: ("spec", "template", "spec"),
    ROLLOUT: ("spec", "template", "spec"),
    STATEFUL_SET: ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
#: Workloads that run until stopped (run-to-completion jobs need no probes).
LONG_RUNNING = (DEPLOYMENT, ROLLOUT, STATEFUL_SET, "kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:ReplicaSet")
REPLICATED = (DEPLOYMENT, ROLLOUT, STATEFUL_SET)
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
HELM_RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
RBAC_ROLES = ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "kubernetes:rbac.authorization.k8s.io/v1:Role")
RBAC_BINDINGS = (
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
)
HPAS = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")
NAMESPACED = (
    *POD_SPECS,
    SERVICE,
    CONFIG_MAP,
    PDB,
    NETWORK_POLICY,
    *HPAS,
    "kubernetes:core/v1:Secret",
    SERVICE_ACCOUNT,
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
)
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
SECCOMP_PROFILES = ("RuntimeDefault", "Localhost")
#: The only capability the PSA "restricted" profile lets a container add.
ADDABLE_CAPABILITIES = ("NET_BIND_SERVICE",)


def pod_spec(workload: Resource) -> Any:
    return workload.get(*POD_SPECS[workload.type])


def containers(workload: Resource, *, include_init: bool = True) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    kinds = ("containers", "initContainers", "ephemeralContainers") if include_init else ("containers",)
    for kind in kinds:
        yield from (container for container in items(dig(spec, kind)) if isinstance(container, dict))


def _effective(workload: Resource, container: dict[str, Any], *path: str) -> Any:
    """A security setting of a container, falling back on the pod's securityContext."""
    value = dig(container, "securityContext", *path)
    return dig(pod_spec(workload), "securityContext", *path) if value is None else value


def _name(container: dict[str, Any]) -> str:
    return f"container {container.get('name')!r}"


def _each_container_sets(resource: Resource, report: ResourceReport, setting: str, wanted: bool, problem: str) -> None:
    """Every container's own securityContext sets ``setting`` to ``wanted`` (unset counts as not)."""
    for container in containers(resource):
        value = dig(container, "securityContext", setting)
        if value is not UNKNOWN and value is not wanted:
            report(f"The {_name(container)} {problem}.")


def namespace_of(resource: Resource) -> Any:
    return resource.get("metadata", "namespace") or "default"


def pod_labels(workload: Resource) -> Any:
    """The labels its pods carry (the pod template's, or a bare Pod's own)."""
    template = POD_SPECS[workload.type][:-1]
    return workload.get(*template, "metadata", "labels")


def selects(match_labels: Any, labels: Any) -> bool:
    """Whether a selector's matchLabels pick (or, with unknown values, may pick) pods labelled ``labels``.

    An empty selector picks every pod.
    """
    if UNKNOWN in (match_labels, labels):
        return True
    if not (isinstance(match_labels, dict) and isinstance(labels, dict)):
        return False
    return all(UNKNOWN in (value, labels.get(key)) or labels.get(key) == value for key, value in match_labels.items())


# ---------------------------------------------------------------------------------------------- pod security


@rules.resource(Severity.HIGH, POD_SPECS)
def k8s_run_as_non_root(resource: Resource, report: ResourceReport) -> None:
    """Containers run as a non-root user.

    Fix: set securityContext.runAsNonRoot=true (and a non-zero runAsUser) on the pod or every container.
    """
    for container in containers(resource):
        non_root = _effective(resource, container, "runAsNonRoot")
        if non_root is not UNKNOWN and non_root is not True:
            report(f"The {_name(container)} does not set runAsNonRoot.")
        if _effective(resource, container, "runAsUser") == 0:
            report(f"The {_name(container)} runs as UID 0.")


@rules.resource(Severity.CRITICAL, POD_SPECS)
def k8s_no_privilege_escalation(resource: Resource, report: ResourceReport) -> None:
    """Containers are not privileged and cannot gain privileges (allowPrivilegeEscalation: false).

    Fix: set securityContext.allowPrivilegeEscalation=false and remove privileged: true.
    """
    for container in containers(resource):
        if dig(container, "securityContext", "privileged") is True:
            report(f"The {_name(container)} is privileged (full access to the node).")
    _each_container_sets(
        resource, report, "allowPrivilegeEscalation", False, "does not set allowPrivilegeEscalation=false"
    )


@rules.resource(Severity.MEDIUM, POD_SPECS)
def k8s_read_only_root_filesystem(resource: Resource, report: ResourceReport) -> None:
    """Containers have a read-only root filesystem (writable paths are explicit volumes).

    Fix: set securityContext.readOnlyRootFilesystem=true and mount an emptyDir where the app writes.
    """
    _each_container_sets(resource, report, "readOnlyRootFilesystem", True, "has a writable root filesystem")


@rules.resource(Severity.MEDIUM, POD_SPECS)
def k8s_drop_all_capabilities(resource: Resource, report: ResourceReport) -> None:
    """Containers drop all Linux capabilities (adding back only NET_BIND_SERVICE).

    Fix: set securityContext.capabilities.drop=['ALL'] and add nothing but NET_BIND_SERVICE.
    """
    for container in containers(resource):
        capabilities = dig(container, "securityContext", "capabilities")
        if capabilities is UNKNOWN:
            continue
        if "ALL" not in strings(dig(capabilities, "drop")) and not partly_unknown(dig(capabilities, "drop")):
            report(f"The {_name(container)} does not drop ALL capabilities.")
        added = [name for name in strings(dig(capabilities, "add")) if name not in ADDABLE_CAPABILITIES]
        if added:
            report(f"The {_name(container)} adds {', '.join(added)}.")


@rules.resource(Severity.MEDIUM, POD_SPECS)
def k8s_seccomp_runtime_default(resource: Resource, report: ResourceReport) -> None:
    """Containers run under the RuntimeDefault (or a Localhost) seccomp profile.

    Fix: set securityContext.seccompProfile.type='RuntimeDefault' on the pod.
    """
    for container in containers(resource):
        profile = _effective(resource, container, "seccompProfile", "type")
        if profile is not UNKNOWN and profile not in SECCOMP_PROFILES:
            report(f"The {_name(container)} has seccomp profile {profile or 'unset (Unconfined)'}.")


@rules.resource(Severity.HIGH, POD_SPECS)
def k8s_no_host_namespaces(resource: Resource, report: ResourceReport) -> None:
    """Pods share no host namespace (hostNetwork, hostPID, hostIPC) and bind no host port.

    Fix: remove hostNetwork/hostPID/hostIPC and hostPort; expose the pod through a Service.
    """
    spec = pod_spec(resource)
    for setting in ("hostNetwork", "hostPID", "hostIPC"):
        if dig(spec, setting) is True:
            report(f"{setting} is true.")
    for container in containers(resource):
        for port in items(container.get("ports")):
            if dig(port, "hostPort") not in (None, 0, UNKNOWN):
                report(f"The {_name(container)} binds host port {dig(port, 'hostPort')}.")


@rules.resource(Severity.HIGH, POD_SPECS)
def k8s_no_host_path(resource: Resource, report: ResourceReport) -> None:
    """Pods mount no hostPath volume (the node's filesystem).

    Fix: use an emptyDir, a ConfigMap/Secret or a persistent volume instead of hostPath.
    """
    for volume in items(dig(pod_spec(resource), "volumes")):
        if dig(volume, "hostPath") is not None:
            report(f"Volume {dig(volume, 'name')!r} mounts a host path.")


# ---------------------------------------------------------------------------------------------- containers


@rules.resource(Severity.MEDIUM, POD_SPECS, category=RESILIENCE)
def k8s_resources(resource: Resource, report: ResourceReport) -> None:
    """Containers declare CPU and memory requests and limits.

    Fix: set resources.requests and resources.limits (cpu and memory) on every container.
    """
    for container in containers(resource):
        resources = container.get("resources")
        if resources is UNKNOWN:
            continue
        missing = [
            f"{kind}.{name}"
            for kind in ("requests", "limits")
            for name in ("cpu", "memory")
            if dig(resources, kind, name) in (None, "")
        ]
        if missing:
            report(f"The {_name(container)} has no {', '.join(missing)}.")


@rules.resource(Severity.MEDIUM, LONG_RUNNING, category=RESILIENCE)
def k8s_probes(resource: Resource, report: ResourceReport) -> None:
    """Long-running containers have liveness and readiness probes.

    Fix: add livenessProbe and readinessProbe (e.g. httpGet on the health endpoint) to every container.
    """
    for container in containers(resource, include_init=False):
        missing = [probe for probe in ("livenessProbe", "readinessProbe") if container.get(probe) is None]
        if missing:
            report(f"The {_name(container)} has no {' or '.join(missing)}.")


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@rules.resource(Severity.HIGH, POD_SPECS)
def k8s_image_pinned(resource: Resource, report: ResourceReport) -> None:
    """Container images are pinned by digest, in every stack: what runs is what was scanned.

    Fix: reference images as registry/name:version@sha256:<digest>.
    """
    for container in containers(resource):
        image = container.get("image")
        if not isinstance(image, str):
            continue
        if _DIGEST.search(image):
            continue
        last_segment = image.rsplit("/", 1)[-1]
        tag = last_segment.split(":", 1)[1] if ":" in last_segment else None
        if tag in (None, "latest"):
            report(f"The {_name(container)} uses {image!r}: no version tag.")
        else:
            report(f"The {_name(container)} uses {image!r} without an @sha256 digest.")


# ---------------------------------------------------------------------------------------------- objects


@rules.resource(Severity.HIGH, (NAMESPACE,), fix=f"label the namespace {PSA_ENFORCE}=restricted.")
def k8s_namespace_psa_restricted(resource: Resource, report: ResourceReport) -> None:
    """Namespaces enforce the Pod Security Admission 'restricted' profile."""
    level = resource.get("metadata", "labels", PSA_ENFORCE)
    if level is not UNKNOWN and level != "restricted":
        report(f"{PSA_ENFORCE} is {level or 'not set'}.")


@rules.resource(Severity.MEDIUM, NAMESPACED)
def k8s_explicit_namespace(resource: Resource, report: ResourceReport) -> None:
    """Namespaced objects name their namespace (never the 'default' namespace).

    Fix: set metadata.namespace to the application's namespace.
    """
    if namespace_of(resource) == "default":
        report("The object is in the 'default' namespace.")


@rules.resource(Severity.HIGH, (SERVICE,))
def k8s_service_cluster_ip_only(resource: Resource, report: ResourceReport) -> None:
    """No Service of type LoadBalancer or NodePort (traffic enters through the Ingress and CloudFront only).

    Fix: use type ClusterIP behind the Ingress (AWS Load Balancer Controller) instead.
    """
    kind = resource.get("spec", "type")
    if kind in ("LoadBalancer", "NodePort"):
        report(f"The Service is of type {kind}.")


# ---------------------------------------------------------------------------------------------- secrets, RBAC


def settings_in(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (name, value) a manifest or Helm values tree sets: mapping keys with their scalar values, and
    ``{name, value}`` list entries (container ``env``)."""
    if isinstance(value, dict):
        entry = isinstance(value.get("name"), str) and "value" in value
        if entry:
            yield value["name"], value["value"]
        for key, item in value.items():
            if entry and key in ("name", "value"):
                continue
            if isinstance(item, dict | list):
                yield from settings_in(item)
            else:
                yield key, item
    elif isinstance(value, list):
        for item in value:
            yield from settings_in(item)


def configuration(resource: Resource) -> Any:
    """What a resource configures a workload with: a pod spec, a ConfigMap's data, a Helm release's values."""
    if resource.type in POD_SPECS:
        return pod_spec(resource)
    return resource.get("values") if resource.type in HELM_RELEASES else resource.get("data")


@rules.resource(Severity.CRITICAL, (*POD_SPECS, CONFIG_MAP, *HELM_RELEASES))
def k8s_no_plaintext_secrets(resource: Resource, report: ResourceReport) -> None:
    """Pod specs, ConfigMaps and Helm values carry no secret: no URL with an inline password and no generated-looking
    value under a secret-like name (*_PASSWORD, *_PASS, *_AUTH, *_TOKEN, *_KEY, ...).

    Fix: put the value in a Kubernetes Secret (synced from Secrets Manager) and reference it with secretKeyRef, or
    pass the secret's ARN and let the app read it with its IAM role.
    """
    for name, value in settings_in(configuration(resource)):
        why = secret_in_setting(str(name), value)
        if why:
            report(f"{name} {why}.")


#: Groups every identity (or every service account) of the cluster belongs to.
BROAD_SUBJECTS = ("system:authenticated", "system:unauthenticated", "system:serviceaccounts", "system:anonymous")
WRITE_ROLES = ("cluster-admin", "admin", "edit")


def _wildcard_rules(role: Resource) -> bool:
    return any(
        "*" in strings(dig(rule, "verbs")) and "*" in strings(dig(rule, "resources"))
        for rule in items(role.get("rules"))
    )


@rules.resource(Severity.CRITICAL, (*RBAC_ROLES, *RBAC_BINDINGS))
def k8s_rbac_least_privilege(resource: Resource, report: ResourceReport) -> None:
    """No role grants every verb on every resource, and no binding gives cluster-admin, admin or edit to every user or
    service account (system:authenticated, system:unauthenticated, system:serviceaccounts).

    Fix: bind a role with the verbs and resources needed to the named service account or group.
    """
    if resource.type in RBAC_ROLES:
        if _wildcard_rules(resource):
            report("A rule grants every verb on every resource (a second cluster-admin).")
        return
    broad = [
        dig(subject, "name") for subject in items(resource.get("subjects")) if dig(subject, "name") in BROAD_SUBJECTS
    ]
    role = resource.get("roleRef", "name")
    if broad and role in WRITE_ROLES:
        report(f"{role} is bound to {', '.join(broad)}.")


def _allows_all(rule: Any, peers: str) -> bool:
    """An ingress/egress rule with no ports and no peers (every source or destination) or an internet-wide
    ipBlock peer: all traffic on every port."""
    if not isinstance(rule, dict) or rule.get("ports"):
        return False
    blocks = [dig(peer, "ipBlock", "cidr") for peer in items(rule.get(peers))]
    return not rule.get(peers) or bool(wide_public(strings(blocks), {4: 16, 6: 48}))


@rules.resource(Severity.HIGH, (NETWORK_POLICY,))
def k8s_network_policy_no_allow_all(resource: Resource, report: ResourceReport) -> None:
    """No NetworkPolicy rule allows all traffic (a rule with no peers and no ports undoes default-deny).

    Fix: name the peers (podSelector, namespaceSelector, ipBlock) and ports each rule allows.
    """
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        if any(_allows_all(rule, peers) for rule in items(resource.get("spec", direction))):
            report(f"An {direction} rule allows all traffic.")


@rules.resource(
    Severity.MEDIUM,
    (*POD_SPECS, SERVICE_ACCOUNT),
    config={
        "apiClients": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "namespace/service-account names whose pods call the Kubernetes API.",
        }
    },
)
def k8s_no_automount_token(resource: Resource, report: ResourceReport) -> None:
    """Service accounts do not mount their API token into pods (automountServiceAccountToken: false), and no pod turns
    it back on, except the service accounts listed as needing the Kubernetes API.

    Fix: set automountServiceAccountToken: false on the ServiceAccount and leave it unset on the pod.
    """
    spec = pod_spec(resource) if resource.type in POD_SPECS else resource.props
    account = dig(spec, "serviceAccountName") if resource.type in POD_SPECS else resource.get("metadata", "name")
    if f"{namespace_of(resource)}/{account}" in resource.config["apiClients"]:
        return
    mount = dig(spec, "automountServiceAccountToken")
    if mount is True or (resource.type == SERVICE_ACCOUNT and mount is None):
        report(f"automountServiceAccountToken is {mount if mount is not None else 'unset (true)'}.")


#: Pod settings that break out of the container, wherever a chart's values put them.
HOST_ACCESS = {
    "hostNetwork": True,
    "hostPID": True,
    "hostIPC": True,
    "privileged": True,
    "allowPrivilegeEscalation": True,
    "runAsUser": 0,
    "runAsNonRoot": False,
}


@rules.resource(Severity.HIGH, HELM_RELEASES)
def k8s_helm_values_pod_security(resource: Resource, report: ResourceReport) -> None:
    """The Helm releases the program installs set no host namespace, privileged container, privilege escalation or root
    user in their values.

    Fix: remove the setting from the release's values (the chart's defaults must meet the restricted profile).
    """
    for name, value in settings_in(resource.get("values")):
        as_root = name == "runAsUser" and isinstance(value, int | float) and not isinstance(value, bool) and value == 0
        if as_root or (name in HOST_ACCESS and value is HOST_ACCESS[name]):
            report(f"The values set {name}: {value}.")


@rules.resource(
    Severity.MEDIUM, HPAS, category=RESILIENCE, config={"minimum": {"type": "integer", "minimum": 1, "default": 2}}
)
def k8s_hpa_min_replicas(resource: Resource, report: ResourceReport) -> None:
    """Horizontal pod autoscalers never scale below the configured minimum of replicas.

    Fix: set spec.minReplicas to at least the policy's minimum (default 2).
    """
    minimum = resource.config["minimum"]
    replicas = resource.get("spec", "minReplicas")
    if replicas is not UNKNOWN and not (isinstance(replicas, int | float) and replicas >= minimum):
        report(f"minReplicas is {replicas or '1 (the default)'}; at least {minimum} required.")


# ---------------------------------------------------------------------------------------------- across objects


def _same_namespace(stack: Stack, workload: Resource, types: tuple[str, ...]) -> list[Resource]:
    """Objects of ``types`` in the workload's namespace (or in one not known yet, which may be it)."""
    namespace = namespace_of(workload)
    return [
        other
        for other in stack.of_type(*types)
        if UNKNOWN in (namespace, namespace_of(other)) or namespace_of(other) == namespace
    ]


@rules.stack(Severity.MEDIUM, category=RESILIENCE, config={"minimum": {"type": "integer", "minimum": 1, "default": 2}})
def k8s_minimum_replicas(stack: Stack, report: StackReport) -> None:
    """Deployments, Rollouts and StatefulSets run at least the configured number of replicas (or an HPA keeps them).

    Fix: set spec.replicas (or the HPA's minReplicas) to at least the policy's minimum (default 2).
    """
    minimum = stack.config["minimum"]
    for workload in stack.of_type(*REPLICATED):
        replicas = workload.get("spec", "replicas")
        if replicas is UNKNOWN:
            continue
        if replicas is not None:
            if not isinstance(replicas, int | float) or replicas < minimum:
                report(f"spec.replicas is {replicas}; at least {minimum} required.", workload)
            continue
        targets = [
            stack.referents(hpa, "spec", [workload], values=hpa.get("spec", "scaleTargetRef", "name"))
            for hpa in _same_namespace(stack, workload, HPAS)
        ]
        # An autoscaler whose target is not known yet may be this workload's.
        if not any(target is None or target for target in targets):
            report("spec.replicas is not set (Kubernetes runs 1) and no autoscaler targets it.", workload)


def _budget_problem(budget: Resource, replicas: Any) -> str | None:
    """Why a PodDisruptionBudget protects nothing or blocks every drain (None if it is sound)."""
    spec = budget.get("spec")
    minimum, maximum = dig(spec, "minAvailable"), dig(spec, "maxUnavailable")
    if UNKNOWN in (minimum, maximum):
        return None
    if (minimum is None) == (maximum is None):
        return "it must set exactly one of minAvailable and maxUnavailable"
    if maximum in (0, "0%"):
        return "maxUnavailable 0 blocks every node drain"
    if minimum == "100%" or (
        isinstance(minimum, int | float) and isinstance(replicas, int | float) and minimum >= replicas
    ):
        return f"minAvailable {minimum} leaves no pod to evict"
    if minimum in (0, "0%") or maximum == "100%":
        return "it allows every pod to be evicted at once"
    return None


@rules.stack(Severity.MEDIUM, category=RESILIENCE)
def k8s_pod_disruption_budget(stack: Stack, report: StackReport) -> None:
    """Every Deployment, Rollout and StatefulSet has a PodDisruptionBudget that selects its pods and allows drains.

    Fix: add a policy/v1 PodDisruptionBudget in the same namespace whose selector.matchLabels match the pod labels,
    with maxUnavailable=1 (or minAvailable below the replica count).
    """
    for workload in stack.of_type(*REPLICATED):
        labels = pod_labels(workload)
        if labels is UNKNOWN or namespace_of(workload) is UNKNOWN:
            continue
        budgets = [
            budget
            for budget in _same_namespace(stack, workload, (PDB,))
            if selects(budget.get("spec", "selector", "matchLabels"), labels)
        ]
        if not budgets:
            report("No PodDisruptionBudget selects its pods.", workload)
        for budget in budgets:
            problem = _budget_problem(budget, workload.get("spec", "replicas"))
            if problem:
                report(f"The PodDisruptionBudget is not valid: {problem}.", budget)


def _is_default_deny(policy: Resource) -> bool | None:
    """Whether a NetworkPolicy denies all traffic to and from its namespace's pods (None: not known yet)."""
    spec = policy.get("spec")
    selector = dig(spec, "podSelector")
    parts = (spec, selector, dig(selector, "matchLabels"), dig(selector, "matchExpressions"), dig(spec, "policyTypes"))
    if any(partly_unknown(part) for part in (*parts, dig(spec, "ingress"), dig(spec, "egress"))):
        return None
    return (
        isinstance(selector, dict)
        and not dig(selector, "matchLabels")
        and not dig(selector, "matchExpressions")
        and {"Ingress", "Egress"} <= set(strings(dig(spec, "policyTypes")))
        and not items(dig(spec, "ingress"))
        and not items(dig(spec, "egress"))
    )


@rules.stack(Severity.HIGH)
def k8s_network_policy_per_workload(stack: Stack, report: StackReport) -> None:
    """Every workload's pods are selected by a NetworkPolicy of their own (allowing just their traffic).

    Fix: add a NetworkPolicy in the workload's namespace whose podSelector.matchLabels match its pod labels and allow
    only the ingress/egress it needs.
    """
    for workload in stack.of_type(*POD_SPECS):
        labels = pod_labels(workload)
        if labels is UNKNOWN or namespace_of(workload) is UNKNOWN:
            continue
        selectors = [
            policy.get("spec", "podSelector", "matchLabels")
            for policy in _same_namespace(stack, workload, (NETWORK_POLICY,))
        ]
        if not any(selector and selects(selector, labels) for selector in selectors):
            report("No NetworkPolicy selects its pods (a default-deny policy alone leaves them cut off).", workload)


@rules.stack(Severity.HIGH)
def k8s_default_deny_network_policy(stack: Stack, report: StackReport) -> None:
    """Every namespace in use has a default-deny NetworkPolicy (all pods, Ingress and Egress, no rules).

    Fix: add a NetworkPolicy with podSelector={}, policyTypes=['Ingress','Egress'] and no ingress/egress rules to the
    namespace.
    """
    namespaces: dict[Any, Resource] = {}
    for namespace in stack.of_type(NAMESPACE):
        namespaces.setdefault(namespace.get("metadata", "name"), namespace)
    for workload in stack.of_type(*POD_SPECS):
        namespaces.setdefault(namespace_of(workload), workload)
    # Namespaces whose default-deny policy exists, or may (its settings or namespace are not known yet).
    denied = {namespace_of(policy) for policy in stack.of_type(NETWORK_POLICY) if _is_default_deny(policy) is not False}
    if UNKNOWN in denied:
        return
    for name, resource in namespaces.items():
        if isinstance(name, str) and name not in denied:
            report(f"Namespace {name!r} has no default-deny NetworkPolicy.", resource)
