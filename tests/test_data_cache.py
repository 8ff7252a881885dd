"""ElastiCache on the offline plan: isolation, encryption at rest and in transit, AUTH, HA, snapshots and logs."""

from __future__ import annotations

from stacks.offline.plan import SECRET, Plan, PlannedResource
from tests.data_layer import (
    ACCOUNT,
    EGRESS,
    INGRESS,
    data_subnet_ids,
    document,
    key_arn,
    rules_of,
    workload_security_group_id,
)

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"


def replication_group(plan: Plan) -> PlannedResource:
    return plan.one(GROUP, "cache-replication-group")


def test_subnet_group_is_the_data_tier(plan: Plan) -> None:
    group = plan.one("aws:elasticache/subnetGroup:SubnetGroup", "cache-subnets")
    assert sorted(group.inputs["subnetIds"]) == data_subnet_ids(plan)
    assert replication_group(plan).inputs["subnetGroupName"] == group.outputs["name"]


def test_only_the_node_and_pod_group_and_the_tokens_rotation_function_reach_6379(plan: Plan) -> None:
    """Two ingress rules, TCP 6379 each: from the node/pod group (the cache's own) and from the AUTH token's rotation
    function (its component's, tests/test_rotation.py); no inline rules, no egress at all."""
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "cache-sg")
    sources = {
        rule.name: (
            rule.inputs["ipProtocol"],
            rule.inputs["fromPort"],
            rule.inputs["toPort"],
            rule.inputs.get("referencedSecurityGroupId"),
        )
        for rule in rules_of(plan, INGRESS, group)
    }
    assert sources == {
        "cache-sg-from-clients": ("tcp", 6379, 6379, workload_security_group_id(plan)),
        "redis-rotation-cache-from-rotation": ("tcp", 6379, 6379, plan.one(SG, "redis-rotation-sg").id),
    }
    assert not group.inputs.get("ingress") and not group.inputs.get("egress")
    assert rules_of(plan, EGRESS, group) == []
    assert replication_group(plan).inputs["securityGroupIds"] == [group.id]


def test_encrypted_at_rest_with_the_data_key(plan: Plan) -> None:
    inputs = replication_group(plan).inputs
    assert inputs["atRestEncryptionEnabled"] is True
    assert inputs["kmsKeyId"] == key_arn(plan, "data")


def test_tls_is_required_and_clients_authenticate_with_the_generated_token(plan: Plan) -> None:
    inputs = replication_group(plan).inputs
    assert inputs["transitEncryptionEnabled"] is True
    assert inputs["transitEncryptionMode"] == "required"
    assert inputs["authToken"] == SECRET
    token = plan.one("random:index/randomPassword:RandomPassword", "secrets-redis-auth")
    assert token.urn in replication_group(plan).dependencies, "the AUTH token is the generated one"
    secret_arn = plan.one("aws:secretsmanager/secret:Secret", "secrets-redis-auth").outputs["arn"]
    assert plan.outputs["cache"]["authSecretArn"] == secret_arn


def test_prod_replicates_across_zones_with_automatic_failover(staging: Plan, prod: Plan) -> None:
    inputs = replication_group(prod).inputs
    assert inputs["numCacheClusters"] >= 2
    assert inputs["automaticFailoverEnabled"] is True
    assert inputs["multiAzEnabled"] is True
    inputs = replication_group(staging).inputs
    assert inputs["numCacheClusters"] == 1
    assert inputs["automaticFailoverEnabled"] is False and inputs["multiAzEnabled"] is False


def test_nodes_are_placed_one_zone_after_another(staging: Plan, prod: Plan) -> None:
    """The primary in the network's first zone, each replica in the next: prod's two nodes never share a zone."""
    assert replication_group(prod).inputs["preferredCacheClusterAzs"] == prod.outputs["availabilityZones"][:2]
    assert replication_group(staging).inputs["preferredCacheClusterAzs"] == staging.outputs["availabilityZones"][:1]
    assert prod.outputs["availabilityZones"][:2] == ["eu-west-1a", "eu-west-1b"]


def test_node_type_engine_and_protection_per_stack(staging: Plan, prod: Plan) -> None:
    assert replication_group(staging).inputs["nodeType"] == "cache.t4g.micro"
    assert replication_group(prod).inputs["nodeType"] == "cache.m7g.large"
    assert replication_group(prod).options["protect"] is True
    assert replication_group(staging).options["protect"] is False
    for plan in (staging, prod):
        inputs = replication_group(plan).inputs
        assert (inputs["engine"], inputs["engineVersion"]) == ("valkey", "8.2")
        assert inputs["autoMinorVersionUpgrade"] is True


def test_snapshots_are_kept_and_maintenance_follows_them(staging: Plan, prod: Plan) -> None:
    assert replication_group(prod).inputs["snapshotRetentionLimit"] == 7
    assert replication_group(staging).inputs["snapshotRetentionLimit"] == 1
    for plan in (staging, prod):
        inputs = replication_group(plan).inputs
        assert (inputs["snapshotWindow"], inputs["maintenanceWindow"]) == ("01:00-02:00", "sun:04:30-sun:05:30")


def test_parameter_group_matches_the_engine_and_sets_eviction(plan: Plan) -> None:
    group = plan.one("aws:elasticache/parameterGroup:ParameterGroup", "cache-params")
    assert group.inputs["family"] == "valkey8"
    assert group.inputs["parameters"] == [{"name": "maxmemory-policy", "value": "volatile-lru"}]
    assert replication_group(plan).inputs["parameterGroupName"] == group.outputs["name"]


def test_slow_and_engine_logs_go_to_encrypted_log_groups_with_retention(staging: Plan, prod: Plan) -> None:
    for plan, retention in ((staging, 30), (prod, 365)):
        deliveries = {d["logType"]: d for d in replication_group(plan).inputs["logDeliveryConfigurations"]}
        assert set(deliveries) == {"slow-log", "engine-log"}
        for log_type, delivery in deliveries.items():
            group = plan.one("aws:cloudwatch/logGroup:LogGroup", f"cache-{log_type}")
            assert delivery["destinationType"] == "cloudwatch-logs"
            assert delivery["destination"] == group.outputs["name"]
            assert group.inputs["retentionInDays"] == retention
            assert group.inputs["kmsKeyId"] == key_arn(plan, "logs")


def test_log_delivery_may_write_only_to_the_cache_log_groups_of_this_account(plan: Plan) -> None:
    policy = plan.one("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "cache-log-delivery")
    (grant,) = document(policy, "policyDocument")["Statement"]
    assert grant["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    groups = [plan.one("aws:cloudwatch/logGroup:LogGroup", f"cache-{t}") for t in ("slow-log", "engine-log")]
    assert grant["Resource"] == [f"{g.outputs['arn']}:log-stream:*" for g in groups]
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert policy.urn in replication_group(plan).dependencies


def test_outputs_name_the_endpoint_and_the_guarding_group(plan: Plan) -> None:
    exported = plan.outputs["cache"]
    assert exported["primaryEndpointAddress"] == replication_group(plan).outputs["primaryEndpointAddress"]
    assert exported["port"] == 6379
    assert exported["securityGroupId"] == plan.one("aws:ec2/securityGroup:SecurityGroup", "cache-sg").id
