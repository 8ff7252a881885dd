"""Fakes for EKS: pulumi-eks's cluster component and the node launch template.

``eks:index:Cluster`` is built by the pulumi-eks plugin at deploy time, so offline its outputs are only what is
returned here, shaped as pulumi-eks 4.x returns them for a cluster without default node group or security groups.
Outputs that hold resource references (``eksCluster``, ``core.cluster``, ``core.provider``, a managed node group's
``nodeGroup``, ...) are left out: the SDK would have to read those resources back from the engine.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from stacks.offline.fakes import FakeResource, outputs


def _kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """pulumi-eks's generateKubeconfig: an exec plugin that asks `aws eks get-token` for a token, no credentials."""
    return {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"server": endpoint, "certificate-authority-data": ca_data}, "name": "kubernetes"}],
        "contexts": [{"context": {"cluster": "kubernetes", "user": "aws"}, "name": "aws"}],
        "current-context": "aws",
        "kind": "Config",
        "users": [
            {
                "name": "aws",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["--region", region, "eks", "get-token", "--cluster-name", name, "--output", "json"],
                        "env": [
                            {
                                "name": "KUBERNETES_EXEC_INFO",
                                "value": '{"apiVersion": "client.authentication.k8s.io/v1beta1"}',
                            }
                        ],
                    }
                },
            }
        ],
    }


@outputs("eks:index:Cluster")
def _eks_cluster(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=100)
    region = resource.cloud.region
    oidc_id = resource.hex_id(32).upper()
    endpoint = f"https://{resource.digest[32:64].upper()}.gr7.{region}.eks.amazonaws.com"
    ca_data = base64.b64encode(f"offline certificate authority of {name}".encode()).decode()
    issuer_url = f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"
    # With skipDefaultSecurityGroups, the node group id is the security group EKS creates for the cluster, and so is
    # the cluster group id unless the program gave pulumi-eks a group for the control plane (then it is that one's).
    eks_security_group_id = f"sg-0{resource.hex_id(16)}"
    given = resource.inputs.get("clusterSecurityGroup")  # its URN
    cluster_security_group_id = eks_security_group_id
    if given:
        group = FakeResource("aws:ec2/securityGroup:SecurityGroup", "", given, {}, resource.cloud, resource.region)
        cluster_security_group_id = f"sg-0{group.hex_id(16)}"
    kubeconfig = _kubeconfig(name, endpoint, ca_data, region)
    oidc = bool(resource.inputs.get("createOidcProvider"))
    return {
        "kubeconfig": resource.secret(kubeconfig),
        "kubeconfigJson": resource.secret(json.dumps(kubeconfig)),
        "clusterSecurityGroupId": cluster_security_group_id,
        "nodeSecurityGroupId": eks_security_group_id,
        "clusterIngressRuleId": "",
        "defaultNodeGroupAsgName": "",
        "fargateProfileId": "",
        "fargateProfileStatus": "",
        "instanceRoles": [],
        "oidcProviderArn": (
            resource.arn("iam", f"oidc-provider/{issuer_url.removeprefix('https://')}", regional=False) if oidc else ""
        ),
        "oidcProviderUrl": issuer_url,
        "oidcIssuer": issuer_url.removeprefix("https://"),
        "autoModeNodeRoleName": "",
        "core": {
            "endpoint": endpoint,
            "vpcId": resource.inputs.get("vpcId"),
            "subnetIds": resource.inputs.get("privateSubnetIds", []),
            "privateSubnetIds": resource.inputs.get("privateSubnetIds", []),
            "tags": resource.inputs.get("tags", {}),
            "nodeGroupOptions": {},
            "fargateProfile": None,
            "autoModeNodeRoleName": "",
        },
    }


@outputs("aws:ec2/launchTemplate:LaunchTemplate")
def _launch_template(resource: FakeResource) -> dict:
    return {"latestVersion": 1, "defaultVersion": 1}
