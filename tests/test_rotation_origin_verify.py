"""The origin header's rotation function (functions/rotate_generated/origin_verify.py), its four steps against moto:
Secrets Manager, a REGIONAL web ACL with the program's rules (WAFv2, with lock tokens) and a distribution whose
origin sends the header (CloudFront, with ETags; the distribution's status is the test's). Then the plan: the
function and its role, and the edge as the program renders it before and after a rotation."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from shop.observability import Metrics, RequestMiddleware
from shop.secrets import Secrets
from shop.settings import Settings

from components.edge.cdn import LOAD_BALANCER_ORIGIN, ORIGIN_VERIFY_HEADER
from components.edge.edge import THROUGH_CLOUDFRONT_RULE
from components.rotation import FUNCTION_SOURCE
from stacks.offline.engine import preview
from stacks.offline.fakes import aws_data
from stacks.offline.plan import Plan, PlannedResource
from tests.data_layer import ACCOUNT
from tests.edge_plan import distribution, origin_acl, rules
from tests.test_rotation_function import REGION, STEPS, _start_rotation, _value

sys.path.insert(0, str(FUNCTION_SOURCE))  # the archive's layout: its modules import each other by name
origin_verify = importlib.import_module("origin_verify")
rotate = importlib.import_module("rotate")

FIRST = "F" * 48
FUNCTION = "aws:lambda/function:Function"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ACL_NAME = "shop-prod-origin"


def _header_is(value: str) -> dict[str, Any]:
    return {
        "ByteMatchStatement": {
            "FieldToMatch": {"SingleHeader": {"Name": ORIGIN_VERIFY_HEADER.lower()}},
            "PositionalConstraint": "EXACTLY",
            "SearchString": value.encode(),
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
        }
    }


def _visibility(name: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}


class World:
    """The secret, the web ACL and the distribution as a first deploy leaves them."""

    def __init__(self) -> None:
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        self.wafv2 = boto3.client("wafv2", region_name=REGION)
        self.cloudfront = boto3.client("cloudfront", region_name=REGION)
        self.secret_id = self.secrets.create_secret(Name="shop/prod/origin-verify", SecretString=FIRST)["ARN"]
        self.rules = [
            {
                "Name": "AWSManagedRulesCommonRuleSet",
                "Priority": 0,
                "Statement": {
                    "ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}
                },
                "OverrideAction": {"None": {}},
                "VisibilityConfig": _visibility("common"),
            },
            {
                "Name": THROUGH_CLOUDFRONT_RULE,
                "Priority": 1,
                "Statement": _header_is(FIRST),
                "Action": {"Allow": {}},
                "VisibilityConfig": _visibility(THROUGH_CLOUDFRONT_RULE),
            },
        ]
        summary = self.wafv2.create_web_acl(
            Name=ACL_NAME,
            Scope="REGIONAL",
            Description="Requests to the shop's load balancer",
            DefaultAction={"Block": {}},
            Rules=self.rules,
            VisibilityConfig=_visibility("origin"),
        )["Summary"]
        self.acl_id = summary["Id"]
        self.distribution_id = self.cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "shop",
                "Comment": "the shop",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": LOAD_BALANCER_ORIGIN,
                            "DomainName": "origin.shop.example.com",
                            "CustomOriginConfig": {
                                "HTTPPort": 80,
                                "HTTPSPort": 443,
                                "OriginProtocolPolicy": "https-only",
                            },
                            "CustomHeaders": {
                                "Quantity": 1,
                                "Items": [{"HeaderName": ORIGIN_VERIFY_HEADER, "HeaderValue": FIRST}],
                            },
                        }
                    ],
                },
                "DefaultCacheBehavior": {"TargetOriginId": LOAD_BALANCER_ORIGIN, "ViewerProtocolPolicy": "https-only"},
            }
        )["Distribution"]["Id"]
        self.naps: list[float] = []
        #: What GetDistribution answers, one status per look; then ``Deployed`` (moto's distributions are never
        #: ``InProgress`` after an update).
        self.statuses: list[str] = []
        self.cloudfront.meta.events.register("before-call.cloudfront.GetDistribution", self._status)

    def _status(self, **_: Any) -> tuple[Any, dict[str, Any]]:
        status = self.statuses.pop(0) if self.statuses else "Deployed"
        return AWSResponse("", 200, {}, None), {"Distribution": {"Id": self.distribution_id, "Status": status}}

    def edge(self, deadline: float = float("inf")) -> Any:
        return origin_verify.Edge(
            wafv2=self.wafv2,
            cloudfront=self.cloudfront,
            web_acl_name=ACL_NAME,
            web_acl_id=self.acl_id,
            web_acl_scope="REGIONAL",
            rule_name=THROUGH_CLOUDFRONT_RULE,
            distribution_id=self.distribution_id,
            origin_id=LOAD_BALANCER_ORIGIN,
            header=ORIGIN_VERIFY_HEADER,
            deadline=deadline,
            sleep=self.naps.append,
        )

    def run(self, token: str, steps: tuple[str, ...] = STEPS, deadline: float = float("inf")) -> None:
        edge = self.edge(deadline)
        for step in steps:
            event = {"SecretId": self.secret_id, "ClientRequestToken": token, "Step": step}
            origin_verify.handler(event, None, client=self.secrets, edge=edge)

    def acl(self) -> dict[str, Any]:
        return self.wafv2.get_web_acl(Name=ACL_NAME, Scope="REGIONAL", Id=self.acl_id)["WebACL"]

    def accepted(self) -> list[str]:
        (rule,) = [rule for rule in self.acl()["Rules"] if rule["Name"] == THROUGH_CLOUDFRONT_RULE]
        return origin_verify._accepted(rule["Statement"])

    def sent(self) -> str:
        config = self.cloudfront.get_distribution_config(Id=self.distribution_id)["DistributionConfig"]
        (origin,) = config["Origins"]["Items"]
        (header,) = origin["CustomHeaders"]["Items"]
        assert header["HeaderName"] == ORIGIN_VERIFY_HEADER
        return header["HeaderValue"]

    def etag(self) -> str:
        return self.cloudfront.get_distribution_config(Id=self.distribution_id)["ETag"]


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        yield World()


def test_a_rotation_lets_the_origin_accept_the_new_value_before_cloudfront_sends_it(world: World) -> None:
    token = _start_rotation(world.secrets, world.secret_id)
    world.run(token, ("createSecret", "setSecret"))
    pending = world.secrets.get_secret_value(SecretId=world.secret_id, VersionStage="AWSPENDING")["SecretString"]
    assert pending != FIRST and len(pending) == len(FIRST) and pending.isalnum()
    assert world.accepted() == [pending, FIRST], "both values through the rotation"
    assert world.sent() == pending
    world.run(token, ("testSecret", "finishSecret"))
    assert _value(world.secrets, world.secret_id, "AWSCURRENT") == pending
    assert _value(world.secrets, world.secret_id, "AWSPREVIOUS") == FIRST
    # What the program renders after the rotation (current OR previous): a deploy changes nothing.
    assert world.accepted() == [pending, FIRST]


def test_only_the_header_rule_and_the_header_change(world: World) -> None:
    before = world.acl()
    config_before = world.cloudfront.get_distribution_config(Id=world.distribution_id)["DistributionConfig"]
    world.run(_start_rotation(world.secrets, world.secret_id), ("createSecret", "setSecret"))
    after = world.acl()
    assert {k: v for k, v in after.items() if k not in ("Rules", "LockToken")} == {
        k: v for k, v in before.items() if k not in ("Rules", "LockToken")
    }
    assert after["Rules"][0] == before["Rules"][0], "the other rules are sent back as read"
    assert {k: v for k, v in after["Rules"][1].items() if k != "Statement"} == {
        k: v for k, v in before["Rules"][1].items() if k != "Statement"
    }
    config = world.cloudfront.get_distribution_config(Id=world.distribution_id)["DistributionConfig"]
    config["Origins"]["Items"][0]["CustomHeaders"]["Items"][0]["HeaderValue"] = FIRST
    assert config == config_before


def test_a_retried_set_step_changes_nothing(world: World) -> None:
    token = _start_rotation(world.secrets, world.secret_id)
    world.run(token, ("createSecret", "setSecret"))
    lock_token = world.wafv2.get_web_acl(Name=ACL_NAME, Scope="REGIONAL", Id=world.acl_id)["LockToken"]
    etag = world.etag()
    world.run(token, ("setSecret",))  # Secrets Manager retries a step that failed or timed out
    assert world.wafv2.get_web_acl(Name=ACL_NAME, Scope="REGIONAL", Id=world.acl_id)["LockToken"] == lock_token
    assert world.etag() == etag


def test_a_distribution_not_deployed_in_time_fails_the_test_step_and_nothing_is_promoted(world: World) -> None:
    token = _start_rotation(world.secrets, world.secret_id)
    world.run(token, ("createSecret", "setSecret"))
    world.statuses = ["InProgress"]
    with pytest.raises(rotate.RotationError, match="still InProgress"):
        world.run(token, ("testSecret",), deadline=0.0)
    assert _value(world.secrets, world.secret_id, "AWSCURRENT") == FIRST
    assert FIRST in world.accepted(), "the origin still accepts what every edge may still send"


def test_the_test_step_waits_for_the_distribution_to_be_deployed(world: World) -> None:
    token = _start_rotation(world.secrets, world.secret_id)
    world.run(token, ("createSecret", "setSecret"))
    world.statuses = ["InProgress", "InProgress"]
    world.run(token, ("testSecret",))
    assert world.naps == [origin_verify.POLL_SECONDS] * 2 and not world.statuses


def test_a_distribution_put_back_by_a_deploy_fails_the_test_step(world: World) -> None:
    """A deploy in the middle of a rotation renders the current value: the pending one is never promoted."""
    token = _start_rotation(world.secrets, world.secret_id)
    world.run(token, ("createSecret", "setSecret"))
    answer = world.cloudfront.get_distribution_config(Id=world.distribution_id)
    config = answer["DistributionConfig"]
    config["Origins"]["Items"][0]["CustomHeaders"]["Items"][0]["HeaderValue"] = FIRST
    world.cloudfront.update_distribution(DistributionConfig=config, Id=world.distribution_id, IfMatch=answer["ETag"])
    with pytest.raises(rotate.RotationError, match="does not send version"):
        world.run(token, ("testSecret",))
    assert _value(world.secrets, world.secret_id, "AWSCURRENT") == FIRST


def test_a_rotation_after_a_failed_one_keeps_accepting_what_cloudfront_still_sends(world: World) -> None:
    """The failed rotation's distribution update may still be what the edges send: the origin must not drop it
    before the new value is deployed."""
    failed = _start_rotation(world.secrets, world.secret_id)
    world.run(failed, ("createSecret", "setSecret"))
    stuck = world.sent()
    world.statuses = ["InProgress"]
    with pytest.raises(rotate.RotationError):
        world.run(failed, ("testSecret",), deadline=0.0)
    # The recovery: the failed version loses its label, and a new rotation starts.
    world.secrets.update_secret_version_stage(
        SecretId=world.secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=failed
    )
    token = _start_rotation(world.secrets, world.secret_id)
    world.run(token, ("createSecret", "setSecret"))
    pending = world.sent()
    assert world.accepted() == [pending, FIRST, stuck]
    world.run(token, ("setSecret", "testSecret", "finishSecret"))
    assert world.accepted() == [pending, FIRST, stuck], "a retry drops nothing"
    assert _value(world.secrets, world.secret_id, "AWSCURRENT") == pending


def test_the_next_rotation_drops_the_oldest_value(world: World) -> None:
    first_token = _start_rotation(world.secrets, world.secret_id)
    world.run(first_token)
    second = _value(world.secrets, world.secret_id, "AWSCURRENT")
    world.run(_start_rotation(world.secrets, world.secret_id))
    third = _value(world.secrets, world.secret_id, "AWSCURRENT")
    assert world.accepted() == [third, second] and world.sent() == third


def test_the_handler_reads_ids_from_its_environment(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    for name, value in {
        "WEB_ACL_NAME": ACL_NAME,
        "WEB_ACL_ID": world.acl_id,
        "WEB_ACL_SCOPE": "REGIONAL",
        "RULE_NAME": THROUGH_CLOUDFRONT_RULE,
        "DISTRIBUTION_ID": world.distribution_id,
        "ORIGIN_ID": LOAD_BALANCER_ORIGIN,
        "HEADER_NAME": ORIGIN_VERIFY_HEADER,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    token = _start_rotation(world.secrets, world.secret_id)
    for step in ("createSecret", "setSecret"):
        event = {"SecretId": world.secret_id, "ClientRequestToken": token, "Step": step}
        origin_verify.handler(event, Context(), client=world.secrets)
    assert world.sent() != FIRST


# ------------------------------------------------------------------------------------------------ the plan


def _function(plan: Plan) -> PlannedResource:
    return plan.one(FUNCTION, "origin-rotation-function")


def test_the_function_names_what_it_edits_and_holds_no_value(prod: Plan) -> None:
    function = _function(prod)
    acl = origin_acl(prod)
    cdn = distribution(prod)
    assert function.inputs["environment"] == {
        "variables": {
            "WEB_ACL_NAME": acl.inputs["name"],
            "WEB_ACL_ID": acl.id,
            "WEB_ACL_SCOPE": "REGIONAL",
            "RULE_NAME": THROUGH_CLOUDFRONT_RULE,
            "DISTRIBUTION_ID": cdn.id,
            "ORIGIN_ID": LOAD_BALANCER_ORIGIN,
            "HEADER_NAME": ORIGIN_VERIFY_HEADER,
        }
    }
    assert "vpcConfig" not in function.inputs, "public APIs only: it needs no network of the VPC's"
    assert function.inputs["timeout"] == 900, "the test step waits for the distribution to deploy"
    shown = json.dumps(function.to_json())
    assert [value for value in prod.secret_values if value in shown] == []


def test_its_role_may_edit_only_this_web_acl_and_this_distribution(prod: Plan) -> None:
    policy = prod.one("aws:iam/rolePolicy:RolePolicy", "origin-rotation-role-policy").inputs["policy"]
    statements = {statement["Sid"]: statement for statement in json.loads(policy)["Statement"]}
    assert set(statements) == {
        "RotateTheGeneratedSecrets",
        "GenerateValues",
        "UseTheSecretsKeyThroughSecretsManager",
        "WriteItsLogs",
        "AcceptTheHeaderAtTheOrigin",
        "SendTheHeaderFromCloudFront",
    }
    secret = prod.one("aws:secretsmanager/secret:Secret", "secrets-origin-verify").outputs["arn"]
    assert statements["RotateTheGeneratedSecrets"]["Resource"] == [secret]
    waf = statements["AcceptTheHeaderAtTheOrigin"]
    assert (waf["Action"], waf["Resource"]) == (
        ["wafv2:GetWebACL", "wafv2:UpdateWebACL"],
        origin_acl(prod).outputs["arn"],
    )
    cloudfront = statements["SendTheHeaderFromCloudFront"]
    assert cloudfront["Action"] == [
        "cloudfront:GetDistribution",
        "cloudfront:GetDistributionConfig",
        "cloudfront:UpdateDistribution",
    ]
    assert cloudfront["Resource"] == distribution(prod).outputs["arn"]
    assert cloudfront["Resource"].startswith(f"arn:aws:cloudfront::{ACCOUNT}:distribution/")
    # What UpdateWebACL also authorizes against: no IP set, regex pattern set or rule group of the account.
    assert "ipSetReferenceStatement" not in json.dumps(origin_acl(prod).inputs["rules"])
    assert "ruleGroupReferenceStatement" not in json.dumps(origin_acl(prod).inputs["rules"])
    assert "regexPatternSetReferenceStatement" not in json.dumps(origin_acl(prod).inputs["rules"])


def _header_rule(plan: Plan) -> dict[str, Any]:
    return rules(origin_acl(plan))[THROUGH_CLOUDFRONT_RULE]


def test_before_any_rotation_the_origin_accepts_the_one_stored_value(staging: Plan) -> None:
    statement = _header_rule(staging)["statement"]
    assert statement["byteMatchStatement"]["searchString"] == "[secret]"
    (revealed,) = [
        rule for rule in origin_acl(staging).plain_inputs["rules"] if rule["name"] == THROUGH_CLOUDFRONT_RULE
    ]
    stored = staging.one(VERSION, "secrets-origin-verify-value").plain_inputs["secretString"]
    assert revealed["statement"]["byteMatchStatement"]["searchString"] == stored
    (origin, _) = distribution(staging).plain_inputs["origins"]
    assert origin["customHeaders"] == [{"name": ORIGIN_VERIFY_HEADER, "value": stored}]


@pytest.fixture(scope="module")
def after_a_rotation() -> Iterator[Plan]:
    """Staging once its function rotated the header: Secrets Manager holds a current and a previous value."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(aws_data.ROTATED_VALUES, "shop/staging/origin-verify", ("N" * 48, "O" * 48))
        yield preview("staging")


def test_after_a_rotation_cloudfront_sends_the_current_value_and_the_origin_accepts_it_or_the_previous(
    after_a_rotation: Plan,
) -> None:
    """What the function left (tested above): a deploy after a rotation writes back nothing older."""
    (revealed,) = [
        rule for rule in origin_acl(after_a_rotation).plain_inputs["rules"] if rule["name"] == THROUGH_CLOUDFRONT_RULE
    ]
    matches = [s["byteMatchStatement"] for s in revealed["statement"]["orStatement"]["statements"]]
    assert [match["searchString"] for match in matches] == ["N" * 48, "O" * 48]
    assert all(match["fieldToMatch"] == {"singleHeader": {"name": "x-origin-verify"}} for match in matches)
    assert all(match["positionalConstraint"] == "EXACTLY" for match in matches)
    (origin, _) = distribution(after_a_rotation).plain_inputs["origins"]
    assert origin["customHeaders"] == [{"name": ORIGIN_VERIFY_HEADER, "value": "N" * 48}]
    shown = json.dumps([resource.to_json() for resource in after_a_rotation.resources])
    assert "N" * 48 not in shown and "O" * 48 not in shown


def test_the_program_never_writes_the_stored_value_back(prod: Plan) -> None:
    assert prod.one(VERSION, "secrets-origin-verify-value").options["ignoreChanges"] == ["secretString"]


# ------------------------------------------------------------------------------------------------ the shop


def _shop_check(world: World, now: list[float]) -> tuple[Any, Any]:
    """The shop's origin check as deployed: its key ring read from Secrets Manager, in its request middleware."""
    settings = Settings.model_construct(
        session_secret="s" * 32, admin_token="a" * 16, origin_verify_secret_arn=world.secret_id, aws_region=REGION
    )
    ring = Secrets(settings, client=world.secrets, clock=lambda: now[0]).origin_verify
    assert ring is not None
    middleware = RequestMiddleware(
        lambda scope, receive, send: None,  # type: ignore[arg-type]
        metrics=Metrics(),
        headers=[],
        origin_token=ring.ring,
        origin_refresh=ring.arefresh,
    )
    return ring, middleware


def _admitted(middleware: Any, value: str) -> bool:
    scope = {"path": "/api/v1/products", "headers": [(b"x-origin-verify", value.encode())]}
    return asyncio.run(middleware._origin_allowed(scope))


def test_the_shop_admits_what_cloudfront_sends_through_a_rotation(world: World) -> None:
    now = [0.0]
    ring, middleware = _shop_check(world, now)
    assert _admitted(middleware, FIRST) and not _admitted(middleware, "X" * 48)
    token = _start_rotation(world.secrets, world.secret_id)
    world.run(token, ("createSecret", "setSecret"))
    pending = world.sent()
    now[0] += 60  # past the re-read rate limit
    assert _admitted(middleware, pending), "the edges that already send the pending value"
    assert _admitted(middleware, FIRST), "the edges that do not yet"
    world.run(token, ("testSecret", "finishSecret"))
    now[0] += 60
    ring.refresh()
    # (moto answers a read without a stage with the first version, not AWSCURRENT: the order is not checked here.)
    assert set(ring.ring()) == {pending, FIRST}
    assert _admitted(middleware, pending) and _admitted(middleware, FIRST)
    assert not _admitted(middleware, "X" * 48)
