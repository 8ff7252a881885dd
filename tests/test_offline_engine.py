"""The offline preview engine: faithful recording, deterministic plans, config handling, realistic fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi import AssetArchive, FileAsset, StringAsset
from pulumi.runtime import MockCallArgs

from stacks.offline.engine import load_config, preview
from stacks.offline.fakes import FakeCloud, MissingFake
from stacks.offline.plan import SECRET, SIG_KEY, UNKNOWN, Plan, normalise, secret

P = "shop-platform"


def test_urns_use_the_engines_format(prod: Plan) -> None:
    subnet = prod.one("aws:ec2/subnet:Subnet", "network-private-1")
    assert subnet.urn == "urn:pulumi:prod::shop-platform::shop:network:Network$aws:ec2/subnet:Subnet::network-private-1"
    assert subnet.parent == "urn:pulumi:prod::shop-platform::shop:network:Network::network"
    policy = prod.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs-role-policy")
    assert "shop:network:Network$aws:iam/role:Role$aws:iam/rolePolicy:RolePolicy::" in policy.urn


def test_components_children_and_dependencies_are_recorded(prod: Plan) -> None:
    network = prod.one("shop:network:Network")
    assert not network.custom
    vpc = prod.one("aws:ec2/vpc:Vpc")
    assert vpc in prod.children(network)
    assert vpc.urn in prod.one("aws:ec2/subnet:Subnet", "network-data-1").dependencies


def test_options_are_recorded(prod: Plan, staging: Plan) -> None:
    assert prod.one("aws:kms/key:Key", "data-key").options["protect"] is True
    assert staging.one("aws:kms/key:Key", "data-key").options["protect"] is False


def test_plans_are_deterministic(staging: Plan) -> None:
    again = preview("staging")
    assert json.dumps(again.to_json()) == json.dumps(staging.to_json())


def test_normalise_masks_secrets_and_makes_integral_numbers_ints() -> None:
    wire = {"b": 3.0, "a": [1.5, secret("hunter2")], "c": {"d": secret({"x": 1})}}
    assert normalise(wire) == {"a": [1.5, SECRET], "b": 3, "c": {"d": SECRET}}
    assert list(normalise(wire)) == ["a", "b", "c"], "keys are sorted for stable plans"


def test_normalise_gives_assets_as_their_wire_fields_on_the_wire_and_as_objects() -> None:
    wire = {SIG_KEY: "c44067f5952c0a294b673a41bacd8c17", "path": "app/shop/static/shop.css"}
    assert normalise(wire) == normalise(FileAsset("app/shop/static/shop.css")) == {"path": "app/shop/static/shop.css"}
    archive = normalise(AssetArchive({"a.txt": StringAsset("a")}))
    assert json.loads(json.dumps(archive)) == {"assets": {"a.txt": {"text": "a"}}}


def test_config_is_passed_as_the_cli_would(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nruntime: python\nconfig:\n"
        "  size: {type: integer, default: 3}\n  flag: {type: boolean, default: true}\n"
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  demo:list: [a, b]\n  demo:flag: false\n"
        "  demo:password:\n    secure: AAABAC==\n"
    )
    project, config, secret_keys = load_config("dev", tmp_path)
    assert project == "demo"
    assert config["demo:size"] == "3", "Pulumi.yaml defaults apply"
    assert config["demo:flag"] == "false", "stack values win, booleans as the CLI writes them"
    assert config["demo:list"] == '["a", "b"]', "structured values arrive as JSON"
    assert secret_keys == ["demo:password"]
    assert config["demo:password"] != "AAABAC==", "ciphertext is replaced by a placeholder"


def test_overrides_vary_one_setting() -> None:
    _, config, _ = load_config("staging", overrides={f"{P}:vpcAzCount": 3, f"{P}:vpcFlowLogRetentionDays": None})
    assert config[f"{P}:vpcAzCount"] == "3"
    assert config[f"{P}:vpcFlowLogRetentionDays"] == "365", "None falls back to the Pulumi.yaml default"


def test_invokes_without_a_fake_fail_loudly() -> None:
    with pytest.raises(MissingFake, match="aws:ec2/getAmi:getAmi"):
        FakeCloud(region="eu-west-1").call(MockCallArgs("aws:ec2/getAmi:getAmi", {}, ""))


def test_invokes_answer_in_the_providers_shape() -> None:
    cloud = FakeCloud(region="eu-west-1")
    zones = cloud.call(MockCallArgs("aws:index/getAvailabilityZones:getAvailabilityZones", {}, ""))
    assert zones["names"][:3] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert zones["zoneIds"][0] == "euw1-az1"
    identity = cloud.call(MockCallArgs("aws:index/getCallerIdentity:getCallerIdentity", {}, ""))
    assert identity["accountId"] == "123456789012"


def test_computed_outputs_look_like_the_real_providers(prod: Plan) -> None:
    vpc = prod.one("aws:ec2/vpc:Vpc")
    assert vpc.id.startswith("vpc-0") and len(vpc.id) == len("vpc-0123456789abcdef0")
    key = prod.one("aws:kms/key:Key", "logs-key")
    assert key.outputs["arn"] == f"arn:aws:kms:eu-west-1:123456789012:key/{key.id}"
    group = prod.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group.outputs["arn"] == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/shop-prod-vpc/flow-logs"


@pytest.fixture(scope="module")
def prod_at_preview() -> Plan:
    return preview("prod", as_preview=True)


def test_a_preview_run_leaves_the_outputs_of_resources_to_create_unknown(prod: Plan, prod_at_preview: Plan) -> None:
    """As `pulumi preview` of a new stack: ids and computed outputs are unknown, inputs that depend on them too."""
    bucket = prod_at_preview.one("aws:s3/bucket:Bucket", "storage-assets")
    assert bucket.id == ""
    assert bucket.outputs["arn"] == UNKNOWN
    assert bucket.outputs["bucket"] == prod.one("aws:s3/bucket:Bucket", "storage-assets").inputs["bucket"]
    versioning = prod_at_preview.one("aws:s3/bucketVersioning:BucketVersioning", "storage-assets-versioning")
    assert versioning.inputs["bucket"] == UNKNOWN
    # The default run is `pulumi up`'s view: every value known.
    assert prod.one("aws:s3/bucket:Bucket", "storage-assets").outputs["arn"].startswith("arn:aws:s3:::")


def test_property_dependencies_are_recorded(prod_at_preview: Plan) -> None:
    bucket = prod_at_preview.one("aws:s3/bucket:Bucket", "storage-assets")
    versioning = prod_at_preview.one("aws:s3/bucketVersioning:BucketVersioning", "storage-assets-versioning")
    assert versioning.property_dependencies["bucket"] == [bucket.urn]
