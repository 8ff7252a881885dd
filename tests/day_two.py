"""Day-two scenarios: what `pulumi up` would do to go from one offline plan to another.

A resource is created or deleted when its URN appears or disappears, and otherwise updated or replaced depending on
which inputs changed. An input counts as changed when its value differs, or when it holds an output of a resource
that is itself replaced (the real preview shows it unknown until the replacement exists). Which inputs force a
replacement is provider knowledge; ``REPLACE_KEYS`` holds it for the resource types these scenarios change (a
changed resource of any other type fails the scenario rather than be guessed).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stacks.offline.plan import Plan, PlannedResource

Op = Literal["create", "update", "replace", "delete"]

#: Inputs whose change replaces the resource, by type, as the providers declare them: terraform-provider-aws
#: `ForceNew` attributes (internal/service/<service>/<resource>.go), terraform-provider-random `RequiresReplace`
#: plan modifiers (internal/provider/resource_password.go: every argument of random_password).
REPLACE_KEYS: dict[str, frozenset[str]] = {
    "random:index/randomPassword:RandomPassword": frozenset(
        {
            "keepers",
            "length",
            "special",
            "upper",
            "lower",
            "numeric",
            "minLower",
            "minUpper",
            "minNumeric",
            "minSpecial",
            "overrideSpecial",
        }
    ),
    # secretsmanager/secret_version.go: secret_id, secret_string, secret_binary are ForceNew.
    "aws:secretsmanager/secretVersion:SecretVersion": frozenset({"secretId", "secretString", "secretBinary"}),
    # elasticache/replication_group.go: auth_token is updated in place (ModifyReplicationGroup).
    "aws:elasticache/replicationGroup:ReplicationGroup": frozenset(
        {
            "replicationGroupId",
            "atRestEncryptionEnabled",
            "kmsKeyId",
            "port",
            "subnetGroupName",
            "snapshotArns",
            "snapshotName",
            "dataTieringEnabled",
            "networkType",
            "securityGroupNames",
            "globalReplicationGroupId",
        }
    ),
    # rds/instance.go: engine_version and parameter_group_name are modified in place.
    "aws:rds/instance:Instance": frozenset(
        {
            "identifier",
            "identifierPrefix",
            "engine",
            "dbName",
            "username",
            "kmsKeyId",
            "storageEncrypted",
            "availabilityZone",
            "characterSetName",
            "ncharCharacterSetName",
            "timezone",
            "snapshotIdentifier",
            "restoreToPointInTime",
            "s3Import",
            "customIamInstanceProfile",
        }
    ),
    # rds/parameter_group.go: name, name_prefix, family and description are ForceNew.
    "aws:rds/parameterGroup:ParameterGroup": frozenset({"name", "namePrefix", "family", "description"}),
    # elasticache/parameter_group.go: name, family and description are ForceNew.
    "aws:elasticache/parameterGroup:ParameterGroup": frozenset({"name", "family", "description"}),
    # acm/certificate.go: domain_name and subject_alternative_names are ForceNew.
    "aws:acm/certificate:Certificate": frozenset(
        {
            "domainName",
            "subjectAlternativeNames",
            "keyAlgorithm",
            "validationMethod",
            "validationOptions",
            "certificateAuthorityArn",
        }
    ),
    # acm/certificate_validation.go: both arguments are ForceNew.
    "aws:acm/certificateValidation:CertificateValidation": frozenset({"certificateArn", "validationRecordFqdns"}),
    # route53/record.go: zone_id, name and set_identifier are ForceNew.
    "aws:route53/record:Record": frozenset({"zoneId", "name", "setIdentifier"}),
    # cloudfront/distribution.go: nothing is ForceNew.
    "aws:cloudfront/distribution:Distribution": frozenset(),
    # wafv2/web_acl.go: name, name_prefix and scope are ForceNew; rules are updated in place.
    "aws:wafv2/webAcl:WebAcl": frozenset({"name", "namePrefix", "scope"}),
    # cloudwatch/metric_alarm.go: alarm_name is ForceNew.
    "aws:cloudwatch/metricAlarm:MetricAlarm": frozenset({"name"}),
    # cloudwatch/dashboard.go: dashboard_name is ForceNew.
    "aws:cloudwatch/dashboard:Dashboard": frozenset({"dashboardName"}),
}


@dataclass(frozen=True)
class Change:
    op: Op
    type: str
    name: str
    keys: frozenset[str]
    """Inputs that changed (empty for creates and deletes)."""
    before: PlannedResource | None
    after: PlannedResource | None

    @property
    def protected(self) -> bool:
        """Protected in the state the engine acts on: a protected resource cannot be replaced or deleted."""
        return bool(self.before and self.before.options.get("protect"))


def changes(before: Plan, after: Plan) -> dict[str, Change]:
    """Every resource `pulumi up` would touch going from ``before`` to ``after``, by URN (unchanged ones omitted)."""
    olds = {resource.urn: resource for resource in before.resources}
    news = {resource.urn: resource for resource in after.resources}
    found: dict[str, Change] = {}
    replaced_outputs: set[str] = set()
    for new in after.resources:  # registration order: dependencies first
        old = olds.get(new.urn)
        if old is None:
            found[new.urn] = Change("create", new.type, new.name, frozenset(), None, new)
            continue
        keys = _changed_keys(old.plain_inputs, new.plain_inputs, replaced_outputs)
        if not keys or not new.custom:
            continue
        if new.type not in REPLACE_KEYS:
            raise AssertionError(f"{new.type} {new.name} changes ({sorted(keys)}); add its replace keys")
        op: Op = "replace" if keys & REPLACE_KEYS[new.type] else "update"
        if op == "replace":
            replaced_outputs |= _identities(old)
        found[new.urn] = Change(op, new.type, new.name, keys, old, new)
    for old in before.resources:
        if old.urn not in news:
            found[old.urn] = Change("delete", old.type, old.name, frozenset(), old, None)
    return found


def of_op(found: Mapping[str, Change], op: Op) -> list[Change]:
    return [change for change in found.values() if change.op == op]


def touched(found: Mapping[str, Change], type_: str) -> list[Change]:
    return [change for change in found.values() if change.type == type_]


def _identities(resource: PlannedResource) -> set[str]:
    """What other resources take from a resource and lose when it is replaced: its id, ARNs, ids and results, except
    those it only echoes from its inputs (a secret version's ``arn`` is its secret's)."""
    outputs = resource.plain_outputs
    keys = [key for key in outputs if key in ("arn", "result") or key.endswith(("Arn", "Id"))]
    values = {resource.id, *(outputs[key] for key in keys)} - set(_strings(resource.plain_inputs))
    return {value for value in values if isinstance(value, str) and len(value) >= 8}


def _changed_keys(old: dict[str, Any], new: dict[str, Any], replaced_outputs: set[str]) -> frozenset[str]:
    keys = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    keys |= {key for key, value in new.items() if any(text in replaced_outputs for text in _strings(value))}
    return frozenset(keys - {"__defaults"})


def _strings(value: Any) -> Iterator[str]:
    """Every string in a (nested) value, including the strings inside JSON documents."""
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            with contextlib.suppress(ValueError):
                yield from _strings(json.loads(value))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
