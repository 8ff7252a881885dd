"""What policy documents, principals, conditions, CIDR ranges and configuration strings *mean*, shared by every rule.

Rules judge meaning, not spelling: ``iam:*`` on ``arn:*`` is as dangerous as ``*`` on ``*``, a condition on
``aws:SecureTransport`` does not narrow who may assume a role, ``0.0.0.0/1`` plus ``128.0.0.0/1`` is the whole
internet, and ``["false"]`` with a lower-case ``aws:securetransport`` is the usual TLS deny. IAM semantics follow
the IAM JSON policy reference (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_*.html):
action names and condition keys are case-insensitive, every element value may be a string or a list.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from .base import UNKNOWN, dig, statements, strings

# ---------------------------------------------------------------------------------------------- actions

#: Actions that hand out more access than they name (privilege escalation) or read the secrets themselves, when
#: allowed on every resource. Sources: the IAM privilege-escalation paths Rhino Security Labs documented
#: (github.com/RhinoSecurityLabs/AWS-IAM-Privilege-Escalation) and the data-plane reads of the secret stores.
ESCALATION_ACTIONS = (
    "iam:PassRole",
    "iam:CreateRole",
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateAssumeRolePolicy",
    "iam:AddUserToGroup",
    "sts:AssumeRole",
    "lambda:UpdateFunctionCode",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
)
SECRET_READ_ACTIONS = (
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "kms:Decrypt",
)
SENSITIVE_ACTIONS = (*ESCALATION_ACTIONS, *SECRET_READ_ACTIONS)


def actions_match(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (``iam:Put*``, ``*``) covers ``action`` (names are case-insensitive)."""
    return fnmatchcase(action.lower(), pattern.lower())


def every_resource(resource: str) -> bool:
    """``*``, or an ARN pattern whose resource part is ``*`` in any account and region (``arn:*``,
    ``arn:aws:*:*:*:*``, ``arn:aws:iam::*:*``): every resource the actions apply to."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if parts[0] != "arn":
        return False
    if len(parts) < 6:
        return parts[-1] == "*"
    return parts[5] == "*" and parts[4] in ("", "*")


@dataclass(frozen=True)
class Grant:
    """What one Allow statement of an identity policy grants on every resource, in words (None: nothing broad)."""

    actions: str
    resources: str
    #: One whole service (``ec2:*``), as a deploy role needs: not every action, not IAM or STS, not an escalation.
    service_wide: bool = False

    def sentence(self) -> str:
        return f"A statement allows {self.actions} on {self.resources}."


def _resources_covered(statement: dict[str, Any]) -> str | None:
    if any(every_resource(resource) for resource in strings(statement.get("Resource"))):
        return "every resource"
    if strings(statement.get("NotResource")):
        return "every resource but those in NotResource"
    return None


def broad_grants(statement: dict[str, Any]) -> list[Grant]:
    """The dangerous grants of an Allow statement on every resource: all actions (``*``, NotAction), a whole
    service (``iam:*``, ``s3:*``) or sensitive actions (``iam:PassRole``, ``iam:Create*``,
    ``secretsmanager:GetSecretValue``). Conditions do not narrow these: a condition on the request (TLS, tags)
    leaves the grant as wide as written."""
    if str(statement.get("Effect")) != "Allow":
        return []
    resources = _resources_covered(statement)
    if resources is None:
        return []
    if strings(statement.get("NotAction")):
        return [Grant("every action but those in NotAction", resources)]
    patterns = strings(statement.get("Action"))
    if any(pattern in ("*", "*:*") for pattern in patterns):
        return [Grant('every action ("*")', resources)]
    grants = [
        Grant(
            f"every {pattern.split(':')[0]} action ({pattern})",
            resources,
            service_wide=pattern.lower() not in ("iam:*", "sts:*"),
        )
        for pattern in patterns
        if pattern.endswith(":*")
    ]
    sensitive = sorted(
        {
            action
            for pattern in patterns
            if not pattern.endswith(":*")
            for action in SENSITIVE_ACTIONS
            if actions_match(pattern, action)
        }
    )
    if sensitive:
        grants.append(Grant(", ".join(sensitive), resources))
    return grants


# ---------------------------------------------------------------------------------------------- conditions


def conditions(statement: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(operator, key, values) of a statement's Condition block; key lower-cased (condition keys are
    case-insensitive), values always a list of strings (``"false"``, ``false`` and ``["false"]`` alike)."""
    block = statement.get("Condition")
    found: list[tuple[str, str, list[str]]] = []
    if not isinstance(block, dict):
        return found
    for operator, tests in block.items():
        if not isinstance(tests, dict):
            continue
        for key, value in tests.items():
            values = value if isinstance(value, list) else [value]
            found.append(
                (
                    operator,
                    key.lower(),
                    [
                        str(item).lower() if isinstance(item, bool) else str(item)
                        for item in values
                        if item is not UNKNOWN
                    ],
                )
            )
    return found


#: Condition keys that narrow *who* may use a grant to a known account, organisation, resource or network
#: (aws:SecureTransport, aws:CurrentTime or a tag do not: any principal on earth can satisfy them).
RESTRICTING_KEYS = (
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:userid",
    "kms:calleraccount",
)


def _positive(operator: str) -> bool:
    """An operator that admits only matching requests (not a negation, not satisfied by a missing key)."""
    name = operator.lower()
    return "not" not in name and not name.endswith("ifexists") and name != "null"


def restricts_callers(statement: dict[str, Any]) -> bool:
    """Whether a condition narrows the callers to a known account, organisation, source or identity."""
    return any(
        _positive(operator) and key in RESTRICTING_KEYS and values and not any(value == "*" for value in values)
        for operator, key, values in conditions(statement)
    )


def denies_insecure_transport(statement: dict[str, Any]) -> bool:
    """A Deny for every principal whenever ``aws:SecureTransport`` is false, in any spelling."""
    return (
        str(statement.get("Effect")) == "Deny"
        and is_everyone(statement.get("Principal"))
        and any(
            operator.lower() in ("bool", "boolifexists")
            and key == "aws:securetransport"
            and "false" in [value.lower() for value in values]
            for operator, key, values in conditions(statement)
        )
    )


# ---------------------------------------------------------------------------------------------- principals


def is_everyone(principal: Any) -> bool:
    """``"*"`` or ``{"AWS": "*"}``: every principal, anonymous ones included (whom a Deny for all must name)."""
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in strings(principal.get("AWS"))


def is_wildcard_principal(principal: Any) -> bool:
    """A principal that admits anyone in any account: ``"*"``, a wildcard of any principal type (``{"AWS": "*"}``,
    ``{"Service": "*"}``, ``{"Federated": "*"}``, ...) or an IAM ARN whose account is a wildcard
    (``arn:aws:iam::*:root``, ``arn:aws:iam::*:role/x``)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(
        value == "*" or (kind == "AWS" and _any_account(value))
        for kind, values in principal.items()
        for value in strings(values)
    )


def _any_account(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 6 and parts[0] == "arn" and parts[2] in ("iam", "sts") and any(c in parts[4] for c in "*?")


def public_statements(document: Any) -> list[dict[str, Any]]:
    """Allow statements of a resource policy open to any principal with no condition that narrows the callers."""
    return [
        statement
        for statement in statements(document)
        if str(statement.get("Effect")) == "Allow"
        and is_wildcard_principal(statement.get("Principal"))
        and not restricts_callers(statement)
    ]


def web_identity_without_subject(statement: dict[str, Any]) -> str | None:
    """For an Allow of ``sts:AssumeRoleWithWebIdentity`` (OIDC, IRSA): which of the provider's ``:sub`` and
    ``:aud`` conditions are missing (a token for any repository or service account would do), else None."""
    if str(statement.get("Effect")) != "Allow":
        return None
    federated = strings(dig(statement.get("Principal"), "Federated"))
    actions = strings(statement.get("Action"))
    if not federated or not any(actions_match(action, "sts:AssumeRoleWithWebIdentity") for action in actions):
        return None
    pinned = {
        key.rsplit(":", 1)[-1]
        for operator, key, values in conditions(statement)
        if _positive(operator) and values and not any(value.strip("*") == "" for value in values)
    }
    missing = [part for part in ("sub", "aud") if part not in pinned]
    return " and ".join(f":{part}" for part in missing) or None


# ---------------------------------------------------------------------------------------------- CIDR ranges

_PRIVATE = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10")
)


def public_addresses(cidr: str) -> int:
    """How many addresses of a CIDR are outside the private ranges (RFC 1918, RFC 6598, ULA, link-local);
    0 for a malformed range (the provider rejects those)."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return 0
    count = network.num_addresses
    for private in _PRIVATE:
        if private.version != network.version:
            continue
        if network.subnet_of(private):  # type: ignore[arg-type] - same version checked above
            return 0
        if private.subnet_of(network):  # type: ignore[arg-type]
            count -= private.num_addresses
    return count


def wide_public(cidrs: Iterable[str], widest_prefix: Mapping[int, int]) -> list[str]:
    """The CIDRs that, taken together per IP version, open more public space than a prefix of
    ``widest_prefix[version]`` (e.g. {4: 16, 6: 48}) holds: ``0.0.0.0/0``, ``0.0.0.0/1`` + ``128.0.0.0/1``."""
    by_version: dict[int, list[str]] = {4: [], 6: []}
    for cidr in cidrs:
        by_version[6 if ":" in cidr else 4].append(cidr)
    wide: list[str] = []
    for version, listed in by_version.items():
        bits = 32 if version == 4 else 128
        public = [cidr for cidr in listed if public_addresses(cidr)]
        if sum(public_addresses(cidr) for cidr in public) > 2 ** (bits - widest_prefix[version]):
            wide += public
    return wide


# ---------------------------------------------------------------------------------------------- secrets in text

#: Names of settings that hold a secret: ``DB_PASSWORD``, ``REDIS_AUTH``, ``api_key``, ``*_PASS``, ``*_TOKEN``.
SECRET_NAME = re.compile(
    r"passw(or)?d|(^|[^a-z])pass(wd)?($|[^a-z])|passphrase|secret|token|(^|[^a-z])auth($|[^a-z])|private.?key|"
    r"credential|api.?key|access.?key|signing.?key|(^|[^a-z])dsn($|[^a-z])",
    re.IGNORECASE,
)
#: Names under which any literal is a secret; under the others (``*_AUTH``, ``*_PASS``) only a generated-looking one.
CERTAIN_SECRET_NAME = re.compile(r"passw(or)?d|secret|token|private.?key|credential|api.?key", re.IGNORECASE)
#: Names that say *where* a secret is, not what it is (``..._ARN``, ``..._SECRET_NAME``, ``..._FILE``).
REFERENCE_NAME = re.compile(r"(arn|arns|id|ids|name|names|ref|file|path|url_file)$", re.IGNORECASE)
#: Shorter strings are too common to be told apart from ordinary values.
MIN_SECRET_LENGTH = 8
#: Bits per character above which a string under a secret-like name looks generated (a password or token),
#: not a word; base64 and hex secrets of 16+ characters sit well above it.
ENTROPY_THRESHOLD = 3.0


def secret_like_name(name: str) -> bool:
    """A key that names a secret (``dbPassword``, ``AUTH_TOKEN``) rather than where one is (``...Arn``)."""
    return bool(SECRET_NAME.search(name)) and not REFERENCE_NAME.search(name)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(count / len(text) * math.log2(count / len(text)) for count in counts.values())


def url_with_password(text: str) -> bool:
    """``scheme://user:password@host`` (a connection string with its credential inline)."""
    if "://" not in text or "@" not in text:
        return False
    try:
        return bool(urlsplit(text.strip()).password)
    except ValueError:
        return False


def secret_in_setting(name: str, value: Any, known: Iterable[str] = ()) -> str | None:
    """Why a name/value setting (an env var, a ConfigMap key, a Helm value) carries a secret, else None."""
    if not isinstance(value, str) or not value:
        return None
    if any(secret in value for secret in known):
        return "holds a secret value of this stack"
    if url_with_password(value):
        return "holds a URL with an inline password"
    if not secret_like_name(name) or value.startswith("arn:") or len(value) < MIN_SECRET_LENGTH:
        return None
    if entropy(value) >= ENTROPY_THRESHOLD:
        return "looks like a generated secret under a secret-like name"
    return "holds a literal under a password-like name" if CERTAIN_SECRET_NAME.search(name) else None


#: The policy config of every rule that judges CIDR ranges: how wide a public range may be before it counts as
#: "the internet" (more public addresses, in one rule's sources together, than such a prefix holds).
PUBLIC_RANGE_CONFIG: dict[str, dict[str, Any]] = {
    "widestPublicIpv4Prefix": {"type": "integer", "minimum": 0, "maximum": 32, "default": 16},
    "widestPublicIpv6Prefix": {"type": "integer", "minimum": 0, "maximum": 128, "default": 48},
}


def internet_ranges(cidrs: Iterable[str], config: Mapping[str, Any]) -> list[str]:
    """``wide_public`` with the thresholds of a rule's ``PUBLIC_RANGE_CONFIG``."""
    return wide_public(cidrs, {4: config["widestPublicIpv4Prefix"], 6: config["widestPublicIpv6Prefix"]})
