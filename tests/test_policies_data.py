"""Data rules: RDS, ElastiCache, Secrets Manager, log groups and the S3 bucket/side-resource pairing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import Policy

from policies.rules import data
from stacks.offline.plan import UNKNOWN, PlannedResource
from tests.policy_support import assert_compliant_even_when_unknown, check, flagged, messages, policy_id, resource

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234"
DROP = object()


def changed(base: dict[str, Any], **change: Any) -> dict[str, Any]:
    """``base`` with ``change`` applied (``DROP`` removes a key)."""
    merged = {**base, **change}
    return {key: value for key, value in merged.items() if value is not DROP}


DATABASE = {
    "engine": "postgres",
    "instanceClass": "db.m7g.large",
    "storageEncrypted": True,
    "kmsKeyId": KEY,
    "publiclyAccessible": False,
    "multiAz": True,
    "backupRetentionPeriod": 14,
    "deletionProtection": True,
    "iamDatabaseAuthenticationEnabled": True,
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": KEY,
    "manageMasterUserPassword": True,
    "masterUserSecretKmsKeyId": KEY,
    "parameterGroupName": "shop-prod-postgres18",
}
CACHE = {
    "nodeType": "cache.m7g.large",
    "atRestEncryptionEnabled": True,
    "kmsKeyId": KEY,
    "transitEncryptionEnabled": True,
    "authToken": "[secret]",
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
    "numCacheClusters": 2,
}

RESOURCE_CASES: list[tuple[Policy, str, dict[str, Any], dict[str, Any], str]] = [
    (data.rds_storage_encrypted_cmk, data.RDS_INSTANCE, DATABASE, {"storageEncrypted": DROP}, "not true"),
    (data.rds_storage_encrypted_cmk, data.RDS_CLUSTER, DATABASE, {"kmsKeyId": "alias/aws/rds"}, "customer-managed"),
    (data.rds_not_public, data.RDS_INSTANCE, DATABASE, {"publiclyAccessible": True}, "publiclyAccessible"),
    (data.rds_multi_az, data.RDS_INSTANCE, DATABASE, {"multiAz": DROP}, "multiAz"),
    (data.rds_backup_retention, data.RDS_INSTANCE, DATABASE, {"backupRetentionPeriod": 1}, "at least 7"),
    (data.rds_deletion_protection, data.RDS_INSTANCE, DATABASE, {"deletionProtection": False}, "deletionProtection"),
    (data.rds_iam_authentication, data.RDS_INSTANCE, DATABASE, {"iamDatabaseAuthenticationEnabled": DROP}, "iam"),
    (
        data.rds_performance_insights_encrypted,
        data.RDS_INSTANCE,
        DATABASE,
        {"performanceInsightsKmsKeyId": DROP},
        "Performance Insights",
    ),
    (data.rds_managed_master_password, data.RDS_INSTANCE, DATABASE, {"password": "[secret]"}, "(password)"),
    (data.rds_managed_master_password, data.RDS_CLUSTER, DATABASE, {"manageMasterUserPassword": DROP}, "not true"),
    (data.rds_master_secret_cmk, data.RDS_INSTANCE, DATABASE, {"masterUserSecretKmsKeyId": DROP}, "customer-managed"),
    (data.elasticache_encryption_at_rest, data.REPLICATION_GROUP, CACHE, {"atRestEncryptionEnabled": False}, "true"),
    (data.elasticache_encryption_at_rest, data.REPLICATION_GROUP, CACHE, {"kmsKeyId": DROP}, "customer-managed"),
    (data.elasticache_encryption_in_transit, data.REPLICATION_GROUP, CACHE, {"transitEncryptionEnabled": DROP}, "true"),
    (
        data.elasticache_encryption_in_transit,
        data.REPLICATION_GROUP,
        CACHE,
        {"transitEncryptionMode": "preferred"},
        "plain-text",
    ),
    (data.elasticache_auth, data.REPLICATION_GROUP, CACHE, {"authToken": DROP}, "any client"),
    (data.elasticache_automatic_failover, data.REPLICATION_GROUP, CACHE, {"automaticFailoverEnabled": False}, "true"),
    (data.elasticache_multi_az, data.REPLICATION_GROUP, CACHE, {"multiAzEnabled": DROP}, "multiAzEnabled"),
    (
        data.secretsmanager_secret_cmk,
        data.SECRETS_MANAGER_SECRET,
        {"kmsKeyId": KEY},
        {"kmsKeyId": DROP},
        "customer-managed",
    ),
    (
        data.log_group_retention,
        data.LOG_GROUP,
        {"retentionInDays": 365, "kmsKeyId": KEY},
        {"retentionInDays": 0},
        "forever",
    ),
    (
        data.log_group_retention,
        data.LOG_GROUP,
        {"retentionInDays": 365, "kmsKeyId": KEY},
        {"retentionInDays": 180},
        "under this stack's minimum of 365 days",
    ),
    (data.log_group_kms, data.LOG_GROUP, {"retentionInDays": 30, "kmsKeyId": KEY}, {"kmsKeyId": DROP}, "kmsKeyId"),
]


@pytest.mark.parametrize(
    ("policy", "type_", "base", "change", "expected"),
    RESOURCE_CASES,
    ids=[f"{case[0].name}-{'-'.join(case[3])}" for case in RESOURCE_CASES],
)
def test_resource_rule_flags_the_weakened_resource(
    policy: Policy, type_: str, base: dict[str, Any], change: dict[str, Any], expected: str
) -> None:
    found = messages(policy, resource(type_, props=changed(base, **change)))
    assert len(found) == 1 and expected in found[0], found


COMPLIANT_CASES = sorted({(policy.name, type_, json.dumps(base)) for policy, type_, base, _, _ in RESOURCE_CASES})
BY_NAME = {policy.name: policy for policy in data.rules.policies}


@pytest.mark.parametrize(("name", "type_", "base"), COMPLIANT_CASES, ids=[f"{c[0]}-{c[1]}" for c in COMPLIANT_CASES])
def test_resource_rule_passes_the_compliant_resource(name: str, type_: str, base: str) -> None:
    assert_compliant_even_when_unknown(BY_NAME[name], resource(type_, props=json.loads(base)))


def test_backup_minimum_comes_from_the_policy_config() -> None:
    fourteen = resource(data.RDS_INSTANCE, props=DATABASE)
    assert messages(data.rds_backup_retention, fourteen, config={"minimumDays": 14}) == []
    assert flagged(data.rds_backup_retention, fourteen, config={"minimumDays": 21}) == ["subject"]


def test_log_retention_minimum_comes_from_the_policy_config() -> None:
    """Each stack sets its own minimum (policies/config/<stack>.json): a year in prod, two weeks in staging."""
    two_weeks = resource(data.LOG_GROUP, props={"retentionInDays": 14, "kmsKeyId": KEY})
    assert messages(data.log_group_retention, two_weeks, config={"minimumDays": 14}) == []
    assert flagged(data.log_group_retention, two_weeks) == ["subject"]  # the default: a year


def test_a_read_replica_needs_no_master_password_setting() -> None:
    replica = resource(data.RDS_INSTANCE, props={"replicateSourceDb": "shop-prod-postgres"})
    assert messages(data.rds_managed_master_password, replica) == []


# ---------------------------------------------------------------------------------------------- force TLS


def database_with_parameters(parameters: list[dict[str, str]], engine: str = "postgres") -> list[PlannedResource]:
    group = resource(data.PARAMETER_GROUP, "params", {"name": "shop-prod-postgres18", "parameters": parameters})
    database = resource(data.RDS_INSTANCE, "db", changed(DATABASE, engine=engine), dependencies=[group])
    return [group, database]


def test_force_tls_flags_a_group_without_the_parameter_or_the_default_group() -> None:
    assert flagged(data.rds_force_tls, *database_with_parameters([{"name": "log_statement", "value": "ddl"}])) == ["db"]
    default_group = resource(data.RDS_INSTANCE, "db", changed(DATABASE, parameterGroupName=DROP))
    assert "default group" in messages(data.rds_force_tls, default_group)[0]
    mysql = database_with_parameters([{"name": "require_secure_transport", "value": "0"}], engine="mysql")
    assert flagged(data.rds_force_tls, *mysql) == ["db"]


def test_force_tls_passes_when_the_database_parameter_group_forces_it() -> None:
    assert_compliant_even_when_unknown(
        data.rds_force_tls, *database_with_parameters([{"name": "rds.force_ssl", "value": "1"}])
    )
    mysql = database_with_parameters([{"name": "require_secure_transport", "value": "ON"}], engine="mysql")
    assert messages(data.rds_force_tls, *mysql) == []


# ---------------------------------------------------------------------------------------------- S3


def tls_only_policy(arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def bucket_with_sides(
    name: str, *, log_target: str | None = None, encryption: str = "aws:kms"
) -> list[PlannedResource]:
    """A bucket and every side resource the S3 rules want, as the storage component builds them."""
    arn = f"arn:aws:s3:::{name}"
    bucket = resource(data.BUCKETS[0], name, {"bucket": name}, outputs={"arn": arn}, id=name)
    default = {"sseAlgorithm": encryption, **({"kmsMasterKeyId": KEY} if encryption != "AES256" else {})}
    sides = [
        resource(
            data.PUBLIC_ACCESS_BLOCK,
            f"{name}-pab",
            {
                "bucket": name,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            dependencies=[bucket],
        ),
        resource(
            data.ENCRYPTION[0],
            f"{name}-sse",
            {"bucket": name, "rules": [{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}]},
            dependencies=[bucket],
        ),
        resource(
            data.VERSIONING[0],
            f"{name}-versioning",
            {"bucket": name, "versioningConfiguration": {"status": "Enabled"}},
            dependencies=[bucket],
        ),
        resource(
            data.BUCKET_POLICY,
            f"{name}-policy",
            {"bucket": name, "policy": tls_only_policy(arn)},
            dependencies=[bucket],
        ),
        resource(
            data.OWNERSHIP_CONTROLS,
            f"{name}-ownership",
            {"bucket": name, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            dependencies=[bucket],
        ),
    ]
    if log_target:
        sides.append(
            resource(
                data.LOGGING[0], f"{name}-logging", {"bucket": name, "targetBucket": log_target, "targetPrefix": "s3/"}
            )
        )
    return [bucket, *sides]


def logged_pair() -> list[PlannedResource]:
    """An assets bucket logging into a logs bucket (which may use SSE-S3 and needs no logging of its own)."""
    return [*bucket_with_sides("logs", encryption="AES256"), *bucket_with_sides("assets", log_target="logs")]


S3_RULES = [
    data.s3_public_access_block,
    data.s3_encryption_kms,
    data.s3_versioning,
    data.s3_tls_only,
    data.s3_access_logging,
    data.s3_acls_disabled,
]


@pytest.mark.parametrize("policy", S3_RULES, ids=policy_id)
def test_s3_rule_passes_buckets_with_their_side_resources(policy: Policy) -> None:
    assert_compliant_even_when_unknown(policy, *logged_pair())


@pytest.mark.parametrize("policy", S3_RULES, ids=policy_id)
def test_s3_rule_flags_a_bare_bucket(policy: Policy) -> None:
    bare = resource(data.BUCKETS[1], "bare", {"bucket": "bare"}, id="bare")
    assert flagged(policy, *logged_pair(), bare) == ["bare"]


def without(resources: list[PlannedResource], name: str) -> list[PlannedResource]:
    return [r for r in resources if r.name != name]


def replaced(resources: list[PlannedResource], name: str, **props: Any) -> list[PlannedResource]:
    return [resource(r.type, r.name, changed(r.inputs, **props), id=r.id) if r.name == name else r for r in resources]


@pytest.mark.parametrize(
    ("policy", "stack", "expected"),
    [
        (
            data.s3_public_access_block_settings,
            lambda s: replaced(s, "assets-pab", ignorePublicAcls=False),
            "ignorePublicAcls",
        ),
        (data.s3_public_access_block, lambda s: without(s, "assets-pab"), "no public access block"),
        (data.s3_acls_disabled, lambda s: without(s, "logs-ownership"), "ACLs stay enabled"),
        (
            data.s3_bucket_owner_enforced,
            lambda s: replaced(s, "logs-ownership", rule={"objectOwnership": "BucketOwnerPreferred"}),
            "'BucketOwnerPreferred'",
        ),
        (
            data.s3_bucket_owner_enforced,
            lambda s: [*s, resource(data.BUCKET_ACLS[0], "logs-acl", {"bucket": "logs", "acl": "log-delivery-write"})],
            "bucket ACL",
        ),
        (
            data.s3_encryption_kms,
            lambda s: replaced(
                s, "assets-sse", rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
            ),
            "with SSE-KMS",
        ),
        (
            data.s3_encryption_cmk,
            lambda s: replaced(
                s, "assets-sse", rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]
            ),
            "aws/s3",
        ),
        (
            data.s3_encryption_cmk,
            lambda s: replaced(
                s, "assets-sse", rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:fsx"}}]
            ),
            "not SSE-KMS",
        ),
        (
            data.s3_versioning,
            lambda s: replaced(s, "assets-versioning", versioningConfiguration={"status": "Suspended"}),
            "status 'Enabled'",
        ),
        (
            data.s3_tls_only,
            lambda s: replaced(s, "assets-policy", policy=json.dumps({"Statement": []})),
            "SecureTransport",
        ),
        (  # a deny for every service is no deny for everyone
            data.s3_tls_only,
            lambda s: replaced(
                s,
                "assets-policy",
                policy=tls_only_policy("arn:aws:s3:::assets").replace(
                    '"Principal": "*"', '"Principal": {"Service": "*"}'
                ),
            ),
            "SecureTransport",
        ),
    ],
    ids=lambda value: getattr(value, "name", None) or ("expected" if isinstance(value, str) else "change"),
)
def test_s3_rule_flags_a_missing_or_weak_side_resource(policy: Policy, stack: Any, expected: str) -> None:
    found = messages(policy, *stack(logged_pair()))
    assert len(found) == 1 and expected in found[0], found


def test_s3_access_logging_flags_a_bucket_that_logs_nowhere() -> None:
    # Without the assets bucket's logging, the logs bucket is no log destination either.
    assert flagged(data.s3_access_logging, *without(logged_pair(), "assets-logging")) == ["logs", "assets"]


def test_s3_pairs_side_resources_through_dependencies_while_names_are_unknown() -> None:
    """During a preview a new bucket's name is unknown; the rules fall back on what the resource depends on."""
    bucket = resource(data.BUCKETS[0], "assets", {})
    suspended = {"bucket": UNKNOWN, "versioningConfiguration": {"status": "Suspended"}}
    versioning = resource(data.VERSIONING[0], "versioning", suspended, dependencies=[bucket])
    assert flagged(data.s3_versioning, bucket, versioning) == ["assets"]


def test_cloudfront_log_bucket_needs_no_access_logging_of_its_own() -> None:
    logs = bucket_with_sides("cdn-logs")
    distribution = resource(data.DISTRIBUTION, "cdn", {"loggingConfig": {"bucket": "cdn-logs.s3.amazonaws.com"}})
    assert messages(data.s3_access_logging, *logs, distribution) == []
    assert flagged(data.s3_access_logging, *logs) == ["cdn-logs"]


def tls_deny(**condition: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "S3:*", "Condition": condition}


@pytest.mark.parametrize(
    "statements",
    [
        [
            {
                **tls_deny(Bool={"aws:securetransport": ["false"]}),
                "Resource": ["arn:aws:s3:::assets", "arn:aws:s3:::assets/*"],
            }
        ],
        [
            {
                **tls_deny(bool={"AWS:SecureTransport": False}),
                "Resource": ["arn:aws:s3:::assets", "arn:aws:s3:::assets/*"],
            }
        ],
        [  # one statement for the bucket, one for its objects
            {**tls_deny(Bool={"aws:SecureTransport": "false"}), "Resource": "arn:aws:s3:::assets"},
            {**tls_deny(BoolIfExists={"aws:SecureTransport": "false"}), "Resource": "arn:aws:s3:::assets/*"},
        ],
    ],
    ids=["list-value-lower-case-key", "boolean-value-lower-case-operator", "two-statements"],
)
def test_s3_tls_only_accepts_equivalent_deny_statements(statements: list[dict[str, Any]]) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    assert messages(data.s3_tls_only, *replaced(logged_pair(), "assets-policy", policy=policy)) == []


def test_one_undecided_side_resource_leaves_the_other_buckets_checked() -> None:
    """A versioning configuration whose bucket is unknown (and no dependency places it) makes only the buckets
    without one undecided, as a visible advisory entry; a bucket elsewhere still fails."""
    stack = [r for r in logged_pair() if r.name != "assets-versioning"]
    unplaced = resource(
        data.VERSIONING[0], "unplaced", {"bucket": UNKNOWN, "versioningConfiguration": {"status": "Enabled"}}
    )
    found = check(data.s3_versioning, *stack, unplaced)
    assert [(v.enforcement.value, v.urn) for v in found] == [("advisory", "")]
    assert "whether assets has one (unplaced.bucket)" in found[0].message
    placed = [r for r in logged_pair() if r.name != "assets-versioning"]
    assert flagged(data.s3_versioning, *placed) == ["assets"]
