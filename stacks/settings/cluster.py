"""Settings of the Kubernetes platform (components/cluster/): EKS, node groups, add-ons and controllers.

Versions were chosen for EKS Kubernetes 1.35 (standard support until March 2027). Add-on and chart versions are
the ones published for 1.35 in AWS's documentation and public release notes; they could not be checked against a
live ``aws eks describe-addon-versions`` here, so CreateAddon is where a wrong pin would surface.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, Field

from stacks.settings.base import AllowedCidr, Environment, Problem, RetentionDays, section

#: Kubernetes minor versions the pins below are validated for. 1.35 reached EKS in January 2026 and stays in
#: standard support until 2027-03-27, 14 months later (EKS Kubernetes release calendar,
#: docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html). A later minor joins this list together with
#: add-on, chart and autoscaler pins verified for it and its own dates from that calendar.
KubernetesVersion = Literal["1.35"]
#: The control-plane log types EKS can ship to CloudWatch; every one is enabled.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

_ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
_IAM_ROLE_NAME = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_IMAGE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")


def _matching(pattern: re.Pattern[str], example: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"must look like {example}")
        return value

    return AfterValidator(check)


AddonVersion = Annotated[str, _matching(_ADDON_VERSION, "v1.22.3-eksbuild.1 (aws eks describe-addon-versions)")]
IamRoleName = Annotated[str, _matching(_IAM_ROLE_NAME, "platform-admin or a path such as team/platform-admin")]
InstanceType = Annotated[str, _matching(_INSTANCE_TYPE, "m7i.large")]
ChartVersion = Annotated[str, _matching(_CHART_VERSION, "1.14.0")]
ImageVersion = Annotated[str, _matching(_IMAGE_VERSION, "v1.35.0")]


def minor_of(version: str) -> str:
    """``"1.35"`` from ``"v1.35.3-eksbuild.17"`` or ``"v1.35.0"``."""
    return ".".join(version.removeprefix("v").split(".")[:2])


class NodeGroupSize(NamedTuple):
    """A node group's (``system`` or ``app``) minimum, desired and maximum size."""

    name: str
    min_size: int
    desired_size: int
    max_size: int


@section(prefix="eks")
class ClusterSettings:
    """EKS: control plane access and logging, node groups, managed add-ons and the platform controllers."""

    kubernetes_version: KubernetesVersion = Field(
        default="1.35", description="Kubernetes minor version of the control plane and the node groups."
    )
    support_type: Literal["STANDARD", "EXTENDED"] = Field(
        default="STANDARD",
        description="'STANDARD' lets EKS upgrade the cluster when standard support ends instead of billing "
        "extended support; 'EXTENDED' keeps the version (at extra cost).",
    )
    public_endpoint: bool = Field(
        default=False,
        description="Expose the Kubernetes API on a public endpoint, limited to eksPublicAccessCidrs; off in prod "
        "(the private endpoint is always on).",
    )
    public_access_cidrs: tuple[AllowedCidr, ...] = Field(
        default=(), description="Networks allowed to reach the public API endpoint (required when it is on)."
    )
    private_access_cidrs: tuple[AllowedCidr, ...] = Field(
        default=(),
        description="Networks beyond the VPC (a VPN, a peered network) allowed to reach the private API endpoint on "
        "443, on the control plane's network interfaces only. Runners inside the VPC carry the cluster's deployer "
        "security group (stack output cluster.deployerSecurityGroupId) instead.",
    )
    pipeline_roles: tuple[IamRoleName, ...] = Field(
        default=(),
        description="IAM roles that run `pulumi up` for this stack, granted cluster-admin through EKS access entries "
        "(the stack installs namespaces, RBAC, CRDs and webhooks). Empty: the bootstrap's deploy role of this stack, "
        "<namePrefix>-ci-deploy-<stack>.",
    )
    admin_roles: tuple[IamRoleName, ...] = Field(
        default=(),
        description="IAM roles (names in this account) of people granted cluster-admin through EKS access entries. "
        "Whoever creates the cluster gets no access of its own: only these, eksPipelineRoles and eksReadOnlyRoles.",
    )
    read_only_roles: tuple[IamRoleName, ...] = Field(
        default=(), description="IAM roles granted cluster-wide read-only access (no Secrets)."
    )
    log_retention_days: RetentionDays = Field(
        default=365, description="Retention of the control-plane log group, in days (a CloudWatch Logs period)."
    )
    node_os: Literal["AL2023", "Bottlerocket"] = Field(
        default="AL2023", description="Operating system of the managed node groups (EKS-optimized AMIs)."
    )
    node_disk_gib: int = Field(
        default=50, ge=20, le=1000, description="Encrypted gp3 data volume of every node, in GiB (20-1000)."
    )
    system_instance_types: tuple[InstanceType, ...] = Field(
        default=("m7i.large",),
        min_length=1,
        description="Instance types of the system node group (platform controllers, CoreDNS), on-demand.",
    )
    system_min_size: int = Field(default=3, ge=1, le=100, description="Minimum nodes of the system group.")
    system_desired_size: int = Field(
        default=3, ge=1, le=100, description="Initial nodes of the system group (the autoscaler owns it after)."
    )
    system_max_size: int = Field(default=6, ge=1, le=100, description="Maximum nodes of the system group.")
    app_instance_types: tuple[InstanceType, ...] = Field(
        default=("m7i.xlarge", "m6i.xlarge"),
        min_length=1,
        description="Instance types of the application node groups (the shop); several widen spot capacity. Give "
        "them the same vCPUs and memory: the Cluster Autoscaler treats a group's types as one size.",
    )
    app_capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(
        default="ON_DEMAND", description="Capacity type of the application node groups; SPOT only outside prod."
    )
    app_min_size: int = Field(
        default=3,
        ge=1,
        le=500,
        description="Minimum nodes of the application pool, all zones together: split evenly over its node groups, "
        "one per zone (the first zones take any remainder).",
    )
    app_desired_size: int = Field(
        default=3,
        ge=1,
        le=500,
        description="Initial nodes of the application pool, all zones together, split like the minimum (the "
        "autoscaler owns the size after).",
    )
    app_max_size: int = Field(
        default=12,
        ge=1,
        le=500,
        description="Maximum nodes of the application pool, all zones together, split like the minimum; at least "
        "one per zone.",
    )
    vpc_cni_version: AddonVersion = Field(
        default="v1.22.3-eksbuild.1", description="Version of the vpc-cni managed add-on."
    )
    coredns_version: AddonVersion = Field(
        default="v1.13.2-eksbuild.11", description="Version of the coredns managed add-on."
    )
    kube_proxy_version: AddonVersion = Field(
        default="v1.35.3-eksbuild.17",
        description="Version of the kube-proxy managed add-on (same minor as Kubernetes).",
    )
    pod_identity_agent_version: AddonVersion = Field(
        default="v1.3.10-eksbuild.3", description="Version of the eks-pod-identity-agent managed add-on."
    )
    ebs_csi_driver_version: AddonVersion = Field(
        default="v1.63.1-eksbuild.1", description="Version of the aws-ebs-csi-driver managed add-on."
    )
    metrics_server_version: AddonVersion = Field(
        default="v0.9.0-eksbuild.5", description="Version of the metrics-server managed add-on (feeds the HPA)."
    )
    load_balancer_controller_chart_version: ChartVersion = Field(
        default="1.14.0",
        description="aws-load-balancer-controller Helm chart version (eks-charts); its IAM policy file must match.",
    )
    cluster_autoscaler_chart_version: ChartVersion = Field(
        default="9.59.0", description="cluster-autoscaler Helm chart version (kubernetes/autoscaler)."
    )
    argo_rollouts_chart_version: Literal["2.41.0"] = Field(
        default="2.41.0",
        description="argo-rollouts Helm chart version (argo-helm); it installs Argo Rollouts v1.9.0, whose CRDs are "
        "vendored under components/cluster/crds/ for validation (a new version comes with its CRDs).",
    )
    cluster_autoscaler_version: ImageVersion = Field(
        default="v1.35.0", description="Cluster Autoscaler image tag; its minor must match the Kubernetes version."
    )

    def node_groups(self) -> tuple[NodeGroupSize, ...]:
        """The sizes of the system and the app node groups."""
        return (
            NodeGroupSize("system", self.system_min_size, self.system_desired_size, self.system_max_size),
            NodeGroupSize("app", self.app_min_size, self.app_desired_size, self.app_max_size),
        )

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if self.public_endpoint and not self.public_access_cidrs:
            yield "public_access_cidrs", "list the networks allowed to reach the public API endpoint"
        if not self.public_endpoint and self.public_access_cidrs:
            yield "public_access_cidrs", "only applies with eksPublicEndpoint: true; remove it or enable the endpoint"
        yield from self._overlapping_roles()
        for group in self.node_groups():
            if not group.min_size <= group.desired_size <= group.max_size:
                yield (
                    f"{group.name}_desired_size",
                    f"must lie between the minimum ({group.min_size}) and the maximum ({group.max_size})",
                )
        for field, version in (
            ("kube_proxy_version", self.kube_proxy_version),
            ("cluster_autoscaler_version", self.cluster_autoscaler_version),
        ):
            if minor_of(version) != self.kubernetes_version:
                yield field, f"is built for Kubernetes {minor_of(version)}, not {self.kubernetes_version}"
        if environment != "prod":
            return
        if self.public_endpoint:
            yield "public_endpoint", "prod keeps the Kubernetes API private; reach it through the VPC"
        if self.app_capacity_type != "ON_DEMAND":
            yield "app_capacity_type", "prod runs the shop on ON_DEMAND capacity; SPOT is a staging-only saving"

    def _overlapping_roles(self) -> Iterator[Problem]:
        # EKS allows one access entry per principal.
        seen: dict[str, str] = {}
        access_levels = {
            "pipeline_roles": self.pipeline_roles,
            "admin_roles": self.admin_roles,
            "read_only_roles": self.read_only_roles,
        }
        for field, roles in access_levels.items():
            for role in roles:
                if role in seen:
                    yield field, f"{role} is already listed in {seen[role]}; give each role one access level"
                seen.setdefault(role, self.__pydantic_fields__[field].alias)  # type: ignore[attr-defined]
