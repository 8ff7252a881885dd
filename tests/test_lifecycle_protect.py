"""`protect` sits only on what holds data: in the cluster, the EKS cluster itself and its audit log, never on what
pulumi-eks creates beside it (access entries, the OIDC provider), which routine changes replace."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pulumi
import pytest

from stacks.offline.plan import Plan
from tests.cluster_plan import CLUSTER, NODE_GROUP, control_plane

#: What pulumi-eks 4 registers under its Cluster component with our options (no default node group, security
#: groups or self-managed add-ons): the control plane, its access entries and their policies, the OIDC provider.
PULUMI_EKS_CHILDREN = (
    "aws:eks/cluster:Cluster",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "pulumi:providers:kubernetes",
)

Transform = Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]


def transform(qualified_name: str) -> Transform:
    module, _, name = qualified_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


def protected_children(transforms: list[str]) -> set[str]:
    """The types among pulumi-eks's children that end up protected once the engine has applied ``transforms``."""
    protected = set()
    for type_ in PULUMI_EKS_CHILDREN:
        options = pulumi.ResourceOptions()
        for name in transforms:
            result = transform(name)(pulumi.ResourceTransformArgs(True, type_, "child", {}, options))
            options = result.opts if result is not None else options
        if options.protect:
            protected.add(type_)
    return protected


def test_in_prod_only_the_eks_cluster_is_protected_among_pulumi_eks_resources(prod: Plan) -> None:
    assert protected_children(control_plane(prod).options["transforms"]) == {"aws:eks/cluster:Cluster"}


def test_in_staging_nothing_of_pulumi_eks_is_protected(staging: Plan) -> None:
    assert protected_children(control_plane(staging).options["transforms"]) == set()


@pytest.mark.parametrize("type_", [CLUSTER, NODE_GROUP])
def test_no_pulumi_eks_component_carries_protect_to_its_children(plan: Plan, type_: str) -> None:
    assert [r.name for r in plan.of_type(type_) if r.options["protect"]] == []


def test_nothing_in_the_cluster_or_the_shop_is_protected_but_the_audit_log(prod: Plan) -> None:
    """Roles, policies, associations, add-ons, node groups and Kubernetes objects hold no data."""
    protected = [
        r.name
        for r in prod.resources
        if r.options["protect"] and ("shop:cluster:Cluster$" in r.urn or "shop:shop:Shop$" in r.urn)
    ]
    assert protected == ["cluster-control-plane-logs"]
