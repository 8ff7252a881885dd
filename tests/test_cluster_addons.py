"""EKS managed add-ons and the platform controllers (Helm releases) on the offline plan of both stacks."""

from __future__ import annotations

import json

import pytest

from stacks.offline.plan import Plan, PlannedResource
from tests.cluster_plan import (
    ASSOCIATION,
    NETWORK_POLICY,
    RELEASE,
    addons_by_name,
    cluster_settings,
    control_plane,
    key_arn,
    node_groups,
)

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
SYSTEM_PLACEMENT = {
    "nodeSelector": {"node-pool": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}],
}


def release(plan: Plan, chart: str) -> PlannedResource:
    return plan.one(RELEASE, f"cluster-{chart}")


def association_for(plan: Plan, namespace: str, service_account: str) -> PlannedResource:
    (found,) = [
        a
        for a in plan.of_type(ASSOCIATION)
        if (a.inputs["namespace"], a.inputs["serviceAccount"]) == (namespace, service_account)
    ]
    return found


def test_the_add_ons_and_their_pinned_versions(plan: Plan) -> None:
    settings = cluster_settings(plan.stack)
    versions = {name: addon.inputs["addonVersion"] for name, addon in addons_by_name(plan).items()}
    assert versions == {
        "vpc-cni": settings.vpc_cni_version,
        "coredns": settings.coredns_version,
        "kube-proxy": settings.kube_proxy_version,
        "eks-pod-identity-agent": settings.pod_identity_agent_version,
        "aws-ebs-csi-driver": settings.ebs_csi_driver_version,
        "metrics-server": settings.metrics_server_version,
    }
    assert settings.kube_proxy_version.startswith(f"v{settings.kubernetes_version}.")


def test_add_ons_are_ours_on_create_and_update(plan: Plan) -> None:
    name = control_plane(plan).inputs["name"]
    for addon in addons_by_name(plan).values():
        assert addon.inputs["clusterName"] == name
        assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
        assert addon.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"
        assert addon.inputs["tags"]["component"] == "cluster"


def test_vpc_cni_enforces_network_policies(plan: Plan) -> None:
    configuration = json.loads(addons_by_name(plan)["vpc-cni"].inputs["configurationValues"])
    assert configuration == {"enableNetworkPolicy": "true"}


def test_add_ons_wait_for_the_cluster(plan: Plan) -> None:
    for addon in addons_by_name(plan).values():
        assert control_plane(plan).urn in addon.dependencies


@pytest.mark.parametrize("name", ["coredns", "metrics-server", "aws-ebs-csi-driver"])
def test_deployment_add_ons_wait_for_nodes_to_run_on(plan: Plan, name: str) -> None:
    addon = addons_by_name(plan)[name]
    for group in node_groups(plan):
        assert group.urn in addon.dependencies


def test_ebs_csi_driver_starts_with_its_credentials(plan: Plan) -> None:
    association = association_for(plan, "kube-system", "ebs-csi-controller-sa")
    assert association.urn in addons_by_name(plan)["aws-ebs-csi-driver"].dependencies


def test_default_storage_class_encrypts_volumes_with_our_key(plan: Plan) -> None:
    (storage_class,) = plan.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    inputs = storage_class.inputs
    assert inputs["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert inputs["provisioner"] == "ebs.csi.aws.com"
    assert inputs["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": key_arn(plan, "volumes")}
    assert inputs["volumeBindingMode"] == "WaitForFirstConsumer"


def test_load_balancer_controller_release(plan: Plan) -> None:
    controller = release(plan, "aws-load-balancer-controller")
    inputs = controller.inputs
    assert inputs["chart"] == "aws-load-balancer-controller"
    assert inputs["version"] == cluster_settings(plan.stack).load_balancer_controller_chart_version == "1.14.0"
    assert inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert inputs["namespace"] == "aws-load-balancer-controller"
    assert inputs["values"] == {
        "clusterName": control_plane(plan).inputs["name"],
        "region": "eu-west-1",
        "vpcId": plan.one("aws:ec2/vpc:Vpc").id,
        "serviceAccount": {"create": True, "name": "aws-load-balancer-controller"},
        "ingressClass": "alb",
        "createIngressClassResource": True,
        "enableServiceMutatorWebhook": False,
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "priorityClassName": "system-cluster-critical",
        "podSecurityContext": {**RESTRICTED_POD, "fsGroup": 65534},
        "securityContext": RESTRICTED_CONTAINER,
        **SYSTEM_PLACEMENT,
    }


def test_cluster_autoscaler_release_discovers_this_clusters_node_groups(plan: Plan) -> None:
    settings = cluster_settings(plan.stack)
    inputs = release(plan, "cluster-autoscaler").inputs
    assert inputs["chart"] == "cluster-autoscaler"
    assert inputs["version"] == settings.cluster_autoscaler_chart_version
    assert inputs["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    assert inputs["namespace"] == "cluster-autoscaler"
    assert inputs["values"] == {
        "cloudProvider": "aws",
        "awsRegion": "eu-west-1",
        "autoDiscovery": {"clusterName": control_plane(plan).inputs["name"]},
        "image": {"tag": settings.cluster_autoscaler_version},
        "rbac": {"serviceAccount": {"create": True, "name": "cluster-autoscaler"}},
        "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste"},
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "priorityClassName": "system-cluster-critical",
        "securityContext": RESTRICTED_POD,
        "containerSecurityContext": RESTRICTED_CONTAINER,
        **SYSTEM_PLACEMENT,
    }


@pytest.mark.parametrize("chart", ["aws-load-balancer-controller", "cluster-autoscaler", "argo-rollouts"])
def test_controllers_install_once_their_identity_nodes_and_dns_exist(plan: Plan, chart: str) -> None:
    dependencies = release(plan, chart).dependencies
    assert association_for(plan, chart, chart).urn in dependencies
    assert addons_by_name(plan)["coredns"].urn in dependencies
    for group in node_groups(plan):
        assert group.urn in dependencies


@pytest.mark.parametrize("chart", ["aws-load-balancer-controller", "cluster-autoscaler", "argo-rollouts"])
def test_controllers_may_only_reach_dns_their_credentials_and_https(plan: Plan, chart: str) -> None:
    (policy,) = [p for p in plan.of_type(NETWORK_POLICY) if p.inputs["metadata"]["name"] == chart]
    spec = policy.inputs["spec"]
    assert policy.inputs["metadata"]["namespace"] == chart
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/instance": chart}}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    egress = [(rule.get("to"), rule["ports"]) for rule in spec["egress"]]
    assert egress == [
        (
            [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        ),
        ([{"ipBlock": {"cidr": "169.254.170.23/32"}}], [{"protocol": "TCP", "port": 80}]),
        (None, [{"protocol": "TCP", "port": 443}]),
    ]
    webhooks = [
        {"from": [{"ipBlock": {"cidr": plan.outputs["vpcCidr"]}}], "ports": [{"protocol": "TCP", "port": 9443}]}
    ]
    assert spec["ingress"] == (webhooks if chart == "aws-load-balancer-controller" else [])


def test_argo_rollouts_release(plan: Plan) -> None:
    """The pinned chart (appVersion v1.9.0, whose CRDs are vendored), kept CRDs, target group verification in the
    stack's region, placement and hardening like the other controllers, and RBAC for no traffic router but the
    load balancer controller's."""
    controller = release(plan, "argo-rollouts")
    inputs = controller.inputs
    assert (inputs["chart"], inputs["version"], inputs["namespace"]) == ("argo-rollouts", "2.41.0", "argo-rollouts")
    assert inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    values = inputs["values"]
    assert (values["installCRDs"], values["keepCRDs"]) == (True, True)
    assert values["serviceAccount"] == {"create": True, "name": "argo-rollouts"}
    region = plan.outputs["alarmRegions"][0]
    settings = values["controller"]
    assert settings["awsVerifyTargetGroup"] is True
    assert settings["extraArgs"] == [f"--aws-region={region}"]
    assert settings["extraEnv"] == [{"name": "AWS_REGION", "value": region}]
    assert settings["priorityClassName"] == "system-cluster-critical"
    assert settings["nodeSelector"] == {"node-pool": "system"}
    assert settings["resources"]["requests"] and settings["resources"]["limits"]["memory"]
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    container = values["containerSecurityContext"]
    assert (container["allowPrivilegeEscalation"], container["readOnlyRootFilesystem"]) == (False, True)
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert values["dashboard"] == {"enabled": False}
    routers = values["providerRBAC"]["providers"]
    assert [name for name, granted in routers.items() if granted] == ["awsLoadBalancerController"]
    # Beside the load balancer controller (the shop's Rollout waits for both): off the deploy's critical path.
    assert release(plan, "aws-load-balancer-controller").urn not in controller.dependencies
