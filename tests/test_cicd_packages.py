"""The Debian packages the test suites drive (ci/packages.py): complete, and installed by every CI entry point."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ci import packages
from tests.cicd import ROOT, make_dry_run

TEST_DIRS = (ROOT / "tests", ROOT / "app" / "tests")


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` and ``NAME = os.environ.get("VAR", "text")``, by name."""
    found = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "os.environ.get" and len(value.args) == 2:
            value = value.args[1]  # the default: what the test runs unless told otherwise
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found[node.targets[0].id] = value.value
    return found


def looked_up_commands(path: Path) -> set[str]:
    """The commands a test module looks for with ``shutil.which`` (the check that skips, or fails under CI=true)."""
    tree = ast.parse(path.read_text())
    strings = _module_strings(tree)
    commands = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "shutil.which" and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                commands.add(Path(argument.value).name)
            elif isinstance(argument, ast.Name):
                assert argument.id in strings, f"{path}: cannot tell which command {argument.id} names"
                commands.add(Path(strings[argument.id]).name)
    return commands


def test_every_command_the_tests_look_up_is_installed_for_ci() -> None:
    needed = {
        command for directory in TEST_DIRS for path in directory.rglob("*.py") for command in looked_up_commands(path)
    }
    assert {"chromium", "redis-server", "openssl"} <= needed, "the scan should find the tests' known tools"
    assert needed <= set(packages.TEST_PACKAGES), (
        f"add to ci/packages.py: {sorted(needed - set(packages.TEST_PACKAGES))}"
    )


def test_every_ci_entry_point_installs_them_before_the_tests() -> None:
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert script.index("make test-packages") < script.index("make test")
    dry_run = make_dry_run("test-packages")
    assert "-m ci.packages" in dry_run and ".venv" not in dry_run, "it runs before the venv exists"


def test_only_missing_packages_are_installed_through_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        packages.shutil, "which", lambda command: None if command == "openssl" else f"/usr/bin/{command}"
    )
    ran: list[list[str]] = []
    monkeypatch.setattr(packages.subprocess, "run", lambda command, check: ran.append(command))
    monkeypatch.setattr(packages.os, "geteuid", lambda: 1000)
    assert packages.main() == 0
    assert ran == [
        ["sudo", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-qq"],
        [
            "sudo",
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "openssl",
        ],
    ]
    assert packages.install_commands(["chromium"], as_root=True)[1][0] == "env", "root needs no sudo"


def test_nothing_is_installed_when_everything_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages.shutil, "which", lambda command: f"/usr/bin/{command}")
    monkeypatch.setattr(packages.subprocess, "run", lambda *args, **kwargs: pytest.fail("nothing to install"))
    assert packages.main() == 0
