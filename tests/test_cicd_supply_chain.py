"""What the pipeline downloads is exactly what was reviewed (issue 21, item 7): images by digest, files by checksum,
the Pulumi CLI against its release's published checksums."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.cicd import ROOT, all_jobs, steps

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
