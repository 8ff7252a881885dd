"""EKS rules, for both shapes of a cluster.

pulumi-eks's ``eks:index:Cluster`` and ``eks:index:ManagedNodeGroup`` are remote components: offline only their
inputs exist (``endpointPublicAccess``, ``encryptionConfigKeyArn``, ...). Under the real engine the pack also
sees the children the plugin creates (``aws:eks/cluster:Cluster`` with ``vpcConfig``/``encryptionConfig``/
``accessConfig``, ``aws:eks/nodeGroup:NodeGroup``, launch templates), and checks those too.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from .base import UNKNOWN, Resource, ResourceReport, Rules, dig, enabled, given, items, off, partly_unknown, strings
from .semantics import PUBLIC_RANGE_CONFIG, internet_ranges

rules = Rules()

EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
CLUSTERS = (EKS_COMPONENT, EKS_CLUSTER)
MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def _cluster_setting(cluster: Resource, component_path: tuple[str, ...], aws_path: tuple[str, ...]) -> Any:
    return cluster.get(*component_path) if cluster.type == EKS_COMPONENT else cluster.get(*aws_path)


def _endpoint(cluster: Resource) -> tuple[Any, Any, Any]:
    """(private access, public access, public CIDRs) with EKS's defaults: private off, public on."""
    private = _cluster_setting(cluster, ("endpointPrivateAccess",), ("vpcConfig", "endpointPrivateAccess"))
    public = _cluster_setting(cluster, ("endpointPublicAccess",), ("vpcConfig", "endpointPublicAccess"))
    cidrs = _cluster_setting(cluster, ("publicAccessCidrs",), ("vpcConfig", "publicAccessCidrs"))
    return (False if private is None else private), (True if public is None else public), cidrs


@rules.resource(Severity.HIGH, CLUSTERS)
def eks_endpoint_private_access(resource: Resource, report: ResourceReport) -> None:
    """The EKS API endpoint is reachable from inside the VPC (nodes never go through the internet).

    Fix: set endpoint_private_access=True.
    """
    private, _, _ = _endpoint(resource)
    if off(private):
        report("endpointPrivateAccess is not true.")


@rules.resource(Severity.CRITICAL, CLUSTERS, config=PUBLIC_RANGE_CONFIG)
def eks_endpoint_no_public_cidr(resource: Resource, report: ResourceReport) -> None:
    """The EKS API endpoint is private, or public only to listed networks (never the internet: public ranges wider than
    the configured prefix, 0.0.0.0/0 or 0.0.0.0/1 + 128.0.0.0/1 alike).

    Fix: set endpoint_public_access=False, or list the operator networks in public_access_cidrs.
    """
    _, public, cidrs = _endpoint(resource)
    if public is UNKNOWN or not enabled(public):
        return
    internet = internet_ranges(strings(cidrs), resource.config)
    if internet:
        report(f"publicAccessCidrs ({', '.join(internet)}) opens the API endpoint to the internet.")
    elif not items(cidrs) and not partly_unknown(cidrs):
        report("The public endpoint is on without publicAccessCidrs, so EKS opens it to 0.0.0.0/0.")


@rules.resource(Severity.HIGH, CLUSTERS)
def eks_secrets_encryption(resource: Resource, report: ResourceReport) -> None:
    """Kubernetes Secrets are envelope-encrypted with a customer-managed KMS key.

    Fix: set encryption_config_key_arn=<the secrets KMS key ARN> on the cluster.
    """
    if resource.type == EKS_COMPONENT:
        if not given(resource.get("encryptionConfigKeyArn")):
            report("encryptionConfigKeyArn is not set.")
        return
    config = resource.get("encryptionConfig")
    if config is UNKNOWN:
        return
    if not given(dig(config, "provider", "keyArn")):
        report("encryptionConfig has no provider keyArn.")
    elif "secrets" not in strings(dig(config, "resources")) and not partly_unknown(dig(config, "resources")):
        report("encryptionConfig does not cover the 'secrets' resource.")


@rules.resource(Severity.MEDIUM, CLUSTERS, fix=f"set enabled_cluster_log_types={list(CONTROL_PLANE_LOG_TYPES)}.")
def eks_control_plane_logging(resource: Resource, report: ResourceReport) -> None:
    """The EKS control plane sends all five log types (api, audit, authenticator, ...) to CloudWatch."""
    enabled_types = resource.get("enabledClusterLogTypes")
    if partly_unknown(enabled_types):
        return
    missing = [log_type for log_type in CONTROL_PLANE_LOG_TYPES if log_type not in strings(enabled_types)]
    if missing:
        report(f"Control plane log types not enabled: {', '.join(missing)}.")


@rules.resource(Severity.HIGH, CLUSTERS)
def eks_api_authentication_mode(resource: Resource, report: ResourceReport) -> None:
    """EKS authenticates through access entries only (authentication mode API, no aws-auth ConfigMap).

    Fix: set authentication_mode=eks.AuthenticationMode.API and grant access with access entries.
    """
    mode = _cluster_setting(resource, ("authenticationMode",), ("accessConfig", "authenticationMode"))
    if mode is not UNKNOWN and mode != "API":
        report(f"The authentication mode is {mode or 'CONFIG_MAP (the default)'}.")


@rules.resource(Severity.HIGH, (EKS_COMPONENT,))
def eks_no_default_node_group(resource: Resource, report: ResourceReport) -> None:
    """pulumi-eks creates no default node group (its launch template is not ours: IMDS hop limit 2, self-managed nodes);
    nodes come from managed node groups with our launch template.

    Fix: set skip_default_node_group=True and add eks.ManagedNodeGroup(s) with launch_template=...
    """
    skipped = resource.get("skipDefaultNodeGroup")
    if skipped is UNKNOWN or enabled(resource.get("autoMode", "enabled")):
        return
    if not enabled(skipped):
        report("skipDefaultNodeGroup is not true.")


@rules.resource(Severity.HIGH, (MANAGED_NODE_GROUP, NODE_GROUP))
def eks_node_group_launch_template(resource: Resource, report: ResourceReport) -> None:
    """Managed node groups launch from our launch template (IMDSv2, encrypted volumes).

    Fix: pass launch_template=NodeGroupLaunchTemplateArgs(id=<template id>, version=<its latest version>).
    """
    template = resource.get("launchTemplate")
    if template is UNKNOWN:
        return
    if not (given(dig(template, "id")) or given(dig(template, "name"))):
        report("No launchTemplate: EKS's default template allows IMDSv1 and two hops.")


@rules.resource(Severity.HIGH, (LAUNCH_TEMPLATE,))
def ec2_launch_template_imdsv2(resource: Resource, report: ResourceReport) -> None:
    """Launch templates require IMDSv2 with a hop limit of 1 (pods cannot reach the node's credentials).

    Fix: set metadata_options http_tokens='required' and http_put_response_hop_limit=1.
    """
    options = resource.get("metadataOptions")
    if options is UNKNOWN or dig(options, "httpEndpoint") == "disabled":
        return
    tokens, hops = dig(options, "httpTokens"), dig(options, "httpPutResponseHopLimit")
    if tokens is not UNKNOWN and tokens != "required":
        report(f"httpTokens is {tokens or 'unset (IMDSv1 allowed)'}.")
    if hops is not UNKNOWN and hops != 1:
        report(f"httpPutResponseHopLimit is {hops or 'unset'}, not 1.")


@rules.resource(Severity.HIGH, (LAUNCH_TEMPLATE,))
def ec2_launch_template_encrypted_volumes(resource: Resource, report: ResourceReport) -> None:
    """Launch templates encrypt every EBS volume they define, the root volume included.

    Fix: add block_device_mappings for the root device with ebs encrypted='true' (and kms_key_id).
    """
    mappings = resource.get("blockDeviceMappings")
    if partly_unknown(mappings):
        return
    volumes = [mapping for mapping in items(mappings) if isinstance(dig(mapping, "ebs"), dict)]
    if any(dig(mapping, "ebs") is UNKNOWN for mapping in items(mappings)):
        return
    if not volumes:
        report("No EBS block device mapping: the root volume's encryption is left to the AMI and account default.")
    for volume in volumes:
        encrypted = dig(volume, "ebs", "encrypted")
        if off(encrypted):
            report(f"The volume {dig(volume, 'deviceName')} is not encrypted.")
