"""The Jenkinsfile: the GitHub pipeline's stages, and nothing but make targets that exist (issue 9, item 6)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.cicd import ROOT, make_calls, make_dry_run, make_targets

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
        "What prod approval approves",
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
        "make verify-release STACK=staging",
    ]
    assert calls["Deploy prod"][:5] == [
        "make deploy STACK=prod",
        "make rollout-status STACK=prod",
        "make smoke STACK=prod SMOKE_MODE=cart",
        "make alarms STACK=prod",
        "make verify-release STACK=prod",
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
    assert re.search(r"\binput message: .*,\s*submitter: 'prod-approvers'", approval, re.DOTALL)
    assert "agent" not in approval and "agent" not in _stage_body("Approve prod preview")


def test_the_prod_prompt_shows_commit_digest_and_changes_from_prods_release_record() -> None:
    """As deploy.yml's approval-summary job does (ci/approval.py), from the release record Jenkins' prod profile
    reads: the stage before the prompt writes the text, refusing a downgrade, and the prompt shows it."""
    summary = _stage_body("What prod approval approves")
    assert STAGES.index("What prod approval approves") == STAGES.index("Approve prod") - 1
    assert (_agent("What prod approval approves"), _profile("What prod approval approves")) == (
        "shop-prod-deploy",
        "shop-deploy-prod",
    )
    assert "RELEASE_PARAMETER = '/shop/prod/releases'" in summary
    assert summary.index("unstash 'image'") < summary.index("sh 'make release-approval STACK=prod'")
    assert "env.PROD_APPROVAL = readFile('artifacts/approval-prod.txt')" in summary
    assert re.search(r'input message: "[^"]*\$\{env\.PROD_APPROVAL\}"', _stage_body("Approve prod"))
    # The text is what `make release-approval` writes (ci/release.py approval, tested in test_cicd_release.py).
    recipe = make_dry_run("-B", "release-approval", "STACK=prod")
    assert ".venv/bin/python -m ci.release approval prod --artifacts artifacts" in recipe


def test_a_failed_aborted_or_timed_out_prod_deploy_rolls_back_to_the_last_verified_release() -> None:
    prod = _stage_body("Deploy prod")
    post = prod[prod.index("post {") :]
    # `failure` misses an aborted build and a timeout (Jenkins aborts); `unsuccessful` is any outcome but success.
    assert re.search(
        r"unsuccessful\s*\{\s*script\s*\{\s*withPulumiToken\('deploy-prod'\) \{ sh 'make rollback STACK=prod' \}",
        post,
    )
    # The steps time out on their own, so the stage's timeout leaves the rollback its time.
    steps_minutes = sum(int(m) for m in re.findall(r"timeout\(time: (\d+), unit: 'MINUTES'\) \{ sh 'make", prod))
    stage_minutes = re.search(r"options \{ timeout\(time: (\d+), unit: 'MINUTES'\) \}", prod)
    assert stage_minutes and steps_minutes >= 100 and steps_minutes + 60 <= int(stage_minutes[1])
    for stack in ("staging", "prod"):
        assert f"RELEASE_PARAMETER = '/shop/{stack}/releases'" in _stage_body(f"Deploy {stack}")
    assert "retain-image" not in prod, "keeping the release is its own stage, so its failure cannot roll back"


def test_two_runs_never_deploy_at_once() -> None:
    assert "disableConcurrentBuilds()" in _code()


def _pipeline_post() -> str:
    code = _code()
    return code[code.index("\n    post {") : code.index("\ndef ")]


def _helper(name: str) -> str:
    code = _code()
    start = code.index(f"def {name}(")
    return code[start : code.index("\n}\n", start)]


def test_only_mains_builds_notify_from_a_fresh_checkout_on_an_agent_that_runs_no_pull_request_code() -> None:
    """The build agents run pull request code (fork pull requests included): `make notify` there would run the pull
    request's Makefile with the webhook bound. Every outcome but success (failure, unstable, aborted) notifies."""
    post = _pipeline_post()
    assert re.search(r"success \{\s*script \{\s*onMainsOwnCheckout \{ sh 'make notify STATUS=success' \}", post)
    assert re.search(r"unsuccessful \{\s*script \{\s*onMainsOwnCheckout \{ sh 'make notify STATUS=failure' \}", post)
    assert "node(" not in post and "withCredentials" not in post
    helper = _helper("onMainsOwnCheckout")
    guard, node = helper.index("env.BRANCH_NAME != 'main' || env.CHANGE_ID"), helper.index("node('shop-image')")
    assert guard < node < helper.index("checkout scm") < helper.index("credentialsId: 'notify-webhook-url'")
    assert "shop-build" not in helper and "shop-image" in _stage_body("Image"), "an agent only main's stages use"


def _parameter_pattern() -> re.Pattern[str]:
    match = re.search(r"value ==~ /(?P<pattern>.+?)/\)\)", _helper("imageRepositoryParameter"))
    assert match, "the parameter is checked against a pattern"
    return re.compile(match["pattern"].replace("\\/", "/"))  # a Groovy slashy string escapes only the slash


def test_every_free_text_parameter_is_checked_in_groovy_before_any_stage() -> None:
    parameters = re.findall(r"string\(name: '(\w+)'", _code())
    assert parameters == ["IMAGE_REPOSITORY", "IMAGE_MIRROR"]
    environment = re.search(r"^    environment \{(.*?)^    \}", _code(), re.MULTILINE | re.DOTALL)
    assert environment
    for name in parameters:
        assert f"{name} = imageRepositoryParameter('{name}')" in environment[1]
    assert "params." not in _code().replace("params[name]", ""), "no parameter is read unchecked"
    pattern = _parameter_pattern()
    for good in ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app", "docker.io/acme/shop", "localhost:5000/a"):
        assert pattern.fullmatch(good), good
    for bad in (
        "$(shell id)",
        'docker.io/acme/shop"; id; "',
        "docker.io/a b",
        "docker.io/a;id",
        "`id`",
        "a/$HOME",
        "x",
    ):
        assert not pattern.fullmatch(bad), bad
    assert "error(" in _helper("imageRepositoryParameter")


def test_recipes_read_free_text_from_the_environment_so_make_never_expands_it(tmp_path: Path) -> None:
    """`IMAGE_REPOSITORY='$(shell …)'` in a recipe as `$(IMAGE_REPOSITORY)` runs even under `make -n`; as
    `"$$IMAGE_REPOSITORY"` the shell gets the string, quotes and all."""
    marker = tmp_path / "expanded"
    hostile = f"$(shell touch {marker})\"'"
    names = ("IMAGE", "IMAGE_REPOSITORY", "IMAGE_MIRROR", "STATUS", "MESSAGE")
    environment = os.environ | dict.fromkeys(names, hostile)
    targets = ("image", "deploy", "retain-image", "notify")
    result = subprocess.run(["make", "-n", *targets], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), "make expanded a value from the environment"
    for name in names:
        assert f'"${name}"' in result.stdout, f"no recipe reads {name} from the environment"
    assert "shell touch" not in result.stdout
