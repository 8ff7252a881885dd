"""A fresh deploy's critical path (typical create times through the plan's graph, stacks/offline/lifecycle.py) is
the inherent one: VPC -> cluster -> node add-ons -> node groups -> CoreDNS -> controllers -> shop -> its origin
record, with the database, the cache, the edge and the certificates beside it."""

from __future__ import annotations

from stacks.offline.lifecycle import critical_path, depends_on, done_at, format_critical_path
from stacks.offline.plan import Plan
from tests.cluster_plan import addons_by_name
from tests.shop_plan import platform_settings

#: The stages a deploy cannot skip, as resource types, in order.
INHERENT = (
    "eks:index:Cluster",
    "aws:eks/addon:Addon",  # the CNI nodes need
    "eks:index:ManagedNodeGroup",
    "aws:eks/addon:Addon",  # CoreDNS
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:networking.k8s.io/v1:Ingress",
)
OFF_THE_PATH = (
    "aws:rds/",
    "aws:elasticache/",
    "aws:cloudfront/",
    "aws:acm/",
    "aws:wafv2/",
    "aws:secretsmanager/",
)


def test_the_critical_path_is_the_inherent_chain(plan: Plan) -> None:
    slow = [step.resource.type for step in critical_path(plan) if step.seconds >= 60]
    assert tuple(slow[: len(INHERENT)]) == INHERENT
    # Last the origin name, once the ALB exists; a blue-green Rollout starts then too (its analysis arguments name
    # the load balancer) and takes longer. A canary's Rollout runs beside the Ingress.
    last = {"blue_green": "kubernetes:argoproj.io/v1alpha1:Rollout", "canary": "aws:route53/record:Record"}
    assert slow[len(INHERENT) :] == [last[platform_settings(plan.stack).shop.release_strategy]]


def test_data_stores_edge_and_certificates_are_off_the_critical_path(plan: Plan) -> None:
    on_path = [step.resource for step in critical_path(plan)]
    assert [r.name for r in on_path if r.type.startswith(OFF_THE_PATH)] == []
    assert [r.name for r in on_path if "shop:data:" in r.urn or "shop:edge:Edge$aws:acm" in r.urn] == []


def test_volumes_and_metrics_add_ons_delay_nothing(plan: Plan) -> None:
    """Nothing on the critical path waits for EBS CSI or metrics-server: they may take longer than CoreDNS (or
    fail) without delaying the controllers and the shop."""
    addons = addons_by_name(plan)
    for step in critical_path(plan):
        for name in ("aws-ebs-csi-driver", "metrics-server"):
            assert not depends_on(plan, step.resource, addons[name]), (step.resource.name, name)
    total = critical_path(plan)[-1].done_at
    assert all(done_at(plan, addons[name]) < total for name in ("aws-ebs-csi-driver", "metrics-server"))


def test_the_timeline_prints_each_step_and_the_total(staging: Plan) -> None:
    text = format_critical_path(staging)
    assert "eks:index:Cluster  cluster-eks" in text
    assert text.splitlines()[-1].startswith("  total: ")
