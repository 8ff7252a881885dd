"""The GitHub Actions workflows: schema, security hygiene, and the pipeline's shape (issue 9, items 1-4)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.cicd import (
    ROOT,
    VENV_BIN,
    WORKFLOW_FILES,
    WORKFLOWS,
    all_jobs,
    jobs,
    make_calls,
    make_targets,
    run_steps,
    steps,
    uses,
    workflow,
    workflow_events,
)

STACKS = sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in ROOT.glob("Pulumi.*.yaml"))

#: Every job and exactly the token permissions it needs; a new job or a wider grant has to be added here.
JOB_PERMISSIONS = {
    ("ci.yml", "lint"): {"contents": "read"},
    ("ci.yml", "test"): {"contents": "read"},
    ("ci.yml", "offline-plan"): {"contents": "read"},
    ("preview.yml", "cloud-preview"): {"contents": "read", "id-token": "write", "pull-requests": "write"},
    ("preview.yml", "offline-preview"): {"contents": "read"},
    ("preview-comment.yml", "comment"): {"actions": "read", "contents": "read", "pull-requests": "write"},
    ("deploy.yml", "checks"): {"contents": "read"},
    ("deploy.yml", "image"): {"contents": "read", "id-token": "write"},
    ("deploy.yml", "deploy-staging"): {"contents": "read", "id-token": "write"},
    ("deploy.yml", "deploy-prod"): {"contents": "read", "id-token": "write"},
    ("deploy.yml", "approval-summary"): {"contents": "read", "deployments": "read"},
    ("deploy.yml", "notify"): {"contents": "read"},
}
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
PULUMI_ACTION = "pulumi/actions"
_PINNED = re.compile(r"^\s*-?\s*uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)\s+#\s*v\d+(\.\d+){0,2}\s*$")


def _step(job: dict, action: str, **with_values: str) -> dict:
    found = [s for s in steps(job) if uses(s) == action and all(s["with"].get(k) == v for k, v in with_values.items())]
    assert len(found) == 1, f"expected one {action} step with {with_values}, found {len(found)}"
    return found[0]


def _step_running(job: dict, command: str) -> int:
    """Index of the step whose shell runs exactly ``command``."""
    matches = [index for index, step in enumerate(steps(job)) if str(step.get("run", "")).strip() == command]
    assert len(matches) == 1, f"expected one step running {command!r}, found {len(matches)}"
    return matches[0]


# ------------------------------------------------------------------------------------------------ lint


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_workflow_passes_the_github_workflow_schema(path: Path) -> None:
    result = subprocess.run(
        [VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_no_security_problem_in_the_workflows() -> None:
    result = subprocess.run(
        [VENV_BIN / "zizmor", "--offline", "--no-progress", WORKFLOWS], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_make_target_a_workflow_runs_exists() -> None:
    targets = make_targets()
    called = {
        target for _, _, job in all_jobs() for run in run_steps(job) for call in make_calls(run) for target in call
    }
    assert called, "the workflows should run their steps through make"
    assert called <= targets, f"workflows call undefined make targets: {sorted(called - targets)}"


# ------------------------------------------------------------------------------------------------ hygiene


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_workflow_grants_nothing_by_default(path: Path) -> None:
    assert workflow(path.name)["permissions"] == {}


def test_each_job_has_exactly_the_permissions_it_needs() -> None:
    granted = {(name, job_id): job.get("permissions") for name, job_id, job in all_jobs()}
    assert granted == JOB_PERMISSIONS


def test_every_job_has_a_timeout() -> None:
    for name, job_id, job in all_jobs():
        if "uses" in job:
            continue  # a reusable workflow call; the called workflow's jobs carry the timeouts
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 180, f"{name}:{job_id} has timeout-minutes {timeout!r}"


def test_no_expression_is_interpolated_into_a_shell() -> None:
    # Values reach shells through env: an expression pasted into a script is a template injection.
    for name, job_id, job in all_jobs():
        for run in run_steps(job):
            assert "${{" not in run, f"{name}:{job_id} interpolates an expression into a shell: {run!r}"


def test_third_party_actions_are_pinned_to_a_full_commit_with_its_version() -> None:
    for path in WORKFLOW_FILES:
        for line in path.read_text().splitlines():
            if "uses:" not in line or "uses: ./" in line:
                continue
            match = _PINNED.match(line)
            assert match, f"{path.name}: not pinned to a commit with a version comment: {line.strip()}"
            assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), f"{path.name}: {match['action']} not pinned by SHA"


def test_one_pin_per_action_across_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOW_FILES:
        for match in filter(None, map(_PINNED.match, path.read_text().splitlines())):
            pins.setdefault(match["action"], set()).add(match["ref"])
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


def test_checkouts_do_not_leave_the_token_behind() -> None:
    for name, job_id, job in all_jobs():
        for step in steps(job):
            if uses(step) == "actions/checkout":
                assert step["with"]["persist-credentials"] is False, f"{name}:{job_id}"


def test_pulumi_cli_matches_the_sdk_pin() -> None:
    sdk = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert sdk
    versions = {
        step["with"]["pulumi-version"] for _, _, job in all_jobs() for step in steps(job) if uses(step) == PULUMI_ACTION
    }
    assert versions == {sdk[1]}


# ------------------------------------------------------------------------------------------------ concurrency


def test_two_deploys_of_a_stack_never_overlap_nor_cancel_each_other() -> None:
    deploy_jobs = {
        call: job_id
        for job_id, job in jobs("deploy.yml").items()
        for run in run_steps(job)
        for call in re.findall(r"make deploy STACK=(\w+)", run)
    }
    assert sorted(deploy_jobs) == STACKS
    for stack, job_id in deploy_jobs.items():
        concurrency = jobs("deploy.yml")[job_id]["concurrency"]
        assert concurrency == {"group": f"deploy-{stack}", "cancel-in-progress": False}


def test_releases_run_one_at_a_time_so_an_older_commit_never_deploys_over_a_newer_one() -> None:
    assert workflow("deploy.yml")["concurrency"] == {"group": "deploy-${{ github.ref }}", "cancel-in-progress": False}


def test_a_newer_push_to_a_pull_request_replaces_its_preview() -> None:
    concurrency = workflow("preview.yml")["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is True


def test_ci_cancels_superseded_runs_of_pull_requests_only() -> None:
    concurrency = workflow("ci.yml")["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


# ------------------------------------------------------------------------------------------------ AWS access


def test_aws_access_is_oidc_with_a_role_and_never_stored_keys() -> None:
    oidc_jobs = set()
    for name, job_id, job in all_jobs():
        for step in steps(job):
            if uses(step) == AWS_CREDENTIALS:
                oidc_jobs.add((name, job_id))
                assert step["with"]["role-to-assume"].startswith("${{"), f"{name}:{job_id}"
                assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"]), f"{name}:{job_id}"
    token_jobs = {(name, job_id) for name, job_id, job in all_jobs() if job.get("permissions", {}).get("id-token")}
    assert (
        oidc_jobs
        == token_jobs
        == {
            ("preview.yml", "cloud-preview"),
            ("deploy.yml", "image"),
            ("deploy.yml", "deploy-staging"),
            ("deploy.yml", "deploy-prod"),
        }
    )


def test_no_workflow_reads_aws_keys_from_secrets() -> None:
    for path in WORKFLOW_FILES:
        assert not re.search(r"secrets\.AWS_", path.read_text()), path.name


# ------------------------------------------------------------------------------------------------ CI


def test_ci_runs_every_check_of_the_issue() -> None:
    ci = jobs("ci.yml")
    commands = {run.strip() for job in ci.values() for run in run_steps(job)}
    expected = {
        "make lint",
        "make test",
        "make dockerfile-lint",
        "make workflow-lint",
        "make plan",
        "make policy",
        "make validate-manifests",
        "make plan-summary",
    }
    assert expected <= commands
    assert set(ci["test"]["services"]) == {"postgres", "redis"}
    assert ci["test"]["env"]["CI"] == "true", "unreachable services must fail the tests, not skip them"
    # CI=true fails a test whose tool is missing: the job installs them all (ci/packages.py) first, with apt.
    assert _step_running(ci["test"], "make test-packages") < _step_running(ci["test"], "make test")
    image = ci["test"]["container"].split("@")[0]
    assert image.endswith("-bookworm"), "a Debian image, where apt-get has those packages"
    upload = _step(ci["offline-plan"], "actions/upload-artifact")
    assert upload["with"]["path"] == "artifacts/"
    assert upload["if"] == "${{ !cancelled() }}", "the plan is uploaded also when the policies fail"


def test_main_is_checked_by_the_deploy_workflow_before_anything_ships() -> None:
    on = workflow("ci.yml")["on"]
    assert "workflow_call" in on and on["push"]["branches-ignore"] == ["main"]
    deploy = jobs("deploy.yml")
    assert deploy["checks"]["uses"] == "./.github/workflows/ci.yml"
    assert deploy["image"]["needs"] == "checks"


# ------------------------------------------------------------------------------------------------ preview


def test_preview_runs_pulumi_preview_with_the_policy_pack_for_every_stack() -> None:
    job = jobs("preview.yml")["cloud-preview"]
    assert sorted(entry["stack"] for entry in job["strategy"]["matrix"]["include"]) == STACKS
    # The pack runs in policies/.venv (PulumiPolicy.yaml), which `make deploy-venv` creates from the hash lock.
    preview_index = steps(job).index(_step(job, PULUMI_ACTION, command="preview"))
    assert _step_running(job, "make deploy-venv") < preview_index
    preview = _step(job, PULUMI_ACTION, command="preview")["with"]
    assert preview["policyPacks"] == "policies"
    assert preview["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert all((ROOT / "policies" / "config" / f"{stack}.json").is_file() for stack in STACKS)
    assert (ROOT / "policies" / "PulumiPolicy.yaml").is_file()
    assert preview["comment-on-pr"] is True
    assert preview["config-map"] == "${{ steps.deployed.outputs.config-map }}"
    assert _step(job, AWS_CREDENTIALS)["with"]["role-to-assume"] == "${{ matrix.role }}"


def test_pull_requests_from_forks_get_the_offline_plan_as_a_comment() -> None:
    preview = jobs("preview.yml")
    same_repository = "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["cloud-preview"]["if"] == same_repository
    assert preview["offline-preview"]["if"] == same_repository.replace("==", "!=")
    offline = preview["offline-preview"]
    assert "secrets." not in str(offline) and "id-token" not in offline["permissions"]
    handed = _step(offline, "actions/upload-artifact", name="offline-plan-comment")["with"]["name"]

    comment = workflow("preview-comment.yml")
    assert comment["on"]["workflow_run"]["workflows"] == [workflow("preview.yml")["name"]]
    poster = comment["jobs"]["comment"]
    assert _step(poster, "actions/download-artifact")["with"]["name"] == handed
    checkout = _step(poster, "actions/checkout")
    assert "ref" not in checkout["with"], "the privileged run must not check out the pull request's code"
    assert "ci.pr_comment" in run_steps(poster)[0]
    # The figures come as strict JSON, which the privileged job checks and renders; the markdown only quoted.
    assert "--facts-file untrusted/pr-comment.json --body-file untrusted/pr-comment.md" in run_steps(poster)[0]
    assert (
        "artifacts/pr-comment.json"
        in _step(offline, "actions/upload-artifact", name="offline-plan-comment")["with"]["path"]
    )
    assert "make comment-facts" in run_steps(offline)[-1]


# ------------------------------------------------------------------------------------------------ deploy


def test_the_image_is_built_once_and_deployed_by_the_output_it_pushed() -> None:
    deploy = jobs("deploy.yml")
    assert _step_running(deploy["image"], "make image") >= 0
    assert deploy["image"]["outputs"]["image"] == "${{ steps.build.outputs.image }}"
    for job_id in ("deploy-staging", "deploy-prod"):
        assert deploy[job_id]["env"]["IMAGE"] == "${{ needs.image.outputs.image }}"


def test_prod_deploys_only_after_staging_passed_and_the_production_environment_approved() -> None:
    deploy = jobs("deploy.yml")
    prod = deploy["deploy-prod"]
    assert prod["environment"]["name"] == "production"
    assert "deploy-staging" in prod["needs"]
    assert deploy["deploy-staging"]["environment"]["name"] == "staging", "its token and role are staging's alone"
    staging = deploy["deploy-staging"]
    commands = (
        "make deploy STACK=staging",
        "make rollout-status STACK=staging",
        "make smoke STACK=staging SMOKE_MODE=checkout",
        "make alarms STACK=staging",
    )
    order = [_step_running(staging, command) for command in commands]
    assert order == sorted(order)
    assert _step(prod, AWS_CREDENTIALS)["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN_PROD }}"
    others = [job for job_id, job in deploy.items() if job_id != "deploy-prod"]
    assert "AWS_DEPLOY_ROLE_ARN_PROD" not in str(others) and "STACK=prod" not in str(others)


def test_a_failed_cancelled_or_timed_out_prod_deploy_rolls_back_and_only_a_healthy_one_is_verified_and_kept() -> None:
    prod = jobs("deploy.yml")["deploy-prod"]
    # Prod's smoke test orders nothing (SMOKE_MODE=cart): a deploy must not take real stock.
    commands = ("make deploy STACK=prod", "make smoke STACK=prod SMOKE_MODE=cart", "make alarms STACK=prod")
    deploy, smoke, alarms = (_step_running(prod, command) for command in commands)
    rollback = _step_running(prod, "make rollback STACK=prod")
    verify = _step_running(prod, "make verify-release STACK=prod")
    retain = _step_running(prod, "make retain-image")
    assert deploy < smoke < alarms < rollback < verify < retain
    assert steps(prod)[deploy]["id"] == "deploy"
    # failure() alone is false on a cancel or a job timeout, which would leave prod on the new release.
    assert steps(prod)[rollback]["if"] == "${{ (failure() || cancelled()) && steps.deploy.outcome != 'skipped' }}"
    assert "if" not in steps(prod)[verify] and "if" not in steps(prod)[retain], "a rolled-back release is neither"
    # Each step that can hang times out on its own (a failure, so the rollback runs), leaving the job time for it.
    bounded = sum(steps(prod)[index]["timeout-minutes"] for index in (deploy, smoke, alarms))
    assert bounded + 60 <= prod["timeout-minutes"]


def test_each_deploy_checks_its_stacks_release_record_with_the_whole_history() -> None:
    deploy = jobs("deploy.yml")
    for job_id, stack in DEPLOY_JOBS.items():
        job = deploy[job_id]
        assert job["env"]["RELEASE_PARAMETER"] == f"${{{{ vars.RELEASE_PARAMETER_{stack.upper()} }}}}"
        assert _step(job, "actions/checkout")["with"]["fetch-depth"] == 0, "ancestry needs the history"
        assert _step_running(job, f"make alarms STACK={stack}") < _step_running(
            job, f"make verify-release STACK={stack}"
        )


def test_jobs_that_hold_cloud_credentials_install_only_the_hash_locked_set() -> None:
    """Previews and deploys hold a stack's credentials: they install requirements.lock and policies/requirements.lock
    with --require-hashes (tests/test_cicd_packages.py), never the development set with its test and lint tools."""
    for name, job_id, job in all_jobs():
        commands = {run.strip() for run in run_steps(job)}
        if job.get("permissions", {}).get("id-token"):
            assert "make venv" not in commands, f"{name}:{job_id} installs the whole development set"
            if any("make deploy" in c or "make image-config" in c for c in commands):
                assert "make deploy-venv" in commands, f"{name}:{job_id}"


def test_the_prod_approval_is_asked_only_after_a_summary_of_what_it_approves() -> None:
    deploy = jobs("deploy.yml")
    summary = deploy["approval-summary"]
    assert "approval-summary" in deploy["deploy-prod"]["needs"] and "deploy-staging" in summary["needs"]
    assert "environment" not in summary, "it holds no secret and assumes no role"
    assert _step_running(summary, "make approval-summary ENVIRONMENT=production") >= 0
    assert _step(summary, "actions/checkout")["with"]["fetch-depth"] == 0


def test_each_deploy_reports_the_release_outcome_even_when_pulumi_up_failed() -> None:
    """An aborted release fails `pulumi up`; the outcome step still runs and says why (docs/releases.md)."""
    for job_id, stack, mode in (("deploy-staging", "staging", "checkout"), ("deploy-prod", "prod", "cart")):
        job = jobs("deploy.yml")[job_id]
        deploy = _step_running(job, f"make deploy STACK={stack}")
        outcome = _step_running(job, f"make rollout-status STACK={stack}")
        smoke = _step_running(job, f"make smoke STACK={stack} SMOKE_MODE={mode}")
        assert deploy < outcome < smoke
        assert steps(job)[outcome]["if"] == "${{ !cancelled() && steps.deploy.outcome != 'skipped' }}"


def test_failures_are_notified() -> None:
    deploy = jobs("deploy.yml")
    notify = deploy["notify"]
    assert notify["if"] == "${{ failure() }}"
    assert set(notify["needs"]) == set(deploy) - {"notify"}
    assert "make notify STATUS=failure" in run_steps(notify)[0]


def _environment(job: dict) -> str | None:
    environment = job.get("environment")
    return environment["name"] if isinstance(environment, dict) else environment


def test_stack_credentials_come_only_from_the_stacks_own_environments() -> None:
    """The Pulumi token is an environment secret, never a repository one: a job sees only its stack's, and a pull
    request's code sees none without entering an environment (prod's preview one requires a reviewer)."""
    for name, job_id, job in all_jobs():
        secrets = set(re.findall(r"secrets\.(\w+)", str(job)))
        if "PULUMI_ACCESS_TOKEN" in secrets:
            assert _environment(job), f"{name}:{job_id} reads the Pulumi token outside an environment"
        if "pull_request" in workflow_events(name) and not _environment(job):
            assert not secrets, f"{name}:{job_id} gives pull request code {secrets}"
    assert _environment(jobs("preview.yml")["cloud-preview"]) == "preview-${{ matrix.stack }}"
    deploy = jobs("deploy.yml")
    assert (_environment(deploy["deploy-staging"]), _environment(deploy["deploy-prod"])) == ("staging", "production")


def test_every_secret_is_an_environment_secret() -> None:
    """A repository secret is readable by a workflow pushed to any branch; an environment's only by the jobs of the
    branches it admits (docs/cicd.md: all of them main only, the preview ones reviewed). The Docker Hub token could
    overwrite the mirror's mutable tags, the webhook post as the pipeline."""
    readers = {}
    for name, job_id, job in all_jobs():
        for secret in set(re.findall(r"secrets\.(\w+)", str(job))):
            assert _environment(job), f"{name}:{job_id} reads {secret} outside an environment"
            readers.setdefault(secret, set()).add(_environment(job))
    deploy = jobs("deploy.yml")
    assert (_environment(deploy["image"]), _environment(deploy["notify"])) == ("image", "notify")
    assert readers["DOCKERHUB_TOKEN"] == {"image"} and readers["NOTIFY_WEBHOOK_URL"] == {"notify"}


def _runner_variables(labels: str) -> list[str]:
    """The operator-set label variables in a runs-on expression, which must default to self-hosted labels."""
    assert '\'["self-hosted", "linux", ' in labels, labels
    return re.findall(r"vars\.(\w+_RUNNER_LABELS_\w+)", labels)


#: A deploy runner's label: the stack's CodeBuild runner (codebuild-shop-<stack>-deploy-runner-...), or a runner
#: group or label of the operator's named shop-<stack>-deploy.
DEPLOY_RUNNER = re.compile(r"shop-[\w-]+-deploy\b|codebuild-")
DEPLOY_JOBS = {"deploy-staging": "staging", "deploy-prod": "prod"}


def test_previews_run_on_runners_of_their_own() -> None:
    """Prod's Kubernetes API is private and GitHub's hosted runners are not among staging's eksPublicAccessCidrs:
    previews run on the operator's runners, one label set per stack."""
    preview = jobs("preview.yml")["cloud-preview"]
    assert preview["runs-on"] == "${{ fromJSON(matrix.runner) }}"
    labels = {e["stack"]: e["runner"] for e in preview["strategy"]["matrix"]["include"]}
    assert {stack: _runner_variables(text) for stack, text in labels.items()} == {
        "staging": ["PREVIEW_RUNNER_LABELS_STAGING"],
        "prod": ["PREVIEW_RUNNER_LABELS_PROD"],
    }


def test_deploys_run_on_their_stacks_runner_and_no_other_workflow_or_job_names_it() -> None:
    """Each deploy job selects its stack's CodeBuild runner (components/deploy_runner.py), one fresh build per job;
    no other job of any workflow names a deploy runner, so none asks for one (docs/cicd.md "The deploy runner")."""
    deploy = jobs("deploy.yml")
    assert {job_id: deploy[job_id]["runs-on"] for job_id in DEPLOY_JOBS} == {
        job_id: f"codebuild-shop-{stack}-deploy-runner-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"
        for job_id, stack in DEPLOY_JOBS.items()
    }
    for name, job_id, job in all_jobs():
        if (name, job_id) in {("deploy.yml", job_id) for job_id in DEPLOY_JOBS}:
            continue
        selection = str(job.get("runs-on", "")) + str(job.get("strategy", ""))
        assert not DEPLOY_RUNNER.search(selection), f"{name}:{job_id} selects a deploy runner: {selection}"
    for path in WORKFLOW_FILES:
        if path.name != "deploy.yml":
            assert not DEPLOY_RUNNER.search(path.read_text()), f"{path.name} names a deploy runner label or group"
    docs = (ROOT / "docs" / "cicd.md").read_text()
    assert "codebuild-shop-<stack>-deploy-runner-${{ github.run_id }}-${{ github.run_attempt }}" in docs


def test_the_readme_documents_every_variable_secret_and_environment_the_workflows_use() -> None:
    """The operator sets these by hand (docs/cicd.md "Repository settings"): an undocumented one is a broken
    pipeline."""
    docs = (ROOT / "docs" / "cicd.md").read_text()
    settings = docs[docs.index("## Repository settings") : docs.index("## Jenkins")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_<>]+)`", settings))
    for path in WORKFLOW_FILES:
        for name in re.findall(r"(?:vars|secrets)\.(\w+)", path.read_text()):
            generic = re.sub(r"_(STAGING|PROD)$", "_<STACK>", name)
            assert {name, generic} & documented, f"{path.name} reads {name}, which docs/cicd.md does not document"
    environments = {
        _environment(job).replace("${{ matrix.stack }}", entry["stack"])  # type: ignore[union-attr]
        for _, _, job in all_jobs()
        if _environment(job)
        for entry in job.get("strategy", {}).get("matrix", {}).get("include", [{"stack": ""}])
    }
    assert environments == {"preview-staging", "preview-prod", "staging", "production", "image", "notify"}
    for environment in environments:
        assert f"| `{environment}` |" in settings, f"docs/cicd.md's environments table lacks {environment}"
