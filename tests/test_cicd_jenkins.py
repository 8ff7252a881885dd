"""The Jenkinsfile: the GitHub pipeline's stages, and nothing but make targets that exist (issue 9, item 6)."""

from __future__ import annotations

import re

from tests.cicd import ROOT, make_calls, make_targets

JENKINSFILE = (ROOT / "Jenkinsfile").read_text()
_STAGE = re.compile(r"^\s*stage\('(?P<name>[^']+)'\)\s*\{", re.MULTILINE)


def _code() -> str:
    """The Jenkinsfile without its // comments."""
    return re.sub(r"//[^\n]*", "", JENKINSFILE)


def _stage_body(name: str) -> str:
    """The text of stage ``name`` up to the next stage (or the pipeline's post section)."""
    starts = [(match["name"], match.start()) for match in _STAGE.finditer(_code())]
    index = [stage for stage, _ in starts].index(name)
    end = starts[index + 1][1] if index + 1 < len(starts) else _code().index("\n    post {")
    return _code()[starts[index][1] : end]


def _shell_steps(text: str) -> list[str]:
    return re.findall(r"\bsh\s+'([^']*)'", text)


def test_every_shell_step_is_a_single_make_call() -> None:
    code = _code()
    shell_words = re.findall(r"\b(sh|bat|powershell|pwsh)\b\s*[('\"]", code)
    steps = _shell_steps(code)
    assert steps, "the pipeline should run its steps through make"
    assert len(shell_words) == len(steps), "every shell step is sh '...' with a literal, single-quoted command"
    for step in steps:
        assert re.fullmatch(r"make [\w.-]+( [A-Z_]+=[\w./-]+)*", step), f"not a plain make call: {step!r}"


def test_every_make_target_it_calls_exists() -> None:
    called = {target for step in _shell_steps(_code()) for call in make_calls(step) for target in call}
    assert called <= make_targets(), f"undefined make targets: {sorted(called - make_targets())}"


def _agent(stage: str) -> str | None:
    match = re.search(r"^\s*agent\s*\{\s*label '([^']+)'\s*\}", _stage_body(stage), re.MULTILINE)
    return match[1] if match else None


def _profile(stage: str) -> str | None:
    match = re.search(r"AWS_PROFILE = '([^']+)'", _stage_body(stage))
    return match[1] if match else None


def _tokens(stage: str) -> list[str]:
    return re.findall(r"withPulumiToken\('([^']+)'\)", _stage_body(stage))


STAGES = [match["name"] for match in _STAGE.finditer(_code())]
PULL_REQUESTS_FROM_THIS_REPOSITORY = "allOf { changeRequest(); expression { !env.CHANGE_FORK } }"


def test_it_has_the_stages_of_the_github_pipeline_in_order() -> None:
    assert STAGES == [
        "Tests",
        "Offline plan and policies",
        "Preview staging",
        "Approve prod preview",
        "Preview prod",
        "Image",
        "Image, mirrored to Docker Hub",
        "Deploy staging",
        "Approve prod",
        "Deploy prod",
        "Keep the released image",
    ]
    calls = {stage: _shell_steps(_stage_body(stage)) for stage in STAGES}
    assert calls["Tests"] == [
        "make test-packages",
        "make lint",
        "make dockerfile-lint",
        "make workflow-lint",
        "make test",
    ]
    assert calls["Offline plan and policies"][:3] == ["make plan", "make policy", "make validate-manifests"]
    assert calls["Preview staging"] == ["make cloud-preview STACK=staging"]
    assert calls["Preview prod"] == ["make cloud-preview STACK=prod"]
    assert calls["Deploy staging"] == [
        "make deploy STACK=staging",
        "make rollout-status STACK=staging",
        "make smoke STACK=staging SMOKE_MODE=checkout",
        "make alarms STACK=staging",
    ]
    assert calls["Deploy prod"][:4] == [
        "make deploy STACK=prod",
        "make rollout-status STACK=prod",
        "make smoke STACK=prod SMOKE_MODE=cart",
        "make alarms STACK=prod",
    ]


def test_no_credential_is_bound_for_the_whole_pipeline() -> None:
    """Stages without a `when` run pull request code too (make test runs the branch's Makefile and tests)."""
    pipeline_environment = re.search(r"^    environment \{(.*?)^    \}", _code(), re.MULTILINE | re.DOTALL)
    assert pipeline_environment and "credentials(" not in pipeline_environment[1]
    for stage in STAGES:
        if "when {" not in _stage_body(stage):
            body = _stage_body(stage)
            assert not re.search(r"credentials\(|withCredentials|withPulumiToken|AWS_PROFILE", body), stage


def test_each_stage_holds_only_its_own_stacks_credentials_on_its_own_agents() -> None:
    """Pull request code runs on build or preview agents, never where a deploy runs; prod's stages run on agents in
    its VPC (its Kubernetes API is private); each stage assumes one role and binds one Pulumi token."""
    expected = {
        "Tests": ("shop-build", None, []),
        "Offline plan and policies": ("shop-build", None, []),
        "Preview staging": ("shop-staging-preview", "shop-preview-staging", ["preview-staging"]),
        "Preview prod": ("shop-prod-preview", "shop-preview-prod", ["preview-prod"]),
        "Image": ("shop-image", "shop-publisher", []),
        "Image, mirrored to Docker Hub": ("shop-image", "shop-publisher", []),
        "Deploy staging": ("shop-staging-deploy", "shop-deploy-staging", ["deploy-staging"]),
        "Deploy prod": ("shop-prod-deploy", "shop-deploy-prod", ["deploy-prod", "deploy-prod"]),  # and rollback
        "Keep the released image": ("shop-prod-deploy", "shop-deploy-prod", []),
    }
    assert {stage: (_agent(stage), _profile(stage), _tokens(stage)) for stage in expected} == expected
    assert "agent any" not in _code() and re.search(r"^    agent none$", _code(), re.MULTILINE)
    helper = _code()[_code().index("def withPulumiToken") :]
    assert "credentialsId: \"pulumi-token-${purpose}\", variable: 'PULUMI_ACCESS_TOKEN'" in helper


def test_pull_requests_from_forks_get_no_cloud_preview() -> None:
    for stage in ("Preview staging", "Approve prod preview", "Preview prod"):
        assert PULL_REQUESTS_FROM_THIS_REPOSITORY in _stage_body(stage), stage


def test_a_prod_preview_runs_pull_request_code_only_after_a_person_approved_it() -> None:
    approval = _stage_body("Approve prod preview")
    assert re.search(r"\binput\s*\{", approval) and "submitter 'prod-approvers'" in approval
    assert STAGES.index("Approve prod preview") == STAGES.index("Preview prod") - 1


def test_conditions_are_decided_before_an_agent_is_taken_or_a_person_asked() -> None:
    """Without beforeAgent, Jenkins checks a branch's code out on a deploy agent before skipping the stage; without
    beforeInput, every pull request build would ask for the prod approval."""
    for stage in STAGES:
        body = _stage_body(stage)
        if "when {" in body and _agent(stage):
            assert "beforeAgent true" in body, stage
        if "when {" in body and re.search(r"\binput\s*\{", body):
            assert "beforeInput true" in body, stage


def test_every_stage_has_its_own_timeout_and_the_approvals_wait_a_day() -> None:
    pipeline_options = re.search(r"^    options \{(.*?)^    \}", _code(), re.MULTILINE | re.DOTALL)
    assert pipeline_options and "timeout(" not in pipeline_options[1], "a pipeline timeout would end the approvals"
    for stage in STAGES:
        assert re.search(r"options \{ timeout\(time: \d+, unit: '(MINUTES|HOURS)'\) \}", _stage_body(stage)), stage
    for stage in ("Approve prod", "Approve prod preview"):
        assert "timeout(time: 24, unit: 'HOURS')" in _stage_body(stage)


def test_prod_waits_for_a_person_and_holds_no_executor_meanwhile() -> None:
    approval = _stage_body("Approve prod")
    assert re.search(r"\binput\s*\{", approval) and "submitter 'prod-approvers'" in approval
    assert "agent" not in approval and "agent" not in _stage_body("Approve prod preview")


def test_a_failed_prod_deploy_rolls_back_and_the_run_is_notified() -> None:
    prod = _stage_body("Deploy prod")
    post = prod[prod.index("post {") :]
    assert re.search(
        r"failure\s*\{\s*script\s*\{\s*withPulumiToken\('deploy-prod'\) \{ sh 'make rollback STACK=prod' \}", post
    )
    assert "retain-image" not in prod, "keeping the release is its own stage, so its failure cannot roll back"
    pipeline_post = _code()[_code().index("\n    post {") :]
    assert "make notify STATUS=failure" in pipeline_post and "make notify STATUS=success" in pipeline_post


def test_two_runs_never_deploy_at_once() -> None:
    assert "disableConcurrentBuilds()" in _code()
