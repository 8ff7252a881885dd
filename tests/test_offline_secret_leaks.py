"""Leaked secrets are caught by their values, not only by their names (tests/fixtures/leaky_stack).

The fixture leaks a generated token into a stack output and a ConfigMap, and a value the program marks secret and
an encrypted config value into tags, all under names that do not look secret.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.__main__ import main
from stacks.offline.engine import preview
from stacks.offline.plan import SECRET, Plan
from stacks.offline.policy_run import config_path, evaluate, load_settings
from tests.data_layer import plain_text_leaks

FIXTURE = Path(__file__).parent / "fixtures" / "leaky_stack"
SIGNING_KEY = "program-held-signing-key-0123456789"
API_KEY_PLACEHOLDER = "offline-placeholder-for-leaky-shop:apiKey"


@pytest.fixture(scope="module")
def leaky() -> Plan:
    return preview("prod", project_dir=FIXTURE)


def _token(plan: Plan) -> str:
    plain = plan.one("random:index/randomPassword:RandomPassword").plain_outputs["result"]
    assert isinstance(plain, str) and len(plain) == 32
    return plain


def test_the_pack_finds_the_leaked_values_in_the_output_and_the_config_map(leaky: Plan) -> None:
    violations = evaluate(leaky, load_settings(config_path("prod")))
    found = {(v.policy, v.message.split(" Fix:")[0]) for v in violations if v.mandatory}
    assert ("no-secrets-in-outputs", "Output 'cacheAuth' contains a secret value.") in found
    assert ("k8s-no-secrets-in-configmaps", "Key 'REDIS_AUTH' holds a secret value.") in found


def test_the_offline_policy_run_fails_naming_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "prod", "--project-dir", str(FIXTURE), "--policy"]) == 1
    out = capsys.readouterr().out
    assert "- [mandatory]  [severity: critical]  no-secrets-in-outputs  (pulumi:pulumi:Stack: leaky-shop-prod)" in out
    assert "k8s-no-secrets-in-configmaps  (kubernetes:core/v1:ConfigMap: cache-settings)" in out


def test_the_plan_knows_every_value_marked_secret(leaky: Plan) -> None:
    assert {_token(leaky), SIGNING_KEY, API_KEY_PLACEHOLDER} <= leaky.secret_values


def test_the_leak_scan_catches_secrets_leaked_into_tags(leaky: Plan) -> None:
    leaks = plain_text_leaks(leaky)
    assert leaks.count("aws:s3/bucket:Bucket tagged") == 2, "the program's own secret and the config secret"
    assert "kubernetes:core/v1:ConfigMap cache-settings" in leaks


def test_unmasked_values_stay_in_memory(leaky: Plan) -> None:
    version = leaky.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == SECRET
    assert version.plain_inputs["secretString"] == SIGNING_KEY
    written = json.dumps(leaky.to_json())
    assert SIGNING_KEY not in json.dumps(version.to_json())
    assert written.count(SIGNING_KEY) == 1, "only the tag the program leaked it into"
