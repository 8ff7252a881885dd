"""Shared fixtures: each stack is evaluated offline once per test session and every test asserts on that plan."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from stacks.offline.engine import preview
from stacks.offline.plan import Plan

STACKS = ("staging", "prod")
_cache: dict[tuple[str, str], Plan] = {}


def plan_for(stack: str, overrides: Mapping[str, Any] | None = None) -> Plan:
    """The offline plan of ``stack`` (with config ``overrides``), computed once per session."""
    key = (stack, json.dumps(overrides or {}, sort_keys=True))
    if key not in _cache:
        _cache[key] = preview(stack, overrides=overrides)
    return _cache[key]


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
