"""Every install set is hash-locked: the jobs that hold cloud credentials (previews and deploys) install
requirements.lock and policies/requirements.lock, the development set (`make venv`: tests, lint) requirements-dev.lock,
the shop's image app/requirements.lock (each pip-compile --generate-hashes of its requirements file), and `make lint`
pyright through package-lock.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cicd import ROOT, make_dry_run

#: Each lock and the requirements file it locks.
LOCKS = {ROOT / "requirements.lock": ROOT / "requirements.txt"}
LOCKS[ROOT / "policies" / "requirements.lock"] = ROOT / "policies" / "requirements.txt"
LOCKS[ROOT / "requirements-dev.lock"] = ROOT / "requirements-dev.txt"
LOCKS[ROOT / "app" / "requirements.lock"] = ROOT / "app" / "requirements.txt"
_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?P<rest>(?:\s*\\\n\s+--hash=\S+)*)", re.M)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(lock: Path) -> dict[str, tuple[str, list[str]]]:
    return {
        _name(m["name"]): (m["version"], re.findall(r"--hash=(\S+)", m["rest"]))
        for m in _ENTRY.finditer(lock.read_text())
    }


def _pins(requirements: Path) -> dict[str, str]:
    """name -> version of every ``name==version`` line, following ``-r`` includes."""
    text = requirements.read_text()
    pins: dict[str, str] = {}
    for included in re.findall(r"^-r\s+(\S+)", text, re.M):
        pins |= _pins(requirements.parent / included)
    lines = re.findall(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", text, re.M)
    pins |= {_name(name): version for name, version in lines}
    return pins


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


def test_the_pin_reader_follows_includes_and_extras(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("moto[server]==5.2.5\n# note==1\n")
    (tmp_path / "dev.txt").write_text("-r base.txt\nPyTest==9.2.0\n")
    assert _pins(tmp_path / "dev.txt") == {"moto": "5.2.5", "pytest": "9.2.0"}


def test_the_development_set_is_installed_from_its_locks_with_require_hashes() -> None:
    recipe = make_dry_run("-B", "venv")
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert installs == [
        ".venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps "
        "-r requirements-dev.lock",
        "policies/.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps "
        "-r policies/requirements.lock",
    ]


def test_the_image_installs_exactly_its_lock() -> None:
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs == [
        "RUN /opt/venv/bin/pip install --require-hashes --no-deps --only-binary=:all: -r /tmp/requirements.lock"
    ]
    assert "COPY requirements.lock /tmp/requirements.lock" in dockerfile
    admitted = [line for line in (ROOT / "app" / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert "!requirements.lock" in admitted and "!requirements.txt" not in admitted


def test_the_tests_run_the_versions_the_image_runs() -> None:
    """The app's tests run in the development set: a package both locks hold has one version in both."""
    image = {name: version for name, (version, _) in _locked(ROOT / "app" / "requirements.lock").items()}
    development = {name: version for name, (version, _) in _locked(ROOT / "requirements-dev.lock").items()}
    assert {name: development.get(name) for name in image} == image


def test_pyright_comes_from_the_npm_lock_with_integrity_hashes() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    (version,) = package["devDependencies"].values()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "an exact version, not a range"
    assert lock["packages"]["node_modules/pyright"]["version"] == version
    for path, entry in lock["packages"].items():
        if path:
            assert re.fullmatch(r"sha512-[A-Za-z0-9+/]+=*", entry["integrity"]), path
    lint = make_dry_run("-B", "lint")
    assert "npm ci --ignore-scripts --no-audit --no-fund" in lint
    assert "node_modules/.bin/pyright --pythonpath .venv/bin/python" in lint
    for path in (ROOT / "Makefile", *sorted((ROOT / ".github" / "workflows").glob("*.yml")), ROOT / "Jenkinsfile"):
        assert "npx" not in path.read_text(), f"{path.name}: npx installs whatever the registry serves"


def test_make_test_runs_the_suites_on_every_core_from_the_development_set() -> None:
    """CI's time is mostly the test suites; pytest-xdist spreads them over the machine's cores (docs/benchmarks.md)."""
    for target in ("test", "test-infra", "test-app"):
        (run,) = [line for line in make_dry_run("-B", target).splitlines() if "-m pytest" in line]
        assert "--numprocesses auto --maxprocesses 4" in run, target
    assert "pytest-xdist" in _locked(ROOT / "requirements-dev.lock")
