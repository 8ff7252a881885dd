"""``python -m stacks cost``: the breakdown, the JSON, ``--against`` and bad input. The session's plans stand in for
the evaluations (the revision's own evaluation is ``preview --against``'s, tested in tests/test_review_*.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import stacks.__main__ as cli
from stacks.offline import changes
from stacks.offline.engine import preview
from stacks.offline.plan import Plan
from tests.conftest import plan_for


@pytest.fixture(autouse=True)
def _session_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "preview", lambda stack, project_dir, **options: plan_for(stack))


def test_the_breakdown_names_the_price_date_and_the_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", "prod"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Monthly cost of prod (eu-west-1), USD, on-demand prices of 2026-12-02")
    assert "fixed $" in out and "cluster-system" in out and "Usage assumptions" in out


def test_the_json_goes_to_standard_output_alone(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", "staging", "--json", "-"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert (document["stack"], document["currency"]) == ("staging", "USD")
    assert document["monthly"]["total"] == round(sum(r["monthly"] for r in document["resources"]), 2)
    assert "Monthly cost of staging" in captured.err


class _Base:
    """Stands in for ``changes.BaseEvaluation``: the revision's plan is given."""

    plan: Plan

    def __init__(self, sha: str, stack: str, project_dir: Path) -> None:
        self.sha = sha

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def result(self) -> tuple[Plan, str]:
        return self.plan, "eu-west-1"


def test_against_shows_the_delta_per_resource_and_in_total(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    staging = plan_for("staging")
    database = staging.one("aws:rds/instance:Instance")
    # The base had a Single-AZ database of the next size down and no NAT gateway: this change adds both.
    smaller = dataclasses.replace(database, inputs={**database.inputs, "allocatedStorage": 10})
    base = [smaller if r is database else r for r in staging.resources if r.type != "aws:ec2/natGateway:NatGateway"]
    _Base.plan = dataclasses.replace(staging, resources=base)
    monkeypatch.setattr(changes, "resolve_revision", lambda revision, directory: "f" * 40)
    monkeypatch.setattr(changes, "BaseEvaluation", _Base)
    target = tmp_path / "cost.json"
    assert cli.main(["cost", "staging", "--against", "main", "--json", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Monthly cost change of staging since main:" in out
    assert "network-nat-1" in out and "database-postgres" in out
    against = json.loads(target.read_text())["against"]
    assert against["revision"] == "f" * 40
    deltas = {change["urn"].rsplit("::", 1)[-1]: change["delta"] for change in against["resources"]}
    assert set(deltas) == {"network-nat-1", "database-postgres"}
    assert against["delta"]["total"] == round(sum(deltas.values()), 2) > 0


def test_an_unknown_stack_is_one_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "preview", preview)  # the engine's own: it refuses the stack before evaluating
    assert cli.main(["cost", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown stack 'nope'") and "Traceback" not in err
