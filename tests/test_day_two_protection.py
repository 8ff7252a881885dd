"""Prod's data survives a careless change: every stateful resource is protected (so `pulumi up` refuses to replace
or delete it) and the data stores leave a final snapshot where AWS allows one; nothing else is protected, so
routine changes around the data still work."""

from __future__ import annotations

from stacks.offline.plan import Plan, PlannedResource
from stacks.offline.replacements import stateful_data

#: Types that hold data but are not protected, and why.
UNPROTECTED_DATA = {
    "aws:secretsmanager/secretVersion:SecretVersion": "a rotation replaces it; the (protected) secret keeps it",
    "random:index/randomPassword:RandomPassword": "a rotation replaces it (docs/operations.md, Rotating secrets)",
    # Created by pulumi-eks at deploy time, invisible offline: a transform protects the control plane and nothing
    # else pulumi-eks creates; nothing in the cluster holds data of its own (tests/test_lifecycle_protect.py).
    "eks:index:Cluster": "its control plane is protected by a transform",
    "kubernetes:core/v1:Namespace": "the shop keeps its data in RDS, ElastiCache and S3, not in the cluster",
}
#: Protected although replacing them destroys no data of their own.
PROTECTED_ALSO = {"aws:sns/topic:Topic": "its confirmed e-mail subscriptions (each would have to be confirmed again)"}


def held(resource: PlannedResource) -> str | None:
    """What replacing or deleting the resource would lose, if it is to be protected."""
    if resource.type in UNPROTECTED_DATA:
        return None
    return stateful_data(resource.type) or PROTECTED_ALSO.get(resource.type)


#: Components of this half of the platform, whose protection the complement test checks.
OURS = ("shop:data:Database", "shop:data:Cache", "shop:data:AppSecrets", "shop:edge:Edge",
        "shop:observability:Observability")  # fmt: skip


def test_every_stateful_resource_in_prod_is_protected(prod: Plan) -> None:
    unprotected = [f"{r.type} {r.name} ({held(r)})" for r in prod.resources if held(r) and not r.options["protect"]]
    assert unprotected == []


def test_nothing_stateful_is_protected_in_staging(staging: Plan) -> None:
    """Staging is disposable: `pulumi destroy` must go through."""
    assert [f"{r.type} {r.name}" for r in staging.resources if r.options.get("protect")] == []


def test_in_our_components_only_data_is_protected(prod: Plan) -> None:
    """Protect is inherited: a protected parent would block e.g. removing an e-mail subscription or a secret
    version's rotation."""
    ours = [r for component in OURS for parent in prod.of_type(component) for r in prod.descendants(parent)]
    assert [f"{r.type} {r.name}" for r in ours if r.options.get("protect") and not held(r)] == []


def _replication_group(plan: Plan) -> PlannedResource:
    return plan.one("aws:elasticache/replicationGroup:ReplicationGroup", "cache-replication-group")


def test_data_stores_take_a_final_snapshot_when_deleted_in_prod(prod: Plan) -> None:
    database = prod.one("aws:rds/instance:Instance", "database-postgres")
    assert database.inputs["skipFinalSnapshot"] is False
    assert database.inputs["finalSnapshotIdentifier"].startswith(database.inputs["identifier"] + "-final-")
    group = _replication_group(prod)
    assert group.inputs["finalSnapshotIdentifier"].startswith(group.inputs["replicationGroupId"] + "-final-")


def test_each_cache_gets_its_own_final_snapshot_name(prod: Plan) -> None:
    """Snapshot names are unique per account and region: a fixed name would fail the next deletion of a cache with
    this id. The suffix is drawn once per replication group id."""
    suffix = prod.one("random:index/randomId:RandomId", "cache-final-snapshot-suffix")
    assert suffix.inputs["keepers"] == {"replicationGroupId": _replication_group(prod).inputs["replicationGroupId"]}
    assert _replication_group(prod).inputs["finalSnapshotIdentifier"].endswith(suffix.outputs["hex"])


def test_staging_cache_leaves_no_snapshot_behind(staging: Plan) -> None:
    assert "finalSnapshotIdentifier" not in _replication_group(staging).inputs
