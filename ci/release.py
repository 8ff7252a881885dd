"""Deploy a stack with an image, roll it back, preview it against the deployed image, keep released images.

    python -m ci.release deploy   STACK [--image REPO:TAG@sha256:...] [--artifacts DIR]
    python -m ci.release rollback STACK [--artifacts DIR]
    python -m ci.release preview  STACK
    python -m ci.release image-config STACK
    python -m ci.release retain   [--image REPO:TAG@sha256:...] [--artifacts DIR]

Without ``--image``, the image is the one ``python -m ci.image --out DIR/image.json`` pushed in this workspace.

The image reaches the program through the stack config keys of the deploy contract (repository, tag and the
digest that pins it); the stack reports what it runs in its ``shopImage`` output and where in ``shopUrl``.
``deploy`` reads ``shopImage`` before it changes anything and keeps it in ``DIR/release-<stack>.json``: that
is what ``rollback`` re-deploys when the smoke test or the alarm gate fails. A rollback always exits
non-zero, so the run that needed it fails loudly even when the rollback itself worked: 1 when it worked, 3 when it
failed (the stack may run the failed image), 2 for invalid input (stacks/exit_codes.py).

The Pulumi CLI must be installed and logged in (``PULUMI_BACKEND_URL`` for a self-managed backend, or
``PULUMI_ACCESS_TOKEN``); ``PULUMI_ORG``, when set, qualifies stack names (``ORG/staging``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

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


def policy_pack_config(stack: str) -> Path:
    return POLICY_PACK / "config" / f"{stack}.json"


def stack_ref(stack: str) -> str:
    org = os.environ.get("PULUMI_ORG", "")
    return f"{org}/{stack}" if org else stack


def image_config(image: ImageReference) -> dict[str, str]:
    """Config values that make the stack run ``image`` (only the parts the reference has)."""
    parts = {"repository": image.repository, "tag": image.tag, "digest": image.digest}
    return {IMAGE_CONFIG_KEYS[part]: value for part, value in parts.items() if value}


def _stack_flags(stack: str, image: ImageReference | None) -> list[str]:
    """The stack, the policy pack under the stack's policy config, and the image's config keys."""
    flags = ["--non-interactive", "--stack", stack_ref(stack)]
    flags += ["--policy-pack", str(POLICY_PACK), "--policy-pack-config", str(policy_pack_config(stack))]
    for key, value in image_config(image).items() if image else ():
        flags += ["--config", f"{key}={value}"]
    return flags


def up_command(stack: str, image: ImageReference, message: str) -> list[str]:
    """``pulumi up`` of ``stack`` with ``image`` and the policy pack under the stack's policy config."""
    return ["pulumi", "up", "--yes", "--message", message, *_stack_flags(stack, image)]


def preview_command(stack: str, image: ImageReference | None) -> list[str]:
    return ["pulumi", "preview", "--diff", *_stack_flags(stack, image)]


def stack_outputs(stack: str) -> dict[str, object]:
    """The stack's current outputs ({} before its first deploy)."""
    result = runner.run(["pulumi", "stack", "output", "--json", "--stack", stack_ref(stack)], capture=True)
    return json.loads(result.stdout or "{}")


def deployed_image(stack: str) -> ImageReference | None:
    reference = stack_outputs(stack).get("shopImage")
    return ImageReference.parse(reference) if isinstance(reference, str) and reference else None


@dataclass(frozen=True)
class Release:
    """What one deploy changed: written before ``pulumi up`` so that a rollback knows where to return, and the
    alarm gate which alarms went off since (``started``, ISO 8601 UTC).

    ``run`` ties it to the pipeline run that wrote it: a workspace reused by a later run (Jenkins keeps
    workspaces) must not roll that run back to an older release's notion of "previous".
    """

    stack: str
    image: str
    previous_image: str | None
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
    previous = deployed_image(stack)
    started = datetime.now(UTC).isoformat()
    Release(stack, str(image), str(previous) if previous else None, runner.run_id(), started).save(artifacts)
    print(f"deploying {image} to {stack} (previously {previous or 'nothing'})")
    runner.run(up_command(stack, image, f"deploy {image}"))
    _report_deployed(stack)
    return Exit.OK


def _cannot_roll_back(stack: str, why: str) -> int:
    runner.error(f"cannot roll back {stack}: {why}; fix forward or deploy a known-good digest by hand")
    return ROLLBACK_FAILED


def rollback(stack: str, artifacts: Path) -> int:
    release = Release.of_this_run(artifacts, stack)
    if release is None:
        return _cannot_roll_back(stack, f"this run started no deploy of {stack}")
    if not release.previous_image:
        return _cannot_roll_back(stack, f"{stack} ran no image before {release.image}")
    previous = _pinned(release.previous_image, "previous image")
    runner.error(f"{stack}: {release.image} failed its checks; rolling back to {previous}", title="Rollback")
    result = runner.run(up_command(stack, previous, f"rollback to {previous}"), check=False)
    if result.returncode != 0:
        runner.error(f"ROLLBACK OF {stack} FAILED: it may run {release.image}; act now", title="Rollback failed")
        return ROLLBACK_FAILED
    _report_deployed(stack)
    runner.error(f"{stack} was rolled back to {previous}; {release.image} is not deployed", title="Rolled back")
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
    command = commands.add_parser("deploy", help="deploy STACK with an image, recording what it ran before")
    command.add_argument("stack")
    _image(command)
    _artifacts(command)
    command.set_defaults(run=lambda args: deploy(args.stack, args.image or built_image(args.artifacts), args.artifacts))


def _add_rollback(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("rollback", help="re-deploy what STACK ran before this run's deploy")
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


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ci.release", description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_add_deploy, _add_rollback, _add_preview, _add_image_config, _add_retain):
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except BadImageReference as problem:
        runner.error(str(problem), title="Image")
        return Exit.BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
