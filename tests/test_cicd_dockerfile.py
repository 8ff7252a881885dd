"""The shop's Dockerfile, which the image step builds (issue 9): it passes hadolint at every severity."""

from __future__ import annotations

import subprocess

from ci import image
from tests.cicd import ROOT, VENV_BIN

DOCKERFILE = ROOT / "app" / "Dockerfile"


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [VENV_BIN / "hadolint", "--failure-threshold", "info", DOCKERFILE], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_step_builds_this_dockerfile_with_its_dockerignore() -> None:
    assert ROOT / image.DEFAULT_CONTEXT / "Dockerfile" == DOCKERFILE
    assert (DOCKERFILE.parent / ".dockerignore").is_file(), "without it the context would carry tests and local data"
    assert "hadolint app/Dockerfile" in (ROOT / "Makefile").read_text()
