"""`python -m stacks preview`: the tree, the JSON plan, the stack diff, manifests and clean errors (exit 2)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacks.__main__ import main
from stacks.offline import report
from stacks.offline.engine import PROJECT_DIR
from stacks.offline.plan import Plan

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
RESOURCE_KEYS = {"urn", "type", "name", "parent", "dependencies", "provider", "options", "inputs", "custom"}


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's Pulumi files (the program's packages resolve from the repository)."""
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def test_tree_groups_resources_by_component_and_summarises(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["preview", "staging", "--json", str(tmp_path / "plan.json")]) == 0
    out = capsys.readouterr().out
    assert "Previewing stack 'staging' of project 'shop-platform'" in out
    assert " +   ├─ shop:network:Network" in out or " +   └─ shop:network:Network" in out
    assert "│  ├─ aws:ec2/vpc:Vpc" in out or "   ├─ aws:ec2/vpc:Vpc" in out
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert f"    + {len(plan['resources'])} to create\n" in out, "the count the PR comment and the README give"
    assert "aws:ec2/subnet:Subnet" in out.split("Resources by type:")[1]


def test_json_plan_follows_the_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    assert main(["preview", "prod", "--json", str(path)]) == 0
    plan = json.loads(path.read_text())
    assert set(plan) == {"project", "stack", "region", "resources", "outputs"}
    assert (plan["project"], plan["stack"], plan["region"]) == ("shop-platform", "prod", "eu-west-1")
    for resource in plan["resources"]:
        assert set(resource) == RESOURCE_KEYS
        assert set(resource["options"]) >= {"protect", "retainOnDelete", "ignoreChanges", "deleteBeforeReplace"}
    group = next(r for r in plan["resources"] if r["type"] == "aws:cloudwatch/logGroup:LogGroup")
    assert group["inputs"]["retentionInDays"] == 365 and isinstance(group["inputs"]["retentionInDays"], int)
    assert plan["outputs"]["vpcCidr"] == "10.50.0.0/16"


def test_diff_lists_prod_only_resources_and_different_inputs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["preview", "staging", "--diff", "prod"]) == 0
    diff = capsys.readouterr().out.split("Differences between stack 'staging' (-) and stack 'prod' (+):")[1]
    only_prod = diff.split("Only in prod")[1].split("Different inputs")[0]
    assert "+ aws:ec2:NatGateway  network-nat-3" in only_prod
    assert "+ aws:ec2:VpcEndpoint  network-ecr-api" in only_prod
    assert "~ aws:ec2:Vpc  network-vpc" in diff
    assert '~ inputs.cidrBlock: "10.40.0.0/16" → "10.50.0.0/16"' in diff, "values as JSON"
    assert "~ options.protect: false → true" in diff
    assert "inputs.tags.stack" not in diff, "values that differ only by the stack name are not differences"
    # The dashboard body (a JSON document of some 26,000 characters) differs by its widgets, not as one line.
    assert "inputs.dashboardBody.widgets[" in diff
    assert max(len(line) for line in diff.splitlines()) <= 120, "lines fit the terminal"


def _by_owner(plan: Plan, value: object) -> object:
    """``value`` with every id, ARN and name of a resource of ``plan`` in it replaced by that resource's key."""
    if not isinstance(value, str):
        return value
    for resource in plan.resources:
        for identity in (resource.id, resource.outputs.get("arn"), resource.outputs.get("name")):
            if isinstance(identity, str) and len(identity) >= 8:
                value = value.replace(identity, f"<{resource.type} {resource.name}>")
    return value


def test_the_stack_diff_shows_real_differences_only(staging: Plan, prod: Plan) -> None:
    """A resource has the same fake id, ARN and generated name in both stacks, so no difference is merely one
    resource's identity in staging against the same resource's identity in prod."""
    changed = report.differences(staging, prod)
    identity_only = [
        (key, path)
        for key, changes in changed.items()
        for path, old, new in changes
        if _by_owner(staging, old) == _by_owner(prod, new)
    ]
    assert identity_only == []
    assert (
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "cluster-node-AmazonEKSWorkerNodePolicy",
    ) not in changed
    assert ("inputs.multiAz", False, True) in changed[("aws:rds/instance:Instance", "database-postgres")]


def test_manifests_directory_holds_every_kubernetes_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], staging: Plan
) -> None:
    directory = tmp_path / "manifests"
    assert main(["preview", "staging", "--manifests", str(directory)]) == 0
    # Every Kubernetes resource of the plan except Helm releases (a release is not an object of the cluster).
    objects = [r for r in staging.resources if r.type.startswith("kubernetes:") and r.type != HELM_RELEASE]
    written = [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]
    assert len(written) == len(objects) >= 20
    assert {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in written} >= {
        ("argoproj.io/v1alpha1", "Rollout", "shop"),
        ("v1", "Namespace", "shop"),
        ("networking.k8s.io/v1", "Ingress", "shop"),
    }
    assert f"{len(objects)} Kubernetes manifests written to" in capsys.readouterr().out


def test_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "qa"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("error: unknown stack 'qa': there is no Pulumi.qa.yaml (known stacks: prod, staging)")


def test_malformed_yaml_names_file_and_line(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project_copy / "Pulumi.staging.yaml").write_text("config:\n  aws:region: [eu-west-1\n")
    assert main(["preview", "staging", "--project-dir", str(project_copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.staging.yaml: malformed YAML (line 3, column 1)")
    assert "Traceback" not in err


def test_invalid_settings_are_one_message(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack_file = project_copy / "Pulumi.staging.yaml"
    stack_file.write_text(
        stack_file.read_text() + "  shop-platform:vpcCidr: 10.40.0.0/8\n  shop-platform:vpcNatGatway: x\n"
    )
    assert main(["preview", "staging", "--project-dir", str(project_copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.staging.yaml: 2 configuration problems:")
    assert "shop-platform:vpcCidr: " in err and "shop-platform:vpcNatGatway: unknown setting" in err
    assert "Traceback" not in err


def test_program_errors_are_one_line_unless_debug(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project_copy / "__main__.py").write_text("import stacks\nsettings = stacks.load()\nraise RuntimeError('boom')\n")
    assert main(["preview", "staging", "--project-dir", str(project_copy)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: the program failed for stack 'staging': RuntimeError: boom (at __main__.py:3)"
    assert main(["preview", "staging", "--project-dir", str(project_copy), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("apply", "reported"),
    [
        ("from_input(0).apply(lambda value: 1 / value)", "ZeroDivisionError: division by zero (at __main__.py:4)"),
        # Raised by a builtin: no project code on the way, so no location rather than the command line's own.
        ("from_input('x').apply(int)", "ValueError: invalid literal for int() with base 10: 'x'"),
    ],
    ids=["in-the-program", "in-no-project-code"],
)
def test_errors_inside_an_apply_are_located_in_the_program_never_in_the_tooling(
    project_copy: Path, capsys: pytest.CaptureFixture[str], apply: str, reported: str
) -> None:
    program = f"import pulumi\nimport stacks\nsettings = stacks.load()\npulumi.Output.{apply}\n"
    (project_copy / "__main__.py").write_text(program)
    assert main(["preview", "staging", "--project-dir", str(project_copy)]) == 2
    assert capsys.readouterr().err.strip() == f"error: the program failed for stack 'staging': {reported}"


def test_module_entry_point_exit_code_and_clean_stderr() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "nope"], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown stack 'nope'")
    assert "Traceback" not in result.stderr


def test_config_schema_check_passes() -> None:
    assert main(["config-schema", "--check"]) == 0
