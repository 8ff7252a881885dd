"""Stack-wide rules: protection of stateful resources, secrets kept out of outputs and ConfigMaps, the size
allowlist (cost guard) and the required tags."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pulumi_policy import Severity

from .base import COST, RESILIENCE, UNKNOWN, Resource, ResourceReport, Rules, Stack, StackReport, dig, items
from .semantics import MIN_SECRET_LENGTH, secret_in_setting, secret_like_name
from .workloads import HELM_RELEASES, POD_SPECS, configuration, settings_in

rules = Rules()

STACK = "pulumi:pulumi:Stack"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
STATEFUL = (
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kms/key:Key",
    "aws:dynamodb/table:Table",
    # Not pulumi-eks's eks:index:Cluster component: `protect` on it would reach every resource pulumi-eks creates;
    # the program protects the aws:eks/cluster:Cluster inside it with a transform (tests/test_lifecycle_protect.py).
    "aws:eks/cluster:Cluster",
)
#: Properties that hold a secret value, per resource type (the engine shows policies their plain values).
SECRET_PROPERTIES = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretString", "secretBinary"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("authToken",),
    "aws:rds/instance:Instance": ("password",),
    "aws:rds/cluster:Cluster": ("masterPassword",),
    "aws:iam/accessKey:AccessKey": ("secret", "sesSmtpPasswordV4"),
    "tls:index/privateKey:PrivateKey": ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"),
    "kubernetes:core/v1:Secret": ("data", "stringData"),
}

TAGGABLE_TYPES = frozenset(
    line.strip()
    for line in (Path(__file__).with_name("taggable_types.txt")).read_text().splitlines()
    if line.strip() and not line.startswith("#")
)
REMOTE_COMPONENT_PACKAGES = ("eks:",)


# ---------------------------------------------------------------------------------------------- protection


@rules.resource(Severity.HIGH, STATEFUL, category=RESILIENCE)
def stateful_resources_protected(resource: Resource, report: ResourceReport) -> None:
    """Stateful resources (databases, caches, tables, buckets, KMS keys, the cluster) are protected from deletion.

    Fix: create the resource with opts=pulumi.ResourceOptions(protect=True) (the policy engine is not shown
    retain_on_delete, so protect is what counts).
    """
    if not resource.protect:
        report("The resource is not protected: `pulumi destroy` or a replacement would delete its data.")


# ---------------------------------------------------------------------------------------------- secrets


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def secret_values(stack: Stack) -> set[str]:
    """Every secret value the stack's resources hold (passwords, tokens, keys, Kubernetes Secret data)."""
    found: set[str] = set()
    for resource in stack.resources:
        for prop in SECRET_PROPERTIES.get(resource.type, ()):
            found.update(text for text in _texts(resource.get(prop)) if len(text) >= MIN_SECRET_LENGTH)
    return found


def _leaks(value: Any, secrets: set[str]) -> bool:
    return any(secret in text for text in _texts(value) for secret in secrets)


@rules.stack(Severity.CRITICAL)
def no_secrets_in_outputs(stack: Stack, report: StackReport) -> None:
    """Stack outputs carry no secret value (outputs are read by pipelines, operators and other stacks).

    Fix: export where the secret is (its Secrets Manager ARN or name), never the value.
    """
    secrets = secret_values(stack)
    for root in stack.of_type(STACK):
        for name, value in root.props.items():
            if _leaks(value, secrets):
                report(f"Output {name!r} contains a secret value.", root)
            elif secret_like_name(name) and isinstance(value, str) and not value.startswith("arn:"):
                report(f"Output {name!r} looks like a secret.", root)


@rules.stack(Severity.CRITICAL)
def k8s_no_secrets_in_configmaps(stack: Stack, report: StackReport) -> None:
    """ConfigMaps, pod specs and Helm values carry no secret value of the stack, whatever the key is called
    (k8s-no-plaintext-secrets judges names and shapes before the object exists; this one knows the values).

    Fix: put the value in a Kubernetes Secret (synced from Secrets Manager) or pass the secret's ARN and let the app
    read it with its IAM role.
    """
    secrets = secret_values(stack)
    for config_map in stack.of_type(CONFIG_MAP):
        for section in ("data", "binaryData"):
            entries = config_map.get(section)
            for key, value in entries.items() if isinstance(entries, dict) else ():
                if _leaks(value, secrets):
                    report(f"Key {key!r} holds a secret value.", config_map)
                elif secret_in_setting(key, value):
                    report(f"Key {key!r} looks like a secret.", config_map)
    for workload in stack.of_type(*POD_SPECS, *HELM_RELEASES):
        for name, value in settings_in(configuration(workload)):
            if _leaks(value, secrets):
                report(f"{name} holds a secret value.", workload)


# ---------------------------------------------------------------------------------------------- cost

_SIZES = {
    "allowedInstanceClasses": ["db.t4g.*", "db.m7g.large", "db.m7g.xlarge", "db.r7g.large", "db.r7g.xlarge"],
    "allowedNodeTypes": ["cache.t4g.*", "cache.m7g.large", "cache.r7g.large"],
    "allowedInstanceTypes": ["t3.*", "t4g.*", "m7g.large", "m7g.xlarge", "m7i.large", "m7i.xlarge"],
}


def _sizes(resource: Resource) -> tuple[str, list[Any]] | None:
    """(the allowlist that applies, the sizes the resource asks for), for the resource types that have sizes."""
    match resource.type:
        case "aws:rds/instance:Instance" | "aws:rds/clusterInstance:ClusterInstance":
            return "allowedInstanceClasses", [resource.get("instanceClass")]
        case "aws:rds/cluster:Cluster":
            return "allowedInstanceClasses", [resource.get("dbClusterInstanceClass")]
        case "aws:elasticache/replicationGroup:ReplicationGroup" | "aws:elasticache/cluster:Cluster":
            return "allowedNodeTypes", [resource.get("nodeType")]
        case "eks:index:ManagedNodeGroup" | "aws:eks/nodeGroup:NodeGroup":
            return "allowedInstanceTypes", items(resource.get("instanceTypes"))
        case "aws:ec2/launchTemplate:LaunchTemplate" | "aws:ec2/instance:Instance":
            return "allowedInstanceTypes", [resource.get("instanceType")]
        case "eks:index:Cluster" if resource.get("skipDefaultNodeGroup") in (None, False):
            return "allowedInstanceTypes", [resource.get("instanceType") or "t3.medium"]  # pulumi-eks's default
    return None


@rules.resource(
    Severity.MEDIUM,
    (
        "aws:rds/instance:Instance",
        "aws:rds/clusterInstance:ClusterInstance",
        "aws:rds/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/cluster:Cluster",
        "eks:index:ManagedNodeGroup",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
        "eks:index:Cluster",
    ),
    category=COST,
    config={
        key: {"type": "array", "items": {"type": "string"}, "default": patterns} for key, patterns in _SIZES.items()
    },
)
def instance_size_allowlist(resource: Resource, report: ResourceReport) -> None:
    """Database, cache and node sizes are within the stack's allowlist (a cost guard).

    Fix: pick a size from the stack's allowlist (policies/config/<stack>.json) or extend it in review.
    """
    sizes = _sizes(resource)
    if sizes is None:
        return
    allowlist, requested = sizes
    patterns = resource.config[allowlist]
    for size in requested:
        if isinstance(size, str) and not any(fnmatchcase(size, pattern) for pattern in patterns):
            report(f"{size} is not in {allowlist} ({', '.join(patterns)}).")


# ---------------------------------------------------------------------------------------------- tags


def _tags(value: Any) -> dict[str, Any] | None:
    """Tags as a mapping (Auto Scaling groups list them as key/value objects); None if unknown."""
    if value is UNKNOWN:
        return None
    if isinstance(value, list):
        return {dig(tag, "key"): dig(tag, "value") for tag in items(value)}
    return value if isinstance(value, dict) else {}


@rules.resource(
    Severity.LOW,
    TAGGABLE_TYPES,
    config={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["project", "stack", "component", "managed-by"],
        }
    },
)
def required_tags(resource: Resource, report: ResourceReport) -> None:
    """Every taggable resource carries the required tags, set explicitly (provider default tags are invisible to
    policies and reviews).

    Fix: set tags=naming.tags(<component>, Name=...) on the resource.
    """
    # Children of a remote component are tagged by the plugin from the component's own `tags`, checked there.
    if any(parent.startswith(REMOTE_COMPONENT_PACKAGES) for parent in resource.ancestor_types):
        return
    tags = _tags(resource.get("tags"))
    if tags is None:
        return
    missing = [key for key in resource.config["requiredTags"] if tags.get(key) in (None, "")]
    if missing:
        report(f"Missing tags: {', '.join(missing)}.")
