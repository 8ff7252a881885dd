"""The shop's pods: one hardened pod template for the web Rollout and the Jobs (the Pod Security Standards
"restricted" profile and more), its container, probes and graceful shutdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from stacks.settings import ShopSettings

core = k8s.core.v1
meta = k8s.meta.v1

#: The image's user and group (app/Dockerfile); numeric so that the kubelet can check runAsNonRoot.
APP_UID = 10001
APP_GID = 10001
CONTAINER = "shop"
#: The storefront and JSON API: the only port the Service and the load balancer reach.
HTTP_PORT = 8080
#: /metrics and the admin: never in the Service, so never routed.
INTERNAL_PORT = 9090
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
#: Seconds between startup probes; the startup timeout is a whole number of them.
STARTUP_PERIOD_SECONDS = 5
TMP_VOLUME = "tmp"
#: The label Argo Rollouts gives each of the Rollout's ReplicaSets' pods (the Deployment's ``pod-template-hash``).
ROLLOUT_POD_HASH_LABEL = "rollouts-pod-template-hash"


@dataclass(frozen=True)
class PodTarget:
    """Where and as whom the shop's pods run."""

    image: str
    service_account_name: pulumi.Input[str]
    config_map_name: pulumi.Input[str]
    priority_class_name: pulumi.Input[str]
    node_selector: Mapping[str, str]
    config_checksum: pulumi.Input[str]
    """Hash of the ConfigMap's data: a change re-creates the pods, which read it only at start."""


def quantities(settings: ShopSettings, kind: str) -> dict[str, str]:
    """``requests`` or ``limits`` of one pod as Kubernetes quantities."""
    return {
        "cpu": f"{getattr(settings, f'cpu_{kind}_millicores')}m",
        "memory": f"{getattr(settings, f'memory_{kind}_mib')}Mi",
        "ephemeral-storage": f"{getattr(settings, f'ephemeral_storage_{kind}_mib')}Mi",
    }


def _http_probe(path: str, period: int, failures: int, timeout: int) -> core.ProbeArgs:
    return core.ProbeArgs(
        http_get=core.HTTPGetActionArgs(path=path, port="http"),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=timeout,
    )


def container(
    settings: ShopSettings, target: PodTarget, *, name: str, command: str, serves: bool
) -> core.ContainerArgs:
    """The shop running ``python -m shop <command>``; ``serves``: the long-running web server with its ports,
    probes and pre-stop delay."""
    web: dict = {}
    if serves:
        timeout = settings.probe_timeout_seconds
        web = {
            "ports": [
                core.ContainerPortArgs(name="http", container_port=HTTP_PORT, protocol="TCP"),
                core.ContainerPortArgs(name="internal", container_port=INTERNAL_PORT, protocol="TCP"),
            ],
            # Liveness and readiness start only once the process answers; until then it may take this long.
            "startup_probe": _http_probe(
                HEALTH_PATH, STARTUP_PERIOD_SECONDS, settings.startup_timeout_seconds // STARTUP_PERIOD_SECONDS, timeout
            ),
            "liveness_probe": _http_probe(
                HEALTH_PATH, settings.liveness_period_seconds, settings.liveness_failure_threshold, timeout
            ),
            "readiness_probe": _http_probe(
                READY_PATH, settings.readiness_period_seconds, settings.readiness_failure_threshold, timeout
            ),
            # Keep serving while the endpoint is removed and the load balancer deregisters the pod; only then does
            # SIGTERM start the app's own drain.
            "lifecycle": core.LifecycleArgs(
                pre_stop=core.LifecycleHandlerArgs(sleep=core.SleepActionArgs(seconds=settings.pre_stop_seconds))
            ),
        }
    return core.ContainerArgs(
        name=name,
        image=target.image,
        image_pull_policy="IfNotPresent",
        command=["python", "-m", "shop"],
        args=[command],
        env_from=[core.EnvFromSourceArgs(config_map_ref=core.ConfigMapEnvSourceArgs(name=target.config_map_name))],
        resources=core.ResourceRequirementsArgs(
            requests=quantities(settings, "request"), limits=quantities(settings, "limit")
        ),
        security_context=core.SecurityContextArgs(
            run_as_non_root=True,
            run_as_user=APP_UID,
            run_as_group=APP_GID,
            privileged=False,
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=core.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        volume_mounts=[core.VolumeMountArgs(name=TMP_VOLUME, mount_path="/tmp")],  # noqa: S108 - the emptyDir
        termination_message_policy="FallbackToLogsOnError",
        **web,
    )


def pod_template(
    settings: ShopSettings,
    target: PodTarget,
    *,
    labels: Mapping[str, str],
    containers: Sequence[core.ContainerArgs],
    restart_policy: str,
    spread: Mapping[str, str] | None = None,
) -> core.PodTemplateSpecArgs:
    """A pod that runs as the image's non-root user with nothing it does not need: no Kubernetes API token (the
    shop never calls the API; Pod Identity mounts its own token), no service links, no host access, a read-only
    root filesystem with /tmp the only writable path. ``spread``: labels to spread over zones and hosts."""
    return core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(
            labels=dict(labels),
            annotations={
                "checksum/config": target.config_checksum,
                "kubectl.kubernetes.io/default-container": CONTAINER,
            },
        ),
        spec=core.PodSpecArgs(
            service_account_name=target.service_account_name,
            automount_service_account_token=False,
            enable_service_links=False,
            priority_class_name=target.priority_class_name,
            node_selector=dict(target.node_selector),
            restart_policy=restart_policy,
            termination_grace_period_seconds=settings.termination_grace_seconds,
            security_context=core.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=APP_UID,
                run_as_group=APP_GID,
                fs_group=APP_GID,
                seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=list(containers),
            volumes=[
                core.VolumeArgs(
                    name=TMP_VOLUME, empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=f"{settings.tmp_size_mib}Mi")
                )
            ],
            topology_spread_constraints=_spread(spread) if spread else None,
        ),
    )


def _spread(labels: Mapping[str, str]) -> list[core.TopologySpreadConstraintArgs]:
    """Evenly over zones (a zone outage takes at most a third of the pods) and, where capacity allows, hosts.

    Counted per ReplicaSet (the Rollout's ``rollouts-pod-template-hash``), so that a release spreads the new pods
    rather than balancing them against the old ones it is about to remove.
    """
    selector = meta.LabelSelectorArgs(match_labels=dict(labels))
    return [
        core.TopologySpreadConstraintArgs(
            topology_key=topology_key,
            max_skew=1,
            when_unsatisfiable=when,
            label_selector=selector,
            match_label_keys=[ROLLOUT_POD_HASH_LABEL],
        )
        for topology_key, when in (
            ("topology.kubernetes.io/zone", "DoNotSchedule"),
            ("kubernetes.io/hostname", "ScheduleAnyway"),
        )
    ]
