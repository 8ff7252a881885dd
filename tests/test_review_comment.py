"""The pull request comment (``make plan-summary``, ``ci/offline.py``): per stack the summary line, the warning block,
the changed resources in a collapsed section and only the policy violations the change introduces or resolves; it
always fits a GitHub comment. The base is the pull request's merge base."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ci import offline, pr_comment
from stacks.offline import changes
from stacks.offline.changes import ChangeSet, Difference
from stacks.offline.plan import Plan
from tests.conftest import plan_for

#: GitHub's limit for an issue comment's body.
GITHUB_COMMENT_LIMIT = 65_536
RDS_URN = "urn:pulumi:prod::shop-platform::shop:data:Database$aws:rds/instance:Instance::database-postgres"


def _results(out: Path, change_set: ChangeSet, policy: dict[str, Any] | None = None, resources: int = 284) -> None:
    files = offline.StackFiles(out / change_set.stack)
    files.root.mkdir(parents=True)
    files.preview.write_text("preview output")
    files.plan.write_text(json.dumps({"resources": [{"custom": True}] * resources}))
    document = {**change_set.to_json(), "policy": policy or {"new": [], "resolved": []}}
    files.changes.write_text(json.dumps(document))


@pytest.fixture(scope="module")
def username_change() -> ChangeSet:
    base = plan_for("prod")
    return changes.compare(
        Plan.from_json(base.to_json()), plan_for("prod", {"dbMasterUsername": "shop_owner"}), "a" * 40
    )


def test_the_change_round_trips_through_its_json(username_change: ChangeSet) -> None:
    assert ChangeSet.from_json(json.loads(json.dumps(username_change.to_json()))) == username_change


def test_each_stack_shows_its_summary_line_warning_block_and_collapsed_diffs(
    tmp_path: Path, username_change: ChangeSet
) -> None:
    _results(tmp_path, username_change)
    (tmp_path / "base.json").write_text(json.dumps({"label": "the merge base with main", "sha": "a" * 40}))
    markdown = offline.summary_markdown(tmp_path)
    line = changes.summary_line(username_change.counts())
    assert line.endswith(f", {username_change.same} unchanged") and "+-" in line
    assert username_change.same == len(plan_for("prod").resources) - len(username_change.changes)
    assert f"| `prod` | 284 | {line} | 0 | not run |" in markdown, "one resource count: the plan's"
    assert "Changes against `the merge base with main` (`aaaaaaaaaaaa`)" in markdown
    section = markdown.split(f"#### `prod`: {line}")[1]
    warning = section.split("**⚠️ This change replaces, deletes or moves")[1].split("<details>")[0]
    assert "+- aws:rds:Instance  database-postgres  (replace)" in warning
    assert "forced by: username" in warning and "`pulumi up` would fail" in warning
    details = section.split("<details><summary>3 changed resources</summary>")[1].split("</details>")[0]
    assert '~ username: "shop_admin" → "shop_owner"' in details
    assert section.index("⚠️") < section.index("<details>"), "the warning block is never collapsed"


def test_only_the_policy_violations_the_change_introduces_or_resolves_advisories_by_rule(
    tmp_path: Path, username_change: ChangeSet
) -> None:
    def violation(policy: str, name: str, enforcement: str, message: str) -> dict[str, Any]:
        urn = RDS_URN.replace("database-postgres", name)
        return {"policy": policy, "urn": urn, "enforcement": enforcement, "severity": "high", "message": message}

    advice = "Backups are kept 3 days. Fix: set shop-platform:dbBackupRetentionDays to 7 or more."
    policy = {
        "new": [
            violation("rds-encrypted", "database-postgres", "mandatory", "The instance is not encrypted."),
            violation("rds-backup-retention", "database-a", "advisory", advice),
            violation("rds-backup-retention", "database-b", "advisory", advice),
        ],
        "resolved": [violation("rds-multi-az", "database-postgres", "advisory", "Not Multi-AZ: set dbMultiAz.")],
    }
    _results(tmp_path, username_change, policy)
    markdown = offline.summary_markdown(tmp_path)
    introduced = markdown.split("**Policy violations this change introduces (3):**")[1].split("**Policy")[0]
    assert (
        "- ❌ mandatory `rds-encrypted` (aws:rds/instance:Instance: database-postgres): The instance is not encrypted."
        in introduced
    )
    grouped = [line for line in introduced.splitlines() if "rds-backup-retention" in line]
    assert len(grouped) == 1, "advisories are grouped by rule"
    assert "(2: aws:rds/instance:Instance: database-a, aws:rds/instance:Instance: database-b)" in grouped[0]
    assert grouped[0].endswith("Setting: `shop-platform:dbBackupRetentionDays`.")
    resolved = markdown.split("**Policy violations this change resolves (1):**")[1]
    assert "`rds-multi-az`" in resolved and "Setting: `shop-platform:dbMultiAz`." in resolved
    assert "Policy run of" not in markdown, "with a change, not the whole policy run"


def _huge(stacks: tuple[str, ...] = ("prod", "staging")) -> list[ChangeSet]:
    sets = []
    for stack in stacks:
        resources = [
            changes.Change(
                urn=f"urn:pulumi:{stack}::shop-platform::aws:iam/role:Role::role-{index}",
                type="aws:iam/role:Role",
                name=f"role-{index}",
                op="update",
                holds=None,
                protected=False,
                retained=False,
                replace_keys=(),
                diffs=tuple(
                    Difference(f"inlinePolicies[{item}].policy", "x" * 400, "y" * 400, "inlinePolicies")
                    for item in range(5)
                ),
            )
            for index in range(3000)
        ]
        sets.append(ChangeSet(stack, "b" * 40, resources, same=10))
    return sets


def test_the_comment_always_fits_github_and_points_at_the_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for change_set in _huge():
        _results(tmp_path, change_set)
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    comment = tmp_path / "comment.md"
    assert offline.summary(tmp_path, comment) == 0
    body = comment.read_text()
    assert len(body) <= pr_comment.MAX_BODY < GITHUB_COMMENT_LIMIT
    assert body.startswith(pr_comment.COMMENT_MARKER)
    pointer = "the run's `offline-plan` artifact (https://github.com/acme/shop/actions/runs/42)"
    for stack in ("prod", "staging"):
        section = body.split(f"#### `{stack}`: ~ 3000 to update, 10 unchanged")[1]
        details = section.split("</details>")[0]
        assert "more lines: the whole change is in " + pointer in details
        assert details.count(offline.FENCE) == 2, "the code block is closed"
        assert "~  aws:iam:Role  role-0  update" in details, "each stack keeps a share"


def test_even_warnings_beyond_the_limit_are_cut_with_a_pointer(tmp_path: Path) -> None:
    (huge,) = _huge(("prod",))
    deleted = [
        changes.Change(c.urn, "aws:s3/bucket:Bucket", c.name, "delete", "every object", True, False, (), ())
        for c in huge.changes
    ]
    _results(tmp_path, ChangeSet("prod", huge.against, deleted, same=0))
    markdown = offline.summary_markdown(tmp_path, limit=20_000)
    assert len(markdown) <= 20_000
    assert markdown.endswith("_(cut to fit a comment: the rest is in `" + str(tmp_path) + "/<stack>/changes.json`)_")
    assert markdown.count(offline.FENCE) % 2 == 0
    assert markdown.count("<details>") == markdown.count("</details>")


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_the_base_is_the_merge_base_with_the_target_branch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    _git(origin, "init", "--quiet", "--initial-branch", "main")
    _git(origin, "commit", "--quiet", "--allow-empty", "-m", "A")
    fork_point = _git(origin, "rev-parse", "HEAD")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "--quiet", str(origin), str(clone))
    _git(clone, "checkout", "--quiet", "-b", "feature")
    _git(clone, "commit", "--quiet", "--allow-empty", "-m", "B")
    _git(origin, "commit", "--quiet", "--allow-empty", "-m", "C: main moved on")
    monkeypatch.setattr(offline, "PROJECT_DIR", clone)
    assert offline.merge_base("main") == fork_point
    # A checkout without the target branch (a Jenkins pull request build) fetches it first.
    _git(clone, "update-ref", "-d", "refs/remotes/origin/main")
    assert offline.merge_base("main") == fork_point
    with pytest.raises(ValueError, match="cannot fetch origin/nope"):
        offline.merge_base("nope")


def test_a_base_that_cannot_be_found_fails_the_plan_step_and_says_so(tmp_path: Path) -> None:
    assert offline.main(["plan", "--out", str(tmp_path), "--against", "no-such-revision", "no-such-stack"]) == 2
    base = json.loads((tmp_path / "base.json").read_text())
    assert base == {"error": "--against no-such-revision: not a commit of this repository"}
    (tmp_path / "no-such-stack").rename(tmp_path / "prod")  # a stack with a preview, so the summary shows the table
    assert "⚠️ What this change does was not computed: --against no-such-revision" in offline.summary_markdown(tmp_path)
