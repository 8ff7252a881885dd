"""The pipeline steps that run before the virtual environment exists need only the standard library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Run by the Makefile with the machine's ``python3`` (``make test-packages``, ``make notify``) or by the
#: privileged ``workflow_run`` job that checks out no virtual environment (``ci.pr_comment``).
STANDARD_LIBRARY_STEPS = ("ci.packages", "ci.notify", "ci.pr_comment")
#: Third-party packages the project's other code imports; blocking them proves a step never reaches for one.
THIRD_PARTY = ("pulumi", "pulumi_aws", "pydantic", "yaml", "boto3", "google")


@pytest.mark.parametrize("module", STANDARD_LIBRARY_STEPS)
def test_step_imports_without_third_party_packages(module: str) -> None:
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in THIRD_PARTY)
    program = f"import sys; {blocked}; import {module}"
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{module} needs a third-party package:\n{result.stderr[-2000:]}"


def test_the_check_sees_a_third_party_import() -> None:
    program = "import sys; sys.modules['yaml'] = None; import stacks.settings"
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode != 0
