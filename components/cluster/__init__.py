"""The Kubernetes platform. ``Cluster`` is the component; ``pod_identity_role`` gives any workload an IAM role and
``managed_addons`` installs further EKS add-ons the way the cluster's own are."""

from components.cluster.addons import ManagedAddon, managed_addons
from components.cluster.component import Cluster, ClusterArgs
from components.cluster.identity import PodIdentity, ServiceAccount, ShopAccess, pod_identity_role

__all__ = [
    "Cluster",
    "ClusterArgs",
    "ManagedAddon",
    "PodIdentity",
    "ServiceAccount",
    "ShopAccess",
    "managed_addons",
    "pod_identity_role",
]
