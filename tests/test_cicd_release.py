"""Deploy and rollback (ci/release.py) against a stand-in Pulumi CLI, and ECR release tags against moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from ci import release
from ci.image import BadImageReference, ImageReference
from tests.cicd import ROOT, make_dry_run

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app"
OLD = f"{REPOSITORY}:1111111@{DIGEST_A}"
NEW = f"{REPOSITORY}:2222222@{DIGEST_B}"

# A stand-in `pulumi`: logs its arguments, keeps stack outputs in a file, and "deploys" the --config image and the
# commit of the program it ran (its --cwd, else its working directory) as the output shopCommit.
FAKE_PULUMI = """#!{python}
import json, os, subprocess, sys
state = os.environ["FAKE_PULUMI_STATE"]
args = sys.argv[1:]
with open(state + ".log", "a") as log:
    log.write(json.dumps(args) + "\\n")
outputs = json.load(open(state)) if os.path.exists(state) else {{}}
if args[:2] == ["stack", "output"]:
    print(json.dumps(outputs))
elif args[0] == "up":
    config = dict(arg.split("=", 1) for arg in args if "=" in arg and arg.startswith("shop-platform:"))
    image = config["shop-platform:shopImageRepository"]
    image += ":" + config["shop-platform:shopImageTag"] if "shop-platform:shopImageTag" in config else ""
    image += "@" + config["shop-platform:shopImageDigest"]
    if image in os.environ.get("FAKE_PULUMI_FAIL_ON", "").split():
        sys.exit(1)
    program = args[args.index("--cwd") + 1] if "--cwd" in args else "."
    commit = subprocess.run(["git", "-C", program, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    outputs.update(shopImage=image, shopUrl="https://staging.shop.example.com", shopCommit=commit.strip())
    json.dump(outputs, open(state, "w"))
"""
RECORD = "/shop/prod/releases"


def _git(*arguments: str) -> str:
    return subprocess.run(["git", *arguments], capture_output=True, text=True, check=True).stdout.strip()


def _commit(message: str) -> str:
    """A commit in the test repository (the working directory); returns its id."""
    Path("program.txt").write_text(message)
    _git("add", "program.txt")
    _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)
    return _git("rev-parse", "HEAD")


@pytest.fixture
def pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fake Pulumi CLI first on PATH, a git repository with one commit as the working directory, and the release
    record in (moto's) SSM; returns the fake's state file (stack outputs as JSON)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable = bin_dir / "pulumi"
    executable.write_text(FAKE_PULUMI.format(python=sys.executable))
    executable.chmod(0o755)
    state = tmp_path / "outputs.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(state))
    monkeypatch.setenv("BUILD_TAG", "jenkins-shop-42")
    monkeypatch.setenv(release.RECORD_VARIABLE, RECORD)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    repository = tmp_path / "repository"
    repository.mkdir()
    monkeypatch.chdir(repository)
    _git("init", "-q", "-b", "main")
    _commit("first")
    with mock_aws():
        yield state


def _record() -> list[dict[str, object]]:
    value = boto3.client("ssm").get_parameter(Name=RECORD)["Parameter"]["Value"]
    return json.loads(value)["releases"]


def _release(state: Path, image: str, artifacts: Path, *, run: str = "", verify: bool = True) -> int:
    """One pipeline run's deploy of prod (and its verification, if ``verify``); its deploy's exit code."""
    if run:
        os.environ["BUILD_TAG"] = run
    code = release.main(["deploy", "prod", "--image", image, "--artifacts", str(artifacts)])
    if code == 0 and verify:
        assert release.main(["verified", "prod", "--artifacts", str(artifacts)]) == 0
    return code


def _invocations(state: Path) -> list[list[str]]:
    log = state.with_name(state.name + ".log")
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _ups(state: Path) -> list[list[str]]:
    return [args for args in _invocations(state) if args[0] == "up"]


def _config(args: list[str]) -> dict[str, str]:
    return dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--config")


def test_image_references_parse_into_repository_tag_and_digest() -> None:
    image = ImageReference.parse(NEW)
    assert (image.repository, image.tag, image.digest) == (REPOSITORY, "2222222", DIGEST_B)
    assert image.ecr == ("123456789012", "eu-west-1", "shop/app")
    assert str(image) == NEW
    local = ImageReference.parse("localhost:5000/shop")
    assert (local.repository, local.tag, local.registry) == ("localhost:5000/shop", None, "localhost:5000")
    assert ImageReference.parse("org/shop:1").registry == "docker.io"
    for bad in ("", f"{REPOSITORY}@sha256:short", f"{REPOSITORY}:bad tag"):
        with pytest.raises(BadImageReference):
            ImageReference.parse(bad)


def test_pulumi_up_runs_the_policy_pack_with_the_stack_config_and_sets_the_image_by_digest() -> None:
    command = release.up_command("prod", ImageReference.parse(NEW), "deploy")
    text = " ".join(command)
    assert "--policy-pack policies --policy-pack-config policies/config/prod.json" in text
    assert _config(command) == {
        "shop-platform:shopImageRepository": REPOSITORY,
        "shop-platform:shopImageTag": "2222222",
        "shop-platform:shopImageDigest": DIGEST_B,
    }
    assert command[:3] == ["pulumi", "up", "--yes"] and "--non-interactive" in command
    assert (ROOT / release.policy_pack_config("prod")).is_file() and (
        ROOT / release.POLICY_PACK / "PulumiPolicy.yaml"
    ).is_file()


def test_the_policy_pack_runs_in_the_environment_make_venv_creates() -> None:
    """`pulumi preview/up --policy-pack policies` runs the pack in PulumiPolicy.yaml's virtualenv: `make venv` (which
    every cloud target and pipeline job runs first) must create it with the pack's pinned requirements."""
    pack = yaml.safe_load((ROOT / release.POLICY_PACK / "PulumiPolicy.yaml").read_text())
    venv = release.POLICY_PACK / pack["runtime"]["options"]["virtualenv"]
    recipe = make_dry_run("-B", "venv").splitlines()
    assert any(line.endswith(f"-m venv {venv}") for line in recipe), recipe
    assert (
        f"{venv}/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps "
        "-r policies/requirements.lock" in recipe
    )
    for target in ("cloud-preview", "deploy", "rollback"):
        assert f"-m venv {venv}" in make_dry_run(target, "-B"), f"make {target} would run the pack without it"

    python = ROOT / venv / "bin" / "python"
    assert python.is_file(), f"{venv} is missing: run make venv"
    version = subprocess.run(
        [python, "-c", "import importlib.metadata as m, pulumi_policy; print(m.version('pulumi-policy'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f"pulumi-policy=={version}" in (ROOT / release.POLICY_PACK / "requirements.txt").read_text()


def test_config_keys_are_those_of_the_deploy_contract() -> None:
    assert set(release.IMAGE_CONFIG_KEYS.values()) == {
        "shop-platform:shopImageRepository",
        "shop-platform:shopImageTag",
        "shop-platform:shopImageDigest",
    }
    project = (ROOT / "Pulumi.yaml").read_text().split("\n", 1)[0]
    assert project == f"name: {release.PROJECT}"


def test_deploy_refuses_an_image_without_digest(pulumi: Path, tmp_path: Path) -> None:
    assert release.main(["deploy", "staging", "--image", f"{REPOSITORY}:2222222", "--artifacts", str(tmp_path)]) == 2
    assert _ups(pulumi) == []


def test_deploy_records_the_release_and_rollback_returns_to_the_last_verified_one(pulumi: Path, tmp_path: Path) -> None:
    old_commit = _git("rev-parse", "HEAD")
    assert _release(pulumi, OLD, tmp_path / "run-1", run="jenkins-shop-41") == 0
    new_commit = _commit("second")
    assert _release(pulumi, NEW, tmp_path / "run-2", run="jenkins-shop-42", verify=False) == 0
    recorded = json.loads((tmp_path / "run-2" / "release-prod.json").read_text())
    started = datetime.fromisoformat(recorded.pop("started"))
    assert recorded == {"stack": "prod", "image": NEW, "commit": new_commit, "run": "jenkins-shop-42"}
    assert abs(datetime.now(UTC) - started) < timedelta(minutes=1), "the alarm gate watches from there"
    newest, oldest = _record()
    assert (newest["commit"], newest["image"], newest["verified"]) == (new_commit, NEW, False)
    assert (oldest["commit"], oldest["image"], oldest["verified"]) == (old_commit, OLD, True)

    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path / "run-2")]) == release.ROLLED_BACK
    rollback_up = _ups(pulumi)[-1]
    assert _config(rollback_up)["shop-platform:shopImageDigest"] == DIGEST_A
    program = Path(rollback_up[rollback_up.index("--cwd") + 1])
    assert f"{program}/policies/config/prod.json" in rollback_up, "the release's own policy pack and config"
    deployed = json.loads(pulumi.read_text())
    assert (deployed["shopImage"], deployed["shopCommit"]) == (OLD, old_commit), "its image and its program"


def test_a_rollback_after_a_failed_rollback_still_returns_to_the_last_verified_release(
    pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Release B fails and its rollback fails too (prod runs B); release C then fails: the target is A, the last
    verified release, never B, which is what prod ran "before" C."""
    good_commit = _git("rev-parse", "HEAD")
    assert _release(pulumi, OLD, tmp_path / "run-a", run="a") == 0
    _commit("b")
    assert _release(pulumi, NEW, tmp_path / "run-b", run="b", verify=False) == 0
    monkeypatch.setenv("FAKE_PULUMI_FAIL_ON", OLD)
    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path / "run-b")]) == release.ROLLBACK_FAILED
    assert json.loads(pulumi.read_text())["shopImage"] == NEW
    monkeypatch.delenv("FAKE_PULUMI_FAIL_ON")

    _commit("c")
    newer = f"{REPOSITORY}:3333333@sha256:{'c' * 64}"
    assert _release(pulumi, newer, tmp_path / "run-c", run="c", verify=False) == 0
    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path / "run-c")]) == release.ROLLED_BACK
    deployed = json.loads(pulumi.read_text())
    assert (deployed["shopImage"], deployed["shopCommit"]) == (OLD, good_commit)


def test_a_cancelled_or_failed_pulumi_up_is_rolled_back_with_the_releases_infrastructure(
    pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled or timed-out deploy stops inside `pulumi up`, before any output: the rollback still knows this
    run's release and the last verified one, and runs that one's program, undoing the new commit's infrastructure
    changes (the fake reports the program's commit)."""
    good_commit = _git("rev-parse", "HEAD")
    assert _release(pulumi, OLD, tmp_path / "run-1", run="one") == 0
    _commit("adds a resource")
    monkeypatch.setenv("FAKE_PULUMI_FAIL_ON", NEW)  # interrupted
    with pytest.raises(subprocess.CalledProcessError):
        _release(pulumi, NEW, tmp_path / "run-2", run="two")
    monkeypatch.delenv("FAKE_PULUMI_FAIL_ON")
    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path / "run-2")]) == release.ROLLED_BACK
    assert json.loads(pulumi.read_text())["shopCommit"] == good_commit
    assert _record()[0]["verified"] is False, "the interrupted release is never a rollback target"


def test_a_deploy_of_a_commit_that_does_not_descend_from_the_last_verified_release_is_refused(
    pulumi: Path, tmp_path: Path
) -> None:
    """Re-running an old Deploy run would otherwise put its older commit over what was released since."""
    old_commit = _git("rev-parse", "HEAD")
    _commit("newer")
    assert _release(pulumi, NEW, tmp_path / "run-1", run="new") == 0
    _git("checkout", "-q", old_commit)  # the old run, re-run
    assert _release(pulumi, OLD, tmp_path / "run-2", run="re-run") == 1
    assert len(_ups(pulumi)) == 1, "nothing was deployed"
    _git("checkout", "-q", "-b", "elsewhere")
    _commit("a branch beside the release")
    assert _release(pulumi, OLD, tmp_path / "run-3", run="branch") == 1
    _git("checkout", "-q", "main")
    _commit("after the release")
    assert _release(pulumi, OLD, tmp_path / "run-4", run="forward") == 0


def test_a_failed_rollback_is_reported_as_such(pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _release(pulumi, OLD, tmp_path / "run-1", run="one") == 0
    assert _release(pulumi, NEW, tmp_path / "run-2", run="two", verify=False) == 0
    monkeypatch.setenv("FAKE_PULUMI_FAIL_ON", OLD)
    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path / "run-2")]) == release.ROLLBACK_FAILED


def test_a_failed_rollback_has_its_own_exit_code_apart_from_the_conventions() -> None:
    """1 means a check failed (a rollback that worked also exits 1), 2 invalid input: a failed rollback is neither."""
    from stacks.exit_codes import Exit

    assert release.ROLLED_BACK == Exit.FAILED
    assert release.ROLLBACK_FAILED not in set(Exit)


def test_no_rollback_without_a_verified_release_or_a_deploy_in_this_run(
    pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path)]) == release.ROLLBACK_FAILED
    assert release.main(["deploy", "prod", "--image", NEW, "--artifacts", str(tmp_path)]) == 0  # first deploy
    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path)]) == release.ROLLBACK_FAILED

    assert release.main(["verified", "prod", "--artifacts", str(tmp_path)]) == 0
    assert release.main(["deploy", "prod", "--image", NEW, "--artifacts", str(tmp_path)]) == 0
    monkeypatch.setenv("BUILD_TAG", "jenkins-shop-43")  # a later build finding the workspace of this one
    assert release.main(["rollback", "prod", "--artifacts", str(tmp_path)]) == release.ROLLBACK_FAILED
    assert release.main(["verified", "prod", "--artifacts", str(tmp_path)]) == 1, "not this build's release"
    assert len(_ups(pulumi)) == 2, "no rollback ran"


def test_deploy_needs_the_release_record(pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(release.RECORD_VARIABLE)
    assert release.main(["deploy", "prod", "--image", NEW, "--artifacts", str(tmp_path)]) == 1
    assert _ups(pulumi) == []


def test_deploy_takes_the_image_the_build_step_pushed(pulumi: Path, tmp_path: Path) -> None:
    (tmp_path / "image.json").write_text(json.dumps({"image": NEW, "mirrors": []}))
    assert release.main(["deploy", "staging", "--artifacts", str(tmp_path)]) == 0
    assert _config(_ups(pulumi)[0])["shop-platform:shopImageDigest"] == DIGEST_B


def test_deploy_publishes_url_and_image_as_step_outputs(
    pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert release.main(["deploy", "staging", "--image", NEW, "--artifacts", str(tmp_path / "a")]) == 0
    text = outputs.read_text()
    assert "https://staging.shop.example.com" in text and NEW in text


def test_preview_config_map_is_the_deployed_image(
    pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    pulumi.write_text(json.dumps({"shopImage": OLD}))
    assert release.main(["image-config", "prod"]) == 0
    block = outputs.read_text().splitlines()
    config = json.loads(block[1])
    assert config["shop-platform:shopImageDigest"] == {"value": DIGEST_A, "secret": False}
    assert block[0].startswith("config-map<<") and block[2] == block[0].split("<<")[1]


def test_stack_names_are_qualified_by_the_pulumi_org(pulumi: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_ORG", "acme")
    command = release.preview_command("staging", None)
    assert command[command.index("--stack") + 1] == "acme/staging"
    assert "policies/config/staging.json" in command


def test_the_make_targets_run_these_commands() -> None:
    dry_run = make_dry_run("deploy", "STACK=prod", "rollback", "STACK=prod")
    assert "-m ci.release deploy prod" in dry_run and "-m ci.release rollback prod" in dry_run


@mock_aws
def test_retain_tags_a_released_image_so_the_lifecycle_policy_keeps_it() -> None:
    ecr = boto3.client("ecr", region_name="eu-west-1")
    ecr.create_repository(repositoryName="shop/app", imageTagMutability="IMMUTABLE")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
    pushed = ecr.put_image(repositoryName="shop/app", imageManifest=manifest, imageTag="2222222")
    digest = pushed["image"]["imageId"]["imageDigest"]
    account = pushed["image"]["registryId"]
    image = f"{account}.dkr.ecr.eu-west-1.amazonaws.com/shop/app:2222222@{digest}"

    assert release.main(["retain", "--image", image]) == 0
    assert release.main(["retain", "--image", image]) == 0, "a re-run keeps the same tag"
    details = ecr.describe_images(repositoryName="shop/app", imageIds=[{"imageDigest": digest}])["imageDetails"]
    assert sorted(details[0]["imageTags"]) == ["2222222", f"{release.RELEASE_TAG_PREFIX}2222222"]


class _FakeGitHub:
    """Deployments of ``production``, newest first, each (sha, state of its newest status)."""

    def __init__(self, deployments: list[tuple[str, str]]) -> None:
        self.deployments = deployments

    def call(self, method: str, path: str) -> object:
        assert method == "GET"
        if path.startswith("/deployments?environment=production"):
            return [{"id": index, "sha": sha} for index, (sha, _) in enumerate(self.deployments)]
        index = int(path.split("/")[2])
        return [{"state": self.deployments[index][1]}]


def test_the_approval_summary_shows_commit_digest_and_changes_and_refuses_a_downgrade(
    pulumi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ci import approval

    released = _git("rev-parse", "HEAD")
    failed = _commit("a release that failed in prod")
    head = _commit("fix the checkout page")
    github = _FakeGitHub([(failed, "failure"), (released, "success")])
    monkeypatch.setattr(approval, "GitHub", lambda *arguments: github)
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    summary_file = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))

    assert approval.main(["--environment", "production", "--image", NEW]) == 0
    text = summary_file.read_text()
    assert f"`{head}` fix the checkout page" in text and f"digest `{DIGEST_B}`" in text
    assert f"| production runs | `{released}` |" in text, "the last successful deployment, not the failed one"
    assert "**2 commits since**" in text and "fix the checkout page" in text

    _git("checkout", "-q", released)
    github.deployments.insert(0, (head, "success"))
    assert approval.main(["--environment", "production", "--image", NEW]) == 1
    captured = capsys.readouterr()
    assert "not asking for an approval of a downgrade" in captured.out + captured.err
    assert approval.main(["--environment", "production", "--image", f"{REPOSITORY}:2222222"]) == 2


def test_jenkins_approval_text_comes_from_the_release_record_and_refuses_a_downgrade(
    pulumi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Jenkins has no deployments API: `release approval` reads the last verified release from the stack's record and
    writes what the prompt shows (commit, digest, changes since) to DIR/approval-<stack>.txt."""
    older = _git("rev-parse", "HEAD")
    released = _commit("the last verified release")
    assert _release(pulumi, OLD, tmp_path / "run-1", run="jenkins-shop-41") == 0
    _commit("a release that failed in prod")
    assert _release(pulumi, OLD, tmp_path / "run-2", run="jenkins-shop-42", verify=False) == 0
    head = _commit("fix the checkout page")
    artifacts = tmp_path / "run-3"

    assert release.main(["approval", "prod", "--image", NEW, "--artifacts", str(artifacts)]) == 0
    text = (artifacts / "approval-prod.txt").read_text()
    assert f"`{head}` fix the checkout page" in text and f"digest `{DIGEST_B}`" in text
    assert f"| prod runs | `{released}` |" in text, "the last verified release, not the failed one"
    assert "**2 commits since**" in text

    _git("checkout", "-q", older)  # an old run, re-run
    assert release.main(["approval", "prod", "--image", NEW, "--artifacts", str(tmp_path / "run-4")]) == 1
    assert "not asking for an approval of a downgrade" in capsys.readouterr().err
    assert not (tmp_path / "run-4" / "approval-prod.txt").exists()
    assert release.main(["approval", "prod", "--image", f"{REPOSITORY}:2222222", "--artifacts", str(artifacts)]) == 2
