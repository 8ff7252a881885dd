"""Deploy a stack with an image, roll it back, preview it against the deployed image, keep released images.

    python -m ci.release deploy   STACK [--image REPO:TAG@sha256:...] [--artifacts DIR]
    python -m ci.release verified STACK [--artifacts DIR]
    python -m ci.release rollback STACK [--artifacts DIR]
    python -m ci.release preview  STACK
    python -m ci.release image-config STACK
    python -m ci.release retain   [--image REPO:TAG@sha256:...] [--artifacts DIR]
    python -m ci.release approval STACK [--image REPO:TAG@sha256:...] [--artifacts DIR]

Without ``--image``, the image is the one ``python -m ci.image --out DIR/image.json`` pushed in this workspace.

The image reaches the program through the stack config keys of the deploy contract (repository, tag and the
digest that pins it); the stack reports what it runs in its ``shopImage`` output and where in ``shopUrl``.

Each stack has a **release record** (:class:`ReleaseRecord`): its releases, newest first, each a commit, an image
digest, a time and whether it was verified (the smoke test and the alarm gate passed: ``verified``), kept in the
SSM parameter ``RELEASE_PARAMETER`` names (the bootstrap's ``RELEASE_PARAMETER_<STACK>``), which the stack's deploy
role alone may write. ``deploy`` refuses a commit that does not descend from the newest verified release's commit
(a re-run of an old Deploy run would downgrade the stack), then records the attempt, unverified, and keeps this
run's deploy in ``DIR/release-<stack>.json``. ``rollback`` re-deploys the newest verified release **with that
release's commit** (its program and its policy pack, from a git worktree, and its image), so a failed release's
infrastructure changes are undone too and a release that was never verified (an earlier failed one, after a
failed rollback) is never a target. A rollback always exits non-zero, so the run that needed it fails loudly even
when the rollback itself worked: 1 when it worked, 3 when it failed (the stack may run the failed release), 2 for
invalid input (stacks/exit_codes.py).

The Pulumi CLI must be installed and logged in (``PULUMI_BACKEND_URL`` for a self-managed backend, or
``PULUMI_ACCESS_TOKEN``); ``PULUMI_ORG``, when set, qualifies stack names (``ORG/staging``). Deploy and rollback
need the repository's history back to the verified release (a full clone: ``fetch-depth: 0``).
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ci import approval as approval_summary
from ci import runner
from ci.image import BadImageReference, ImageReference
from stacks.exit_codes import Exit

PROJECT = "shop-platform"
POLICY_PACK = Path("policies")
#: Config keys of the deploy contract, by part of the image reference.
IMAGE_CONFIG_KEYS = {
    "repository": f"{PROJECT}:shopImageRepository",
    "tag": f"{PROJECT}:shopImageTag",
    "digest": f"{PROJECT}:shopImageDigest",
}
#: ECR tag prefix of images that ran in a protected stack; the registry's lifecycle policy keeps them longest.
RELEASE_TAG_PREFIX = "release-"
#: A rollback that worked: the run still fails, as the release it rolled back did.
ROLLED_BACK = Exit.FAILED
#: A rollback that failed: the stack may run the failed image. Its own code, apart from Exit's.
ROLLBACK_FAILED = 3
#: The environment variable naming the stack's release record (an SSM parameter).
RECORD_VARIABLE = "RELEASE_PARAMETER"
#: Releases a record keeps: enough to look back past a few failed attempts.
RECORD_LENGTH = 20
#: What a program checkout needs besides its sources; a rollback checkout whose files equal this run's reuses its
#: virtual environments (`make venv`), else it installs its own.
REQUIREMENTS = (
    "requirements.txt",
    "requirements-dev.txt",
    "policies/requirements.txt",
    "app/requirements.txt",
    "app/requirements-test.txt",
)
VIRTUAL_ENVIRONMENTS = (".venv", "policies/.venv")


def policy_pack_config(stack: str) -> Path:
    return POLICY_PACK / "config" / f"{stack}.json"


def stack_ref(stack: str) -> str:
    org = os.environ.get("PULUMI_ORG", "")
    return f"{org}/{stack}" if org else stack


def image_config(image: ImageReference) -> dict[str, str]:
    """Config values that make the stack run ``image`` (only the parts the reference has)."""
    parts = {"repository": image.repository, "tag": image.tag, "digest": image.digest}
    return {IMAGE_CONFIG_KEYS[part]: value for part, value in parts.items() if value}


def _stack_flags(stack: str, image: ImageReference | None, program: Path | None = None) -> list[str]:
    """The stack, the policy pack under the stack's policy config, and the image's config keys; with ``program``,
    the program and policy pack of that checkout instead of the working directory's."""
    flags = ["--non-interactive", "--stack", stack_ref(stack)]
    pack, pack_config = POLICY_PACK, policy_pack_config(stack)
    if program is not None:
        flags += ["--cwd", str(program)]
        pack, pack_config = program / pack, program / pack_config
    flags += ["--policy-pack", str(pack), "--policy-pack-config", str(pack_config)]
    for key, value in image_config(image).items() if image else ():
        flags += ["--config", f"{key}={value}"]
    return flags


def up_command(stack: str, image: ImageReference, message: str, program: Path | None = None) -> list[str]:
    """``pulumi up`` of ``stack`` with ``image`` and the policy pack under the stack's policy config."""
    return ["pulumi", "up", "--yes", "--message", message, *_stack_flags(stack, image, program)]


def preview_command(stack: str, image: ImageReference | None) -> list[str]:
    return ["pulumi", "preview", "--diff", *_stack_flags(stack, image)]


def stack_outputs(stack: str) -> dict[str, object]:
    """The stack's current outputs ({} before its first deploy)."""
    result = runner.run(["pulumi", "stack", "output", "--json", "--stack", stack_ref(stack)], capture=True)
    return json.loads(result.stdout or "{}")


def deployed_image(stack: str) -> ImageReference | None:
    reference = stack_outputs(stack).get("shopImage")
    return ImageReference.parse(reference) if isinstance(reference, str) and reference else None


class ReleaseRefused(Exception):
    """A deploy or rollback that must not run: the message says why."""


@dataclass(frozen=True)
class Release:
    """This run's deploy of a stack: written before ``pulumi up`` so that the alarm gate knows since when
    (``started``, ISO 8601 UTC) and ``verified``/``rollback`` which release is this run's.

    ``run`` ties it to the pipeline run that wrote it: a workspace reused by a later run (Jenkins keeps
    workspaces) must not verify or roll back that run's release.
    """

    stack: str
    image: str
    commit: str
    run: str
    started: str

    @classmethod
    def of_this_run(cls, artifacts: Path, stack: str) -> Release | None:
        release = cls.load(artifacts, stack)
        return release if release is not None and release.run == runner.run_id() else None

    @staticmethod
    def path(artifacts: Path, stack: str) -> Path:
        return artifacts / f"release-{stack}.json"

    def save(self, artifacts: Path) -> None:
        artifacts.mkdir(parents=True, exist_ok=True)
        Release.path(artifacts, self.stack).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, artifacts: Path, stack: str) -> Release | None:
        path = cls.path(artifacts, stack)
        return cls(**json.loads(path.read_text())) if path.is_file() else None


@dataclass(frozen=True)
class RecordedRelease:
    """One entry of a stack's release record."""

    commit: str
    image: str
    time: str
    verified: bool

    def same_release(self, release: Release) -> bool:
        return (self.commit, self.image) == (release.commit, release.image)


@dataclass(frozen=True)
class ReleaseRecord:
    """A stack's releases, newest first, in an SSM parameter (a JSON document, well under its 4 KB)."""

    parameter: str
    releases: tuple[RecordedRelease, ...]

    @classmethod
    def load(cls, parameter: str) -> ReleaseRecord:
        import boto3  # the AWS SDK is only needed here

        ssm = boto3.client("ssm")
        try:
            text = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:  # the stack's first release
            return cls(parameter, ())
        return cls(parameter, tuple(RecordedRelease(**entry) for entry in json.loads(text)["releases"]))

    def save(self) -> None:
        import boto3

        document = {"releases": [asdict(entry) for entry in self.releases[:RECORD_LENGTH]]}
        boto3.client("ssm").put_parameter(
            Name=self.parameter, Value=json.dumps(document), Type="String", Overwrite=True
        )

    def last_good(self, *, besides: Release | None = None) -> RecordedRelease | None:
        """The newest verified release (other than ``besides``)."""
        return next(
            (entry for entry in self.releases if entry.verified and not (besides and entry.same_release(besides))),
            None,
        )

    def attempted(self, release: Release) -> ReleaseRecord:
        entry = RecordedRelease(release.commit, release.image, release.started, verified=False)
        return replace(self, releases=(entry, *self.releases))

    def verified(self, release: Release) -> ReleaseRecord:
        """The record with ``release``'s newest attempt marked verified."""
        index = next((i for i, entry in enumerate(self.releases) if entry.same_release(release)), None)
        if index is None:
            raise ReleaseRefused(f"{release.image} at {release.commit} is not in the release record {self.parameter}")
        entries = list(self.releases)
        entries[index] = replace(entries[index], verified=True, time=datetime.now(UTC).isoformat())
        return replace(self, releases=tuple(entries))


def record_parameter() -> str:
    parameter = os.environ.get(RECORD_VARIABLE, "")
    if not parameter:
        raise ReleaseRefused(
            f"{RECORD_VARIABLE} is not set: the SSM parameter of the stack's release record "
            "(the bootstrap's githubVariables RELEASE_PARAMETER_<STACK>)"
        )
    return parameter


def head_commit() -> str:
    return runner.run(["git", "rev-parse", "HEAD"], capture=True).stdout.strip()


def descends_from(commit: str, ancestor: str) -> bool:
    """Whether ``commit`` is ``ancestor`` or comes after it in this repository's history."""
    result = runner.run(["git", "merge-base", "--is-ancestor", ancestor, commit], capture=True, check=False)
    if result.returncode not in (0, 1):  # an unknown commit: a shallow clone, or history rewritten
        raise ReleaseRefused(f"cannot tell whether {commit} descends from {ancestor}: {result.stderr.strip()}")
    return result.returncode == 0


def program_checkout(commit: str, directory: Path) -> Path:
    """A git worktree of ``commit`` at ``directory`` with virtual environments for its requirements."""
    if directory.exists():
        runner.run(["git", "worktree", "remove", "--force", str(directory)], check=False)
        shutil.rmtree(directory, ignore_errors=True)
    runner.run(["git", "worktree", "add", "--detach", str(directory), commit])
    same = all(filecmp.cmp(name, directory / name, shallow=False) for name in REQUIREMENTS if Path(name).is_file())
    if same:
        for venv in VIRTUAL_ENVIRONMENTS:
            if Path(venv).is_dir():
                (directory / venv).symlink_to(Path(venv).resolve(), target_is_directory=True)
    else:
        runner.run(["make", "-C", str(directory), "venv"])
    return directory


def _pinned(text: str, what: str) -> ImageReference:
    image = ImageReference.parse(text)
    if not image.digest:
        raise BadImageReference(f"{what} {text!r} has no digest; stacks deploy images by digest")
    return image


def _report_deployed(stack: str) -> None:
    outputs = stack_outputs(stack)
    url, image = str(outputs.get("shopUrl", "")), str(outputs.get("shopImage", ""))
    runner.set_output("url", url)
    runner.set_output("image", image)
    runner.add_summary(f"**{stack}** runs `{image or '(no shopImage output)'}` at {url or '(no shopUrl output)'}")


def deploy(stack: str, image_text: str, artifacts: Path) -> int:
    image = _pinned(image_text, "image")
    record = ReleaseRecord.load(record_parameter())
    commit = head_commit()
    good = record.last_good()
    if good and not descends_from(commit, good.commit):
        raise ReleaseRefused(
            f"{commit} does not descend from {good.commit}, the last verified release of {stack}: deploying it would "
            "undo what was released since (an old run re-run?); to roll back, deploy that release's commit"
        )
    release = Release(stack, str(image), commit, runner.run_id(), datetime.now(UTC).isoformat())
    release.save(artifacts)
    record.attempted(release).save()
    last = f"{good.image} at {good.commit}" if good else "none"
    print(f"deploying {image} at {commit} to {stack} (last verified release: {last})")
    runner.run(up_command(stack, image, f"deploy {image} at {commit}"))
    _report_deployed(stack)
    return Exit.OK


def approval(stack: str, image_text: str, artifacts: Path) -> int:
    """What a person approves before ``stack`` gets the image: the commit, the digest and the changes since the
    stack's last verified release (from its release record), in ``DIR/approval-<stack>.txt`` for the Jenkinsfile's
    prompt (GitHub's gets ci/approval.py's, from its deployments). A commit that does not descend from that release
    is refused here, before anyone is asked to approve a downgrade."""
    image = _pinned(image_text, "image")
    good = ReleaseRecord.load(record_parameter()).last_good()
    commit = head_commit()
    if good and not descends_from(commit, good.commit):
        raise ReleaseRefused(
            f"{commit} does not descend from {good.commit}, the last verified release of {stack}: not asking for an "
            "approval of a downgrade (an old run re-run?)"
        )
    pinned = approval_summary.PINNED_IMAGE.fullmatch(str(image))
    if pinned is None:
        raise BadImageReference(f"image {image} has no digest")
    text = approval_summary.summary(stack, pinned, commit, good.commit if good else None)
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"approval-{stack}.txt").write_text(text + "\n")
    print(text)
    return Exit.OK


def verified(stack: str, artifacts: Path) -> int:
    """Mark this run's release of ``stack`` verified: the next rollback may return to it."""
    release = Release.of_this_run(artifacts, stack)
    if release is None:
        raise ReleaseRefused(f"this run deployed nothing to {stack}")
    ReleaseRecord.load(record_parameter()).verified(release).save()
    print(f"{release.image} at {release.commit} is {stack}'s last verified release")
    return Exit.OK


def _cannot_roll_back(stack: str, why: str) -> int:
    runner.error(f"cannot roll back {stack}: {why}; fix forward or deploy a verified release's commit by hand")
    return ROLLBACK_FAILED


def rollback(stack: str, artifacts: Path) -> int:
    release = Release.of_this_run(artifacts, stack)
    if release is None:
        return _cannot_roll_back(stack, f"this run started no deploy of {stack}")
    target = ReleaseRecord.load(record_parameter()).last_good(besides=release)
    if target is None:
        return _cannot_roll_back(stack, f"{stack} has no verified release besides {release.image}")
    image = _pinned(target.image, "verified image")
    runner.error(
        f"{stack}: {release.image} at {release.commit} failed; rolling back to {image} at {target.commit}",
        title="Rollback",
    )
    try:
        program = program_checkout(target.commit, artifacts / f"rollback-{stack}")
    except subprocess.CalledProcessError as error:
        return _cannot_roll_back(stack, f"no checkout of {target.commit} ({error})")
    result = runner.run(up_command(stack, image, f"rollback to {image} at {target.commit}", program), check=False)
    if result.returncode != 0:
        runner.error(f"ROLLBACK OF {stack} FAILED: it may run {release.image}; act now", title="Rollback failed")
        return ROLLBACK_FAILED
    _report_deployed(stack)
    runner.error(f"{stack} was rolled back to {image} at {target.commit}", title="Rolled back")
    return ROLLED_BACK


def preview(stack: str) -> int:
    """A cloud preview with the policy pack, against the image the stack runs now (so only changes show)."""
    return runner.run(preview_command(stack, deployed_image(stack)), check=False).returncode


def print_image_config(stack: str) -> int:
    """The deployed image as the ``config-map`` input of pulumi/actions (JSON is YAML), as step output."""
    image = deployed_image(stack)
    config = {key: {"value": value, "secret": False} for key, value in (image_config(image) if image else {}).items()}
    runner.set_output("config-map", json.dumps(config))
    return Exit.OK


def retain(image_text: str) -> int:
    """Tag a released image ``release-<tag>`` in ECR, so the lifecycle policy keeps it as a rollback target."""
    image = _pinned(image_text, "image")
    if not image.ecr:
        runner.error(f"{image.repository} is not an ECR repository", title="Retain image")
        return Exit.BAD_INPUT
    import boto3  # the AWS SDK is only needed here

    account, region, name = image.ecr
    ecr = boto3.client("ecr", region_name=region)
    found = ecr.batch_get_image(registryId=account, repositoryName=name, imageIds=[{"imageDigest": image.digest}])
    if not found["images"]:
        runner.error(f"{image} is not in the registry", title="Retain image")
        return Exit.BAD_INPUT
    manifest, digest = found["images"][0], str(image.digest)
    tag = RELEASE_TAG_PREFIX + (image.tag or digest.removeprefix("sha256:")[:12])
    with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):  # tagged by an earlier run
        ecr.put_image(
            registryId=account,
            repositoryName=name,
            imageManifest=manifest["imageManifest"],
            imageManifestMediaType=manifest.get("imageManifestMediaType", ""),
            imageTag=tag,
            imageDigest=digest,
        )
    print(f"{image} kept as {tag}")
    return Exit.OK


def built_image(artifacts: Path) -> str:
    """The image ``ci.image`` pushed in this workspace."""
    path = artifacts / "image.json"
    if not path.is_file():
        raise BadImageReference(f"no --image given and no {path}: build the image first (make image)")
    return str(json.loads(path.read_text())["image"])


# ------------------------------------------------------------------------------------------ command line


def _artifacts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"), help="DIR")


def _image(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", default="", help="REPO:TAG@sha256:... (default: DIR/image.json)")


def _add_deploy(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("deploy", help="deploy STACK with an image, if it descends from the last release")
    command.add_argument("stack")
    _image(command)
    _artifacts(command)
    command.set_defaults(run=lambda args: deploy(args.stack, args.image or built_image(args.artifacts), args.artifacts))


def _add_verified(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("verified", help="record this run's release of STACK as verified")
    command.add_argument("stack")
    _artifacts(command)
    command.set_defaults(run=lambda args: verified(args.stack, args.artifacts))


def _add_rollback(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("rollback", help="re-deploy STACK's last verified release, with its commit")
    command.add_argument("stack")
    _artifacts(command)
    command.set_defaults(run=lambda args: rollback(args.stack, args.artifacts))


def _add_preview(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("preview", help="a cloud preview of STACK against the image it runs")
    command.add_argument("stack")
    _artifacts(command)
    command.set_defaults(run=lambda args: preview(args.stack))


def _add_image_config(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("image-config", help="STACK's deployed image as pulumi/actions' config-map")
    command.add_argument("stack")
    _artifacts(command)
    command.set_defaults(run=lambda args: print_image_config(args.stack))


def _add_retain(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("retain", help="keep a released image in ECR as a rollback target")
    _image(command)
    _artifacts(command)
    command.set_defaults(run=lambda args: retain(args.image or built_image(args.artifacts)))


def _add_approval(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("approval", help="what approving STACK's deploy approves")
    command.add_argument("stack")
    _image(command)
    _artifacts(command)
    command.set_defaults(
        run=lambda args: approval(args.stack, args.image or built_image(args.artifacts), args.artifacts)
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ci.release", description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_add_deploy, _add_verified, _add_rollback, _add_preview, _add_image_config, _add_retain, _add_approval):
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except BadImageReference as problem:
        runner.error(str(problem), title="Image")
        return Exit.BAD_INPUT
    except ReleaseRefused as problem:
        runner.error(str(problem), title="Release refused")
        return Exit.FAILED


if __name__ == "__main__":
    sys.exit(main())
