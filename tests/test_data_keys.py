"""KMS keys of the data layer: rotation, aliases, and key policies that admit the root and named services only."""

from __future__ import annotations

import pytest

from stacks.offline.plan import Plan
from tests.data_layer import ACCOUNT, document, key_arn, statement

DATA_LAYER_KEYS = ("data", "secrets", "logs")


@pytest.mark.parametrize("purpose", DATA_LAYER_KEYS)
def test_keys_rotate_and_have_an_alias(plan: Plan, purpose: str) -> None:
    key = plan.one("aws:kms/key:Key", f"{purpose}-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["rotationPeriodInDays"] == 365
    alias = plan.one("aws:kms/alias:Alias", f"{purpose}-key-alias")
    assert alias.inputs["name"] == f"alias/shop-{plan.stack}-{purpose}"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


def test_no_key_policy_names_a_wildcard_principal(plan: Plan) -> None:
    keys = plan.of_type("aws:kms/key:Key")
    assert len(keys) >= len(DATA_LAYER_KEYS)
    for key in keys:
        for entry in document(key)["Statement"]:
            principal = entry["Principal"]
            assert principal != "*", (key.name, entry["Sid"])
            aws_principals = principal.get("AWS", [])
            assert "*" not in ([aws_principals] if isinstance(aws_principals, str) else aws_principals), (
                key.name,
                entry["Sid"],
            )


@pytest.mark.parametrize("purpose", DATA_LAYER_KEYS)
def test_key_policies_delegate_to_the_account_root(plan: Plan, purpose: str) -> None:
    root = statement(document(plan.one("aws:kms/key:Key", f"{purpose}-key")), "AccountRootDelegatesToIam")
    assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def test_cloudfront_may_only_decrypt_for_this_accounts_distributions(plan: Plan) -> None:
    policy = document(plan.one("aws:kms/key:Key", "data-key"))
    cloudfront = statement(policy, "CloudFrontDecryptsAssetsForThisAccountsDistributions")
    assert cloudfront["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert cloudfront["Action"] == "kms:Decrypt"
    assert cloudfront["Condition"] == {"StringLike": {"AWS:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/*"}}
    for purpose in ("secrets", "logs"):
        services = [s["Principal"] for s in document(plan.one("aws:kms/key:Key", f"{purpose}-key"))["Statement"]]
        assert {"Service": "cloudfront.amazonaws.com"} not in services, f"the {purpose} key is not CloudFront's"


def test_cloudwatch_logs_uses_the_logs_key_for_this_accounts_log_groups_only(plan: Plan) -> None:
    policy = document(plan.one("aws:kms/key:Key", "logs-key"))
    logs = statement(policy, "CloudWatchLogsEncryptsThisAccountsLogGroups")
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*"
    }


def test_the_stack_outputs_name_every_key(plan: Plan) -> None:
    purposes = (*DATA_LAYER_KEYS, "volumes")
    assert plan.outputs["kmsKeyArns"] == {purpose: key_arn(plan, purpose) for purpose in purposes}
