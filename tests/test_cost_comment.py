"""The pull request comment's cost lines (ci/offline.py): each stack's monthly total and what the change adds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci import offline


def _stack(out: Path, stack: str, total: float, delta: float | None) -> None:
    files = offline.StackFiles(out / stack)
    files.root.mkdir(parents=True)
    files.preview.write_text("preview output")
    files.plan.write_text(json.dumps({"resources": []}))
    estimate = {
        "stack": stack,
        "currency": "USD",
        "priceDate": "2026-12-02",
        "monthly": {"fixed": total - 10, "usage": 10.0, "total": total},
        "resources": [],
    }
    if delta is not None:
        changed = [
            {"urn": f"urn:pulumi:{stack}::shop-platform::aws:ec2/eip:Eip::ip-{index}", "delta": delta / 4}
            for index in range(4)
        ]
        estimate["against"] = {
            "revision": "f" * 40,
            "delta": {"fixed": delta, "usage": 0.0, "total": delta},
            "resources": changed,
        }
    files.cost.write_text(json.dumps(estimate))


def test_the_comment_shows_each_stacks_monthly_total_and_the_changes_delta(tmp_path: Path) -> None:
    _stack(tmp_path, "prod", 1738.91, 66.05)
    _stack(tmp_path, "staging", 366.42, -3.65)
    markdown = offline.summary_markdown(tmp_path)
    assert "| `prod` | $1,738.91 (fixed $1,728.91, usage $10.00) | +$66.05 | `ip-0` +$16.51, " in markdown
    assert "| `staging` | $366.42 (fixed $356.42, usage $10.00) | -$3.65 | `ip-0` -$0.91, " in markdown
    assert "`ip-2` +$16.51, 1 more |" in markdown
    assert "_Prices of 2026-12-02" in markdown and "docs/cost.md" in markdown


def test_without_a_base_the_change_column_is_empty(tmp_path: Path) -> None:
    _stack(tmp_path, "prod", 1738.91, None)
    assert "| `prod` | $1,738.91 (fixed $1,728.91, usage $10.00) | - | - |" in offline.summary_markdown(tmp_path)


def test_the_plan_step_estimates_each_stack_against_the_same_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, list[str]]] = []

    def run(command: str, stack: str, options: list[str], transcript: Path) -> int:
        calls.append((command, stack, options))
        return 0

    monkeypatch.setattr(offline, "_stacks_command", run)
    assert offline.plan(tmp_path, ["staging"], against="abc123") == 0
    files = offline.StackFiles(tmp_path / "staging")
    assert calls[1] == ("cost", "staging", ["--against", "abc123", "--json", str(files.cost)])


def test_a_stack_whose_estimate_fails_fails_the_plan_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline, "_stacks_command", lambda command, *args: 1 if command == "cost" else 0)
    assert offline.plan(tmp_path, ["staging"]) == 1
