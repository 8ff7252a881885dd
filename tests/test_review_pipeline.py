"""The change preview in the pipelines: pull requests from forks (GitHub) and pull request builds (Jenkins) compute
it against the merge base with their target branch, and the comment's pointer names the artifact they upload."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest

from ci import offline
from tests.cicd import ROOT, jobs, make_dry_run, run_steps, steps, uses


def plan_step_with_whole_history(job: dict[str, Any]) -> dict[str, Any]:
    """The job's plan step, once its checkout is seen to fetch the whole history."""
    checkout = next(step for step in steps(job) if uses(step) == "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0, "git merge-base needs the history of both branches"
    return next(step for step in steps(job) if step.get("id") == "plan")


def test_the_fork_path_plans_against_the_merge_base_with_the_whole_history() -> None:
    job = jobs("preview.yml")["offline-preview"]
    plan = plan_step_with_whole_history(job)
    assert plan["run"] == 'make plan BASE_BRANCH="$BASE_BRANCH"'
    # The base ref comes from the event, through the environment (never expanded into the script).
    assert plan["env"]["BASE_BRANCH"] == "${{ github.event.pull_request.base.ref }}"
    assert "make plan-summary COMMENT=artifacts/pr-comment.md" in run_steps(job)[-1]
    uploaded = {
        step["with"]["name"]: step["with"]["path"] for step in steps(job) if uses(step).endswith("upload-artifact")
    }
    assert uploaded["offline-plan"] == "artifacts/", "the artifact the cut comment points at"


def test_ci_plans_a_pull_request_against_the_merge_base_with_its_target() -> None:
    job = jobs("ci.yml")["offline-plan"]
    plan = plan_step_with_whole_history(job)
    # make takes BASE_BRANCH from the environment (empty on a push: no change computed), never from the script.
    assert plan["run"] == "make plan"
    assert plan["env"]["BASE_BRANCH"] == "${{ github.base_ref }}"
    environment = {**os.environ, "BASE_BRANCH": "main"}
    command = ["make", "-n", "plan"]
    dry_run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=True).stdout
    assert '--base-branch "main"' in dry_run


def test_the_artifact_pointer_names_what_the_workflows_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "7")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    assert "`offline-plan` artifact" in offline.artifacts_pointer(ROOT / "artifacts")
    assert jobs("ci.yml")["offline-plan"]["steps"][-1]["with"]["name"] == "offline-plan"


def test_make_plan_takes_the_base_branch_or_a_revision() -> None:
    assert '--base-branch "main"' in make_dry_run("plan", "BASE_BRANCH=main")
    assert '--against "abc123"' in make_dry_run("plan", "BASE=abc123")
    assert "--against" not in make_dry_run("plan")
    assert "--against origin/main" in make_dry_run("preview", "AGAINST=origin/main")


def test_jenkins_pull_request_builds_plan_against_their_target_and_keep_the_comment() -> None:
    jenkinsfile = (ROOT / "Jenkinsfile").read_text()
    stage = jenkinsfile[
        jenkinsfile.index("stage('Offline plan and policies')") : jenkinsfile.index("stage('Preview staging')")
    ]
    assert re.search(r"""environment \{ BASE_BRANCH = "\$\{env\.CHANGE_TARGET \?: ''\}" \}""", stage)
    assert "sh 'make plan'" in stage and "sh 'make plan-summary COMMENT=artifacts/pr-comment.md'" in stage
    assert "archiveArtifacts artifacts: 'artifacts/**'" in stage
