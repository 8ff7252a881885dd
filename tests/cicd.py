"""What the CI/CD tests read: the workflows, the Makefile's targets, the Jenkinsfile's shell steps."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
VENV_BIN = ROOT / ".venv" / "bin"

_TARGET = re.compile(r"^(?P<names>[A-Za-z][\w.-]*(?:[ \t]+[A-Za-z][\w.-]*)*)[ \t]*:(?![=:])", re.MULTILINE)
_MAKE_CALL = re.compile(r"\bmake\s+(?P<args>[^\n;&|]*)")


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    document["on"] = document.pop(True, document.get("on"))
    return document


def workflow_events(name: str) -> set[str]:
    """The events that start workflow ``name`` (``on:`` as a string, a list or a map)."""
    on = workflow(name)["on"]
    return {on} if isinstance(on, str) else set(on)


def jobs(name: str) -> dict[str, dict[str, Any]]:
    return workflow(name)["jobs"]


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def uses(step: dict[str, Any]) -> str:
    """The action of a step without its ref: ``aws-actions/configure-aws-credentials``."""
    return str(step.get("uses", "")).split("@", 1)[0]


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for job_id, job in jobs(path.name).items():
            yield path.name, job_id, job


def make_targets() -> set[str]:
    """Every target the Makefile defines."""
    text = (ROOT / "Makefile").read_text()
    return {name for match in _TARGET.finditer(text) for name in match["names"].split()}


def make_dry_run(*arguments: str) -> str:
    """What ``make -n ARGUMENTS`` would run."""
    return subprocess.run(["make", "-n", *arguments], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def make_calls(shell: str) -> list[list[str]]:
    """The targets of each ``make`` command in a shell snippet (variable assignments left out)."""
    calls = []
    for match in _MAKE_CALL.finditer(shell):
        words = shlex.split(match["args"])
        calls.append([word for word in words if "=" not in word and not word.startswith("-")])
    return calls


def run_steps(job: dict[str, Any]) -> list[str]:
    return [str(step["run"]) for step in steps(job) if "run" in step]
