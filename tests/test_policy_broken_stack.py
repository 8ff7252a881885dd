"""A deliberately broken program (tests/fixtures/broken_stack) fails the pack with the rules it breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.__main__ import main
from stacks.offline.engine import preview
from stacks.offline.plan import Plan
from stacks.offline.policy_run import Violation, config_path, evaluate, load_settings

FIXTURE = Path(__file__).parent / "fixtures" / "broken_stack"

#: (rule, resource) pairs the prod config must block.
EXPECTED = {
    ("rds-not-public", "public-db"),
    ("rds-storage-encrypted-cmk", "public-db"),
    ("rds-managed-master-password", "public-db"),
    ("rds-backup-retention", "public-db"),
    ("rds-multi-az", "public-db"),
    ("rds-force-tls", "public-db"),
    ("instance-size-allowlist", "public-db"),
    ("s3-public-access-block", "open-bucket"),
    ("s3-encryption-kms", "open-bucket"),
    ("s3-versioning", "open-bucket"),
    ("s3-tls-only", "open-bucket"),
    ("s3-access-logging", "open-bucket"),
    ("security-group-no-internet-ingress", "ssh-from-anywhere"),
    ("iam-no-wildcard-admin", "admin-policy"),
    ("kms-key-rotation", "static-key"),
    ("eks-endpoint-no-public-cidr", "open-cluster"),
    ("eks-secrets-encryption", "open-cluster"),
    ("eks-api-authentication-mode", "open-cluster"),
    ("k8s-no-privilege-escalation", "privileged"),
    ("k8s-run-as-non-root", "privileged"),
    ("k8s-image-pinned", "privileged"),
    ("k8s-no-host-namespaces", "privileged"),
    ("k8s-network-policy-per-workload", "privileged"),
    ("k8s-service-cluster-ip-only", "public-service"),
    ("stateful-resources-protected", "public-db"),
    ("required-tags", "open-bucket"),
    ("no-secrets-in-outputs", "broken-shop-prod"),
}


@pytest.fixture(scope="module")
def broken() -> Plan:
    return preview("prod", project_dir=FIXTURE)


def test_the_pack_blocks_every_planted_problem(broken: Plan) -> None:
    violations: list[Violation] = evaluate(broken, load_settings(config_path("prod")))
    blocked = {(violation.policy, violation.urn.rsplit("::", 1)[-1]) for violation in violations if violation.mandatory}
    assert sorted(EXPECTED - blocked) == []


def test_the_offline_run_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "prod", "--project-dir", str(FIXTURE), "--policy"]) == 1
    out = capsys.readouterr().out
    assert "FAILED  shop-platform@v0.1.0" in out
    assert "- [mandatory]  [severity: critical]  rds-not-public  (aws:rds/instance:Instance: public-db)" in out
    assert "publiclyAccessible is true. Fix: set publicly_accessible=False" in out
