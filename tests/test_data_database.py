"""RDS PostgreSQL on the offline plan: isolation, encryption, TLS, backups, HA, monitoring and logs."""

from __future__ import annotations

import json

from stacks.offline.plan import Plan, PlannedResource
from tests.data_layer import ACCOUNT, assert_admits_only_the_workloads_on, data_subnet_ids, key_arn

INSTANCE = "aws:rds/instance:Instance"
RANDOM_ID = "random:index/randomId:RandomId"


def instance(plan: Plan) -> PlannedResource:
    return plan.one(INSTANCE, "database-postgres")


def test_subnet_group_is_the_data_tier(plan: Plan) -> None:
    group = plan.one("aws:rds/subnetGroup:SubnetGroup", "database-subnets")
    assert sorted(group.inputs["subnetIds"]) == data_subnet_ids(plan)
    assert instance(plan).inputs["dbSubnetGroupName"] == group.outputs["name"]
    assert instance(plan).inputs["publiclyAccessible"] is False


def test_only_the_node_and_pod_group_reaches_5432(plan: Plan) -> None:
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", "database-sg")
    assert_admits_only_the_workloads_on(plan, group, 5432)
    assert instance(plan).inputs["vpcSecurityGroupIds"] == [group.id]


def test_gp3_storage_encrypted_with_the_data_key_and_autoscaling(staging: Plan, prod: Plan) -> None:
    for plan, (allocated, ceiling) in ((staging, (20, 100)), (prod, (50, 500))):
        inputs = instance(plan).inputs
        assert inputs["storageType"] == "gp3"
        assert inputs["storageEncrypted"] is True
        assert inputs["kmsKeyId"] == key_arn(plan, "data")
        assert (inputs["allocatedStorage"], inputs["maxAllocatedStorage"]) == (allocated, ceiling)


def test_rds_keeps_the_master_password_in_secrets_manager_never_in_state(plan: Plan) -> None:
    inputs = instance(plan).inputs
    assert inputs["manageMasterUserPassword"] is True
    assert inputs["masterUserSecretKmsKeyId"] == key_arn(plan, "secrets")
    assert not {"password", "passwordWo"} & set(inputs)
    assert inputs["iamDatabaseAuthenticationEnabled"] is True
    secret_arn = instance(plan).outputs["masterUserSecrets"][0]["secretArn"]
    assert plan.outputs["database"]["masterSecretArn"] == secret_arn


def test_parameter_group_forces_tls_and_logs_ddl_and_slow_statements(plan: Plan) -> None:
    group = plan.one("aws:rds/parameterGroup:ParameterGroup", "database-params")
    assert group.inputs["family"] == "postgres18"
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters == {"rds.force_ssl": "1", "log_statement": "ddl", "log_min_duration_statement": "500"}
    (force_ssl,) = [p for p in group.inputs["parameters"] if p["name"] == "rds.force_ssl"]
    assert force_ssl["applyMethod"] == "pending-reboot", "accepted whether the parameter is static or dynamic"
    assert instance(plan).inputs["parameterGroupName"] == group.outputs["name"]


def test_current_engine_and_ca_with_automatic_minor_upgrades(plan: Plan) -> None:
    inputs = instance(plan).inputs
    assert (inputs["engine"], inputs["engineVersion"]) == ("postgres", "18")
    assert inputs["autoMinorVersionUpgrade"] is True
    assert inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"


def test_backups_windows_and_snapshot_tags(staging: Plan, prod: Plan) -> None:
    assert instance(prod).inputs["backupRetentionPeriod"] >= 14
    assert instance(staging).inputs["backupRetentionPeriod"] >= 3
    for plan in (staging, prod):
        inputs = instance(plan).inputs
        assert inputs["copyTagsToSnapshot"] is True
        assert (inputs["backupWindow"], inputs["maintenanceWindow"]) == ("02:00-03:00", "sun:03:30-sun:04:30")


def test_prod_takes_a_final_snapshot_and_keeps_backups_staging_skips_them(staging: Plan, prod: Plan) -> None:
    inputs = instance(prod).inputs
    assert inputs["skipFinalSnapshot"] is False
    assert inputs["deleteAutomatedBackups"] is False
    inputs = instance(staging).inputs
    assert inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in inputs
    assert staging.of_type(RANDOM_ID) == []


def test_each_database_gets_its_own_final_snapshot_name(prod: Plan) -> None:
    """Snapshot names are unique per account and region: a fixed one would fail the next database's deletion."""
    suffix = prod.one(RANDOM_ID, "database-final-snapshot-suffix")
    assert suffix.inputs["keepers"] == {"identifier": "shop-prod-postgres"}, "a new identifier draws a new suffix"
    assert suffix.inputs["byteLength"] == 4
    assert len(suffix.outputs["hex"]) == 8
    assert instance(prod).inputs["finalSnapshotIdentifier"] == f"shop-prod-postgres-final-{suffix.outputs['hex']}"


def test_prod_is_deletion_protected_protected_and_multi_az(staging: Plan, prod: Plan) -> None:
    assert instance(prod).inputs["deletionProtection"] is True
    assert instance(prod).options["protect"] is True
    assert instance(prod).inputs["multiAz"] is True
    assert instance(staging).inputs["deletionProtection"] is False
    assert instance(staging).options["protect"] is False
    assert instance(staging).inputs["multiAz"] is False


def test_instance_class_from_settings(staging: Plan, prod: Plan) -> None:
    assert instance(staging).inputs["instanceClass"] == "db.t4g.small"
    assert instance(prod).inputs["instanceClass"] == "db.m7g.large"


def test_performance_insights_encrypted_with_the_data_key(plan: Plan) -> None:
    inputs = instance(plan).inputs
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["performanceInsightsKmsKeyId"] == key_arn(plan, "data")
    assert inputs["performanceInsightsRetentionPeriod"] == 7


def test_enhanced_monitoring_role_is_only_for_this_instance_and_its_metrics(plan: Plan) -> None:
    inputs = instance(plan).inputs
    role = plan.one("aws:iam/role:Role", "database-monitoring-role")
    assert inputs["monitoringInterval"] == 60
    assert inputs["monitoringRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:shop-{plan.stack}-postgres"},
    }
    policy = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "database-monitoring-role-policy").inputs["policy"])
    resources = [arn for entry in policy["Statement"] for arn in entry["Resource"]]
    assert all(arn.startswith(f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:RDSOSMetrics") for arn in resources)


def test_postgresql_and_upgrade_logs_go_to_encrypted_log_groups_with_retention(staging: Plan, prod: Plan) -> None:
    for plan, retention in ((staging, 30), (prod, 365)):
        assert instance(plan).inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
        for log in ("postgresql", "upgrade"):
            group = plan.one("aws:cloudwatch/logGroup:LogGroup", f"database-{log}-logs")
            assert group.inputs["name"] == f"/aws/rds/instance/shop-{plan.stack}-postgres/{log}"
            assert group.inputs["retentionInDays"] == retention
            assert group.inputs["kmsKeyId"] == key_arn(plan, "logs")
            assert group.urn in instance(plan).dependencies, "the group exists before RDS would create its own"


def test_outputs_name_the_endpoint_and_the_guarding_group(plan: Plan) -> None:
    exported = plan.outputs["database"]
    assert exported["address"] == instance(plan).outputs["address"]
    assert (exported["port"], exported["name"]) == (5432, "shop")
    assert exported["securityGroupId"] == plan.one("aws:ec2/securityGroup:SecurityGroup", "database-sg").id
