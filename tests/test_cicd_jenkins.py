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


def test_it_has_the_stages_of_the_github_pipeline_in_order() -> None:
    names = [match["name"] for match in _STAGE.finditer(_code())]
    expected = [
        "Tests",
        "Offline plan and policies",
        "Preview",
        "Image",
        "Image, mirrored to Docker Hub",
        "Deploy staging",
        "Approve prod",
        "Deploy prod",
        "Keep the released image",
    ]
    assert names == expected
    calls = {stage: _shell_steps(_stage_body(stage)) for stage in names}
    assert calls["Tests"] == ["make lint", "make dockerfile-lint", "make workflow-lint", "make test"]
    assert calls["Offline plan and policies"][:3] == ["make plan", "make policy", "make validate-manifests"]
    assert calls["Preview"] == ["make cloud-preview STACK=staging", "make cloud-preview STACK=prod"]
    assert calls["Deploy staging"] == [
        "make deploy STACK=staging",
        "make smoke STACK=staging",
        "make alarms STACK=staging",
    ]
    assert calls["Deploy prod"][:3] == ["make deploy STACK=prod", "make smoke STACK=prod", "make alarms STACK=prod"]


def test_prod_waits_for_a_person_and_holds_no_executor_meanwhile() -> None:
    approval = _stage_body("Approve prod")
    assert re.search(r"\binput\s*\{", approval) and "submitter" in approval
    assert "agent" not in approval
    assert re.search(r"^\s*agent none\s*$", _code(), re.MULTILINE), "stages choose their agents; the approval none"


def test_a_failed_prod_deploy_rolls_back_and_the_run_is_notified() -> None:
    prod = _stage_body("Deploy prod")
    post = prod[prod.index("post {") :]
    assert re.search(r"failure\s*\{\s*sh 'make rollback STACK=prod'", post)
    assert "retain-image" not in prod, "keeping the release is its own stage, so its failure cannot roll back"
    pipeline_post = _code()[_code().index("\n    post {") :]
    assert "make notify STATUS=failure" in pipeline_post and "make notify STATUS=success" in pipeline_post


def test_two_runs_never_deploy_at_once() -> None:
    assert "disableConcurrentBuilds()" in _code()
