"""NetworkPolicy pieces every workload in the cluster shares, whatever its namespace: name resolution through
CoreDNS and AWS credentials from the EKS Pod Identity agent."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

networking = k8s.networking.v1
meta = k8s.meta.v1

#: Where the EKS Pod Identity agent answers on every node: a link-local address, HTTP on port 80.
POD_IDENTITY_AGENT = "169.254.170.23/32"


def ports(protocol: str, *numbers: pulumi.Input[int]) -> list[networking.NetworkPolicyPortArgs]:
    return [networking.NetworkPolicyPortArgs(protocol=protocol, port=number) for number in numbers]


def ip_blocks(cidrs: Sequence[str]) -> list[networking.NetworkPolicyPeerArgs]:
    return [networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr=cidr)) for cidr in cidrs]


#: CoreDNS, UDP and TCP (answers too long for UDP).
DNS_EGRESS = networking.NetworkPolicyEgressRuleArgs(
    to=[
        networking.NetworkPolicyPeerArgs(
            namespace_selector=meta.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": "kube-system"}),
            pod_selector=meta.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
        )
    ],
    ports=[*ports("UDP", 53), *ports("TCP", 53)],
)
#: The node-local Pod Identity agent, which hands pods the credentials of their service account's IAM role.
POD_IDENTITY_EGRESS = networking.NetworkPolicyEgressRuleArgs(to=ip_blocks([POD_IDENTITY_AGENT]), ports=ports("TCP", 80))
