"""What a change does to a stack (``stacks.offline.changes``): each op from pairs of offline plans, the property
diffs (JSON in strings compared structurally), replacements and the warning block.

The base plan goes through its JSON form, as ``--against`` reads the base revision's plan."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.offline import changes, policy_run
from stacks.offline.changes import ABSENT, Change, ChangeSet, Difference
from stacks.offline.engine import preview
from stacks.offline.fakes import aws_data
from stacks.offline.plan import UNKNOWN, Plan, PlannedResource
from tests.conftest import plan_for

RDS = "aws:rds/instance:Instance"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
RECORD = "aws:route53/record:Record"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def _compare(base: Plan, head: Plan) -> ChangeSet:
    return changes.compare(Plan.from_json(json.loads(json.dumps(base.to_json()))), head, "0" * 40)


def _one(change_set: ChangeSet, type_: str, name: str) -> Change:
    found = [change for change in change_set.changes if (change.type, change.name) == (type_, name)]
    assert len(found) == 1, f"{type_} {name} not among {[(c.type, c.name, c.op) for c in change_set.changes]}"
    return found[0]


# ---------------------------------------------------------------------------------------------- the ops


def test_an_unchanged_tree_has_no_changes(prod: Plan) -> None:
    change_set = _compare(prod, prod)
    assert change_set.changes == []
    assert change_set.counts() == {"create": 0, "update": 0, "replace": 0, "delete": 0, "same": len(prod.resources)}
    assert changes.summary_line(change_set.counts()) == f"{len(prod.resources)} unchanged"


def test_a_new_instance_class_updates_the_database_with_that_one_difference(prod: Plan) -> None:
    head = plan_for("prod", {"dbInstanceClass": "db.m7g.xlarge"})
    change_set = _compare(prod, head)
    assert [(change.type, change.name, change.op) for change in change_set.changes] == [
        (RDS, "database-postgres", "update")
    ]
    database = change_set.changes[0]
    assert database.diffs == (Difference("instanceClass", "db.m7g.large", "db.m7g.xlarge", "instanceClass"),)
    assert change_set.warnings == [], "resized in place: nothing is destroyed"
    assert change_set.to_json()["summary"] == {
        "create": 0,
        "update": 1,
        "replace": 0,
        "delete": 0,
        "same": len(prod.resources) - 1,
    }
    listed = change_set.to_json()["changes"][0]
    assert {key: listed[key] for key in ("type", "name", "op", "stateful", "protected", "replaceKeys", "diffs")} == {
        "type": RDS,
        "name": "database-postgres",
        "op": "update",
        "stateful": True,
        "protected": True,
        "replaceKeys": [],
        "diffs": [{"path": "instanceClass", "old": "db.m7g.large", "new": "db.m7g.xlarge"}],
    }
    assert listed["urn"] == prod.one(RDS, "database-postgres").urn


def test_a_new_vpc_cidr_replaces_the_vpc_and_every_subnet(prod: Plan) -> None:
    head = plan_for("prod", {"vpcCidr": "10.60.0.0/16"})
    change_set = _compare(prod, head)
    vpc = _one(change_set, VPC, "network-vpc")
    assert (vpc.op, vpc.replace_keys) == ("replace", ("cidrBlock",))
    subnets = [change for change in change_set.changes if change.type == SUBNET]
    assert len(subnets) == len(prod.of_type(SUBNET)) >= 6
    for subnet in subnets:
        assert subnet.op == "replace" and "cidrBlock" in subnet.replace_keys, subnet.name
        # The new VPC's id is unknown until it exists, and a subnet's vpcId forces a replacement of its own.
        assert Difference("vpcId", prod.one(VPC).id, UNKNOWN, "vpcId", via="network-vpc") in subnet.diffs
    assert "replace" not in {change.op for change in change_set.changes if change.type == RDS}
    rendered = changes.render(change_set, width=200)
    assert " +-  aws:ec2:Vpc " in rendered and "replace  [diff: cidrBlock]" in rendered
    assert '~ cidrBlock: "10.50.0.0/16" → "10.60.0.0/16"' in rendered


def test_a_new_vpc_cidr_warns_in_prod_that_the_cluster_and_the_data_move_with_the_vpc(prod: Plan) -> None:
    change_set = _compare(prod, plan_for("prod", {"vpcCidr": "10.60.0.0/16"}))
    cluster = _one(change_set, "eks:index:Cluster", "cluster-eks")
    assert cluster.op == "update" and cluster.holds is not None
    assert {"network-vpc", "network-private-1"} <= set(cluster.moved_by)
    assert "vpcId" in cluster.replaces_others, "pulumi-eks's security groups go with the VPC"
    warned = {change.name for change in change_set.warnings}
    assert {"cluster-eks", "database-postgres", "cache-replication-group"} <= warned
    assert "network-vpc" not in warned, "the VPC holds no data: it is the cause, named in the block"
    block = changes.render(change_set, width=200).split("WARNING:")[1].split("\n\n")[0]
    assert "~  eks:index:Cluster  cluster-eks  (update)" in block
    assert "moves onto what replaces network-private-1, network-private-2, network-private-3, network-vpc" in block
    assert "the cluster itself cannot move to another VPC and the update fails (vpcId)" in block


def test_removing_a_host_deletes_its_dns_records_and_adding_it_creates_them(prod: Plan) -> None:
    without_www = plan_for("prod", {"edgeHosts": ["@"]})
    removed = _compare(prod, without_www)
    deleted = {change.name for change in removed.changes if change.op == "delete"}
    assert {"edge-www-a", "edge-www-aaaa"} <= deleted
    assert all(change.type == RECORD for change in removed.changes if change.op == "delete")
    assert not any(change.op == "delete" and change.name.startswith("edge-apex") for change in removed.changes)
    added = _compare(without_www, prod)
    assert {change.name for change in added.changes if change.op == "create"} == deleted
    created = _one(added, RECORD, "edge-www-a")
    assert created.diffs == () and created.marker == "+"
    assert changes.summary_line(added.counts()).startswith(f"+ {len(deleted)} to create")


def test_replacing_a_protected_database_is_the_warning_block_and_would_fail_in_prod(prod: Plan) -> None:
    change_set = _compare(prod, plan_for("prod", {"dbMasterUsername": "shop_owner"}))
    database = _one(change_set, RDS, "database-postgres")
    assert (database.op, database.replace_keys, database.protected) == ("replace", ("username",), True)
    assert change_set.warnings[0] == database
    rendered = changes.render(change_set, width=200)
    assert rendered.index("WARNING:") < rendered.index("     Type"), "the warning block comes first"
    block = rendered.split("WARNING:")[1].split("\n\n")[0]
    assert "+- aws:rds:Instance  database-postgres  (replace)" in block
    assert "forced by: username" in block
    assert "destroys: the database (all its data) and its automated backups" in block
    assert "`pulumi up` would fail: the resource is protected in stack 'prod'" in block
    quiet = changes.render(change_set, width=200, quiet=True)
    assert "WARNING:" in quiet and "     Type" not in quiet and "Resources:" in quiet


# ---------------------------------------------------------------------------------------------- differences


def _resource(type_: str, name: str, inputs: dict[str, Any], **options: Any) -> PlannedResource:
    urn = f"urn:pulumi:prod::shop-platform::{type_}::{name}"
    return PlannedResource(urn, type_, name, None, [], None, {"protect": False, **options}, inputs, custom=True)


def _plan(*resources: PlannedResource) -> Plan:
    return Plan(project="shop-platform", stack="prod", resources=list(resources), outputs={})


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ = {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject"}
DENY = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def test_json_in_a_string_is_compared_structurally() -> None:
    old = _resource(BUCKET_POLICY, "assets-policy", {"bucket": "assets", "policy": _policy(DENY, READ)})
    added = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:ListBucket"}
    new = _resource(BUCKET_POLICY, "assets-policy", {"bucket": "assets", "policy": _policy(DENY, added, READ)})
    (change,) = changes.compare(_plan(old), _plan(new), "base").changes
    assert change.diffs == (Difference("policy.Statement[1]", ABSENT, added, "policy"),), "one statement, one line"
    assert change.op == "update"

    edited = _resource(
        BUCKET_POLICY,
        "assets-policy",
        {"bucket": "assets", "policy": _policy(DENY, READ | {"Action": ["s3:GetObject", "s3:GetObjectVersion"]})},
    )
    (change,) = changes.compare(_plan(old), _plan(edited), "base").changes
    assert change.diffs == (
        Difference("policy.Statement[1].Action", "s3:GetObject", ["s3:GetObject", "s3:GetObjectVersion"], "policy"),
    )
    assert change.to_json()["diffs"] == [
        {
            "path": "policy.Statement[1].Action",
            "old": "s3:GetObject",
            "new": ["s3:GetObject", "s3:GetObjectVersion"],
            "input": "policy",
        }
    ]


def test_a_dashboard_body_change_is_one_line_not_the_whole_body(prod: Plan) -> None:
    dashboard = prod.one("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    assert len(dashboard.inputs["dashboardBody"]) > 5000
    body["widgets"][0]["width"] = body["widgets"][0]["width"] + 1
    new_inputs = {**dashboard.inputs, "dashboardBody": json.dumps(body)}
    head = _plan(PlannedResource(**{**dashboard.to_json(), "inputs": new_inputs}))
    (change,) = changes.compare(_plan(dashboard), head, "base").changes
    (diff,) = change.diffs
    assert (diff.path, diff.input) == ("dashboardBody.widgets[0].width", "dashboardBody")
    assert len(changes.difference_line(diff, 120)) < 120


def test_keys_that_are_not_names_are_quoted_in_paths() -> None:
    old = _resource("aws:ec2/subnet:Subnet", "a", {"tags": {"kubernetes.io/role/elb": "1"}})
    new = _resource("aws:ec2/subnet:Subnet", "a", {"tags": {"kubernetes.io/role/elb": "0"}})
    (change,) = changes.compare(_plan(old), _plan(new), "base").changes
    assert [diff.path for diff in change.diffs] == ['tags["kubernetes.io/role/elb"]']
    assert change.op == "update", "tags never replace a subnet"


def test_options_that_matter_are_differences_and_ignored_inputs_are_not() -> None:
    old = _resource(RDS, "db", {"instanceClass": "db.t4g.small", "allocatedStorage": 20})
    new = _resource(RDS, "db", {"instanceClass": "db.t4g.small", "allocatedStorage": 50}, protect=True)
    (change,) = changes.compare(_plan(old), _plan(new), "base").changes
    assert [diff.path for diff in change.diffs] == ["allocatedStorage", "options.protect"]
    assert change.protected

    ignoring = _resource(
        RDS, "db", {"instanceClass": "db.t4g.small", "allocatedStorage": 50}, ignoreChanges=["allocatedStorage"]
    )
    assert (
        changes.compare(
            _plan(_resource(RDS, "db", {**old.inputs}, ignoreChanges=["allocatedStorage"])), _plan(ignoring), "b"
        ).changes
        == []
    )


def test_replace_on_changes_forces_a_replacement_the_provider_would_not() -> None:
    old = _resource(RDS, "db", {"instanceClass": "db.t4g.small"}, replaceOnChanges=["instanceClass"])
    new = _resource(RDS, "db", {"instanceClass": "db.t4g.medium"}, replaceOnChanges=["instanceClass"])
    (change,) = changes.compare(_plan(old), _plan(new), "base").changes
    assert (change.op, change.replace_keys) == ("replace", ("instanceClass",))


def test_a_deleted_protected_resource_would_fail_and_one_retained_is_said_to_be_kept() -> None:
    protected = _resource(RDS, "db", {"instanceClass": "db.t4g.small"}, protect=True, retainOnDelete=True)
    change_set = changes.compare(_plan(protected), _plan(), "base")
    (change,) = change_set.warnings
    assert change.op == "delete" and change.marker == "-"
    lines = "\n".join(changes.warning_lines(change, "prod"))
    assert "deleted: no longer in the program" in lines
    assert "kept in AWS (retainOnDelete)" in lines and "`pulumi up` would fail" in lines


# ---------------------------------------------------------------------------------------------- display


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("aws:rds/instance:Instance", "aws:rds:Instance"),
        ("aws:s3/bucketPolicy:BucketPolicy", "aws:s3:BucketPolicy"),
        ("random:index/randomPassword:RandomPassword", "random:index:RandomPassword"),
        ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:Deployment"),
        ("eks:index:Cluster", "eks:index:Cluster"),
        ("shop:data:Database", "shop:data:Database"),
    ],
)
def test_type_tokens_are_shown_as_pulumi_shows_them(token: str, shown: str) -> None:
    assert changes.short_type(token) == shown


def test_the_summary_line_is_pulumis() -> None:
    counts = {"create": 3, "update": 2, "replace": 1, "delete": 1, "same": 280}
    assert changes.summary_line(counts) == "+ 3 to create, ~ 2 to update, +-1 to replace, - 1 to delete, 280 unchanged"


def test_values_are_json_and_long_ones_are_elided_to_the_width() -> None:
    diff = Difference("multiAz", False, True, "multiAz")
    assert changes.difference_line(diff, 80) == "~ multiAz: false → true"
    assert changes.difference_line(Difference("tags.Owner", ABSENT, "shop", "tags"), 80) == '+ tags.Owner: "shop"'
    assert changes.difference_line(Difference("port", 5432, ABSENT, "port"), 80) == "- port: 5432"
    long = Difference("body", "x" * 500, "y" * 500, "body")
    line = changes.difference_line(long, 100)
    assert len(line) <= 100 and line.count("…") == 2 and "→" in line


# ---------------------------------------------------------------------------------------------- policies


def _violations(violations: list[policy_run.Violation]) -> list[tuple[str, str]]:
    return sorted((violation.policy, violation.urn) for violation in violations)


def test_a_plan_read_from_json_is_judged_like_the_evaluated_one(staging: Plan) -> None:
    """The base plan comes from JSON (inputs only): with the fake cloud's outputs back, stack policies that link
    resources by id (a record to its distribution, a flow log to its VPC) see what they saw in the evaluated plan."""
    config = policy_run.config_path("staging")
    from_json = changes.with_fake_outputs(Plan.from_json(staging.to_json()), "eu-west-1")
    assert _violations(policy_run.check(from_json, config)[0]) == _violations(policy_run.check(staging, config)[0])
    assert from_json.one(VPC).id == staging.one(VPC).id


def test_the_policy_violations_a_change_introduces_and_resolves(staging: Plan) -> None:
    config = policy_run.config_path("staging")
    regions = ("eu-west-1", "eu-west-1")
    multi_az = plan_for("staging", {"dbMultiAz": True})
    database = staging.one(RDS, "database-postgres").urn
    resolved = changes.policy_delta(Plan.from_json(staging.to_json()), multi_az, regions, config)
    assert (resolved.new, _violations(resolved.resolved)) == ([], [("rds-multi-az", database)])
    introduced = changes.policy_delta(Plan.from_json(multi_az.to_json()), staging, regions, config).to_json()
    assert [(v["policy"], v["urn"], v["enforcement"]) for v in introduced["new"]] == [
        ("rds-multi-az", database, "advisory")
    ]
    assert introduced["resolved"] == []


# ---------------------------------------------------------------------------------------------- unknown values


def test_a_value_echoed_by_a_resource_with_an_unknown_input_is_unknown_to_its_consumers(prod: Plan) -> None:
    """CloudFront takes the certificate's ARN from the certificate validation (which waits for the certificate to be
    issued): a new certificate's ARN reaches the distribution through it."""
    change_set = _compare(prod, plan_for("prod", {"edgeHosts": ["@", "www", "shop"]}))
    distribution = _one(change_set, "aws:cloudfront/distribution:Distribution", "edge-cdn")
    certificate = prod.one("aws:acm/certificate:Certificate", "edge-cdn-certificate")
    path = "viewerCertificate.acmCertificateArn"
    viewer = prod.one("aws:cloudfront/distribution:Distribution", "edge-cdn").inputs["viewerCertificate"]
    arn = viewer["acmCertificateArn"]
    assert arn == certificate.outputs["arn"]
    assert Difference(path, arn, UNKNOWN, path, via="edge-cdn-certificate") in distribution.diffs


def test_secret_inputs_are_looked_into_and_never_shown(prod: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotated generator's new value is unknown to what holds it in a secret input (the stored session key); after
    the origin header's function ran, the origin web ACL's rule accepts the current or the previous value, both
    secret. The differences show masked values, and no secret reaches the text or the JSON."""
    rotations = ("secretsSessionRotation", "secretsAdminTokenRotation")
    rotated = plan_for("prod", dict.fromkeys(rotations, 1))
    change_set = _compare(prod, rotated)
    version = _one(change_set, "aws:secretsmanager/secretVersion:SecretVersion", "secrets-session-value")
    assert version.op == "replace"
    assert Difference("secretString", "[secret]", UNKNOWN, "secretString", via="secrets-session") in version.diffs
    monkeypatch.setitem(aws_data.ROTATED_VALUES, "shop/prod/origin-verify", ("N" * 48, "O" * 48))
    by_function = preview("prod")
    acl = _one(_compare(prod, by_function), "aws:wafv2/webAcl:WebAcl", "edge-origin-acl")
    (either,) = [diff.new for diff in acl.diffs if diff.path == "rules[3].statement.orStatement"]
    assert [match["byteMatchStatement"]["searchString"] for match in either["statements"]] == ["[secret]"] * 2
    shown = ""
    for head in (rotated, by_function):
        shown += changes.render(_compare(prod, head), width=400) + json.dumps(_compare(prod, head).to_json())
    secrets = prod.secret_values | rotated.secret_values | by_function.secret_values
    assert "N" * 48 in by_function.secret_values
    assert [value for value in secrets if value in shown] == []
