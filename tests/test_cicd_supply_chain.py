"""What the pipeline downloads is exactly what was reviewed (issue 21, item 7): images by digest, files by checksum,
the Pulumi CLI against its release's published checksums."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ci import pulumi_cli
from tests.cicd import ROOT, all_jobs, steps, uses

DOCKERFILE = ROOT / "app" / "Dockerfile"
#: A reference to an image's manifest (index) digest: the tag, if any, is for people.
PINNED = re.compile(r"^[\w.\-/:]+@sha256:[0-9a-f]{64}$")


def _workflow_images() -> Iterator[tuple[str, str]]:
    for name, job_id, job in all_jobs():
        container: Any = job.get("container")
        if container:
            yield f"{name}:{job_id} container", container["image"] if isinstance(container, dict) else container
        for service, spec in (job.get("services") or {}).items():
            yield f"{name}:{job_id} service {service}", spec["image"]
        for step in steps(job):
            if str(step.get("uses", "")).startswith("docker://"):
                yield f"{name}:{job_id} step {step.get('name', step['uses'])}", step["uses"].removeprefix("docker://")


def _dockerfile_images(text: str) -> Iterator[tuple[str, str]]:
    """Every FROM's image, with ARG defaults substituted (a stage name is not an image)."""
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    stages: set[str] = set()
    for image, stage in re.findall(r"^FROM (?:--platform=\S+ )?(\S+)(?: AS (\S+))?$", text, re.MULTILINE):
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda match: args[match[1] or match[2]], image)
        if image not in stages:
            yield f"FROM {image}", image
        if stage:
            stages.add(stage)


def test_the_image_check_sees_every_kind_of_reference() -> None:
    dockerfile = "ARG BASE=python:3.11-slim\nFROM ${BASE} AS build\nFROM build\nFROM postgres:17@sha256:" + "a" * 64
    assert [image for _, image in _dockerfile_images(dockerfile)] == [
        "python:3.11-slim",
        "postgres:17@sha256:" + "a" * 64,
    ]
    assert not PINNED.match("python:3.11-slim")
    assert not PINNED.match("python@sha256:abc")
    assert PINNED.match("python:3.11.16-slim-bookworm@sha256:" + "0" * 64)
    images = dict(_workflow_images())
    assert {"ci.yml:test container", "ci.yml:test service postgres", "ci.yml:test service redis"} <= set(images)


def test_every_image_in_the_workflows_and_the_dockerfile_is_pinned_by_digest() -> None:
    references = [*_workflow_images(), *_dockerfile_images(DOCKERFILE.read_text())]
    assert references
    unpinned = [f"{where}: {image}" for where, image in references if not PINNED.match(image)]
    assert unpinned == [], "a tag can be re-pushed: pin the image's index digest"


def test_every_remote_add_in_the_dockerfile_has_a_checksum() -> None:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    remote = [line for line in text.splitlines() if re.match(r"^ADD\b.*\bhttps?://", line)]
    assert remote, "the RDS CA bundle is fetched with ADD"
    for line in remote:
        assert re.search(r"--checksum=sha256:[0-9a-f]{64}\b", line), line


# ------------------------------------------------------------------------------------------------ the Pulumi CLI

VERSION = "3.272.0"
ARCHIVE = f"pulumi-v{VERSION}-linux-x64.tar.gz"


def _archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in (("pulumi/pulumi", b"#!/bin/sh\necho v3.272.0\n"), ("pulumi/pulumi-language-python", b"")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), 0o755
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _release(archive: bytes, listed: bytes | None = None) -> dict[str, bytes]:
    """What github.com/pulumi/pulumi/releases/download/v<VERSION>/ serves; ``listed`` is what its checksums say."""
    base = f"https://github.com/pulumi/pulumi/releases/download/v{VERSION}"
    digest = hashlib.sha256(listed if listed is not None else archive).hexdigest()
    checksums = f"{'0' * 64}  pulumi-v{VERSION}-darwin-arm64.tar.gz\n{digest}  {ARCHIVE}\n"
    return {f"{base}/{ARCHIVE}": archive, f"{base}/pulumi-{VERSION}-checksums.txt": checksums.encode()}


def test_the_cli_is_installed_only_when_its_archive_matches_the_published_checksum(tmp_path: Path) -> None:
    archive = _archive()
    served = _release(archive)
    bin_dir = pulumi_cli.install(VERSION, tmp_path / "ok", fetch=served.__getitem__, platform_name="linux-x64")
    assert bin_dir == tmp_path / "ok" / "bin"
    assert (bin_dir / "pulumi").read_bytes().startswith(b"#!/bin/sh")

    tampered = _release(archive + b"x", listed=archive)
    with pytest.raises(pulumi_cli.VerificationError, match="the release publishes"):
        pulumi_cli.install(VERSION, tmp_path / "bad", fetch=tampered.__getitem__, platform_name="linux-x64")
    assert not (tmp_path / "bad").exists(), "nothing of a refused archive is unpacked"

    unlisted = {url: body.replace(ARCHIVE.encode(), b"other.tar.gz") for url, body in served.items()}
    with pytest.raises(pulumi_cli.VerificationError, match="list no"):
        pulumi_cli.install(VERSION, tmp_path / "unlisted", fetch=unlisted.__getitem__, platform_name="linux-x64")

    with pytest.raises(FileExistsError):
        pulumi_cli.install(VERSION, tmp_path / "ok", fetch=served.__getitem__, platform_name="linux-x64")


def test_the_cli_comes_from_pulumis_releases_over_tls() -> None:
    assert pulumi_cli.urls(VERSION, "linux-x64") == (
        f"https://github.com/pulumi/pulumi/releases/download/v{VERSION}/{ARCHIVE}",
        f"https://github.com/pulumi/pulumi/releases/download/v{VERSION}/pulumi-{VERSION}-checksums.txt",
    )
    with pytest.raises(ValueError, match="TLS"):
        pulumi_cli._fetch("http://github.com/pulumi/pulumi/releases/download/x")
    with pytest.raises(ValueError, match="release version"):
        pulumi_cli.install("latest", Path("/nonexistent"), fetch=lambda url: b"")


def test_every_job_with_a_cloud_role_runs_the_verified_cli() -> None:
    """pulumi/actions neither checks its download nor downloads when a `pulumi` of the version is on PATH: every
    job that assumes a deploy or preview role installs the CLI with `make pulumi-cli` before its first pulumi or
    make step, and no pulumi/actions step only installs."""
    checked = 0
    for name, job_id, job in all_jobs():
        job_steps = steps(job)
        for step in job_steps:
            if uses(step) == "pulumi/actions":
                assert "command" in step.get("with", {}), f"{name}:{job_id}: pulumi/actions as the CLI's installer"
        roles = [s["with"]["role-to-assume"] for s in job_steps if uses(s) == "aws-actions/configure-aws-credentials"]
        if not any("DEPLOY_ROLE" in role or "PREVIEW_ROLE" in role or "matrix.role" in role for role in roles):
            continue
        runs = [str(step.get("run", "")).strip() for step in job_steps]
        assert "make pulumi-cli" in runs, f"{name}:{job_id}"
        install = runs.index("make pulumi-cli")
        for index, step in enumerate(job_steps):
            pulumi = uses(step) == "pulumi/actions" or (
                runs[index].startswith("make ") and runs[index] not in ("make deploy-venv", "make pulumi-cli")
            )
            assert not pulumi or index > install, f"{name}:{job_id} step {index} runs before the verified CLI"
        checked += 1
    assert checked >= 3, "deploy-staging, deploy-prod and the cloud preview"
