"""Stack-wide rules: protection, secrets in outputs and ConfigMaps, the size allowlist and the required tags."""

from __future__ import annotations

import pytest

from policies.rules import stack, workloads
from stacks.offline.plan import PlannedResource
from tests.policy_support import assert_compliant_even_when_unknown, check, flagged, messages, resource

TAGS = {"project": "shop", "stack": "prod", "component": "data", "managed-by": "pulumi", "Name": "x"}


@pytest.mark.parametrize("type_", stack.STATEFUL)
def test_unprotected_stateful_resources_are_flagged(type_: str) -> None:
    assert flagged(stack.stateful_resources_protected, resource(type_, "store")) == ["store"]
    assert messages(stack.stateful_resources_protected, resource(type_, "store", protect=True)) == []


def test_stateless_resources_need_no_protection() -> None:
    assert messages(stack.stateful_resources_protected, resource("aws:ec2/subnet:Subnet", "subnet")) == []


def password() -> PlannedResource:
    return resource(
        "random:index/randomPassword:RandomPassword", "auth", {"length": 32}, outputs={"result": "s3cr3t-Value-42x"}
    )


def test_outputs_holding_a_secret_value_or_named_like_one_are_flagged() -> None:
    leaked = check(
        stack.no_secrets_in_outputs,
        password(),
        stack_outputs={"redis": {"url": "rediss://:s3cr3t-Value-42x@cache:6379"}, "adminToken": "abc123"},
    )
    assert [v.message.split(" Fix:")[0] for v in leaked] == [
        "Output 'redis' contains a secret value.",
        "Output 'adminToken' looks like a secret.",
    ]
    assert {v.urn for v in leaked} == {"urn:pulumi:test::proj::pulumi:pulumi:Stack::proj-test"}


def test_offline_masked_secret_outputs_are_flagged_too() -> None:
    """Offline, a secret-wrapped output and every secret value print as the same mask."""
    masked = resource("aws:secretsmanager/secretVersion:SecretVersion", "version", {"secretString": "[secret]"})
    assert flagged(stack.no_secrets_in_outputs, masked, stack_outputs={"db": "[secret]"}) == ["proj-test"]


def test_identifiers_of_secrets_are_fine_outputs() -> None:
    outputs = {
        "databaseSecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:db",
        "kmsKeyArns": {"secrets": "arn:aws:kms:eu-west-1:1:key/1"},
        "cacheAuthTokenSecret": "arn:aws:secretsmanager:eu-west-1:1:secret:cache",
        "vpcId": "vpc-0abc",
    }
    assert messages(stack.no_secrets_in_outputs, password(), stack_outputs=outputs) == []


def config_map(data: dict[str, str]) -> PlannedResource:
    return resource(stack.CONFIG_MAP, "settings", {"metadata": {"namespace": "shop"}, "data": data})


def test_config_maps_holding_secrets_are_flagged() -> None:
    assert flagged(
        stack.k8s_no_secrets_in_configmaps, password(), config_map({"REDIS_URL": "rediss://:s3cr3t-Value-42x@c"})
    ) == ["settings"]
    assert (
        "looks like a secret"
        in messages(stack.k8s_no_secrets_in_configmaps, config_map({"DB_PASSWORD": "hunter2hunter2"}))[0]
    )


def test_config_maps_with_plain_settings_pass() -> None:
    settings = config_map({"DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:db", "LOG_LEVEL": "info"})
    assert_compliant_even_when_unknown(stack.k8s_no_secrets_in_configmaps, password(), settings)


SIZED = [
    ("aws:rds/instance:Instance", {"instanceClass": "db.m7g.large"}, {"instanceClass": "db.x2g.16xlarge"}),
    (
        "aws:rds/cluster:Cluster",
        {"dbClusterInstanceClass": "db.r7g.large"},
        {"dbClusterInstanceClass": "db.r7g.16xlarge"},
    ),
    (
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"nodeType": "cache.t4g.small"},
        {"nodeType": "cache.r7g.16xlarge"},
    ),
    (
        "eks:index:ManagedNodeGroup",
        {"instanceTypes": ["m7i.large", "t3.large"]},
        {"instanceTypes": ["m7i.large", "p5.48xlarge"]},
    ),
    ("aws:ec2/launchTemplate:LaunchTemplate", {"instanceType": "m7g.xlarge"}, {"instanceType": "x2iedn.32xlarge"}),
    (
        "eks:index:Cluster",
        {"skipDefaultNodeGroup": True, "instanceType": "p5.48xlarge"},
        {"instanceType": "c7i.48xlarge"},
    ),
]


@pytest.mark.parametrize(("type_", "allowed", "oversized"), SIZED, ids=[case[0] for case in SIZED])
def test_sizes_outside_the_allowlist_are_flagged(type_: str, allowed: dict, oversized: dict) -> None:
    assert flagged(stack.instance_size_allowlist, resource(type_, "sized", oversized)) == ["sized"]
    assert_compliant_even_when_unknown(stack.instance_size_allowlist, resource(type_, "sized", allowed))


def test_the_allowlist_comes_from_the_stack_config() -> None:
    database = resource("aws:rds/instance:Instance", "db", {"instanceClass": "db.t4g.micro"})
    prod_like = {"allowedInstanceClasses": ["db.m7g.large"]}
    assert flagged(stack.instance_size_allowlist, database, config=prod_like) == ["db"]


def test_pulumi_eks_default_node_group_counts_as_t3_medium() -> None:
    default_group = resource("eks:index:Cluster", "eks", {})
    assert flagged(stack.instance_size_allowlist, default_group, config={"allowedInstanceTypes": ["m7i.large"]}) == [
        "eks"
    ]


def test_taggable_resources_without_the_required_tags_are_flagged() -> None:
    untagged = resource("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    partly = resource("aws:s3/bucket:Bucket", "bucket", {"tags": {"project": "shop", "stack": ""}})
    group = resource("aws:autoscaling/group:Group", "asg", {"tags": [{"key": "project", "value": "shop"}]})
    assert flagged(stack.required_tags, untagged, partly, group) == ["vpc", "bucket", "asg"]
    assert "Missing tags: stack, component, managed-by." in messages(stack.required_tags, partly)[0]


def test_tagged_resources_and_untaggable_ones_pass() -> None:
    tagged = resource("aws:ec2/vpc:Vpc", "vpc", {"tags": TAGS})
    route = resource("aws:ec2/route:Route", "route", {"destinationCidrBlock": "0.0.0.0/0"})
    remote_child = resource(
        "aws:iam/role:Role", "eks-role", {}, parent_types=["shop:cluster:Cluster", "eks:index:Cluster"]
    )
    assert_compliant_even_when_unknown(stack.required_tags, tagged, route, remote_child)


def test_required_tag_keys_come_from_the_config() -> None:
    tagged = resource("aws:ec2/vpc:Vpc", "vpc", {"tags": TAGS})
    assert flagged(stack.required_tags, tagged, config={"requiredTags": ["cost-center"]}) == ["vpc"]


def test_a_known_secret_value_in_a_pod_env_or_helm_values_is_flagged_whatever_its_name() -> None:
    env = [{"name": "REDIS_URL", "value": "rediss://:s3cr3t-Value-42x@cache:6379"}]
    pod = {
        "metadata": {"namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "env": env}]}}},
    }
    deployment = resource(workloads.DEPLOYMENT, "web", pod)
    release = resource(workloads.HELM_RELEASES[0], "chart", {"values": {"redis": {"endpoint": "s3cr3t-Value-42x"}}})
    found = check(stack.k8s_no_secrets_in_configmaps, password(), deployment, release)
    assert [(v.urn.rsplit("::", 1)[-1], v.message.split(".")[0]) for v in found] == [
        ("web", "REDIS_URL holds a secret value"),
        ("chart", "endpoint holds a secret value"),
    ]
