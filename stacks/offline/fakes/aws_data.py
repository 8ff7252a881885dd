"""Fakes for the data layer: RDS, ElastiCache, Secrets Manager and S3, in the real providers' output shapes."""

from __future__ import annotations

import string
from typing import Any

from stacks.offline.fakes import FakeCloud, FakeResource, invoke, outputs
from stacks.offline.plan import is_secret, secret

_SECRET_SUFFIX_ALPHABET = string.ascii_letters + string.digits
#: ``(AWSCURRENT, AWSPREVIOUS)`` by secret name, for plans of a stack after its rotation function ran (tests set
#: it); empty: no secret was ever rotated, as on a first deploy, and AWSCURRENT is the program's version.
ROTATED_VALUES: dict[str, tuple[str, str]] = {}


def _secret_suffix(resource: FakeResource) -> str:
    """Secrets Manager appends '-' and six random characters to a secret's name in its ARN."""
    return "".join(_SECRET_SUFFIX_ALPHABET[int(resource.digest[i : i + 2], 16) % 62] for i in range(0, 12, 2))


def _region_code(region: str) -> str:
    """The short region code in ElastiCache endpoints, e.g. eu-west-1 -> euw1."""
    area, direction, number = region.split("-")[-3:]
    for word, letter in (("north", "n"), ("south", "s"), ("east", "e"), ("west", "w")):
        direction = direction.replace(word, letter)
    return f"{area}{direction}{number}"


@outputs("aws:rds/instance:Instance")
def _rds_instance(resource: FakeResource) -> dict:
    identifier = resource.physical_name("identifier", max_length=63)
    port = int(resource.inputs.get("port") or 5432)
    address = f"{identifier}.c{resource.hex_id(11)}.{resource.cloud.region}.rds.amazonaws.com"
    resource_id = "db-" + resource.digest[:26].upper()
    fake = {
        "id": resource_id,
        "resourceId": resource_id,
        "identifier": identifier,
        "arn": resource.arn("rds", f"db:{identifier}"),
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
    }
    if resource.inputs.get("manageMasterUserPassword"):
        fake["masterUserSecrets"] = [
            {
                "secretArn": resource.arn(
                    "secretsmanager", f"secret:rds!db-{resource.uuid()}-{_secret_suffix(resource)}"
                ),
                "kmsKeyId": resource.inputs.get("masterUserSecretKmsKeyId"),
                "secretStatus": "active",
            }
        ]
    return fake


@outputs("aws:elasticache/replicationGroup:ReplicationGroup")
def _replication_group(resource: FakeResource) -> dict:
    group_id = resource.physical_name("replicationGroupId", max_length=40).lower()
    host = f"{group_id}.{resource.hex_id(6)}.{_region_code(resource.cloud.region)}.cache.amazonaws.com"
    count = int(resource.inputs.get("numCacheClusters") or 1)
    return {
        "id": group_id,
        "arn": resource.arn("elasticache", f"replicationgroup:{group_id}"),
        "primaryEndpointAddress": f"master.{host}",
        "readerEndpointAddress": f"replica.{host}",
        "port": int(resource.inputs.get("port") or 6379),
        "memberClusters": [f"{group_id}-{index:03d}" for index in range(1, count + 1)],
        "engineVersionActual": f"{resource.inputs.get('engineVersion')}.0",
    }


@outputs("aws:secretsmanager/secret:Secret")
def _secret(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=512)
    arn = resource.arn("secretsmanager", f"secret:{name}-{_secret_suffix(resource)}")
    return {"id": arn, "arn": arn, "name": name}


@outputs("aws:secretsmanager/secretVersion:SecretVersion")
def _secret_version(resource: FakeResource) -> dict:
    version_id = resource.uuid()
    secret_arn = resource.inputs.get("secretId")
    # The version the program stores is the secret's AWSCURRENT (until a rotation function moves it).
    if isinstance(secret_arn, str):
        resource.cloud.stored_secrets[secret_arn] = resource.inputs.get("secretString")
    return {
        "id": f"{secret_arn}|{version_id}",
        "arn": secret_arn,
        "versionId": version_id,
        "versionStages": ["AWSCURRENT"],
    }


@outputs("aws:s3/bucket:Bucket")
def _bucket(resource: FakeResource) -> dict:
    name = resource.physical_name("bucket", max_length=63)
    region = resource.cloud.region
    return {
        "id": name,
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "region": region,
    }


def _name_of(secret_arn: str) -> str:
    """``arn:...:secret:<name>-<6 characters>`` -> ``<name>``."""
    return secret_arn.split(":secret:", 1)[1][:-7]


@invoke("aws:secretsmanager/getSecretVersions:getSecretVersions")
def _secret_versions(cloud: FakeCloud, args: dict[str, Any]) -> dict[str, Any]:
    secret_arn = args["secretId"]
    versions = [{"versionId": "00000000-0000-4000-8000-000000000001", "versionStages": ["AWSCURRENT"]}]
    if _name_of(secret_arn) in ROTATED_VALUES:
        versions.append({"versionId": "00000000-0000-4000-8000-000000000000", "versionStages": ["AWSPREVIOUS"]})
    return {"arn": secret_arn, "secretId": secret_arn, "name": _name_of(secret_arn), "versions": versions}


@invoke("aws:secretsmanager/getSecretVersion:getSecretVersion")
def _secret_version_value(cloud: FakeCloud, args: dict[str, Any]) -> dict[str, Any]:
    secret_arn, stage = args["secretId"], args.get("versionStage", "AWSCURRENT")
    rotated = ROTATED_VALUES.get(_name_of(secret_arn))
    if rotated:
        value = rotated[("AWSCURRENT", "AWSPREVIOUS").index(stage)]
    elif stage == "AWSCURRENT":
        stored = cloud.stored_secrets[secret_arn]
        value = stored["value"] if is_secret(stored) else stored
    else:
        raise KeyError(f"{secret_arn} has no version labelled {stage} offline")
    cloud.secret_values.add(value)
    # The provider marks secretString secret (sensitive in the schema).
    return {"arn": secret_arn, "secretId": secret_arn, "versionStage": stage, "secretString": secret(value)}
