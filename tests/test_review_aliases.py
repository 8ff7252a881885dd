"""A refactor that keeps its resources through aliases is no change: the review diff resolves a new program's
aliases against the base plan as the engine resolves them against the state (pulumi/pulumi
pkg/resource/deploy/step_generator.go), so a renamed component, its children and a resource moved into it are the
same resources, not a delete and a create."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.offline import changes
from stacks.offline.engine import preview
from stacks.offline.plan import Plan

#: A component with two children, one named after it and one not (a URN names its parents' types, not their names:
#: that one keeps its URN wherever its parent is renamed); PARTS is the rest of the program.
PROGRAM = """
import json
import pulumi
import pulumi_aws as aws

class Store(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("shop:test:Store", name, None, opts)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", opts=pulumi.ResourceOptions(parent=self))
        aws.s3.Bucket("logs", opts=pulumi.ResourceOptions(parent=self))
PARTS
# A consumer of the renamed bucket's id (its generated name) and ARN.
aws.s3.BucketPolicy(
    "guard",
    bucket=store.bucket.id,
    policy=store.bucket.arn.apply(lambda arn: json.dumps({"Statement": [{"Effect": "Deny", "Resource": arn}]})),
)
"""
#: The base: the component and a bucket at the top of the stack.
BASE = PROGRAM.replace("PARTS", 'store = Store("store")\naws.s3.Bucket("audit")')
#: The refactor: the component renamed, the top-level bucket moved into it and renamed.
HEAD_PARTS = """        aws.s3.Bucket("audit-trail", opts=pulumi.ResourceOptions(parent=self, aliases=AUDIT))

store = Store("archive", opts=pulumi.ResourceOptions(aliases=STORE))"""


def refactor(*, aliases: bool) -> str:
    """The refactor, with the aliases that keep its resources or without them."""
    store, audit = (
        ('[pulumi.Alias(name="store")]', '[pulumi.Alias(name="audit", parent=None)]') if aliases else ("[]", "[]")
    )
    return PROGRAM.replace("PARTS", HEAD_PARTS.replace("AUDIT", audit).replace("STORE", store))


def _plan(project: Path, program: str) -> Plan:
    (project / "Pulumi.yaml").write_text("name: refactor\nruntime: python\n")
    (project / "Pulumi.test.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (project / "__main__.py").write_text(program)
    return preview("test", project)


def _urn(qualified_type: str, name: str) -> str:
    return f"urn:pulumi:test::refactor::{qualified_type}::{name}"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return _plan(tmp_path_factory.mktemp("base"), BASE)


def test_a_renamed_component_its_children_and_a_moved_resource_are_the_same_resources(
    base: Plan, tmp_path: Path
) -> None:
    head = _plan(tmp_path, refactor(aliases=True))
    change = changes.compare(base, head, "base")
    # The engine keeps the bucket's state: the policy sees its old name and ARN, not the fake cloud's new ones.
    assert change.changes == [] and change.counts()["same"] == len(head.resources)
    store, bucket = "shop:test:Store", "aws:s3/bucket:Bucket"
    assert change.renamed == tuple(
        sorted(
            [
                (_urn(store, "store"), _urn(store, "archive")),
                # named after its parent: the parent's old name in place of its new one (inheritedChildAlias)
                (_urn(f"{store}${bucket}", "store-bucket"), _urn(f"{store}${bucket}", "archive-bucket")),
                (_urn(bucket, "audit"), _urn(f"{store}${bucket}", "audit-trail")),
            ]
        )
    )
    # As preview --against reads the base: from its JSON, without the fake cloud's outputs (replayed here).
    assert changes.compare(Plan.from_json(base.to_json()), head, "base") == change
    assert "renamed by an alias (the same resource)" in changes.render(change, width=400)
    assert changes.ChangeSet.from_json(change.to_json()) == change


def test_without_the_aliases_the_refactor_deletes_and_creates_every_resource(base: Plan, tmp_path: Path) -> None:
    head = _plan(tmp_path, refactor(aliases=False))
    change = changes.compare(base, head, "base")
    assert change.renamed == ()
    # the component, the bucket named after it and the moved bucket; "logs" keeps its URN; the policy moves to the
    # new bucket
    assert change.counts() == {"create": 3, "update": 0, "replace": 1, "delete": 3, "same": 1}


def test_the_plan_records_the_aliases_as_the_sdk_sends_them(tmp_path: Path) -> None:
    head = _plan(tmp_path, refactor(aliases=True))
    aliases = {resource.name: resource.options.get("aliases") or [] for resource in head.resources}
    # pulumi-aws gives every Bucket an alias of its own (the former BucketV2 type): recorded as sent, parent unset.
    assert {"type": "aws:s3/bucketV2:BucketV2", "parentUrn": ""} in aliases["logs"]
    assert aliases["archive"] == [{"name": "store", "parentUrn": ""}]
    assert {"name": "audit", "noParent": True} in aliases["audit-trail"]
