"""The two phases of a fresh stack's first deploy, computed from its plan.

A stack whose Kubernetes API is private (prod) cannot be deployed in one go from outside its VPC, and the VPC is
created by the same stack. Phase one is everything that needs neither the EKS control plane nor the Kubernetes
API: `pulumi up --exclude-dependents` with an ``--exclude`` for each resource that does (the control plane, the
Kubernetes providers and objects), reduced to those that are not already another's dependents. Phase two, the
full `pulumi up`, runs from inside the VPC (docs/kubernetes.md "First `pulumi up` of a fresh prod stack").
"""

from __future__ import annotations

from stacks.offline.plan import Plan, PlannedResource

#: The pulumi-eks component that holds the control plane: creating it is where the Kubernetes API begins.
CONTROL_PLANE = "eks:index:Cluster"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


def needs_kubernetes(resource: PlannedResource) -> bool:
    return resource.type in (CONTROL_PLANE, KUBERNETES_PROVIDER) or resource.type.startswith("kubernetes:")


def dependents(plan: Plan, roots: set[str]) -> set[str]:
    """URNs that `--exclude-dependents` leaves out with ``roots``: whatever depends on, is a child of or uses as its
    provider one of them, transitively (the roots included)."""
    excluded = set(roots)
    changed = True
    while changed:
        changed = False
        for resource in plan.resources:
            if resource.urn not in excluded and {*resource.dependencies, resource.parent, resource.provider} & excluded:
                excluded.add(resource.urn)
                changed = True
    return excluded


def phase_one_excludes(plan: Plan) -> list[str]:
    """The fewest URNs whose `--exclude` (with `--exclude-dependents`) leaves out every resource that needs the
    control plane or the Kubernetes API: those not already a dependent of another such resource."""
    roots = [resource.urn for resource in plan.resources if needs_kubernetes(resource)]
    return [urn for urn in roots if not any(urn in dependents(plan, {other}) - {other} for other in roots)]


def phase_one(plan: Plan) -> list[PlannedResource]:
    """What the first phase creates: the plan minus the excluded resources and their dependents."""
    left_out = dependents(plan, set(phase_one_excludes(plan)))
    return [resource for resource in plan.resources if resource.urn not in left_out]
