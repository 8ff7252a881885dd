"""`python -m stacks first-deploy` and `doctor` run in the locked deploy environment (requirements.lock, `make
deploy-venv`): every module they import belongs to a distribution the lock holds, the standard library or this
repository. Checked by running them with an import hook that refuses the modules of every other installed
distribution (the test environment holds many more: the policy pack's, the test tools')."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from stacks.offline import phases
from stacks.offline.plan import Plan
from tests.cicd import ROOT

#: Run as ``python -c``: refuse what the lock does not hold, then run ``python -m stacks ARGS``.
_ONLY_THE_LOCK = """
import importlib.metadata, re, runpy, sys

locked = set(sys.argv[1].split(","))
owners = importlib.metadata.packages_distributions()


def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class OnlyTheLock:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = owners.get(top)
        if dists and not any(normal(dist) in locked for dist in dists):
            raise ModuleNotFoundError(f"{name} ({', '.join(dists)}) is not in requirements.lock", name=name)
        return None


sys.meta_path.insert(0, OnlyTheLock())
sys.argv = ["stacks", *sys.argv[2:]]
runpy.run_module("stacks", run_name="__main__", alter_sys=True)
"""


def _locked() -> set[str]:
    text = (ROOT / "requirements.lock").read_text()
    return {re.sub(r"[-_.]+", "-", name).lower() for name in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", text, re.M)}


def _run_locked(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run(
        [sys.executable, "-c", _ONLY_THE_LOCK, ",".join(sorted(_locked())), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        check=False,
        timeout=300,
    )


def test_the_hook_refuses_what_the_lock_does_not_hold() -> None:
    """The policy pack's runner needs jsonschema and pulumi-policy, which the lock cannot hold (pulumi-policy pins
    another protobuf): a policy check is refused."""
    result = _run_locked("preview", "staging", "--policy", "--quiet")
    assert "jsonschema (jsonschema) is not in requirements.lock" in result.stderr


def test_first_deploy_runs_with_only_the_locked_distributions(prod: Plan) -> None:
    result = _run_locked("first-deploy", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [part for urn in phases.phase_one_excludes(prod) for part in ("--exclude", urn)]


def test_doctor_runs_with_only_the_locked_distributions() -> None:
    result = _run_locked("doctor", "prod")
    assert "not in requirements.lock" not in result.stderr
    assert result.returncode == 1 and "example.com" in result.stdout + result.stderr
