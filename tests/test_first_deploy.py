"""A fresh stack's first deploy in two phases, computed from its plan (stacks/offline/phases.py): phase one holds
no Kubernetes resource and nothing that needs the control plane, and everything a runner in the VPC needs; phase
two is the rest. The make target and docs/kubernetes.md use the computed excludes, not a literal URN."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stacks.offline import phases
from stacks.offline.plan import Plan
from tests.cluster_plan import control_plane, private_subnet_ids

ROOT = Path(__file__).resolve().parents[1]
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


def test_phase_one_excludes_only_the_control_plane_which_takes_every_kubernetes_resource_with_it(prod: Plan) -> None:
    assert phases.phase_one_excludes(prod) == [control_plane(prod).urn]
    first = {resource.urn for resource in phases.phase_one(prod)}
    needing = [resource for resource in prod.resources if phases.needs_kubernetes(resource)]
    assert needing and not {resource.urn for resource in needing} & first
    assert all(resource.urn not in first for resource in prod.resources if resource.type.startswith("kubernetes:"))


def test_phase_one_builds_what_the_runner_in_the_vpc_needs_and_phase_two_is_the_rest(prod: Plan) -> None:
    first = {resource.urn for resource in phases.phase_one(prod)}
    needed = [
        prod.one(SECURITY_GROUP, "cluster-deployer-sg"),
        prod.one(SECURITY_GROUP, "cluster-api-sg"),
        prod.one("aws:ec2/vpc:Vpc"),
        *prod.of_type("aws:ec2/natGateway:NatGateway"),
        *[resource for resource in prod.of_type("aws:ec2/subnet:Subnet") if resource.id in private_subnet_ids(prod)],
    ]
    assert all(resource.urn in first for resource in needed)
    second = [resource for resource in prod.resources if resource.urn not in first]
    assert second and all(
        phases.needs_kubernetes(resource) or resource.urn in phases.dependents(prod, {control_plane(prod).urn})
        for resource in second
    )


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_resource_that_needs_the_api_outside_the_control_planes_dependents_gets_its_own_exclude(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(stack)
    excluded = phases.dependents(plan, set(phases.phase_one_excludes(plan)))
    assert all(resource.urn in excluded for resource in plan.resources if phases.needs_kubernetes(resource))


def test_the_make_target_and_the_docs_use_the_computed_excludes() -> None:
    dry_run = subprocess.run(
        [
            "make",
            "-n",
            "-o",
            ".venv/.installed",
            "-o",
            "policies/.venv/.installed",
            "-o",
            ".venv/.locked",
            "first-deploy-phase-one",
            "STACK=prod",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    assert "-m stacks.doctor\n" in dry_run
    assert "excludes=$(.venv/bin/python -m stacks first-deploy prod) &&" in dry_run
    assert "--exclude-dependents $excludes" in dry_run
    assert "make first-deploy-phase-one STACK=prod" in (ROOT / "docs" / "kubernetes.md").read_text()
