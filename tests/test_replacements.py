"""The replacement table: which input changes replace a resource, for every type the stacks use."""

from __future__ import annotations

import importlib
import inspect
import keyword
import sys
import typing
from typing import Any

import pulumi
import pytest

from stacks.offline import replacements
from stacks.offline.plan import Plan
from stacks.offline.replacements import (
    ANY_INDEX,
    ANY_KEY,
    child_replace_keys,
    conditional_replace_keys,
    path_segments,
    replace_keys,
    stateful_data,
)

#: The project's own component types: never replaced themselves, so they have no entry.
PROJECT_COMPONENTS = "shop:"
#: Types that hold data a replacement or a delete destroys: each needs ``holds`` once a stack uses it. Listed here,
#: not derived from the table, so that a new stateful type the program starts using fails until its entry says
#: what it holds. Some are not used yet (DynamoDB, EBS, EFS, PVCs, StatefulSets ...).
STATEFUL_TYPES = frozenset(
    {
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:dynamodb/table:Table",
        "aws:ebs/volume:Volume",
        "aws:ecr/repository:Repository",
        "aws:efs/fileSystem:FileSystem",
        "aws:elasticache/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:kms/key:Key",
        "aws:opensearch/domain:Domain",
        "aws:rds/cluster:Cluster",
        "aws:rds/instance:Instance",
        "aws:route53/zone:Zone",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:secretsmanager/secret:Secret",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:sqs/queue:Queue",
        "aws:ssm/parameter:Parameter",
        "eks:index:Cluster",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:PersistentVolume",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:core/v1:Secret",
        "random:index/randomPassword:RandomPassword",
    }
)
_SDK_PACKAGES = {
    "aws": "pulumi_aws",
    "kubernetes": "pulumi_kubernetes",
    "eks": "pulumi_eks",
    "random": "pulumi_random",
    "github": "pulumi_github",
}


def sdk_args_class(type_: str) -> type:
    """The SDK's ``<Resource>Args`` for a type token: ``aws:ec2/vpc:Vpc`` -> ``pulumi_aws.ec2.vpc.VpcArgs``."""
    package, module, name = type_.split(":")
    if package == "pulumi":  # pulumi:providers:aws
        return importlib.import_module(_SDK_PACKAGES[name]).ProviderArgs
    parts = module.split("/")
    if package == "kubernetes":  # apps/v1, networking.k8s.io/v1, helm.sh/v3
        namespace = [parts[0].split(".")[0], parts[1]]
    else:  # ec2/vpc, index, index/randomPassword
        namespace = [] if parts[0] == "index" else [parts[0]]
    # Python keywords get a trailing underscore: aws:lambda/function:Function is in pulumi_aws.lambda_.
    namespace = [f"{part}_" if keyword.iskeyword(part) else part for part in namespace]
    resource_class = getattr(importlib.import_module(".".join([_SDK_PACKAGES[package], *namespace])), name)
    # From the resource's own module: where a nested input type has the same name (the bucket's `versioning` block
    # is pulumi_aws.s3.BucketVersioningArgs), the SDK names the resource's own ``<Resource>InitArgs``.
    module_of_resource = sys.modules[resource_class.__module__]
    return getattr(module_of_resource, f"{name}InitArgs", None) or getattr(module_of_resource, f"{name}Args")


def _element_type(annotation: Any) -> Any:
    """The input type inside ``Input[Optional[Sequence[Input[X]]]]`` and the like."""
    while True:
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        origin = typing.get_origin(annotation)
        if origin is None or not args:
            return annotation
        if origin in (list, tuple) or str(origin).endswith(("Sequence'>", "Mapping'>")):
            annotation = args[-1]
            continue
        # Union (Input[...] is a Union of T, Awaitable[T], Output[T]; Optional adds None): take the input type.
        input_types = [arg for arg in args if inspect.isclass(arg) and pulumi._types.is_input_type(arg)]
        annotation = input_types[0] if input_types else args[0]
        if typing.get_origin(annotation) is None:
            return annotation


def input_names(args_class: type) -> dict[str, Any]:
    """camelCase input name -> its type, as the SDK sends it to the engine."""
    types = pulumi._types.input_type_types(args_class)  # by camelCase name
    return {name: types.get(name) for name in pulumi._types.input_type_py_to_pulumi_names(args_class).values()}


def unknown_segment(args_class: type, path: str) -> str | None:
    """The first segment of an entry path that is not an input of the SDK's type; None when all are."""
    current: Any = args_class
    for segment in path_segments(path):
        if segment in (ANY_INDEX, ANY_KEY):
            continue
        if not (inspect.isclass(current) and pulumi._types.is_input_type(current)):
            return None  # below a map or a free-form value (Helm values, k8s unstructured): not checkable
        names = input_names(current)
        if segment not in names:
            return segment
        current = _element_type(names[segment])
    return None


#: Custom resources (``apiextensions.CustomResource``) have no typed inputs in the SDK: their entries replace on
#: the object's name and namespace only, as the provider does for any kind without a forceNew entry.
_CUSTOM_RESOURCE_GROUPS = ("kubernetes:argoproj.io/",)


@pytest.mark.parametrize("type_", sorted(replacements.known_types()))
def test_every_path_is_an_input_of_the_sdk_type(type_: str) -> None:
    if type_.startswith(_CUSTOM_RESOURCE_GROUPS):
        assert set(replacements.table()[type_].paths) == {"metadata.name", "metadata.namespace"}
        return
    args_class = sdk_args_class(type_)
    wrong = {path: unknown_segment(args_class, path) for path in replacements.table()[type_].paths}
    assert {path: segment for path, segment in wrong.items() if segment} == {}


def test_every_entry_names_its_source() -> None:
    for entry in replacements.table().values():
        assert entry.source.split()[0].count("/") == 1, entry.type  # owner/repository first


@pytest.mark.parametrize(
    ("type_", "changed", "expected"),
    [
        ("aws:rds/instance:Instance", ["instanceClass"], []),
        ("aws:rds/instance:Instance", ["identifier"], []),
        ("aws:rds/instance:Instance", ["dbSubnetGroupName"], []),
        ("aws:rds/instance:Instance", ["storageEncrypted", "instanceClass"], ["storageEncrypted"]),
        ("aws:ec2/vpc:Vpc", ["cidrBlock"], ["cidrBlock"]),
        ("aws:ec2/vpc:Vpc", ["tags.Name", "enableDnsHostnames"], []),
        ("aws:ec2/subnet:Subnet", ["cidrBlock"], ["cidrBlock"]),
        ("aws:ec2/subnet:Subnet", ["availabilityZone", "tags.Name"], ["availabilityZone"]),
        ("aws:route53/record:Record", ["name"], ["name"]),
        ("aws:route53/record:Record", ["records[0]", "ttl"], []),
    ],
    ids=lambda value: ",".join(value) if isinstance(value, list) else value,
)
def test_known_cases(type_: str, changed: list[str], expected: list[str]) -> None:
    assert replace_keys(type_, changed) == expected


def test_a_change_below_an_entry_replaces() -> None:
    assert replace_keys("aws:rds/instance:Instance", ["restoreToPointInTime.restoreTime"]) == ["restoreToPointInTime"]


def test_a_change_above_an_entry_replaces() -> None:
    # The whole block added or removed changes the attribute under it.
    triggered = replace_keys("aws:rds/instance:Instance", ["s3Import"])
    assert triggered[:2] == ["s3Import.bucketName", "s3Import.bucketPrefix"]


def test_a_sibling_with_a_common_prefix_does_not() -> None:
    assert replace_keys("aws:rds/instance:Instance", ["engineVersion", "kmsKeyIdentifier"]) == []


def test_list_indices_are_normalised() -> None:
    assert path_segments("ingress[0].cidrBlocks[12]") == ("ingress", ANY_INDEX, "cidrBlocks", ANY_INDEX)
    quoted = path_segments('metadata.labels["app.kubernetes.io/name"]')
    assert quoted == ("metadata", "labels", "app.kubernetes.io/name")


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["cidrIpv4"], []),
        (["cidrIpv4", "referencedSecurityGroupId"], ["cidrIpv4", "referencedSecurityGroupId"]),
        (["securityGroupId", "fromPort"], ["securityGroupId"]),
    ],
    ids=["same kind of source", "source changes kind", "another group"],
)
def test_a_rule_is_replaced_when_its_source_changes_kind(changed: list[str], expected: list[str]) -> None:
    assert replace_keys("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", changed) == expected


def test_a_conditional_replacement_names_its_condition() -> None:
    changed = ["engineVersion", "nodeType"]
    assert replace_keys("aws:elasticache/replicationGroup:ReplicationGroup", changed) == []
    conditions = conditional_replace_keys("aws:elasticache/replicationGroup:ReplicationGroup", changed)
    assert list(conditions) == ["engineVersion"]
    assert "downgrade" in conditions["engineVersion"]


def test_a_type_without_an_entry_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        replace_keys("aws:ec2/instance:Instance", ["ami"])


def test_what_a_database_holds() -> None:
    assert stateful_data("aws:rds/instance:Instance")
    assert stateful_data("aws:ec2/vpc:Vpc") is None
    assert stateful_data("shop:data:Database") is None  # a component holds nothing itself


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["name"], ["name"]),
        (["kubernetesServiceIpAddressRange"], ["kubernetesServiceIpAddressRange"]),
        (["version", "privateSubnetIds[2]", "endpointPublicAccess", "enabledClusterLogTypes[0]"], []),
        (["bootstrapSelfManagedAddons"], []),  # ForceNew upstream, but pulumi-eks ignores changes to it
        (["accessEntries.ci.principalArn"], []),  # replaces an access entry, not the cluster
    ],
    ids=lambda value: ",".join(value) if isinstance(value, list) else value,
)
def test_what_replaces_the_eks_cluster(changed: list[str], expected: list[str]) -> None:
    assert replace_keys("eks:index:Cluster", changed) == expected


def test_a_component_input_can_replace_a_lesser_resource_it_creates() -> None:
    changed = ["accessEntries.ci.principalArn", "accessEntries.admin.accessPolicies.admin.accessScope.type"]
    replaced = child_replace_keys("eks:index:Cluster", changed)
    assert list(replaced) == ["accessEntries.*.principalArn", "accessEntries.*.accessPolicies.*.accessScope"]
    assert "access entry" in replaced["accessEntries.*.principalArn"]


def test_a_map_element_added_or_removed_is_not_a_replacement() -> None:
    assert child_replace_keys("eks:index:Cluster", ["accessEntries.ci"]) == {}
    assert child_replace_keys("eks:index:Cluster", ["accessEntries.ci.kubernetesGroups[0]"]) == {}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["instanceTypes[0]"], ["instanceTypes"]),
        (["subnetIds[1]", "labels.node-pool"], ["subnetIds"]),
        (["operatingSystem"], ["operatingSystem"]),
        (["scalingConfig.desiredSize", "version", "launchTemplate.version", "taints[0].value"], []),
        (["launchTemplate.id"], ["launchTemplate.id"]),
    ],
    ids=lambda value: ",".join(value) if isinstance(value, list) else value,
)
def test_what_replaces_a_managed_node_group(changed: list[str], expected: list[str]) -> None:
    assert replace_keys("eks:index:ManagedNodeGroup", changed) == expected


def test_a_new_password_is_a_replacement() -> None:
    assert replace_keys("random:index/randomPassword:RandomPassword", ["length"]) == ["length"]
    assert replace_keys("random:index/randomId:RandomId", ["keepers.identifier"]) == ["keepers"]


def _needing_an_entry(plan: Plan) -> set[str]:
    return {type_ for type_ in plan.type_counts() if not type_.startswith(PROJECT_COMPONENTS)}


def test_every_type_the_stacks_use_has_an_entry(staging: Plan, prod: Plan, bootstrap: Plan) -> None:
    used = _needing_an_entry(staging) | _needing_an_entry(prod) | _needing_an_entry(bootstrap)
    assert sorted(used - replacements.known_types()) == []


def test_the_project_components_are_components(staging: Plan, prod: Plan) -> None:
    # What the coverage test skips must be a component (never replaced itself), not a resource named like one.
    for plan in (staging, prod):
        assert not [r.type for r in plan.resources if r.type.startswith(PROJECT_COMPONENTS) and r.custom]


def test_every_stateful_type_the_stacks_use_says_what_it_holds(staging: Plan, prod: Plan, bootstrap: Plan) -> None:
    used = set(staging.type_counts()) | set(prod.type_counts()) | set(bootstrap.type_counts())
    assert sorted(type_ for type_ in used & STATEFUL_TYPES if not stateful_data(type_)) == []
    # and nothing without data claims to hold some
    assert sorted(type_ for type_ in used - STATEFUL_TYPES if stateful_data(type_)) == []


def test_the_kubernetes_provider_keeps_configmaps_immutable(plan: Plan) -> None:
    # kubernetes.yaml lists ConfigMap data as a replacement: true only while the provider leaves
    # enableConfigMapMutable unset (pulumi-kubernetes 4.x default).
    for provider in plan.of_type("pulumi:providers:kubernetes"):
        assert not provider.inputs.get("enableConfigMapMutable"), provider.name
