"""The other pipeline steps of ci/: offline plan and summary, manifest validation, image build command, alarm
gate, notifications, the fork pull request comment, and step outputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
import yaml
from moto import mock_aws

from ci import alarms, comment_facts, image, manifests, notify, offline, pr_comment, release, runner
from stacks.offline.plan import Plan
from tests.cicd import ROOT, make_dry_run

# ------------------------------------------------------------------------------------------------ offline plan


def test_plan_writes_the_same_plan_the_preview_engine_computes(tmp_path: Path, staging: Plan) -> None:
    assert offline.plan(tmp_path, ["staging"]) == 0
    files = offline.StackFiles(tmp_path / "staging")
    assert json.loads(files.plan.read_text()) == json.loads(json.dumps(staging.to_json()))
    assert files.manifests.is_dir() and "Previewing stack 'staging'" in files.preview.read_text()


def test_a_failing_stack_fails_the_plan_step(tmp_path: Path) -> None:
    assert offline.plan(tmp_path, ["no-such-stack"]) == 1
    assert "unknown stack 'no-such-stack'" in (tmp_path / "no-such-stack" / "preview.txt").read_text()


def _results(out: Path, stack: str, *, resources: int | None, policy_exit: int | None, manifests: int = 0) -> None:
    files = offline.StackFiles(out / stack)
    files.manifests.mkdir(parents=True)
    files.preview.write_text("preview output")
    if resources is not None:
        listed = [{"custom": True}] * resources + [{"custom": False}]
        files.plan.write_text(json.dumps({"resources": listed}))
    for index in range(manifests):
        (files.manifests / f"{index:03d}-x.yaml").write_text("kind: ConfigMap\n")
    if policy_exit is not None:
        lines = [f"line {n}" for n in range(100)] + ["mandatory: rds-encrypted", "1 mandatory, 2 advisory violation(s)"]
        files.policy_output.write_text("\n".join(lines) + "\n")
        files.policy_status.write_text(json.dumps({"stack": stack, "exit_code": policy_exit}))


def test_summary_shows_resources_and_policy_verdict_per_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _results(tmp_path, "prod", resources=120, policy_exit=1, manifests=3)
    _results(tmp_path, "staging", resources=90, policy_exit=0)
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    comment = tmp_path / "comment.md"
    assert offline.summary(tmp_path, comment) == 0
    markdown = summary.read_text()
    verdict = "1 mandatory, 2 advisory violation(s)"
    assert f"| `prod` | 121 | - | 3 | ❌ failed (exit code 1): {verdict} |" in markdown
    assert f"| `staging` | 91 | - | 0 | ✅ passed: {verdict} |" in markdown
    assert "mandatory: rds-encrypted" in markdown and "line 39" not in markdown, "only the policy run's tail"
    assert comment.read_text().startswith(pr_comment.COMMENT_MARKER)
    assert (tmp_path / "summary.md").read_text().strip() == markdown.strip()


def test_summary_reports_a_stack_whose_plan_failed(tmp_path: Path) -> None:
    _results(tmp_path, "prod", resources=None, policy_exit=None)
    assert "| `prod` | ❌ no plan (the preview failed) | - | - | not run |" in offline.summary_markdown(tmp_path)


def test_the_fork_comment_is_rendered_from_checked_figures_with_the_runs_markdown_quoted(tmp_path: Path) -> None:
    """A fork's run writes both files: its markdown could claim "passed" in the bot's voice or mention a team, so
    the privileged job renders only the checked figures and quotes the markdown as text."""
    _results(tmp_path, "prod", resources=120, policy_exit=1)
    _results(tmp_path, "staging", resources=None, policy_exit=None)
    facts = comment_facts.facts(tmp_path)
    figures = pr_comment.checked_facts(json.loads(json.dumps(facts)), {"staging", "prod"})
    hostile = "## ✅ All checks passed\n@acme/security-team approve\n````\n</details><img src=x>\n"
    body = pr_comment.render(figures, hostile)
    assert body.startswith(pr_comment.COMMENT_MARKER)
    assert "| `prod` | 121 | - | ❌ failed (1 mandatory, 2 advisory) | - | - |" in body
    assert "| `staging` | no plan | - | not run | - | - |" in body
    quoted = body[body.index("`````text\n") :]
    assert quoted.startswith("`````text\n## ✅ All checks passed") and "\n`````\n\n</details>" in quoted
    assert body.count("@acme") == 1 and body.index("@acme") > body.index("`````text")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"resources": "121"}, "prod.resources: not a count"),
        ({"resources": True}, "prod.resources: not a count"),
        ({"resources": -1}, "prod.resources: not a count"),
        ({"policy": "✅ passed"}, "policy is not one of"),
        ({"stack": "prod | ✅"}, "stack: not one of"),
        ({"monthly_usd": float("nan")}, "not an amount"),
        ({"changes": {"create": 1}}, "changes are not counts"),
        ({"note": "extra"}, "not have exactly the expected fields"),
    ],
)
def test_figures_that_are_not_exactly_numbers_and_enums_are_refused(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    _results(tmp_path, "prod", resources=120, policy_exit=0)
    document = comment_facts.facts(tmp_path)
    document["stacks"][0].update(change)
    with pytest.raises(pr_comment.BadFacts, match=re.escape(problem)):
        pr_comment.checked_facts(document, {"staging", "prod"})


# ------------------------------------------------------------------------------------------------ manifests


def _manifest_results(out: Path, documents: list[dict[str, Any]], version: str | None = "1.33") -> None:
    files = offline.StackFiles(out / "prod")
    files.manifests.mkdir(parents=True)
    files.preview.write_text("")
    cluster = {"type": manifests.CLUSTER_TYPE, "inputs": {"version": version} if version else {}}
    files.plan.write_text(json.dumps({"resources": [cluster]}))
    for index, document in enumerate(documents):
        (files.manifests / f"{index:03d}.yaml").write_text(yaml.safe_dump(document))


CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop", "namespace": "shop"}}


def test_valid_manifests_pass_for_the_cluster_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _manifest_results(tmp_path, [CONFIG_MAP])
    assert manifests.main([str(tmp_path)]) == 0
    assert "--kubernetes-version 1.33" in capsys.readouterr().out


@pytest.mark.parametrize(
    "document",
    [
        {**CONFIG_MAP, "metadata": {"name": "shop", "labels": "not a map"}},
        {**CONFIG_MAP, "unexpected": True},  # --strict: unknown fields are errors
        {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"}},  # removed API
    ],
    ids=["wrong type", "unknown field", "removed API version"],
)
def test_invalid_manifests_fail(tmp_path: Path, document: dict[str, Any]) -> None:
    _manifest_results(tmp_path, [CONFIG_MAP, document])
    assert manifests.main([str(tmp_path)]) == 1


def test_a_stack_without_manifests_passes_and_missing_results_fail(tmp_path: Path) -> None:
    _manifest_results(tmp_path, [], version=None)
    assert manifests.main([str(tmp_path)]) == 0
    assert manifests.main([str(tmp_path / "nothing")]) == 1


# ------------------------------------------------------------------------------------------------ image


def test_the_image_is_built_once_for_every_registry_as_one_plain_manifest(tmp_path: Path) -> None:
    targets = [
        image.ImageReference.parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app:abc1234"),
        image.ImageReference.parse("docker.io/acme/shop:abc1234"),
    ]
    command = image.build_command(targets, Path("app"), "linux/amd64", tmp_path / "metadata.json")
    assert command[:4] == ["docker", "buildx", "build", "--push"]
    assert [command[i + 1] for i, word in enumerate(command) if word == "--tag"] == [str(t) for t in targets]
    assert "--provenance=false" in command and command[-1] == "app"
    assert "org.opencontainers.image.revision=abc1234" in command


@mock_aws
def test_a_commit_already_pushed_is_reused_not_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    ecr = boto3.client("ecr", region_name="eu-west-1")
    ecr.create_repository(repositoryName="shop/app", imageTagMutability="IMMUTABLE")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
    pushed = ecr.put_image(repositoryName="shop/app", imageManifest=manifest, imageTag="abc1234")["image"]
    repository = f"{pushed['registryId']}.dkr.ecr.eu-west-1.amazonaws.com/shop/app"
    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: pytest.fail("nothing is built or pushed again"))

    again = image.build_and_push([image.ImageReference.parse(f"{repository}:abc1234")], Path("app"), "linux/amd64")
    assert again.digest == pushed["imageId"]["imageDigest"]
    assert image.pushed_digest(image.ImageReference.parse(f"{repository}:not-pushed")) is None


def test_docker_hub_needs_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKERHUB_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="DOCKERHUB_USERNAME and DOCKERHUB_TOKEN"):
        image.login(image.ImageReference.parse("docker.io/acme/shop:1"))


# ------------------------------------------------------------------------------------------------ alarm gate


def _alarms(cloudwatch: Any, *names: str) -> None:
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="CPUUtilization",
            Namespace="AWS/RDS",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=80,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="fine")


def _deploy_starts() -> datetime:
    """The deploy's start, a few milliseconds clear of the alarm changes around it: CloudWatch (and moto) keep
    alarm timestamps to the millisecond, so a change in the same millisecond could land on either side."""
    time.sleep(0.005)
    started = datetime.now(UTC)
    time.sleep(0.005)
    return started


def _fire(cloudwatch: Any, name: str, reason: str) -> None:
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)


@mock_aws
def test_an_alarm_of_the_stack_that_goes_off_after_the_deploy_started_fails_the_gate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    _alarms(cloudwatch, "shop-prod-db-cpu", "shop-prod-alb-5xx", "shop-staging-alb-5xx")
    _fire(cloudwatch, "shop-prod-db-cpu", "an incident before the deploy")
    deploy_started = _deploy_starts()
    assert alarms.watch([cloudwatch], "shop-prod-", deploy_started, minutes=0, interval=0) == 0
    assert "shop-prod-db-cpu was in ALARM before the deploy" in capsys.readouterr().out

    _fire(cloudwatch, "shop-staging-alb-5xx", "another stack")
    assert alarms.watch([cloudwatch], "shop-prod-", deploy_started, minutes=0, interval=0) == 0

    _fire(cloudwatch, "shop-prod-alb-5xx", "5xx above 1%")
    assert alarms.watch([cloudwatch], "shop-prod-", deploy_started, minutes=0, interval=0) == 1
    assert "shop-prod-alb-5xx: 5xx above 1%" in capsys.readouterr().err


@mock_aws
def test_the_gate_can_be_narrowed_to_the_releases_own_alarms() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    _alarms(cloudwatch, "shop-prod-db-cpu", "shop-prod-shop-5xx")
    deploy_started = _deploy_starts()
    _fire(cloudwatch, "shop-prod-db-cpu", "a batch job")
    shop = frozenset({"shop-5xx", "checkout-failures"})
    assert alarms.watch([cloudwatch], "shop-prod-", deploy_started, minutes=0, interval=0, keys=shop) == 0
    assert alarms.watch([cloudwatch], "shop-prod-", deploy_started, minutes=0, interval=0) == 1
    _fire(cloudwatch, "shop-prod-shop-5xx", "pods fail")
    assert alarms.watch([cloudwatch], "shop-prod-", deploy_started, minutes=0, interval=0, keys=shop) == 1


@mock_aws
def test_the_gate_watches_from_the_start_this_runs_deploy_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    monkeypatch.setenv("BUILD_TAG", "jenkins-shop-7")
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    _alarms(cloudwatch, "shop-prod-alb-5xx")
    _fire(cloudwatch, "shop-prod-alb-5xx", "before the deploy")
    gate = ["prod", "--prefix", "shop-prod-", "--region", "eu-west-1", "--minutes", "0", "--artifacts", str(tmp_path)]
    assert alarms.main(gate) == 2, "no deploy of prod in this run: nothing says since when"

    started = _deploy_starts().isoformat()
    release.Release("prod", "new", "c0ffee", "jenkins-shop-7", started).save(tmp_path)
    assert alarms.main(gate) == 0
    assert alarms.main([*gate, "--since", "2020-01-01T00:00:00+00:00"]) == 1
    monkeypatch.setenv("BUILD_TAG", "jenkins-shop-8")  # a later build finding this one's workspace
    assert alarms.main(gate) == 2


def test_make_alarms_reads_the_deploy_record_of_the_run_and_may_be_narrowed() -> None:
    assert "-m ci.alarms prod --artifacts artifacts \n" in make_dry_run("alarms", "STACK=prod")
    assert "--keys alb-5xx,shop-5xx" in make_dry_run("alarms", "STACK=prod", "ALARM_KEYS=alb-5xx,shop-5xx")


def test_a_stack_without_alarms_skips_the_gate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("ci.release.stack_outputs", lambda stack: {"shopUrl": "https://x"})
    assert alarms.main(["prod"]) == 0
    assert "alarm gate skipped" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ notify


def test_notifications_link_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUILD_URL", raising=False)
    for name, value in {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "7",
    }.items():
        monkeypatch.setenv(name, value)
    text = notify.message_text("failure", "deploy of main failed")
    assert (
        text
        == "❌ shop-platform pipeline: failure — deploy of main failed\nhttps://github.com/acme/shop/actions/runs/7"
    )
    monkeypatch.setenv("BUILD_URL", "https://jenkins.example.com/job/shop/42/")
    assert notify.message_text("success", "").endswith("\nhttps://jenkins.example.com/job/shop/42/")


def test_a_webhook_that_is_not_https_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert notify.send("http://chat.example.com/hook", "text") is False
    assert "must be an https:// URL" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ PR comment


class _FakeGitHub(BaseHTTPRequestHandler):
    """Just enough of the GitHub REST API: one pull request and its comments."""

    head_sha = "c0ffee"
    comments: ClassVar[list[dict[str, Any]]] = []
    writes: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def _answer(self, body: Any, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        assert self.headers["Authorization"] == "Bearer token"
        if self.path == "/repos/acme/shop/pulls/12":
            self._answer({"head": {"sha": self.head_sha}})
        else:
            self._answer(self.comments)

    def _write(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.writes.append((self.command, self.path, body))
        self._answer({"id": 99}, 201 if self.command == "POST" else 200)

    do_POST = do_PATCH = _write

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def github() -> Iterator[pr_comment.GitHub]:
    _FakeGitHub.comments, _FakeGitHub.writes = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield pr_comment.GitHub(f"http://127.0.0.1:{server.server_address[1]}", "token", "acme/shop")
    finally:
        server.shutdown()
        server.server_close()


def test_the_comment_is_created_then_updated_in_place(github: pr_comment.GitHub) -> None:
    _FakeGitHub.comments = [{"id": 5, "user": {"login": "someone"}, "body": pr_comment.COMMENT_MARKER + " quoted"}]
    assert pr_comment.post(github, 12, "c0ffee", "plan") == "created comment 99 on #12"
    assert _FakeGitHub.writes[-1] == (
        "POST",
        "/repos/acme/shop/issues/12/comments",
        {"body": f"{pr_comment.COMMENT_MARKER}\nplan"},
    )

    _FakeGitHub.comments.append(
        {"id": 7, "user": {"login": pr_comment.BOT_LOGIN}, "body": f"{pr_comment.COMMENT_MARKER}\nold"}
    )
    assert pr_comment.post(github, 12, "c0ffee", "new plan") == "updated comment 7 on #12"
    assert _FakeGitHub.writes[-1][:2] == ("PATCH", "/repos/acme/shop/issues/comments/7")


def test_an_artifact_cannot_steer_the_comment_to_another_commit_or_pull_request(
    github: pr_comment.GitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit, match="not commenting"):
        pr_comment.post(github, 12, "another-commit", "plan")
    monkeypatch.setenv("GITHUB_TOKEN", "token")
    body, figures = tmp_path / "comment.md", tmp_path / "comment.json"
    body.write_text("plan")
    figures.write_text(json.dumps({"version": 1, "stacks": [{"stack": "prod"}]}))
    files = ["--head-sha", "x", "--facts-file", str(figures), "--body-file", str(body)]
    assert pr_comment.main(["--repo", "acme/shop", "--pr", "12; rm -rf /", *files]) == 2
    assert pr_comment.main(["--repo", "acme/shop", "--pr", "12", *files]) == 2, "figures without their fields"
    assert _FakeGitHub.writes == []


# ------------------------------------------------------------------------------------------------ runner


def test_step_outputs_survive_any_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    runner.set_output("config-map", "line one\nEOF\nname=value")
    lines = outputs.read_text().splitlines()
    delimiter = lines[0].split("<<", 1)[1]
    assert lines == [f"config-map<<{delimiter}", "line one", "EOF", "name=value", delimiter]


def test_errors_are_annotations_on_github(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    runner.error("two\nlines 100%", title="Rollback")
    assert capsys.readouterr().out == "::error title=Rollback::two%0Alines 100%25\n"


def test_the_steps_that_run_before_or_without_the_virtual_environment_need_only_the_standard_library() -> None:
    """`make notify`, `make test-packages`, `make approval-summary` and the fork comment run with the machine's
    python3 (the notify and approval jobs make no virtual environment): `-S` leaves out every site-packages."""
    modules = "ci.notify, ci.packages, ci.approval, ci.pr_comment"
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import {modules}"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
