"""The pack as the Pulumi CLI sees it: its layout, metadata and per-stack config, and its analyzer server.

The server test launches the pack exactly as the CLI's python analyzer does (``python -m pulumi.policy <engine>
policies``), then talks to it over gRPC: the policy metadata the CLI reads, the stack's config the CLI sends,
and Analyze calls with known and with unknown (preview) values.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policies.rules import (
    PACK_ENFORCEMENT,
    PACK_NAME,
    POLICIES,
    cluster,
    data,
    edge,
    identity,
    network,
    services,
    stack,
    workloads,
)
from policies.rules.base import COST, RESILIENCE, SECURITY
from stacks.offline.policy_run import POLICY_PACK_DIR, config_path, load_settings, pack_version

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")


def test_the_pack_has_at_least_40_rules_each_with_full_metadata() -> None:
    assert len(POLICIES) >= 40
    names = [policy.name for policy in POLICIES]
    assert len(set(names)) == len(names)
    for policy in POLICIES:
        assert NAME.match(policy.name), policy.name
        assert policy.description.endswith("."), policy.name
        assert policy.severity is not None, policy.name
        assert policy.remediation_steps and policy.remediation_steps.endswith("."), policy.name
        assert policy.tags in ([SECURITY], [RESILIENCE], [COST]), policy.name


def test_rules_live_in_one_module_per_domain() -> None:
    modules = (network, data, edge, identity, cluster, workloads, stack, services)
    assert all(module.rules.policies for module in modules)
    assert sum(len(module.rules.policies) for module in modules) == len(POLICIES)


def test_the_entry_point_only_constructs_the_pack() -> None:
    module = ast.parse((POLICY_PACK_DIR / "__main__.py").read_text())
    docstring, *imports, construction = module.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert all(isinstance(statement, ast.ImportFrom) for statement in imports)
    assert isinstance(construction, ast.Expr) and isinstance(construction.value, ast.Call)
    assert ast.unparse(construction.value.func) == "PolicyPack"


def test_the_pack_imports_nothing_beyond_its_own_requirements() -> None:
    """The CLI runs the pack in a virtualenv made from policies/requirements.txt only (pulumi, pulumi-policy)."""
    allowed = set(sys.stdlib_module_names) | {"pulumi_policy", "rules"}
    imported: set[str] = set()
    # The pack's own code: policies/.venv (made by `make venv`) holds the installed requirements.
    for path in [POLICY_PACK_DIR / "__main__.py", *(POLICY_PACK_DIR / "rules").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - allowed == set()


def test_prod_config_makes_every_rule_mandatory() -> None:
    raw = json.loads(config_path("prod").read_text())
    assert raw["all"] == "mandatory"
    assert all(
        isinstance(value, dict) and "enforcementLevel" not in value for key, value in raw.items() if key != "all"
    )
    assert {setting.enforcement for setting in load_settings(config_path("prod")).values()} == {
        EnforcementLevel.MANDATORY
    }


def test_staging_config_relaxes_exactly_the_resilience_and_cost_rules() -> None:
    settings = load_settings(config_path("staging"))
    advisory = {name for name, setting in settings.items() if setting.enforcement == EnforcementLevel.ADVISORY}
    relaxable = {policy.name for policy in POLICIES if policy.tags != [SECURITY]}
    assert advisory == relaxable
    assert {setting.enforcement for name, setting in settings.items() if name not in relaxable} == {
        EnforcementLevel.MANDATORY
    }


def test_per_stack_settings_differ_where_prod_is_stricter() -> None:
    staging, prod = load_settings(config_path("staging")), load_settings(config_path("prod"))
    assert (
        prod["rds-backup-retention"].properties["minimumDays"]
        > staging["rds-backup-retention"].properties["minimumDays"]
    )
    prod_sizes = prod["instance-size-allowlist"].properties["allowedInstanceClasses"]
    assert not any(size.startswith("db.t") for size in prod_sizes)


# ---------------------------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack served as `pulumi preview --policy-pack policies` serves it."""
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(POLICY_PACK_DIR)],
        cwd=POLICY_PACK_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        assert port.isdigit(), server.stderr.read() if server.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _struct(values: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def _configure(stub: analyzer_pb2_grpc.AnalyzerStub, stack_name: str) -> None:
    """What the CLI sends for --policy-pack-config policies/config/<stack>.json (defaults filled in)."""
    levels = {
        EnforcementLevel.ADVISORY: analyzer_pb2.ADVISORY,
        EnforcementLevel.MANDATORY: analyzer_pb2.MANDATORY,
        EnforcementLevel.DISABLED: analyzer_pb2.DISABLED,
    }
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, setting in load_settings(config_path(stack_name)).items():
        request.policyConfig[name].CopyFrom(
            analyzer_pb2.PolicyConfig(
                enforcementLevel=levels[setting.enforcement], properties=_struct(setting.properties)
            )
        )
    stub.Configure(request)


def _analyze(stub: analyzer_pb2_grpc.AnalyzerStub, type_: str, props: dict) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    urn = f"urn:pulumi:prod::shop-platform::{type_}::subject"
    request = analyzer_pb2.AnalyzeRequest(type=type_, properties=_struct(props), urn=urn, name="subject")
    return list(stub.Analyze(request).diagnostics)


def test_the_server_describes_every_policy_to_the_cli(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME and info.supportsConfig
    assert [policy.name for policy in info.policies] == [policy.name for policy in POLICIES]
    assert {policy.enforcementLevel for policy in info.policies} == {analyzer_pb2.MANDATORY}
    assert PACK_ENFORCEMENT == EnforcementLevel.MANDATORY
    assert all(policy.remediation_steps for policy in info.policies)
    schemas = {policy.name: policy.configSchema for policy in info.policies if policy.configSchema.properties}
    assert schemas["rds-backup-retention"].properties["minimumDays"]["default"] == 7
    assert pack_version() == "0.1.0"


def test_the_server_blocks_a_public_database_under_the_prod_config(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    _configure(analyzer, "prod")
    diagnostics = _analyze(analyzer, data.RDS_INSTANCE, {"publiclyAccessible": True, "engine": "postgres"})
    found = {diagnostic.policyName: diagnostic for diagnostic in diagnostics}
    assert found["rds-not-public"].enforcementLevel == analyzer_pb2.MANDATORY
    assert "publiclyAccessible is true" in found["rds-not-public"].message
    assert found["rds-multi-az"].enforcementLevel == analyzer_pb2.MANDATORY


def test_the_server_reports_staging_ha_rules_as_advisory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    _configure(analyzer, "staging")
    found = {d.policyName: d for d in _analyze(analyzer, data.RDS_INSTANCE, {"multiAz": False})}
    assert found["rds-multi-az"].enforcementLevel == analyzer_pb2.ADVISORY
    assert found["rds-storage-encrypted-cmk"].enforcementLevel == analyzer_pb2.MANDATORY


@pytest.mark.parametrize(
    ("type_", "props", "silent"),
    [
        (
            data.RDS_INSTANCE,
            {"storageEncrypted": UNKNOWN_BOOLEAN_VALUE, "kmsKeyId": UNKNOWN_STRING_VALUE},
            {"rds-storage-encrypted-cmk"},
        ),
        (
            cluster.EKS_COMPONENT,
            {"endpointPublicAccess": True, "publicAccessCidrs": UNKNOWN_STRING_VALUE},
            {"eks-endpoint-no-public-cidr"},
        ),
        (
            workloads.DEPLOYMENT,
            {"spec": UNKNOWN_STRING_VALUE, "metadata": {"namespace": UNKNOWN_STRING_VALUE}},
            {policy.name for policy in workloads.rules.policies},
        ),
        (
            edge.DISTRIBUTION,
            {"origins": [UNKNOWN_STRING_VALUE], "webAclId": UNKNOWN_STRING_VALUE},
            {"cloudfront-waf-attached", "cloudfront-origin-https", "cloudfront-origin-access-control"},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_unknown_values_during_preview_neither_fail_nor_block(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, type_: str, props: dict, silent: set[str]
) -> None:
    _configure(analyzer, "prod")
    diagnostics = _analyze(analyzer, type_, props)
    assert not any("can't run policy" in d.message for d in diagnostics)
    assert not silent & {d.policyName for d in diagnostics}


def test_the_server_runs_stack_policies_over_outputs(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    _configure(analyzer, "prod")
    stack_urn = "urn:pulumi:prod::shop-platform::pulumi:pulumi:Stack::shop-platform-prod"
    bucket_urn = "urn:pulumi:prod::shop-platform::aws:s3/bucket:Bucket::assets"
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(type="pulumi:pulumi:Stack", urn=stack_urn, name="shop-platform-prod"),
            analyzer_pb2.AnalyzerResource(
                type=data.BUCKETS[0],
                urn=bucket_urn,
                name="assets",
                properties=_struct({"bucket": "assets", "id": "assets"}),
            ),
        ]
    )
    diagnostics = analyzer.AnalyzeStack(request).diagnostics
    flagged = {(d.policyName, d.urn) for d in diagnostics}
    assert ("s3-public-access-block", bucket_urn) in flagged
    assert ("s3-encryption-kms", bucket_urn) in flagged


def test_the_policy_docs_list_every_rule() -> None:
    listed = set(
        re.findall(r"^\| `([a-z0-9-]+)` \|", (POLICY_PACK_DIR.parent / "docs" / "policies.md").read_text(), re.M)
    )
    assert listed == {policy.name for policy in POLICIES}


def test_code_owners_guard_the_pack_the_prod_stack_and_the_pipelines() -> None:
    owned = {
        line.split()[0]
        for line in (POLICY_PACK_DIR.parent / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"/policies/", "/Pulumi.prod.yaml", "/.github/"} <= owned
