"""``python -m stacks preview --against REV``: flags checked before anything is evaluated, JSON on standard output,
and one run end to end against a commit of a throwaway repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stacks import __main__ as cli
from stacks.exit_codes import Exit
from stacks.offline import changes
from stacks.offline.engine import PROJECT_DIR
from stacks.offline.lifecycle import format_critical_path
from stacks.offline.plan import Plan


@pytest.fixture
def no_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the program is evaluated: bad flags must be reported first."""

    def evaluated(*args: object, **kwargs: object) -> Plan:
        raise AssertionError("the program was evaluated before the flags were checked")

    monkeypatch.setattr(cli, "preview", evaluated)


@pytest.mark.usefixtures("no_evaluation")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--diff", "qa"],
            "error: --diff unknown stack 'qa': there is no Pulumi.qa.yaml (known stacks: prod, staging)",
        ),
        (["--policy", "--policy-config", "nope.json"], "error: --policy-config nope.json: no such file"),
        (["--against", "no-such-revision"], "error: --against no-such-revision: not a commit of this repository"),
        (["--against", "HEAD~999999"], "error: --against HEAD~999999: not a commit of this repository"),
        (
            ["--against", "HEAD", "--json", "-", "--diff-json", "-"],
            "error: --json - and --diff-json - both want standard output: write one of them to a file",
        ),
    ],
    ids=["unknown-diff-stack", "missing-policy-config", "unknown-revision", "revision-out-of-range", "two-stdouts"],
)
def test_bad_flags_fail_at_once_with_one_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["preview", "staging", *argv]) == Exit.BAD_INPUT == 2
    assert capsys.readouterr().err.strip() == message


def test_flags_without_effect_are_warned_about(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text("{}")
    argv = ["preview", "staging", "--quiet", "--diff-json", "x.json", "--policy-config", str(config)]
    assert cli.main(argv) == Exit.OK
    captured = capsys.readouterr()
    assert "warning: --diff-json has no effect without --against" in captured.err
    assert "warning: --policy-config has no effect without --policy or --against" in captured.err
    assert not Path("x.json").exists()


def test_quiet_prints_the_summary_only(capsys: pytest.CaptureFixture[str], staging: Plan) -> None:
    assert cli.main(["preview", "staging", "--quiet"]) == Exit.OK
    assert capsys.readouterr().out.strip() == f"Resources:\n    + {len(staging.resources)} to create"


def test_json_to_stdout_leaves_it_nothing_else(capsys: pytest.CaptureFixture[str], staging: Plan) -> None:
    assert cli.main(["preview", "staging", "--json", "-"]) == Exit.OK
    captured = capsys.readouterr()
    assert json.loads(captured.out) == json.loads(json.dumps(staging.to_json()))
    assert "Previewing stack 'staging'" in captured.err


def test_timeline_prints_the_critical_path_of_a_fresh_deploy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, staging: Plan
) -> None:
    monkeypatch.setattr(cli, "preview", lambda *args, **kwargs: staging)
    assert cli.main(["preview", "staging", "--quiet", "--timeline"]) == Exit.OK
    out = capsys.readouterr().out
    assert out.endswith(f"\n\n{format_critical_path(staging)}\n")
    assert "eks:index:Cluster  cluster-eks" in out
    # With the plan's JSON on standard output, the timeline goes to standard error.
    assert cli.main(["preview", "staging", "--json", "-", "--timeline"]) == Exit.OK
    captured = capsys.readouterr()
    assert format_critical_path(staging) in captured.err
    assert json.loads(captured.out)["stack"] == "staging"


def _git(repository: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repository), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway repository holding this working tree's files in one commit."""
    root = tmp_path_factory.mktemp("repository")
    listed = _git(PROJECT_DIR, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = PROJECT_DIR / name
        if source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    _git(root, "init", "--quiet")
    _git(root, "add", "--all")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "base")
    return root


def test_against_head_reports_the_working_tree_change_and_touches_nothing(repository: Path) -> None:
    stack_file = repository / "Pulumi.staging.yaml"
    original = stack_file.read_text()
    stack_file.write_text(original.replace("dbInstanceClass: db.t4g.small", "dbInstanceClass: db.t4g.medium"))
    try:
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        done = subprocess.run(
            [sys.executable, "-m", "stacks", "preview", "staging", "--against", "HEAD", "--diff-json", "-"],
            cwd=repository,
            capture_output=True,
            text=True,
            env=environment,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        assert set(document) >= {"stack", "against", "summary", "changes", "policy"}
        assert (document["stack"], document["against"]) == ("staging", _git(repository, "rev-parse", "HEAD"))
        assert document["summary"]["update"] == 1
        assert document["summary"] == {
            "create": 0,
            "update": 1,
            "replace": 0,
            "delete": 0,
            "same": document["summary"]["same"],
        }
        (database,) = document["changes"]
        assert database["diffs"] == [{"path": "instanceClass", "old": "db.t4g.small", "new": "db.t4g.medium"}]
        assert (database["op"], database["stateful"], database["protected"]) == ("update", True, False)
        assert document["policy"] == {"new": [], "resolved": []}
        assert '~ instanceClass: "db.t4g.small" → "db.t4g.medium"' in done.stderr, "the human output on stderr"
        # The base was evaluated in a worktree of its own, gone now; the working tree is as it was left.
        assert len(_git(repository, "worktree", "list").splitlines()) == 1
        assert _git(repository, "status", "--porcelain") == "M Pulumi.staging.yaml"
    finally:
        stack_file.write_text(original)


def test_a_stack_new_since_the_base_is_all_creates_and_the_worktree_goes(repository: Path) -> None:
    sha = changes.resolve_revision("HEAD", repository)
    assert sha == _git(repository, "rev-parse", "HEAD") and len(sha) == 40
    with changes.BaseEvaluation(sha, "qa", repository) as base:
        assert base.tree.is_dir() and (base.tree / "Pulumi.staging.yaml").is_file()
        plan, _ = base.result()
    assert plan.resources == [] and not base.tree.exists()
    assert len(_git(repository, "worktree", "list").splitlines()) == 1
