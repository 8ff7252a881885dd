"""Shared fixtures: each stack is evaluated offline once per test session and every test asserts on that plan."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from stacks.offline.engine import PROJECT_DIR, preview
from stacks.offline.plan import Plan

STACKS = ("staging", "prod")
#: What GitHub Actions and Jenkins set in a job, and ci/ reads to report there (annotations, step outputs, run ids).
#: The suite runs inside such jobs too; a test that wants one sets it itself.
PIPELINE_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "PULUMI_ORG",
    "BUILD_TAG",
    "BUILD_URL",
)
_cache: dict[tuple[str, str], Plan] = {}


def plan_for(stack: str, overrides: Mapping[str, Any] | None = None) -> Plan:
    """The offline plan of ``stack`` (with config ``overrides``), computed once per session."""
    key = (stack, json.dumps(overrides or {}, sort_keys=True))
    if key not in _cache:
        _cache[key] = preview(stack, overrides=overrides)
    return _cache[key]


@pytest.fixture(autouse=True)
def _outside_a_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in PIPELINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="session")
def staging() -> Plan:
    return plan_for("staging")


@pytest.fixture(scope="session")
def prod() -> Plan:
    return plan_for("prod")


@pytest.fixture(scope="session", params=STACKS)
def plan(request: pytest.FixtureRequest) -> Plan:
    """Each stack in turn, for properties both stacks must have."""
    return plan_for(request.param)


@pytest.fixture(scope="session")
def bootstrap() -> Plan:
    """The bootstrap project's plan (its example stack ``ci``), once per session."""
    return preview("ci", project_dir=PROJECT_DIR / "bootstrap")
