"""The hash-locked install set of the jobs that hold cloud credentials (previews and deploys): requirements.lock and
policies/requirements.lock, pip-compile --generate-hashes of requirements.txt and policies/requirements.txt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cicd import ROOT, make_dry_run

#: Each lock and the requirements file it locks.
LOCKS = {ROOT / "requirements.lock": ROOT / "requirements.txt"}
LOCKS[ROOT / "policies" / "requirements.lock"] = ROOT / "policies" / "requirements.txt"
_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?P<rest>(?:\s*\\\n\s+--hash=\S+)*)", re.M)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(lock: Path) -> dict[str, tuple[str, list[str]]]:
    return {
        _name(m["name"]): (m["version"], re.findall(r"--hash=(\S+)", m["rest"]))
        for m in _ENTRY.finditer(lock.read_text())
    }


def _pins(requirements: Path) -> dict[str, str]:
    return {
        _name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", requirements.read_text(), re.M)
    }


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_locked_requirement_is_pinned_with_its_hashes(lock: Path) -> None:
    requirement_lines = [
        line for line in lock.read_text().splitlines() if line and not line.startswith((" ", "#", "\t"))
    ]
    locked = _locked(lock)
    assert len(requirement_lines) == len(locked), "every requirement is name==version with hashes"
    for name, (version, hashes) in locked.items():
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), f"{name}=={version}"


@pytest.mark.parametrize(("lock", "requirements"), list(LOCKS.items()), ids=lambda path: path.name)
def test_the_lock_pins_what_its_requirements_file_pins(lock: Path, requirements: Path) -> None:
    """A bump in requirements.txt without re-locking (docs/cicd.md "Locked dependencies") fails here."""
    locked = {name: version for name, (version, _) in _locked(lock).items()}
    pins = _pins(requirements)
    assert pins and {name: locked.get(name) for name in pins} == pins


def test_the_cloud_targets_install_the_locks_with_require_hashes_and_nothing_else() -> None:
    for target in ("cloud-preview", "image-config", "deploy", "smoke", "alarms", "verify-release", "rollback"):
        recipe = make_dry_run("-B", target, "STACK=prod")
        installs = [line for line in recipe.splitlines() if "pip install" in line]
        assert installs == [
            ".venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps "
            "-r requirements.lock",
            "policies/.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps "
            "-r policies/requirements.lock",
        ], target
