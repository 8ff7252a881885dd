"""The rendered Kubernetes manifests (``python -m stacks preview STACK --manifests DIR``): the built-in kinds valid for
the cluster's Kubernetes version under ``kubernetes-validate --strict`` (custom resources: tests/test_rollouts.py),
and every pod template within the Pod Security Standards "restricted" profile, checked field by field."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate.utils import all_versions, major_minor

from ci import custom_resources
from stacks.offline.plan import Plan
from stacks.offline.report import write_manifests
from tests.shop_plan import pod_templates

VALIDATOR = Path(sys.executable).with_name("kubernetes-validate")
SHOP_KINDS = {
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "ConfigMap",
    "PriorityClass",
    "Job",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "Service",
    "Ingress",
}


def cluster_version(plan: Plan) -> str:
    return plan.one("eks:index:Cluster").inputs["version"]


@pytest.fixture(scope="module", params=("staging", "prod"))
def manifests(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, list[Path]]:
    plan: Plan = request.getfixturevalue(request.param)
    return plan, write_manifests(plan, tmp_path_factory.mktemp(f"manifests-{plan.stack}"))


def test_the_validator_has_schemas_for_the_clusters_kubernetes_version(manifests: tuple[Plan, list[Path]]) -> None:
    """It would otherwise fall back to an older version's schemas without saying so."""
    plan, _ = manifests
    assert cluster_version(plan) in {major_minor(version) for version in all_versions()}


def test_every_rendered_object_is_valid_for_the_clusters_version_with_no_warning(
    manifests: tuple[Plan, list[Path]],
) -> None:
    plan, written = manifests
    objects = {path: yaml.safe_load(path.read_text()) for path in written}
    paths = [path for path, manifest in objects.items() if not custom_resources.is_custom(manifest)]
    kinds = {objects[path]["kind"] for path in paths}
    assert kinds >= SHOP_KINDS
    result = subprocess.run(
        [str(VALIDATOR), "--strict", "--kubernetes-version", cluster_version(plan), *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 0, "\n".join(lines)
    assert [line for line in lines if not line.startswith("INFO")] == []
    assert sum("passed" in line for line in lines) == len(paths)


def test_the_validator_rejects_an_unknown_field(tmp_path: Path, staging: Plan) -> None:
    """--strict is what catches a misspelt field; the check above would miss it without."""
    template = {**pod_templates(staging)["shop"], "replica": 3}
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "x"}, "template": template})
    )
    command = [str(VALIDATOR), "--strict", "--kubernetes-version", cluster_version(staging), str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode != 0


# ---------------------------------------------------------------------------------------------- restricted profile

#: Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/), restricted level.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(kind) or []


def restricted_violations(template: dict[str, Any]) -> list[str]:
    """Every control of the baseline and restricted profiles the pod template breaks (empty: it passes)."""
    spec = template["spec"]
    pod = spec.get("securityContext") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    found = []
    # Baseline.
    for namespace in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(namespace):
            found.append(f"{namespace} is set")
    for volume in spec.get("volumes") or []:
        types = set(volume) - {"name"}
        if "hostPath" in types:
            found.append(f"volume {volume['name']} is a hostPath")
        if not types <= RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume['name']} is of a type outside the restricted list: {types}")
    for sysctl in pod.get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl['name']} is not safe")
    for key, value in annotations.items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            found.append(f"AppArmor annotation {key} is {value}")
    for scope, context in [("pod", pod)] + [(c["name"], c.get("securityContext") or {}) for c in _containers(spec)]:
        if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
            found.append(f"{scope}: AppArmor is Unconfined")
        selinux = context.get("seLinuxOptions") or {}
        if selinux.get("type") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
            found.append(f"{scope}: SELinux options are not allowed")
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(f"{scope}: seccomp is Unconfined")
        if context.get("runAsUser") == 0:
            found.append(f"{scope}: runs as UID 0")
    for container in _containers(spec):
        name = container["name"]
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            found.append(f"{name}: privileged")
        if context.get("procMount") not in (None, "Default"):
            found.append(f"{name}: procMount is not Default")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{name}: binds host port {port['hostPort']}")
        # Restricted.
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
            found.append(f"{name}: runAsNonRoot is not true")
        seccomp = (context.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccomp profile is {seccomp or 'unset'}, not RuntimeDefault or Localhost")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{name}: does not drop ALL capabilities")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities beyond NET_BIND_SERVICE")
    return found


def test_every_pod_template_meets_the_restricted_profile(plan: Plan) -> None:
    templates = pod_templates(plan)
    assert "shop" in templates and any(name.startswith("shop-migrate-") for name in templates)
    for name, template in templates.items():
        assert restricted_violations(template) == [], name


POD = ("spec", "securityContext")
CONTAINER = ("spec", "containers", 0, "securityContext")


@pytest.mark.parametrize(
    ("changes", "violation"),
    [
        ({(*POD, "seccompProfile"): None, (*CONTAINER, "seccompProfile"): None}, "seccomp profile is unset"),
        ({(*CONTAINER, "seccompProfile"): {"type": "Unconfined"}}, "seccomp is Unconfined"),
        ({(*CONTAINER, "allowPrivilegeEscalation"): None}, "allowPrivilegeEscalation"),
        ({(*CONTAINER, "capabilities", "drop"): []}, "does not drop ALL"),
        ({(*CONTAINER, "capabilities", "add"): ["NET_ADMIN"]}, "adds capabilities"),
        ({(*POD, "runAsNonRoot"): None, (*CONTAINER, "runAsNonRoot"): None}, "runAsNonRoot"),
        ({(*POD, "runAsNonRoot"): None}, None),  # the container's own setting still holds
        ({(*CONTAINER, "runAsUser"): 0}, "UID 0"),
        ({(*CONTAINER, "privileged"): True}, "privileged"),
        ({("spec", "volumes", 0): {"name": "tmp", "hostPath": {"path": "/"}}}, "hostPath"),
        ({("spec", "hostNetwork"): True}, "hostNetwork"),
        ({("spec", "containers", 0, "ports", 0, "hostPort"): 8080}, "host port"),
    ],
)
def test_the_profile_check_catches_each_broken_control(
    staging: Plan, changes: dict[tuple[Any, ...], Any], violation: str | None
) -> None:
    template = copy.deepcopy(pod_templates(staging)["shop"])
    for (*parents, last), value in changes.items():
        target = template
        for key in parents:
            target = target[key]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    found = restricted_violations(template)
    if violation is None:
        assert found == []
    else:
        assert any(violation in problem for problem in found), found
