"""Build the shop image once, push it to ECR (and optionally a Docker Hub mirror) and report its digest.

    python -m ci.image --repository REPO --tag TAG [--mirror REPO] [--out FILE]

Tags are the git commit SHA; stacks deploy the immutable ``sha256:`` digest the push returned, so what was
tested in staging is byte for byte what runs in prod. Registry logins: ECR with the AWS credentials of the
job (the publisher role), Docker Hub with ``DOCKERHUB_USERNAME`` / ``DOCKERHUB_TOKEN`` (the token is passed on
standard input, never on a command line).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci import runner
from stacks.exit_codes import Exit

_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DOCKER_HUB = "docker.io"
#: The shop's build context: app/Dockerfile and what app/.dockerignore lets through.
DEFAULT_CONTEXT = Path("app")


class BadImageReference(ValueError):
    """An image reference that is not ``repository[:tag][@sha256:...]``."""


@dataclass(frozen=True)
class ImageReference:
    """``repository[:tag][@digest]``; the digest is what a deploy pins."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        name, _, digest = text.strip().partition("@")
        repository, tag = name, None
        # A colon after the last slash starts the tag; one before it belongs to a registry host:port.
        if ":" in name.rsplit("/", 1)[-1]:
            repository, _, tag = name.rpartition(":")
        if not repository or (tag is not None and not _TAG.match(tag)) or (digest and not _DIGEST.match(digest)):
            raise BadImageReference(f"not an image reference (repository[:tag][@sha256:<64 hex>]): {text!r}")
        return cls(repository, tag, digest or None)

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def registry(self) -> str:
        first = self.repository.split("/", 1)[0]
        is_host = "/" in self.repository and ("." in first or ":" in first or first == "localhost")
        return first if is_host else DOCKER_HUB

    @property
    def ecr(self) -> tuple[str, str, str] | None:
        """(account, region, repository name) when the repository is in Amazon ECR."""
        match = _ECR_HOST.match(self.registry)
        if not match:
            return None
        return match["account"], match["region"], self.repository.split("/", 1)[1]


def _login(registry: str, username: str, password: str) -> None:
    runner.run(["docker", "login", "--username", username, "--password-stdin", registry], stdin=password)


def login(image: ImageReference) -> None:
    """Log the Docker CLI in to the registry of ``image``."""
    if image.ecr:
        import boto3  # the AWS SDK is only needed for ECR

        account, region, _ = image.ecr
        answer = boto3.client("ecr", region_name=region).get_authorization_token(registryIds=[account])
        token = answer["authorizationData"][0]["authorizationToken"]
        user, _, password = base64.b64decode(token).decode().partition(":")
        _login(image.registry, user, password)
    elif image.registry == DOCKER_HUB:
        username, token = os.environ.get("DOCKERHUB_USERNAME"), os.environ.get("DOCKERHUB_TOKEN")
        if not (username and token):
            raise SystemExit(f"pushing {image.repository} needs DOCKERHUB_USERNAME and DOCKERHUB_TOKEN")
        _login(DOCKER_HUB, username, token)


def build_command(targets: list[ImageReference], context: Path, platform: str, metadata: Path) -> list[str]:
    command = ["docker", "buildx", "build", "--push", "--platform", platform, "--metadata-file", str(metadata)]
    # One plain image manifest: its digest is the one to deploy, and ECR scans it on push.
    command += ["--provenance=false", "--sbom=false"]
    for target in targets:
        command += ["--tag", str(target)]
    revision = targets[0].tag or ""
    command += ["--label", f"org.opencontainers.image.revision={revision}", str(context)]
    return command


def pushed_digest(image: ImageReference) -> str | None:
    """The digest ECR already holds under ``image``'s tag, if any: tags are immutable, so a re-run of a deploy
    must reuse the image its commit was built into rather than fail to push it again."""
    if not image.ecr or not image.tag:
        return None
    import boto3  # the AWS SDK is only needed for ECR

    account, region, name = image.ecr
    ecr = boto3.client("ecr", region_name=region)
    try:
        found = ecr.describe_images(registryId=account, repositoryName=name, imageIds=[{"imageTag": image.tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    return found["imageDetails"][0]["imageDigest"]


def build_and_push(targets: list[ImageReference], context: Path, platform: str) -> ImageReference:
    """Build ``context`` once, push it under every target and return the first target pinned to its digest."""
    existing = pushed_digest(targets[0])
    if existing:
        print(f"{targets[0]} was pushed before ({existing}); reusing it")
        return ImageReference(targets[0].repository, targets[0].tag, existing)
    for target in targets:
        login(target)
    with tempfile.TemporaryDirectory() as scratch:
        metadata = Path(scratch) / "metadata.json"
        runner.run(build_command(targets, context, platform, metadata))
        digest = json.loads(metadata.read_text())["containerimage.digest"]
    return ImageReference(targets[0].repository, targets[0].tag, digest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.image", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repository", required=True, help="ECR repository URL (bootstrap output imageRepositoryUrl)")
    parser.add_argument("--tag", required=True, help="image tag: the git commit SHA")
    parser.add_argument("--mirror", default="", help="also push to this repository, e.g. docker.io/ORG/shop")
    parser.add_argument("--context", type=Path, default=DEFAULT_CONTEXT, help="Docker build context (app/)")
    parser.add_argument("--platform", default="linux/amd64", help="target platform(s) of the cluster's nodes")
    parser.add_argument("--out", type=Path, help="write the pushed image reference here as JSON")
    args = parser.parse_args(argv)
    try:
        targets = [ImageReference.parse(f"{args.repository}:{args.tag}")]
        if args.mirror:
            targets.append(ImageReference.parse(f"{args.mirror}:{args.tag}"))
    except BadImageReference as problem:
        runner.error(str(problem), title="Image")
        return Exit.BAD_INPUT
    image = build_and_push(targets, args.context, args.platform)
    print(f"pushed {image}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"image": str(image), "mirrors": [str(t) for t in targets[1:]]}) + "\n")
    runner.set_output("image", str(image))
    runner.set_output("digest", image.digest or "")
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
