"""In-cluster platform pieces: namespaces with Pod Security Admission, the default StorageClass, and the AWS Load
Balancer Controller, Cluster Autoscaler and Argo Rollouts as Helm releases (``helm.v3.Release``: its values are
visible offline, unlike a ``helm.v4.Chart``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.nodes import SYSTEM_NODE_SELECTOR, SYSTEM_TOLERATION
from components.kubernetes_network import DNS_EGRESS, POD_IDENTITY_EGRESS, ip_blocks, ports

#: Pod Security Admission at the strictest level: enforced, and reported by audit logs and client warnings.
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
#: Pod and container security contexts that satisfy the restricted profile, for the controllers' charts.
RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
#: Two replicas on the system pool, of which a voluntary disruption (drain, upgrade) may take one at a time.
_CONTROLLER_PLACEMENT: dict[str, Any] = {
    "replicaCount": 2,
    "podDisruptionBudget": {"maxUnavailable": 1},
    "nodeSelector": SYSTEM_NODE_SELECTOR,
    "tolerations": [SYSTEM_TOLERATION],
    "priorityClassName": "system-cluster-critical",
}


@dataclass(frozen=True)
class Chart:
    name: str
    repository: str
    version: str


LOAD_BALANCER_CONTROLLER = "aws-load-balancer-controller"
CLUSTER_AUTOSCALER = "cluster-autoscaler"
ARGO_ROLLOUTS = "argo-rollouts"
#: Argo Rollouts' traffic routers other than the AWS Load Balancer Controller's: the chart grants RBAC for each
#: (argo-helm charts/argo-rollouts values.yaml ``providerRBAC.providers``); the platform uses none of them.
_UNUSED_ROLLOUTS_TRAFFIC_ROUTERS = (
    "istio",
    "smi",
    "ambassador",
    "awsAppMesh",
    "traefik",
    "apisix",
    "contour",
    "glooPlatform",
    "gatewayAPI",
)


networking = k8s.networking.v1

#: The Kubernetes API and AWS APIs (regional endpoints through NAT, or interface endpoints), all HTTPS.
_HTTPS_ANYWHERE = networking.NetworkPolicyEgressRuleArgs(ports=ports("TCP", 443))


def namespace(
    name: str, namespace_name: str, *, labels: dict[str, str], provider: k8s.Provider, parent: pulumi.Resource
) -> k8s.core.v1.Namespace:
    """A namespace under the restricted Pod Security Standard whose pods may talk to nothing until a NetworkPolicy
    (enforced by the VPC CNI) allows it."""
    namespace = k8s.core.v1.Namespace(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace_name, labels={**RESTRICTED, **labels}),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    _network_policy(
        f"{name}-default-deny",
        namespace,
        policy_name="default-deny",
        pod_labels={},
        ingress=[],
        egress=[],
        provider=provider,
    )
    return namespace


def controller_network_policy(
    name: str,
    namespace: k8s.core.v1.Namespace,
    *,
    release: str,
    webhook_sources: Sequence[str] = (),
    webhook_port: int = 9443,
    provider: k8s.Provider,
) -> k8s.networking.v1.NetworkPolicy:
    """What a controller needs: DNS, its AWS credentials, HTTPS out; and webhook calls in from ``webhook_sources``
    (the control plane's addresses) when it serves admission webhooks."""
    ingress = (
        [networking.NetworkPolicyIngressRuleArgs(from_=ip_blocks(webhook_sources), ports=ports("TCP", webhook_port))]
        if webhook_sources
        else []
    )
    return _network_policy(
        name,
        namespace,
        policy_name=release,
        pod_labels={"app.kubernetes.io/instance": release},
        ingress=ingress,
        egress=[DNS_EGRESS, POD_IDENTITY_EGRESS, _HTTPS_ANYWHERE],
        provider=provider,
    )


def _network_policy(
    name: str,
    namespace: k8s.core.v1.Namespace,
    *,
    policy_name: str,
    pod_labels: dict[str, str],
    ingress: Sequence[k8s.networking.v1.NetworkPolicyIngressRuleArgs],
    egress: Sequence[k8s.networking.v1.NetworkPolicyEgressRuleArgs],
    provider: k8s.Provider,
) -> k8s.networking.v1.NetworkPolicy:
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=namespace.metadata.name),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels or None),
            policy_types=["Ingress", "Egress"],
            ingress=ingress,
            egress=egress,
        ),
        opts=pulumi.ResourceOptions(parent=namespace, provider=provider),
    )


def encrypted_storage_class(
    name: str, *, volumes_key_arn: pulumi.Input[str], provider: k8s.Provider, parent: pulumi.Resource
) -> k8s.storage.v1.StorageClass:
    """The default class: gp3 volumes encrypted with our key, created in the zone of the pod that claims them."""
    return k8s.storage.v1.StorageClass(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="gp3-encrypted", annotations={"storageclass.kubernetes.io/is-default-class": "true"}
        ),
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": volumes_key_arn},
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Delete",
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )


def helm_release(
    name: str,
    chart: Chart,
    *,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    provider: k8s.Provider,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.helm.v3.Release:
    """A pinned chart whose release waits until its workloads are ready (the default), so dependents can rely on it."""
    return k8s.helm.v3.Release(
        name,
        name=chart.name,
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=namespace,
        values=values,
        max_history=10,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )


def load_balancer_controller_values(
    *, cluster_name: str, region: str, vpc_id: pulumi.Input[str], service_account: str, ingress_class: str
) -> dict[str, Any]:
    # Region and VPC are given because pods cannot reach the instance metadata service (hop limit 1).
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "serviceAccount": {"create": True, "name": service_account},
        "ingressClass": ingress_class,
        "createIngressClassResource": True,
        # Its admission webhooks fail closed: the Service mutator would hold every Service create in the cluster
        # while no controller pod is ready, only to claim LoadBalancer Services, which the platform never creates
        # (the shop's quota forbids them; its traffic comes through an Ingress).
        "enableServiceMutatorWebhook": False,
        "podSecurityContext": {**RESTRICTED_POD, "fsGroup": 65534},
        "securityContext": RESTRICTED_CONTAINER,
        **_CONTROLLER_PLACEMENT,
    }


def cluster_autoscaler_values(
    *, cluster_name: str, region: str, image_tag: str, service_account: str
) -> dict[str, Any]:
    # Auto-discovery finds the node groups by the tags EKS puts on their Auto Scaling groups.
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"tag": image_tag},
        "rbac": {"serviceAccount": {"create": True, "name": service_account}},
        "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste"},
        "securityContext": RESTRICTED_POD,
        "containerSecurityContext": RESTRICTED_CONTAINER,
        **_CONTROLLER_PLACEMENT,
    }


def argo_rollouts_values(*, region: str, service_account: str) -> dict[str, Any]:
    """The Argo Rollouts controller (argo-helm ``charts/argo-rollouts``): its CRDs, kept on uninstall so that removing
    the release never deletes the shop's Rollout; AWS target group verification, which also records the canary's
    target group in the Rollout's status for the analysis (``status.alb``); no dashboard."""
    return {
        "installCRDs": True,
        "keepCRDs": True,
        "serviceAccount": {"create": True, "name": service_account},
        "controller": {
            # Weight and IP verification against the ALB (argo-rollouts docs/features/traffic-management/alb.md):
            # a canary step or a scale-down waits until the target groups really changed. The region is mandatory
            # for it, and the CloudWatch provider reads AWS_REGION (docs/analysis/cloudwatch.md).
            "awsVerifyTargetGroup": True,
            "extraArgs": [f"--aws-region={region}"],
            "extraEnv": [{"name": "AWS_REGION", "value": region}],
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"memory": "512Mi"},
            },
            "replicas": _CONTROLLER_PLACEMENT["replicaCount"],
            "pdb": {"enabled": True, **_CONTROLLER_PLACEMENT["podDisruptionBudget"]},
            **{key: _CONTROLLER_PLACEMENT[key] for key in ("nodeSelector", "tolerations", "priorityClassName")},
        },
        "podSecurityContext": RESTRICTED_POD,
        "containerSecurityContext": {**RESTRICTED_CONTAINER, "seccompProfile": {"type": "RuntimeDefault"}},
        "providerRBAC": {
            "enabled": True,
            "providers": {"awsLoadBalancerController": True, **dict.fromkeys(_UNUSED_ROLLOUTS_TRAFFIC_ROUTERS, False)},
        },
        "dashboard": {"enabled": False},
    }
