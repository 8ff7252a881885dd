"""docs/security-controls.md is checked against the code: every resource type of either stack's plan has a row,
every row's type is still declared, and the evidence it names exists (a policy rule of the pack, a test file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.rules import POLICIES
from stacks.offline.plan import Plan, PlannedResource
from tests.conftest import STACKS, plan_for

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "docs" / "security-controls.md"
#: A matrix row: | `type` | control | status | how | evidence |
_ROW = re.compile(
    r"^\| `(?P<type>[^`]+)` \|(?P<control>[^|]*)\|(?P<status>[^|]*)\|(?P<how>[^|]*)\|(?P<evidence>[^|]*)\|$"
)
_BACKTICKED = re.compile(r"`([^`]+)`")


def rows() -> list[re.Match[str]]:
    return [match for line in MATRIX.read_text().splitlines() if (match := _ROW.match(line))]


def matrix_types() -> set[str]:
    return {row["type"] for row in rows()}


def needs_a_row(resource: PlannedResource) -> bool:
    """Resources AWS or Kubernetes create: not our components (shop:*), not providers."""
    return resource.custom and not resource.type.startswith("pulumi:providers:")


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_type_in_the_plan_has_a_row(stack: str) -> None:
    plan: Plan = plan_for(stack)
    uncovered = sorted({r.type for r in plan.resources if needs_a_row(r)} - matrix_types())
    assert uncovered == [], f"add rows to docs/security-controls.md for {uncovered}"


def test_every_row_names_a_type_the_stacks_declare() -> None:
    declared = {r.type for stack in STACKS for r in plan_for(stack).resources}
    assert sorted(matrix_types() - declared) == []


def test_the_evidence_exists() -> None:
    rules = {policy.name for policy in POLICIES}
    missing = []
    for row in rows():
        for name in _BACKTICKED.findall(row["evidence"]):
            exists = (ROOT / "tests" / name).is_file() if name.endswith(".py") else name in rules
            if not exists:
                missing.append(f"{row['type']}: {name}")
    assert missing == []


def test_every_row_says_whether_the_control_is_met() -> None:
    statuses = {row["status"].strip().split(";")[0].split(" (")[0].split(",")[0] for row in rows()}
    assert statuses <= {"met", "met in prod", "staging: accepted", "accepted", "n/a"}
