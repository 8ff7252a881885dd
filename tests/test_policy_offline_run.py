"""The offline policy run: both stacks pass, config is reconciled like the CLI does, the CLI flag's exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from policies.rules import POLICIES, data, network
from stacks.__main__ import main
from stacks.offline.plan import UNKNOWN, Plan
from stacks.offline.policy_run import (
    PolicyConfigError,
    Violation,
    config_path,
    evaluate,
    load_settings,
    reconcile,
)
from tests.policy_support import check, resource

#: (rule, resource name) violations of components still being built, each to be fixed by the component's owner.
#: Shrinks to empty as components land; a violation listed here is still reported, just not failed on.
PENDING_COMPONENT_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


def _violations(plan: Plan) -> list[Violation]:
    return evaluate(plan, load_settings(config_path(plan.stack)))


def _unexpected(violations: list[Violation]) -> list[str]:
    return [
        f"{v.policy} {v.resource}: {v.message}"
        for v in violations
        if (v.policy, v.urn.rsplit("::", 1)[-1]) not in PENDING_COMPONENT_VIOLATIONS
    ]


def test_staging_has_no_mandatory_violation(staging: Plan) -> None:
    assert _unexpected([v for v in _violations(staging) if v.mandatory]) == []


def test_prod_has_no_violation_at_all(prod: Plan) -> None:
    assert _unexpected(_violations(prod)) == []


def test_staging_advisories_are_only_its_deliberate_savings(staging: Plan) -> None:
    relaxed = {name for name, s in load_settings(config_path("staging")).items() if s.enforcement.value == "advisory"}
    assert {v.policy for v in _violations(staging) if not v.mandatory} <= relaxed


def test_the_cli_flag_prints_the_verdict_and_exits_by_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Prod passes (test above); the exit code follows the printed verdict (the broken stack shows a failure)."""
    code = main(["preview", "prod", "--policy"])
    out = capsys.readouterr().out
    assert "shop-platform@v0.1.0 (local: policies, config: policies/config/prod.json)" in out
    assert code == (1 if "- [mandatory]" in out else 0)


def test_a_broken_policy_config_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "prod.json"
    config.write_text(json.dumps({"all": "mandatory", "rds-backup-retention": {"minimumDays": "seven"}}))
    assert main(["preview", "prod", "--policy", "--policy-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "prod.json: 1 policy config problem(s):" in err
    assert "rds-backup-retention: minimumDays: 'seven' is not of type 'integer'" in err


# ---------------------------------------------------------------------------------------------- config


def test_config_applies_all_then_per_policy_then_schema_defaults() -> None:
    settings, problems = reconcile(
        POLICIES,
        {"all": "advisory", "rds-not-public": "mandatory", "rds-backup-retention": {"minimumDays": 21}},
    )
    assert problems == []
    assert settings["rds-not-public"].enforcement == EnforcementLevel.MANDATORY
    assert settings["rds-multi-az"].enforcement == EnforcementLevel.ADVISORY
    assert settings["rds-backup-retention"].properties == {"minimumDays": 21}
    assert settings["log-group-retention"].properties == {"minimumDays": 365}


def test_without_config_every_rule_is_mandatory() -> None:
    settings, problems = reconcile(POLICIES, {})
    assert problems == []
    assert {s.enforcement for s in settings.values()} == {EnforcementLevel.MANDATORY}


def test_config_problems_name_the_policy_and_the_property() -> None:
    _, problems = reconcile(
        POLICIES,
        {
            "rds-multiaz": "advisory",
            "rds-not-public": "sometimes",
            "k8s-minimum-replicas": {"minimum": 0},
            "s3-versioning": 3,
        },
    )
    assert problems == [
        "rds-not-public: 'sometimes' is not a valid enforcement level (advisory, mandatory, remediate, disabled)",
        "s3-versioning: 3 is not a valid value; must be a string or object",
        "rds-multiaz: the pack has no such policy",
        "k8s-minimum-replicas: minimum: 0 is less than the minimum of 1",
    ]


def test_a_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="no policy config"):
        load_settings(tmp_path / "qa.json")


def test_disabled_policies_do_not_run_and_remediate_counts_as_mandatory() -> None:
    public = resource(data.RDS_INSTANCE, props={"publiclyAccessible": True})
    settings, _ = reconcile([data.rds_not_public, network.vpc_flow_logs_enabled], {"rds-not-public": "disabled"})
    plan = Plan(project="proj", stack="test", resources=[public], outputs={})
    assert evaluate(plan, settings, [data.rds_not_public]) == []
    settings, _ = reconcile([data.rds_not_public], {"rds-not-public": "remediate"})
    assert [v.enforcement for v in evaluate(plan, settings, [data.rds_not_public])] == [EnforcementLevel.MANDATORY]


# ---------------------------------------------------------------------------------------------- fidelity


def test_a_policy_reading_an_unknown_is_reported_as_advisory_like_the_analyzer_does() -> None:
    def reads_everything(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.props["kmsKeyId"] is None:
            report("never reached", None)

    naive = ResourceValidationPolicy("naive", "Reads props directly.", validate=reads_everything)
    [violation] = check(naive, resource(data.RDS_INSTANCE, props={"kmsKeyId": UNKNOWN}))
    assert violation.enforcement == EnforcementLevel.ADVISORY
    assert (
        violation.message
        == "can't run policy 'naive' during preview: string value at .kmsKeyId can't be known during preview"
    )


def test_stack_policies_see_outputs_and_the_stack_outputs() -> None:
    bucket = resource(data.BUCKETS[0], "assets", {}, outputs={"bucket": "assets-123"}, id="assets-123")
    block = resource(data.PUBLIC_ACCESS_BLOCK, "pab", {"bucket": "assets-123"})
    assert check(data.s3_public_access_block, bucket, block) == []


@pytest.mark.parametrize(
    "weakened",
    [
        {"all": "advisory"},
        {"all": "mandatory", "s3-tls-only": "disabled"},
        {"iam-no-wildcard-admin": {"enforcementLevel": "advisory"}},
    ],
    ids=["all-advisory", "one-disabled", "one-advisory"],
)
def test_prod_config_may_not_lower_a_security_rule(
    tmp_path: Path, weakened: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(weakened))
    with pytest.raises(PolicyConfigError, match="a security rule stays mandatory in prod"):
        load_settings(path)
    assert main(["preview", "prod", "--policy", "--policy-config", str(path)]) == 2
    assert "stays mandatory in prod" in capsys.readouterr().err


def test_staging_config_may_relax_resilience_rules_but_not_be_called_prod(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    path.write_text(json.dumps({"all": "advisory"}))
    assert load_settings(path)["s3-tls-only"].enforcement == EnforcementLevel.ADVISORY
    with pytest.raises(PolicyConfigError, match="stays mandatory in prod"):
        load_settings(path, stack="prod")


def test_the_offline_run_reports_the_preview_and_the_up_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    """prod passes both: at preview, what cannot be decided yet is an advisory entry naming the value."""
    assert main(["preview", "prod", "--policy"]) == 0
    out = capsys.readouterr().out
    at_preview, at_up = out.split("Policies (as `pulumi preview` sees it", 1)[1].split(
        "Policies (as `pulumi up` sees it"
    )
    assert "passed  shop-platform" in at_preview and "0 mandatory" in at_preview
    assert "undecided until the values are known: whether storage-assets has one (storage-assets-policy)" in at_preview
    assert "0 mandatory, 0 advisory violation(s)" in at_up
