"""Data rules: RDS, ElastiCache, Secrets Manager, CloudWatch log groups and S3 (v7 split bucket resources)."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from .base import (
    RESILIENCE,
    UNKNOWN,
    Resource,
    ResourceReport,
    Rules,
    Stack,
    StackReport,
    dig,
    enabled,
    given,
    is_everyone,
    items,
    partly_unknown,
    statements,
    strings,
)

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
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

#: Parameters that make the engine refuse connections without TLS, per RDS engine.
FORCE_TLS_PARAMETERS = {
    "postgres": ("rds.force_ssl", ("1",)),
    "aurora-postgresql": ("rds.force_ssl", ("1",)),
    "mysql": ("require_secure_transport", ("1", "ON")),
    "mariadb": ("require_secure_transport", ("1", "ON")),
    "aurora-mysql": ("require_secure_transport", ("1", "ON")),
}


def customer_managed_key(value: object) -> bool:
    """A KMS key id/ARN of our own (an ``alias/aws/...`` key is AWS-managed: no key policy of ours applies)."""
    if value is UNKNOWN:
        return True
    return isinstance(value, str) and bool(value) and "alias/aws/" not in value


def _encrypted_with_cmk(resource: Resource, report: ResourceReport, switch: str) -> None:
    """Encryption at rest is switched on by ``switch`` and uses our key (``kmsKeyId``)."""
    encrypted = resource.get(switch)
    if encrypted is not UNKNOWN and not enabled(encrypted):
        report(f"{switch} is not true.")
    elif not customer_managed_key(resource.get("kmsKeyId")):
        report("kmsKeyId does not name a customer-managed key (the service's AWS-managed key would be used).")


# ---------------------------------------------------------------------------------------------- RDS


@rules.resource(
    "rds-storage-encrypted-cmk",
    description="RDS storage is encrypted with a customer-managed KMS key.",
    severity=Severity.HIGH,
    types=RDS_TYPES,
    remediation="set storage_encrypted=True and kms_key_id=<the data KMS key ARN>.",
)
def rds_storage_encrypted_cmk(resource: Resource, report: ResourceReport) -> None:
    _encrypted_with_cmk(resource, report, "storageEncrypted")


@rules.resource(
    "rds-not-public",
    description="RDS databases never get a public address.",
    severity=Severity.CRITICAL,
    types=RDS_TYPES,
    remediation="set publicly_accessible=False and place the database in the private data subnets.",
)
def rds_not_public(resource: Resource, report: ResourceReport) -> None:
    if enabled(resource.get("publiclyAccessible")):
        report("publiclyAccessible is true.")


rds_multi_az = rules.require_true(
    "rds-multi-az",
    prop="multiAz",
    description="RDS instances run Multi-AZ with a synchronous standby in another zone.",
    severity=Severity.HIGH,
    category=RESILIENCE,
    types=(RDS_INSTANCE,),
    remediation="set multi_az=True.",
    consequence=": a zone outage takes the database down",
)


@rules.resource(
    "rds-backup-retention",
    description="RDS keeps automated backups for at least the configured number of days.",
    severity=Severity.MEDIUM,
    category=RESILIENCE,
    types=RDS_TYPES,
    remediation="set backup_retention_period to at least the policy's minimumDays.",
    config={"minimumDays": {"type": "integer", "minimum": 1, "maximum": 35, "default": 7}},
)
def rds_backup_retention(resource: Resource, report: ResourceReport) -> None:
    minimum = resource.config["minimumDays"]
    days = resource.get("backupRetentionPeriod")
    if days is not UNKNOWN and (not isinstance(days, int | float) or days < minimum):
        report(f"backupRetentionPeriod is {days}; at least {minimum} day(s) are required.")


rds_deletion_protection = rules.require_true(
    "rds-deletion-protection",
    prop="deletionProtection",
    description="RDS databases cannot be deleted by an API call or a mistaken `pulumi destroy`.",
    severity=Severity.HIGH,
    category=RESILIENCE,
    types=RDS_TYPES,
    remediation="set deletion_protection=True.",
)


rds_iam_authentication = rules.require_true(
    "rds-iam-authentication",
    prop="iamDatabaseAuthenticationEnabled",
    description="RDS accepts IAM database authentication (short-lived tokens instead of long-lived passwords).",
    severity=Severity.MEDIUM,
    types=RDS_TYPES,
    remediation="set iam_database_authentication_enabled=True.",
)


@rules.resource(
    "rds-performance-insights-encrypted",
    description="RDS Performance Insights data (which includes SQL text) is encrypted with a customer-managed key.",
    severity=Severity.MEDIUM,
    types=RDS_TYPES,
    remediation="set performance_insights_kms_key_id=<the data KMS key ARN> (or turn Performance Insights off).",
)
def rds_performance_insights_encrypted(resource: Resource, report: ResourceReport) -> None:
    if enabled(resource.get("performanceInsightsEnabled")) and not customer_managed_key(
        resource.get("performanceInsightsKmsKeyId")
    ):
        report("Performance Insights is on without a customer-managed performanceInsightsKmsKeyId.")


@rules.resource(
    "rds-managed-master-password",
    description="RDS generates and rotates the master password in Secrets Manager; no password is in the program.",
    severity=Severity.HIGH,
    types=RDS_TYPES,
    remediation="set manage_master_user_password=True and remove password/master_password.",
)
def rds_managed_master_password(resource: Resource, report: ResourceReport) -> None:
    if given(resource.get("replicateSourceDb")):
        return  # a read replica inherits the source's credentials
    password_inputs = (
        ("password", "passwordWo") if resource.type == RDS_INSTANCE else ("masterPassword", "masterPasswordWo")
    )
    for name in password_inputs:
        if given(resource.get(name)):
            report(f"The master password is set in the program ({name}); it ends up in config and state.")
    managed = resource.get("manageMasterUserPassword")
    if managed is not UNKNOWN and not enabled(managed):
        report("manageMasterUserPassword is not true.")


@rules.resource(
    "rds-master-secret-cmk",
    description="The RDS-managed master user secret is encrypted with a customer-managed key.",
    severity=Severity.MEDIUM,
    types=RDS_TYPES,
    remediation="set master_user_secret_kms_key_id=<the secrets KMS key ARN>.",
)
def rds_master_secret_cmk(resource: Resource, report: ResourceReport) -> None:
    if enabled(resource.get("manageMasterUserPassword")) and not customer_managed_key(
        resource.get("masterUserSecretKmsKeyId")
    ):
        report("The managed master secret uses the AWS-managed aws/secretsmanager key.")


def _parameter_groups(stack: Stack, database: Resource) -> tuple[str, list[Resource]] | None:
    """(the property naming the database's parameter group, groups it refers to); None if not decidable."""
    prop, group_type = (
        ("parameterGroupName", PARAMETER_GROUP)
        if database.type == RDS_INSTANCE
        else ("dbClusterParameterGroupName", CLUSTER_PARAMETER_GROUP)
    )
    found = stack.referents(database, prop, stack.of_type(group_type))
    return None if found is None else (prop, found)


@rules.stack(
    "rds-force-tls",
    description="RDS databases refuse connections without TLS (rds.force_ssl / require_secure_transport).",
    severity=Severity.HIGH,
    remediation=(
        "give the database its own parameter group with rds.force_ssl=1 (PostgreSQL) or "
        "require_secure_transport=1 (MySQL/MariaDB) and pass it as parameter_group_name."
    ),
)
def rds_force_tls(stack: Stack, report: StackReport) -> None:
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


# ---------------------------------------------------------------------------------------------- ElastiCache


@rules.resource(
    "elasticache-encryption-at-rest",
    description="ElastiCache data at rest (and its backups) is encrypted with a customer-managed key.",
    severity=Severity.HIGH,
    types=(REPLICATION_GROUP,),
    remediation="set at_rest_encryption_enabled=True and kms_key_id=<the data KMS key ARN>.",
)
def elasticache_encryption_at_rest(resource: Resource, report: ResourceReport) -> None:
    _encrypted_with_cmk(resource, report, "atRestEncryptionEnabled")


@rules.resource(
    "elasticache-encryption-in-transit",
    description="ElastiCache accepts TLS connections only.",
    severity=Severity.HIGH,
    types=(REPLICATION_GROUP,),
    remediation="set transit_encryption_enabled=True and leave transit_encryption_mode unset or 'required'.",
)
def elasticache_encryption_in_transit(resource: Resource, report: ResourceReport) -> None:
    encrypted = resource.get("transitEncryptionEnabled")
    if encrypted is not UNKNOWN and not enabled(encrypted):
        report("transitEncryptionEnabled is not true.")
    if resource.get("transitEncryptionMode") == "preferred":
        report("transitEncryptionMode is 'preferred', which still accepts plain-text clients.")


@rules.resource(
    "elasticache-auth",
    description="ElastiCache requires clients to authenticate (an AUTH token or RBAC user groups).",
    severity=Severity.HIGH,
    types=(REPLICATION_GROUP,),
    remediation="set auth_token from a generated secret (or user_group_ids for Redis RBAC).",
)
def elasticache_auth(resource: Resource, report: ResourceReport) -> None:
    if not any(given(resource.get(name)) for name in ("authToken", "authTokenWo", "userGroupIds")):
        report("Neither authToken nor userGroupIds is set: any client in the network can connect.")


elasticache_automatic_failover = rules.require_true(
    "elasticache-automatic-failover",
    prop="automaticFailoverEnabled",
    description="ElastiCache promotes a replica automatically when the primary fails.",
    severity=Severity.MEDIUM,
    category=RESILIENCE,
    types=(REPLICATION_GROUP,),
    remediation="set automatic_failover_enabled=True with at least two nodes (num_cache_clusters >= 2).",
)


elasticache_multi_az = rules.require_true(
    "elasticache-multi-az",
    prop="multiAzEnabled",
    description="ElastiCache keeps its replicas in other availability zones than the primary.",
    severity=Severity.MEDIUM,
    category=RESILIENCE,
    types=(REPLICATION_GROUP,),
    remediation="set multi_az_enabled=True (with automatic failover and replicas in two or more zones).",
)


# ---------------------------------------------------------------------------------------------- secrets, logs


@rules.resource(
    "secretsmanager-secret-cmk",
    description="Secrets Manager secrets are encrypted with a customer-managed KMS key.",
    severity=Severity.MEDIUM,
    types=(SECRETS_MANAGER_SECRET,),
    remediation="set kms_key_id=<the secrets KMS key ARN>.",
)
def secretsmanager_secret_cmk(resource: Resource, report: ResourceReport) -> None:
    if not customer_managed_key(resource.get("kmsKeyId")):
        report("kmsKeyId is not a customer-managed key (the AWS-managed aws/secretsmanager key would be used).")


@rules.resource(
    "log-group-retention",
    description="CloudWatch log groups expire their events (they never keep logs forever).",
    severity=Severity.MEDIUM,
    types=(LOG_GROUP,),
    remediation="set retention_in_days to one of the CloudWatch Logs retention periods.",
)
def log_group_retention(resource: Resource, report: ResourceReport) -> None:
    days = resource.get("retentionInDays")
    if days is not UNKNOWN and not (isinstance(days, int | float) and days > 0):
        report("retentionInDays is not set: events are kept forever.")


@rules.resource(
    "log-group-kms",
    description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
    severity=Severity.MEDIUM,
    types=(LOG_GROUP,),
    remediation="set kms_key_id=<the logs KMS key ARN> (its key policy must admit logs.<region>.amazonaws.com).",
)
def log_group_kms(resource: Resource, report: ResourceReport) -> None:
    if not customer_managed_key(resource.get("kmsKeyId")):
        report("kmsKeyId is not set.")


# ---------------------------------------------------------------------------------------------- S3


def _bucket_sides(stack: Stack, types: Iterable[str]) -> tuple[list[Resource], dict[str, list[Resource]], bool]:
    """Buckets, the side resources of ``types`` attached to each (by URN), and whether any was undecidable."""
    buckets = stack.of_type(*BUCKETS)
    by_bucket, undecided = stack.attachments(buckets, stack.of_type(*types), "bucket")
    return buckets, by_bucket, undecided


def _log_targets(stack: Stack) -> tuple[set[str], bool]:
    """URNs of buckets that receive S3 server access logs (targets of a BucketLogging), and whether any target
    could not be told yet."""
    buckets = stack.of_type(*BUCKETS)
    targets: set[str] = set()
    undecided = False
    for logging in stack.of_type(*LOGGING):
        found = stack.referents(logging, "targetBucket", buckets)
        undecided = undecided or found is None
        targets.update(bucket.urn for bucket in found or [])
    return targets, undecided


@rules.stack(
    "s3-public-access-block",
    description="Every S3 bucket blocks public ACLs and policies (all four public access block settings).",
    severity=Severity.CRITICAL,
    remediation=(
        "add an aws.s3.BucketPublicAccessBlock for the bucket with block_public_acls, block_public_policy, "
        "ignore_public_acls and restrict_public_buckets all True."
    ),
)
def s3_public_access_block(stack: Stack, report: StackReport) -> None:
    settings = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    buckets, blocks, undecided = _bucket_sides(stack, (PUBLIC_ACCESS_BLOCK,))
    for bucket in buckets:
        if not blocks[bucket.urn] and not undecided:
            report("The bucket has no public access block.", bucket)
        for block in blocks[bucket.urn]:
            off = [name for name in settings if block.get(name) is not UNKNOWN and not enabled(block.get(name))]
            if off:
                report(f"The public access block leaves {', '.join(off)} off.", block)


@rules.stack(
    "s3-encryption-kms",
    description=(
        "Every S3 bucket encrypts new objects with SSE-KMS and a customer-managed key (S3 server access log "
        "targets, which S3 can only write with SSE-S3, use SSE-S3)."
    ),
    severity=Severity.HIGH,
    remediation=(
        "add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm='aws:kms' and "
        "kms_master_key_id=<the data KMS key ARN> (bucket_key_enabled=True keeps KMS costs down)."
    ),
)
def s3_encryption_kms(stack: Stack, report: StackReport) -> None:
    buckets, configurations, undecided = _bucket_sides(stack, ENCRYPTION)
    log_targets, targets_undecided = _log_targets(stack)
    for bucket in buckets:
        if not configurations[bucket.urn] and not undecided:
            report("The bucket has no default encryption configuration.", bucket)
        may_use_sse_s3 = bucket.urn in log_targets or targets_undecided
        accepted = ("aws:kms", "aws:kms:dsse", "AES256") if may_use_sse_s3 else ("aws:kms", "aws:kms:dsse")
        for configuration in configurations[bucket.urn]:
            for rule in items(configuration.get("rules")):
                default = dig(rule, "applyServerSideEncryptionByDefault")
                algorithm = dig(default, "sseAlgorithm")
                if algorithm is UNKNOWN:
                    continue
                if algorithm not in accepted:
                    report(f"Default encryption is {algorithm}, not SSE-KMS.", configuration)
                elif algorithm != "AES256" and not customer_managed_key(dig(default, "kmsMasterKeyId")):
                    report("SSE-KMS without kmsMasterKeyId uses the AWS-managed aws/s3 key.", configuration)


@rules.stack(
    "s3-versioning",
    description="Every S3 bucket keeps object versions, so overwrites and deletions can be undone.",
    severity=Severity.MEDIUM,
    remediation="add an aws.s3.BucketVersioning for the bucket with versioning_configuration status 'Enabled'.",
)
def s3_versioning(stack: Stack, report: StackReport) -> None:
    buckets, configurations, undecided = _bucket_sides(stack, VERSIONING)
    for bucket in buckets:
        if not configurations[bucket.urn] and not undecided:
            report("The bucket has no versioning configuration.", bucket)
        for configuration in configurations[bucket.urn]:
            status = configuration.get("versioningConfiguration", "status")
            if status is not UNKNOWN and status != "Enabled":
                report(f"Versioning status is {status!r}.", configuration)


def _denies_insecure_transport(statement: dict) -> bool:
    secure_transport = dig(statement, "Condition", "Bool", "aws:SecureTransport")
    actions = strings(statement.get("Action"))
    resources = strings(statement.get("Resource"))
    return (
        statement.get("Effect") == "Deny"
        and is_everyone(statement.get("Principal"))
        and any(action in ("s3:*", "*") for action in actions)
        and str(secure_transport).lower() == "false"
        and any(resource.endswith("/*") for resource in resources)
        and any(not resource.endswith("/*") for resource in resources)
    )


@rules.stack(
    "s3-tls-only",
    description="Every S3 bucket policy denies requests that do not use TLS.",
    severity=Severity.HIGH,
    remediation=(
        "add an aws.s3.BucketPolicy with a statement Effect=Deny, Principal='*', Action='s3:*', "
        "Resource=[bucket ARN, bucket ARN + '/*'], Condition Bool aws:SecureTransport='false'."
    ),
)
def s3_tls_only(stack: Stack, report: StackReport) -> None:
    buckets, policies, undecided = _bucket_sides(stack, (BUCKET_POLICY,))
    for bucket in buckets:
        documents = [policy.get("policy") for policy in policies[bucket.urn]]
        if undecided or UNKNOWN in documents:
            continue
        if not any(_denies_insecure_transport(statement) for doc in documents for statement in statements(doc)):
            report("No bucket policy denies aws:SecureTransport=false for the bucket and its objects.", bucket)


def _log_destinations(stack: Stack) -> tuple[set[str], bool]:
    """URNs of buckets that receive logs (S3 server access logs or CloudFront standard logs), and whether any
    destination could not be told yet."""
    destinations, undecided = _log_targets(stack)
    for distribution in stack.of_type(DISTRIBUTION):
        domain = distribution.get("loggingConfig", "bucket")
        undecided = undecided or domain is UNKNOWN
        for bucket in stack.of_type(*BUCKETS):
            if isinstance(domain, str) and domain.split(".s3.", 1)[0] in bucket.identities():
                destinations.add(bucket.urn)
    return destinations, undecided


@rules.stack(
    "s3-access-logging",
    description="Every S3 bucket writes server access logs to a log bucket (log buckets themselves excepted).",
    severity=Severity.MEDIUM,
    remediation="add an aws.s3.BucketLogging with bucket=<this bucket> and target_bucket=<the logs bucket>.",
)
def s3_access_logging(stack: Stack, report: StackReport) -> None:
    buckets, loggings, undecided = _bucket_sides(stack, LOGGING)
    destinations, destinations_undecided = _log_destinations(stack)
    for bucket in buckets:
        if bucket.urn in destinations or destinations_undecided or undecided:
            continue
        if not loggings[bucket.urn]:
            report("The bucket has no server access logging.", bucket)
