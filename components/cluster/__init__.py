"""The Kubernetes platform. ``Cluster`` is the component; ``pod_identity_role`` gives any workload an IAM role."""

from components.cluster.component import Cluster, ClusterArgs
from components.cluster.identity import PodIdentity, ServiceAccount, ShopAccess, pod_identity_role

__all__ = ["Cluster", "ClusterArgs", "PodIdentity", "ServiceAccount", "ShopAccess", "pod_identity_role"]
