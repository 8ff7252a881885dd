"""Data rules: RDS, ElastiCache, Secrets Manager, CloudWatch log groups and S3 (v7 split bucket resources)."""

from __future__ import annotations

import functools
from typing import Any

from pulumi_policy import Severity

from .base import (
    RESILIENCE,
    UNKNOWN,
    Resource,
    ResourceReport,
    Rules,
    Stack,
    StackReport,
    customer_managed_key,
    dig,
    enabled,
    given,
    items,
    off,
    partly_unknown,
    statements,
    strings,
)
from .semantics import denies_insecure_transport

rules = Rules()

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_TYPES = (RDS_INSTANCE, RDS_CLUSTER)
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SECRETS_MANAGER_SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a type token, not a secret
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# pulumi-aws v7 names; the deprecated *V2 aliases still exist and are checked the same way.
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP_CONTROLS = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

#: A rule that every S3 bucket has one of the ``attached`` resources (whose ``bucket`` names it).
every_bucket_has = functools.partial(rules.require_attached, owners=BUCKETS, prop="bucket")

#: Parameters that make the engine refuse connections without TLS, per RDS engine.
FORCE_TLS_PARAMETERS = {
    "postgres": ("rds.force_ssl", ("1",)),
    "aurora-postgresql": ("rds.force_ssl", ("1",)),
    "mysql": ("require_secure_transport", ("1", "ON")),
    "mariadb": ("require_secure_transport", ("1", "ON")),
    "aurora-mysql": ("require_secure_transport", ("1", "ON")),
}


def _encrypted_with_cmk(resource: Resource, report: ResourceReport, switch: str) -> None:
    """Encryption at rest is switched on by ``switch`` and uses our key (``kmsKeyId``)."""
    if off(resource.get(switch)):
        report(f"{switch} is not true.")
    elif not customer_managed_key(resource.get("kmsKeyId")):
        report("kmsKeyId does not name a customer-managed key (the service's AWS-managed key would be used).")


# ---------------------------------------------------------------------------------------------- RDS


@rules.resource(Severity.HIGH, RDS_TYPES)
def rds_storage_encrypted_cmk(resource: Resource, report: ResourceReport) -> None:
    """RDS storage is encrypted with a customer-managed KMS key.

    Fix: set storage_encrypted=True and kms_key_id=<the data KMS key ARN>.
    """
    _encrypted_with_cmk(resource, report, "storageEncrypted")


@rules.resource(Severity.CRITICAL, RDS_TYPES)
def rds_not_public(resource: Resource, report: ResourceReport) -> None:
    """RDS databases never get a public address.

    Fix: set publicly_accessible=False and place the database in the private data subnets.
    """
    if enabled(resource.get("publiclyAccessible")):
        report("publiclyAccessible is true.")


@rules.require_true(
    prop="multiAz",
    severity=Severity.HIGH,
    category=RESILIENCE,
    types=(RDS_INSTANCE,),
    consequence=": a zone outage takes the database down",
)
def rds_multi_az() -> None:
    """RDS instances run Multi-AZ with a synchronous standby in another zone.

    Fix: set multi_az=True.
    """


@rules.resource(
    Severity.MEDIUM,
    RDS_TYPES,
    category=RESILIENCE,
    config={"minimumDays": {"type": "integer", "minimum": 1, "maximum": 35, "default": 7}},
)
def rds_backup_retention(resource: Resource, report: ResourceReport) -> None:
    """RDS keeps automated backups for at least the configured number of days.

    Fix: set backup_retention_period to at least the policy's minimumDays.
    """
    minimum = resource.config["minimumDays"]
    days = resource.get("backupRetentionPeriod")
    if days is not UNKNOWN and (not isinstance(days, int | float) or days < minimum):
        report(f"backupRetentionPeriod is {days}; at least {minimum} day(s) are required.")


@rules.require_true(prop="deletionProtection", severity=Severity.HIGH, category=RESILIENCE, types=RDS_TYPES)
def rds_deletion_protection() -> None:
    """RDS databases cannot be deleted by an API call or a mistaken `pulumi destroy`.

    Fix: set deletion_protection=True.
    """


@rules.require_true(prop="iamDatabaseAuthenticationEnabled", severity=Severity.MEDIUM, types=RDS_TYPES)
def rds_iam_authentication() -> None:
    """RDS accepts IAM database authentication (short-lived tokens instead of long-lived passwords).

    Fix: set iam_database_authentication_enabled=True.
    """


@rules.require_cmk(prop="performanceInsightsKmsKeyId", when="performanceInsightsEnabled", types=RDS_TYPES)
def rds_performance_insights_encrypted() -> None:
    """RDS Performance Insights data (which includes SQL text) is encrypted with a customer-managed key.

    Fix: set performance_insights_kms_key_id=<the data KMS key ARN> (or turn Performance Insights off).
    """


@rules.resource(Severity.HIGH, RDS_TYPES)
def rds_managed_master_password(resource: Resource, report: ResourceReport) -> None:
    """RDS generates and rotates the master password in Secrets Manager; no password is in the program.

    Fix: set manage_master_user_password=True and remove password/master_password.
    """
    if given(resource.get("replicateSourceDb")):
        return  # a read replica inherits the source's credentials
    password_inputs = (
        ("password", "passwordWo") if resource.type == RDS_INSTANCE else ("masterPassword", "masterPasswordWo")
    )
    for name in password_inputs:
        if given(resource.get(name)):
            report(f"The master password is set in the program ({name}); it ends up in config and state.")
    if off(resource.get("manageMasterUserPassword")):
        report("manageMasterUserPassword is not true.")


@rules.require_cmk(prop="masterUserSecretKmsKeyId", when="manageMasterUserPassword", types=RDS_TYPES)
def rds_master_secret_cmk() -> None:
    """The RDS-managed master user secret is encrypted with a customer-managed key.

    Fix: set master_user_secret_kms_key_id=<the secrets KMS key ARN>.
    """


def _parameter_groups(stack: Stack, database: Resource) -> tuple[str, list[Resource]] | None:
    """(the property naming the database's parameter group, groups it refers to); None if not decidable."""
    prop, group_type = (
        ("parameterGroupName", PARAMETER_GROUP)
        if database.type == RDS_INSTANCE
        else ("dbClusterParameterGroupName", CLUSTER_PARAMETER_GROUP)
    )
    found = stack.referents(database, prop, stack.of_type(group_type))
    return None if found is None else (prop, found)


@rules.stack(Severity.HIGH)
def rds_force_tls(stack: Stack, report: StackReport) -> None:
    """RDS databases refuse connections without TLS (rds.force_ssl / require_secure_transport).

    Fix: give the database its own parameter group with rds.force_ssl=1 (PostgreSQL) or require_secure_transport=1
    (MySQL/MariaDB) and pass it as parameter_group_name.
    """
    for database in stack.of_type(*RDS_TYPES):
        engine = database.get("engine")
        if not isinstance(engine, str) or engine not in FORCE_TLS_PARAMETERS:
            continue
        parameter, accepted = FORCE_TLS_PARAMETERS[engine]
        linked = _parameter_groups(stack, database)
        if linked is None:
            continue
        prop, groups = linked
        if not groups:
            report(
                f"{prop} does not name a parameter group of this stack; the default group allows plain text.", database
            )
            continue
        for group in groups:
            parameters = group.get("parameters")
            names = [dig(p, "name") for p in items(parameters)]
            values = [dig(p, "value") for p in items(parameters) if dig(p, "name") == parameter]
            if partly_unknown(parameters) or UNKNOWN in (*names, *values):
                continue
            if not any(str(value).upper() in accepted for value in values):
                report(f"Its parameter group does not set {parameter} to {'/'.join(accepted)}.", database)


#: Log types each engine can export to CloudWatch Logs (the RDS API's EnableCloudwatchLogsExports).
LOG_EXPORTS = {
    "postgres": ("postgresql",),
    "aurora-postgresql": ("postgresql",),
    "mysql": ("error", "slowquery"),
    "mariadb": ("error", "slowquery"),
    "aurora-mysql": ("error", "slowquery"),
}


@rules.resource(Severity.MEDIUM, RDS_TYPES)
def rds_log_exports(resource: Resource, report: ResourceReport) -> None:
    """RDS exports its engine logs to CloudWatch Logs (postgresql; error and slowquery for MySQL).

    Fix: set enabled_cloudwatch_logs_exports (e.g. ['postgresql', 'upgrade']).
    """
    exports = resource.get("enabledCloudwatchLogsExports")
    wanted = LOG_EXPORTS.get(str(resource.get("engine")), ())
    missing = [] if partly_unknown(exports) else [log for log in wanted if log not in strings(exports)]
    if missing:
        report(f"enabledCloudwatchLogsExports lacks {', '.join(missing)}.")


@rules.resource(Severity.MEDIUM, (RDS_INSTANCE, "aws:rds/clusterInstance:ClusterInstance"))
def rds_minor_upgrades(resource: Resource, report: ResourceReport) -> None:
    """RDS applies minor engine versions (security fixes) in its maintenance window.

    Fix: remove auto_minor_version_upgrade=False (AWS defaults it to true).
    """
    if resource.get("autoMinorVersionUpgrade") is False:
        report("autoMinorVersionUpgrade is false.")


# ---------------------------------------------------------------------------------------------- ElastiCache


@rules.resource(Severity.HIGH, (REPLICATION_GROUP,))
def elasticache_encryption_at_rest(resource: Resource, report: ResourceReport) -> None:
    """ElastiCache data at rest (and its backups) is encrypted with a customer-managed key.

    Fix: set at_rest_encryption_enabled=True and kms_key_id=<the data KMS key ARN>.
    """
    _encrypted_with_cmk(resource, report, "atRestEncryptionEnabled")


@rules.resource(Severity.HIGH, (REPLICATION_GROUP,))
def elasticache_encryption_in_transit(resource: Resource, report: ResourceReport) -> None:
    """ElastiCache accepts TLS connections only.

    Fix: set transit_encryption_enabled=True and leave transit_encryption_mode unset or 'required'.
    """
    if off(resource.get("transitEncryptionEnabled")):
        report("transitEncryptionEnabled is not true.")
    if resource.get("transitEncryptionMode") == "preferred":
        report("transitEncryptionMode is 'preferred', which still accepts plain-text clients.")


@rules.resource(Severity.HIGH, (REPLICATION_GROUP,))
def elasticache_auth(resource: Resource, report: ResourceReport) -> None:
    """ElastiCache requires clients to authenticate (an AUTH token or RBAC user groups).

    Fix: set auth_token from a generated secret (or user_group_ids for Redis RBAC).
    """
    if not any(given(resource.get(name)) for name in ("authToken", "authTokenWo", "userGroupIds")):
        report("Neither authToken nor userGroupIds is set: any client in the network can connect.")


@rules.require_true(
    prop="automaticFailoverEnabled", severity=Severity.MEDIUM, category=RESILIENCE, types=(REPLICATION_GROUP,)
)
def elasticache_automatic_failover() -> None:
    """ElastiCache promotes a replica automatically when the primary fails.

    Fix: set automatic_failover_enabled=True with at least two nodes (num_cache_clusters >= 2).
    """


@rules.require_true(prop="multiAzEnabled", severity=Severity.MEDIUM, category=RESILIENCE, types=(REPLICATION_GROUP,))
def elasticache_multi_az() -> None:
    """ElastiCache keeps its replicas in other availability zones than the primary.

    Fix: set multi_az_enabled=True (with automatic failover and replicas in two or more zones).
    """


@rules.resource(Severity.MEDIUM, (REPLICATION_GROUP,), category=RESILIENCE)
def elasticache_snapshot_retention(resource: Resource, report: ResourceReport) -> None:
    """ElastiCache keeps automatic daily snapshots (a retention of at least one day).

    Fix: set snapshot_retention_limit to at least 1 (days).
    """
    days = resource.get("snapshotRetentionLimit")
    if days is not UNKNOWN and not (isinstance(days, int | float) and days > 0):
        report(f"snapshotRetentionLimit is {days or 0}: no automatic snapshots.")


# ---------------------------------------------------------------------------------------------- secrets, logs


@rules.require_cmk(prop="kmsKeyId", types=(SECRETS_MANAGER_SECRET,))
def secretsmanager_secret_cmk() -> None:
    """Secrets Manager secrets are encrypted with a customer-managed KMS key.

    Fix: set kms_key_id=<the secrets KMS key ARN>.
    """


@rules.resource(
    Severity.MEDIUM, (LOG_GROUP,), config={"minimumDays": {"type": "integer", "minimum": 1, "default": 365}}
)
def log_group_retention(resource: Resource, report: ResourceReport) -> None:
    """CloudWatch log groups keep their events at least the stack's minimum (a year by default: PCI DSS 10.5.1),
    and never forever.

    Fix: set retention_in_days to a CloudWatch Logs retention period of at least the policy's minimumDays.
    """
    days = resource.get("retentionInDays")
    minimum = resource.config["minimumDays"]
    if days is UNKNOWN:
        return
    if not (isinstance(days, int | float) and days > 0):
        report("retentionInDays is not set: events are kept forever.")
    elif days < minimum:
        report(f"retentionInDays is {days:g}, under this stack's minimum of {minimum} days.")


@rules.require_cmk(prop="kmsKeyId", types=(LOG_GROUP,))
def log_group_kms() -> None:
    """CloudWatch log groups are encrypted with a customer-managed KMS key.

    Fix: set kms_key_id=<the logs KMS key ARN> (its key policy must admit logs.<region>.amazonaws.com).
    """


# ---------------------------------------------------------------------------------------------- S3
# Every bucket needs its side resources (stack rules: they relate resources); what a side resource says is
# checked on the side resource itself, so a weak one is refused before it is created.

BUCKET_PUBLIC_ACCESS_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_KMS = ("aws:kms", "aws:kms:dsse")


def _log_targets(stack: Stack) -> tuple[set[str], list[str]]:
    """URNs of buckets that receive S3 server access logs (targets of a BucketLogging), and the unknown values
    that keep others from being told."""
    buckets = stack.of_type(*BUCKETS)
    targets: set[str] = set()
    unknown: list[str] = []
    for logging in stack.of_type(*LOGGING):
        found = stack.referents(logging, "targetBucket", buckets)
        if found is None:
            unknown.append(f"{logging.name}.targetBucket")
        targets.update(bucket.urn for bucket in found or [])
    return targets, unknown


def _log_destinations(stack: Stack) -> tuple[set[str], list[str]]:
    """URNs of buckets that receive logs (S3 server access logs or CloudFront standard logs), and the unknown
    values that keep others from being told."""
    destinations, unknown = _log_targets(stack)
    for distribution in stack.of_type(DISTRIBUTION):
        domain = distribution.get("loggingConfig", "bucket")
        if domain is UNKNOWN:
            unknown.append(f"{distribution.name}.loggingConfig.bucket")
        for bucket in stack.of_type(*BUCKETS):
            if isinstance(domain, str) and domain.split(".s3.", 1)[0] in bucket.identities():
                destinations.add(bucket.urn)
    return destinations, unknown


@every_bucket_has(
    attached=(PUBLIC_ACCESS_BLOCK,),
    missing="The bucket has no public access block.",
    severity=Severity.CRITICAL,
)
def s3_public_access_block() -> None:
    """Every S3 bucket has a public access block (s3-public-access-block-settings checks all four are on).

    Fix: add an aws.s3.BucketPublicAccessBlock for the bucket with block_public_acls, block_public_policy,
    ignore_public_acls and restrict_public_buckets all True.
    """


@rules.resource(Severity.CRITICAL, (PUBLIC_ACCESS_BLOCK,))
def s3_public_access_block_settings(resource: Resource, report: ResourceReport) -> None:
    """S3 public access blocks turn on all four settings (public ACLs and policies blocked and ignored).

    Fix: set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to True.
    """
    left_off = [name for name in BUCKET_PUBLIC_ACCESS_SETTINGS if off(resource.get(name))]
    if left_off:
        report(f"The public access block leaves {', '.join(left_off)} off.")


@every_bucket_has(
    attached=(OWNERSHIP_CONTROLS,),
    missing="The bucket has no ownership controls: ACLs stay enabled.",
    severity=Severity.HIGH,
)
def s3_acls_disabled() -> None:
    """Every S3 bucket disables ACLs (object ownership BucketOwnerEnforced; s3-bucket-owner-enforced checks it):
    access is granted by policies only, which the pack can read.

    Fix: add an aws.s3.BucketOwnershipControls for the bucket with rule.object_ownership='BucketOwnerEnforced'
    (CloudFront's legacy standard logs need ACLs: use standard logging v2 instead).
    """


@rules.resource(Severity.HIGH, (OWNERSHIP_CONTROLS, *BUCKET_ACLS))
def s3_bucket_owner_enforced(resource: Resource, report: ResourceReport) -> None:
    """S3 ownership controls enforce bucket ownership (ACLs disabled), and no bucket ACL is managed.

    Fix: set rule.object_ownership='BucketOwnerEnforced'; remove aws.s3.BucketAcl resources.
    """
    if resource.type in BUCKET_ACLS:
        report("A bucket ACL grants access outside the bucket policy.")
        return
    ownership = resource.get("rule", "objectOwnership")
    if ownership is not UNKNOWN and ownership != "BucketOwnerEnforced":
        report(f"objectOwnership is {ownership!r}: ACLs stay enabled.")


def _default_encryption(configuration: Resource) -> list[tuple[Any, Any]]:
    """(algorithm, KMS key) of each rule of a default encryption configuration."""
    defaults = [dig(rule, "applyServerSideEncryptionByDefault") for rule in items(configuration.get("rules"))]
    return [(dig(default, "sseAlgorithm"), dig(default, "kmsMasterKeyId")) for default in defaults]


def _encrypts_as_required(stack: Stack, bucket: Resource, configuration: Resource) -> bool | None:
    """SSE-KMS, or SSE-S3 on a server access log target (S3 writes those only with SSE-S3)."""
    algorithms = [algorithm for algorithm, _ in _default_encryption(configuration)]
    if UNKNOWN in algorithms or partly_unknown(configuration.get("rules")):
        return None
    targets, unknown = _log_targets(stack)
    accepted = (*SSE_KMS, "AES256") if bucket.urn in targets else SSE_KMS
    if "AES256" in algorithms and unknown:
        return None
    return bool(algorithms) and all(algorithm in accepted for algorithm in algorithms)


@every_bucket_has(
    attached=ENCRYPTION,
    counts=_encrypts_as_required,
    missing="The bucket has no default encryption configuration with SSE-KMS (SSE-S3 only for log targets).",
    severity=Severity.HIGH,
)
def s3_encryption_kms() -> None:
    """Every S3 bucket encrypts new objects with SSE-KMS (S3 server access log targets, which S3 can only write with
    SSE-S3, may use SSE-S3); s3-encryption-cmk checks the key.

    Fix: add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm='aws:kms' and
    kms_master_key_id=<the data KMS key ARN> (bucket_key_enabled=True keeps KMS costs down).
    """


@rules.resource(Severity.HIGH, ENCRYPTION)
def s3_encryption_cmk(resource: Resource, report: ResourceReport) -> None:
    """S3 default encryption is SSE-KMS with a customer-managed key, or SSE-S3 (log targets only).

    Fix: set sse_algorithm='aws:kms' and kms_master_key_id=<the data KMS key ARN>.
    """
    for algorithm, key in _default_encryption(resource):
        if algorithm not in (*SSE_KMS, "AES256", UNKNOWN):
            report(f"Default encryption is {algorithm}, not SSE-KMS.")
        elif algorithm in SSE_KMS and not customer_managed_key(key):
            report("SSE-KMS without kmsMasterKeyId uses the AWS-managed aws/s3 key.")


def _versioning_enabled(_stack: Stack, _bucket: Resource, configuration: Resource) -> bool | None:
    status = configuration.get("versioningConfiguration", "status")
    return None if status is UNKNOWN else status == "Enabled"


@every_bucket_has(
    attached=VERSIONING,
    counts=_versioning_enabled,
    missing="The bucket has no versioning configuration with status 'Enabled'.",
    severity=Severity.MEDIUM,
)
def s3_versioning() -> None:
    """Every S3 bucket keeps object versions, so overwrites and deletions can be undone.

    Fix: add an aws.s3.BucketVersioning for the bucket with versioning_configuration status 'Enabled'.
    """


def _denies_plain_http(_stack: Stack, _bucket: Resource, bucket_policy: Resource) -> bool | None:
    """The policy denies every S3 action without TLS on the bucket and on its objects (one statement or two)."""
    document = bucket_policy.get("policy")
    if document is UNKNOWN:
        return None
    covered = [
        resource
        for statement in statements(document)
        if denies_insecure_transport(statement)
        and any(action.lower() in ("s3:*", "*") for action in strings(statement.get("Action")))
        for resource in strings(statement.get("Resource"))
    ]
    return any(resource.endswith("/*") for resource in covered) and any(
        not resource.endswith("/*") for resource in covered
    )


@every_bucket_has(
    attached=(BUCKET_POLICY,),
    counts=_denies_plain_http,
    missing="No bucket policy denies aws:SecureTransport=false for the bucket and its objects.",
    severity=Severity.HIGH,
)
def s3_tls_only() -> None:
    """Every S3 bucket policy denies requests that do not use TLS.

    Fix: add an aws.s3.BucketPolicy with a statement Effect=Deny, Principal='*', Action='s3:*', Resource=[bucket ARN,
    bucket ARN + '/*'], Condition Bool aws:SecureTransport='false'.
    """


@every_bucket_has(
    attached=LOGGING,
    exempt=_log_destinations,
    missing="The bucket has no server access logging.",
    severity=Severity.MEDIUM,
)
def s3_access_logging() -> None:
    """Every S3 bucket writes server access logs to a log bucket (log buckets themselves excepted).

    Fix: add an aws.s3.BucketLogging with bucket=<this bucket> and target_bucket=<the logs bucket>.
    """
