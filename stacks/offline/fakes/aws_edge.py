"""Fakes for the edge: Route 53, ACM, CloudFront and WAFv2, in the real providers' output shapes."""

from __future__ import annotations

import hashlib
import string
from typing import Any

from pulumi.runtime.rpc import unwrap_rpc_secret

from stacks.offline.fakes import FakeResource, outputs

#: The hosted zone of every CloudFront distribution's alias target (documented constant).
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
_UPPER = string.ascii_uppercase + string.digits
_LOWER = string.ascii_lowercase + string.digits
#: Web ACL capacity units of the AWS managed rule groups the program uses (from the rule groups' documentation).
_MANAGED_RULE_GROUP_WCU = {
    "AWSManagedRulesCommonRuleSet": 700,
    "AWSManagedRulesKnownBadInputsRuleSet": 200,
    "AWSManagedRulesSQLiRuleSet": 200,
    "AWSManagedRulesAmazonIpReputationList": 25,
    "AWSManagedRulesAnonymousIpList": 50,
}


def _token(seed: str, length: int, alphabet: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest() * 2
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


def _global_arn(resource: FakeResource, service: str, path: str) -> str:
    """ARNs of global services (CloudFront, Route 53) have no region; Route 53's have no account either."""
    account = "" if service == "route53" else resource.cloud.account_id
    return f"arn:aws:{service}::{account}:{path}"


@outputs("aws:acm/certificate:Certificate")
def _certificate(resource: FakeResource) -> dict:
    names = [resource.inputs["domainName"], *resource.inputs.get("subjectAlternativeNames", [])]
    arn = resource.arn("acm", f"certificate/{resource.uuid()}")
    return {
        "id": arn,
        "arn": arn,
        "status": "PENDING_VALIDATION",
        "type": "AMAZON_ISSUED",
        "keyAlgorithm": resource.inputs.get("keyAlgorithm") or "RSA_2048",
        "subjectAlternativeNames": names,
        "validationEmails": [],
        # One CNAME per name; the record depends only on the name and the account, as in ACM.
        "domainValidationOptions": [
            {
                "domainName": name,
                "resourceRecordName": f"_{_token(name + 'name', 32, '0123456789abcdef')}.{name}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_token(name + 'value', 32, '0123456789abcdef')}."
                f"{_token(name, 10, string.ascii_lowercase)}.acm-validations.aws.",
            }
            for name in names
        ],
    }


@outputs("aws:acm/certificateValidation:CertificateValidation")
def _certificate_validation(resource: FakeResource) -> dict:
    return {"id": "2026-01-01 00:00:00 +0000 UTC"}  # the provider uses the issue time as the id


@outputs("aws:route53/zone:Zone")
def _zone(resource: FakeResource) -> dict:
    zone_id = "Z0" + _token(resource.seed, 19, _UPPER)
    number = int(resource.digest[:4], 16)
    name_servers = [
        f"ns-{number % 512}.awsdns-{number % 64:02d}.com",
        f"ns-{number % 512 + 512}.awsdns-{(number + 1) % 64:02d}.net",
        f"ns-{number % 512 + 1024}.awsdns-{(number + 2) % 64:02d}.org",
        f"ns-{number % 512 + 1536}.awsdns-{(number + 3) % 64:02d}.co.uk",
    ]
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "arn": _global_arn(resource, "route53", f"hostedzone/{zone_id}"),
        "nameServers": name_servers,
        "primaryNameServer": name_servers[0],
    }


@outputs("aws:route53/record:Record")
def _record(resource: FakeResource) -> dict:
    name = str(resource.inputs["name"]).rstrip(".").lower()
    return {"id": f"{resource.inputs['zoneId']}_{name}_{resource.inputs['type']}", "fqdn": name}


@outputs("aws:route53/healthCheck:HealthCheck")
def _health_check(resource: FakeResource) -> dict:
    check_id = resource.uuid()
    return {"id": check_id, "arn": _global_arn(resource, "route53", f"healthcheck/{check_id}")}


@outputs("aws:cloudfront/distribution:Distribution")
def _distribution(resource: FakeResource) -> dict:
    distribution_id = "E" + _token(resource.seed, 13, _UPPER)
    return {
        "id": distribution_id,
        "arn": _global_arn(resource, "cloudfront", f"distribution/{distribution_id}"),
        "domainName": f"d{_token(resource.seed, 13, _LOWER)}.cloudfront.net",
        "hostedZoneId": CLOUDFRONT_HOSTED_ZONE_ID,
        "status": "Deployed",
        "etag": "E" + _token(resource.seed + "etag", 13, _UPPER),
        "callerReference": f"terraform-{resource.digest[:26]}",
        "inProgressValidationBatches": 0,
    }


@outputs("aws:cloudfront/originAccessControl:OriginAccessControl")
def _origin_access_control(resource: FakeResource) -> dict:
    return {"id": "E" + _token(resource.seed, 13, _UPPER), "etag": "E" + _token(resource.seed + "etag", 13, _UPPER)}


@outputs("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
def _response_headers_policy(resource: FakeResource) -> dict:
    policy_id = resource.uuid()
    return {
        "id": policy_id,
        "arn": _global_arn(resource, "cloudfront", f"response-headers-policy/{policy_id}"),
        "etag": "E" + _token(resource.seed, 13, _UPPER),
    }


def _wafv2_arn(resource: FakeResource, kind: str) -> dict[str, Any]:
    """CLOUDFRONT-scope entities live in us-east-1 under ``global/``, REGIONAL ones under ``regional/``."""
    scope = "global" if resource.inputs.get("scope") == "CLOUDFRONT" else "regional"
    entity_id = resource.uuid()
    name = resource.physical_name()
    return {
        "id": entity_id,
        "name": name,
        "arn": resource.arn("wafv2", f"{scope}/{kind}/{name}/{entity_id}"),
        "lockToken": _token(resource.seed + "lock", 36, "0123456789abcdef-"),
    }


@outputs("aws:wafv2/webAcl:WebAcl")
def _web_acl(resource: FakeResource) -> dict:
    rules = unwrap_rpc_secret(resource.inputs["rules"])  # secret as a whole when a rule holds a secret
    # A statement unknown at preview (the origin header's, read from Secrets Manager after its version exists) is a
    # rule of ours.
    statements = [rule["statement"] if isinstance(rule["statement"], dict) else {} for rule in rules]
    groups = [statement.get("managedRuleGroupStatement", {}).get("name") for statement in statements]
    custom_rules = groups.count(None)
    return {
        **_wafv2_arn(resource, "webacl"),
        "capacity": sum(_MANAGED_RULE_GROUP_WCU.get(group or "", 0) for group in groups) + 5 * custom_rules,
        "applicationIntegrationUrl": "",
    }


@outputs("aws:wafv2/ipSet:IpSet")
def _ip_set(resource: FakeResource) -> dict:
    return _wafv2_arn(resource, "ipset")


@outputs("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
def _web_acl_logging(resource: FakeResource) -> dict:
    return {"id": resource.inputs["resourceArn"]}


@outputs("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
def _log_resource_policy(resource: FakeResource) -> dict:
    return {"id": resource.inputs["policyName"]}


@outputs("aws:route53/keySigningKey:KeySigningKey")
def _key_signing_key(resource: FakeResource) -> dict:
    """A KSK of an ECC_NIST_P256 KMS key: algorithm 13 (ECDSAP256SHA256), DS digest type 2 (SHA-256), flag 257."""
    key_tag = int(resource.digest[:4], 16)
    digest = resource.digest[:64].upper()
    public_key = _token(resource.seed + "public", 88, string.ascii_letters + string.digits)
    return {
        "id": f"{resource.inputs['hostedZoneId']},{resource.inputs['name']}",
        "keyTag": key_tag,
        "flag": 257,
        "signingAlgorithmMnemonic": "ECDSAP256SHA256",
        "signingAlgorithmType": 13,
        "digestAlgorithmMnemonic": "SHA-256",
        "digestAlgorithmType": 2,
        "digestValue": digest,
        "dsRecord": f"{key_tag} 13 2 {digest}",
        "dnskeyRecord": f"257 3 13 {public_key}",
        "publicKey": public_key,
        "status": resource.inputs.get("status") or "ACTIVE",
    }


@outputs("aws:route53/queryLog:QueryLog")
def _query_log(resource: FakeResource) -> dict:
    config_id = resource.uuid()
    return {"id": config_id, "arn": _global_arn(resource, "route53", f"queryloggingconfig/{config_id}")}
