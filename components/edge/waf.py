"""WAFv2 rules of the two web ACLs: the viewer-facing one on CloudFront and the one on the origin load balancer.

Rules are plain dicts in the SDK's ``...ArgsDict`` shapes (type-checked), built by small functions so that each
ACL reads as a list of named rules in evaluation order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.base import PlatformComponent

#: The body of every response a rule of ours blocks (WAF custom response bodies are referenced by key).
BLOCKED_BODY_KEY = "blocked"
BLOCKED_BODY: aws.wafv2.WebAclCustomResponseBodyArgsDict = {
    "key": BLOCKED_BODY_KEY,
    "content": "Request blocked. If you think this is a mistake, contact the shop with the time of your request.",
    "content_type": "TEXT_PLAIN",
}
#: Request headers never written to WAF logs: credentials, session cookies and the origin secret.
REDACTED_HEADERS = ("authorization", "cookie", "x-origin-verify")
RATE_WINDOW_SECONDS = 300
#: AWS managed rule groups on the viewer-facing ACL, in evaluation order (cheap reputation lists first).
IP_REPUTATION = "AWSManagedRulesAmazonIpReputationList"
ANONYMOUS_IP = "AWSManagedRulesAnonymousIpList"
CONTENT_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
#: Defeats encoding and path tricks (``/%61dmin``, ``//admin``, ``/x/../ADMIN``) before matching a path.
_PATH_NORMALISATION: list[aws.wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArgsDict] = [
    {"priority": 0, "type": "URL_DECODE"},
    {"priority": 1, "type": "NORMALIZE_PATH"},
    {"priority": 2, "type": "LOWERCASE"},
]


def _metric(name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True, "metric_name": name}


def _block(status: int) -> aws.wafv2.WebAclRuleActionArgsDict:
    return {"block": {"custom_response": {"response_code": status, "custom_response_body_key": BLOCKED_BODY_KEY}}}


def _rule(
    name: str, statement: aws.wafv2.WebAclRuleStatementArgsDict, action: aws.wafv2.WebAclRuleActionArgsDict
) -> aws.wafv2.WebAclRuleArgsDict:
    """A rule of ours; its priority is set by its position in the ACL (``prioritised``)."""
    return {"name": name, "priority": 0, "statement": statement, "action": action, "visibility_config": _metric(name)}


def managed_rule_group(group: str) -> aws.wafv2.WebAclRuleArgsDict:
    """An AWS managed rule group with its own actions (``override_action: none`` keeps its blocks blocking)."""
    return {
        "name": group,
        "priority": 0,
        "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": group}},
        "override_action": {"none": {}},
        "visibility_config": _metric(group),
    }


def rate_limit_per_ip(limit: int) -> aws.wafv2.WebAclRuleArgsDict:
    """At most ``limit`` requests per client IP in any 5 minutes; over it, 429 until the rate falls."""
    return _rule(
        "rate-limit-per-ip",
        {
            "rate_based_statement": {
                "limit": limit,
                "aggregate_key_type": "IP",
                "evaluation_window_sec": RATE_WINDOW_SECONDS,
            }
        },
        _block(429),
    )


def path_starts_with(prefix: str) -> aws.wafv2.WebAclRuleStatementArgsDict:
    return {
        "byte_match_statement": {
            "field_to_match": {"uri_path": {}},
            "positional_constraint": "STARTS_WITH",
            "search_string": prefix,
            "text_transformations": _PATH_NORMALISATION,
        }
    }


def admin_only_from(allowed_ip_set_arn: pulumi.Input[str] | None) -> aws.wafv2.WebAclRuleArgsDict:
    """Blocks ``/admin`` unless the client address is in the allowed IP set (everyone, when there is none)."""
    admin = path_starts_with("/admin")
    if allowed_ip_set_arn is None:
        return _rule("admin-allowlist", admin, _block(403))
    outsider: aws.wafv2.WebAclRuleStatementArgsDict = {
        "not_statement": {"statement": {"ip_set_reference_statement": {"arn": allowed_ip_set_arn}}}
    }
    return _rule("admin-allowlist", {"and_statement": {"statements": [admin, outsider]}}, _block(403))


def allow_header(
    rule_name: str, header: str, value: pulumi.Input[str], other: pulumi.Input[str] | None = None
) -> aws.wafv2.WebAclRuleArgsDict:
    """Allows requests whose ``header`` is exactly ``value``, or ``other`` when given (a rotated secret's current
    and previous values; compared as sent: no transformation)."""
    statement = _header_is(header, value)
    if other is not None:
        either: aws.wafv2.WebAclRuleStatementArgsDict = {
            "or_statement": {"statements": [statement, _header_is(header, other)]}
        }
        return _rule(rule_name, either, {"allow": {}})
    return _rule(rule_name, statement, {"allow": {}})


def _header_is(header: str, value: pulumi.Input[str]) -> aws.wafv2.WebAclRuleStatementArgsDict:
    return {
        "byte_match_statement": {
            "field_to_match": {"single_header": {"name": header.lower()}},
            "positional_constraint": "EXACTLY",
            "search_string": value,
            "text_transformations": [{"priority": 0, "type": "NONE"}],
        }
    }


def allow_path(rule_name: str, path: str) -> aws.wafv2.WebAclRuleArgsDict:
    return _rule(
        rule_name,
        {
            "byte_match_statement": {
                "field_to_match": {"uri_path": {}},
                "positional_constraint": "EXACTLY",
                "search_string": path,
                "text_transformations": [{"priority": 0, "type": "NONE"}],
            }
        },
        {"allow": {}},
    )


def log_group_name(acl_name: str) -> str:
    """WAF delivers logs to CloudWatch only into log groups named with this prefix."""
    return f"aws-waf-logs-{acl_name}"


def prioritised(rules: Sequence[aws.wafv2.WebAclRuleArgsDict]) -> list[aws.wafv2.WebAclRuleArgsDict]:
    """The rules with priorities 0, 1, 2, ... in list order: WAF evaluates them in that order."""
    return [{**rule, "priority": index} for index, rule in enumerate(rules)]


@dataclass(frozen=True)
class WebAclLogging:
    """Where a web ACL logs: a log group named ``aws-waf-logs-...`` (WAF requires the prefix) in the ACL's region."""

    account: Account
    region: str
    kms_key_arn: pulumi.Input[str]
    retention_days: int

    @property
    def resource_region(self) -> str | None:
        """The ``region`` argument of the ACL's resources: None (the stack's provider's own) in the stack's region."""
        return None if self.region == self.account.region else self.region


def web_acl(
    name: str,
    *,
    physical_name: str,
    scope: str,
    description: str,
    default_action: aws.wafv2.WebAclDefaultActionArgsDict,
    rules: Sequence[aws.wafv2.WebAclRuleArgsDict],
    logging: WebAclLogging,
    tags: dict[str, str],
    component: PlatformComponent,
) -> aws.wafv2.WebAcl:
    """A web ACL with metrics and sampled requests, logging to its own encrypted log group (headers redacted), all
    children of ``component`` in the logging's region; the log group is data."""
    region = logging.resource_region
    acl = aws.wafv2.WebAcl(
        name,
        name=physical_name,
        scope=scope,
        description=description,
        default_action=default_action,
        rules=prioritised(rules),
        custom_response_bodies=[BLOCKED_BODY],
        visibility_config={
            "cloudwatch_metrics_enabled": True,
            "sampled_requests_enabled": True,
            "metric_name": physical_name,
        },
        tags=tags,
        region=region,
        opts=component.child(),
    )
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=log_group_name(physical_name),
        retention_in_days=logging.retention_days,
        kms_key_id=logging.kms_key_arn,
        tags=tags,
        region=region,
        opts=component.child(holds_data=True),
    )
    # Our own delivery policy: otherwise WAF grows the account-wide AWSWAF-LOGS policy, which has a size limit.
    delivery = aws.cloudwatch.LogResourcePolicy(
        f"{name}-log-delivery",
        policy_name=f"{physical_name}-waf-log-delivery",
        policy_document=log_group.arn.apply(lambda arn: json.dumps(_log_delivery_policy(arn, logging))),
        region=region,
        opts=component.child(),
    )
    aws.wafv2.WebAclLoggingConfiguration(
        f"{name}-logging",
        resource_arn=acl.arn,
        log_destination_configs=[log_group.arn],
        redacted_fields=[{"single_header": {"name": header}} for header in REDACTED_HEADERS],
        region=region,
        opts=component.child(depends_on=[delivery]),
    )
    return acl


def _log_delivery_policy(log_group_arn: str, logging: WebAclLogging) -> dict:
    """CloudWatch Logs' log delivery service may write this account's WAF logs into this one log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WafLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:log-stream:*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": logging.account.id},
                    "ArnLike": {"aws:SourceArn": logging.account.arn("logs", "*", region=logging.region)},
                },
            }
        ],
    }
