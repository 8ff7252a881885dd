"""The CI/CD bootstrap (bootstrap/), evaluated offline: GitHub OIDC and its roles, the registry, the state backend
(issue 9, item 5), and how they fit the workflows and the platform stacks they serve."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci import release
from components import deploy_access, image_registry
from stacks.__main__ import main as stacks_cli
from stacks.offline.engine import preview
from stacks.offline.plan import Plan, PlannedResource
from stacks.offline.policy_run import check
from stacks.settings import SettingsError
from tests.cicd import ROOT, all_jobs, jobs, steps, uses

BOOTSTRAP_DIR = ROOT / "bootstrap"
STACK = "ci"
PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
#: IAM service prefixes of resource types whose Pulumi module is named otherwise.
IAM_SERVICE_OF_TYPE = {
    "aws:cloudwatch/logGroup:LogGroup": "logs",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "logs",
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": "logs",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": "logs",
}
IAM_SERVICE_OF_MODULE = {"vpc": "ec2", "lb": "elasticloadbalancing", "alb": "elasticloadbalancing"}


@pytest.fixture(scope="session")
def on_pulumi_cloud() -> Plan:
    """A team on Pulumi Cloud, in an account that already has GitHub's OIDC provider."""
    overrides = {"shop-bootstrap:stateBucket": False, "shop-bootstrap:githubOidcProviderArn": PROVIDER_ARN}
    return preview(STACK, project_dir=BOOTSTRAP_DIR, overrides=overrides)


def _role(plan: Plan, purpose: str) -> PlannedResource:
    return plan.one(ROLE, f"github-{purpose}")


def _trust(plan: Plan, purpose: str) -> dict[str, Any]:
    return json.loads(_role(plan, purpose).inputs["assumeRolePolicy"])


def _statements(plan: Plan, purpose: str) -> list[dict[str, Any]]:
    return json.loads(plan.one(ROLE_POLICY, f"github-{purpose}-policy").inputs["policy"])["Statement"]


def _statement(plan: Plan, purpose: str, sid: str) -> dict[str, Any]:
    return next(s for s in _statements(plan, purpose) if s["Sid"] == sid)


def _allowed_actions(plan: Plan, purpose: str) -> set[str]:
    return {action for s in _statements(plan, purpose) if s["Effect"] == "Allow" for action in _list(s["Action"])}


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _purposes(plan: Plan) -> Iterator[str]:
    for role in plan.of_type(ROLE):
        yield role.name.removeprefix("github-")


def _arn(plan: Plan, type_: str, name: str) -> str:
    return plan.one(type_, name).outputs["arn"]


# ------------------------------------------------------------------------------------------------ OIDC and trust


def test_github_oidc_provider_is_for_sts_and_protected(bootstrap: Plan) -> None:
    provider = bootstrap.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider.options["protect"] is True


def test_an_existing_oidc_provider_is_reused(on_pulumi_cloud: Plan) -> None:
    assert on_pulumi_cloud.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert _trust(on_pulumi_cloud, "deploy-prod")["Statement"][0]["Principal"] == {"Federated": PROVIDER_ARN}


def test_deploy_sessions_outlast_the_deploy_jobs_that_use_them(bootstrap: Plan) -> None:
    durations = {}
    for _, job_id, job in all_jobs():
        for step in steps(job):
            if uses(step) == "aws-actions/configure-aws-credentials":
                durations[job_id] = int(step["with"].get("role-duration-seconds", 3600))
    assert _role(bootstrap, "deploy-prod").inputs["maxSessionDuration"] >= durations["deploy-prod"] == 10800
    # A rollback at the end of the prod job still has credentials.
    assert durations["deploy-prod"] >= jobs("deploy.yml")["deploy-prod"]["timeout-minutes"] * 60
    assert _role(bootstrap, "deploy-staging").inputs["maxSessionDuration"] >= durations["deploy-staging"]
    assert _role(bootstrap, "preview-prod").inputs["maxSessionDuration"] >= durations["cloud-preview"]
    assert _role(bootstrap, "publisher").inputs["maxSessionDuration"] >= durations["image"]


# ------------------------------------------------------------------------------------------------ least privilege


def test_no_role_may_do_everything_or_use_wildcards_beyond_what_aws_requires(bootstrap: Plan) -> None:
    unscoped_ok = {"ecr:GetAuthorizationToken", "cloudwatch:DescribeAlarms"}
    for purpose in _purposes(bootstrap):
        for statement in _statements(bootstrap, purpose):
            actions = _list(statement.get("Action", []))
            assert "*" not in actions, f"{purpose}: {statement['Sid']}"
            if statement["Effect"] != "Allow" or statement["Resource"] != "*":
                continue
            regional = statement.get("Condition", {}).get("StringEquals", {}).get("aws:RequestedRegion")
            assert regional or set(actions) <= unscoped_ok, f"{purpose}: {statement['Sid']} allows {actions} on *"
            assert not {"iam:*", "s3:*", "sts:*"} & set(actions), f"{purpose}: {statement['Sid']}"


def test_every_policy_fits_iams_size_limits(bootstrap: Plan) -> None:
    # IAM counts characters without whitespace: 10,240 for a role's inline policies, 2,048 for a trust policy.
    for purpose in _purposes(bootstrap):
        inline = bootstrap.one(ROLE_POLICY, f"github-{purpose}-policy").inputs["policy"]
        assert len(re.sub(r"\s", "", inline)) < 10_240, purpose
        assert len(re.sub(r"\s", "", _role(bootstrap, purpose).inputs["assumeRolePolicy"])) < 2_048, purpose


def test_roles_act_only_in_the_platform_region_and_us_east_1(bootstrap: Plan, staging: Plan, prod: Plan) -> None:
    expected = ["eu-west-1", "us-east-1"]
    for purpose in ("deploy-prod", "preview-staging"):
        regional = [s for s in _statements(bootstrap, purpose) if "aws:RequestedRegion" in json.dumps(s)]
        assert regional and all(s["Condition"]["StringEquals"]["aws:RequestedRegion"] == expected for s in regional)
    for plan in (staging, prod):
        config = yaml.safe_load((ROOT / f"Pulumi.{plan.stack}.yaml").read_text())["config"]
        assert config["aws:region"] in expected, f"{plan.stack} deploys where its role may not act"


def test_deploy_roles_may_manage_every_service_the_platform_uses(staging: Plan, prod: Plan) -> None:
    granted = set(deploy_access.PLATFORM_SERVICES) | {"iam", "s3"}  # iam and s3: their own, narrower statements
    used = set()
    for plan in (staging, prod):
        for resource in plan.resources:
            if resource.type.startswith("aws:") and resource.custom:
                module = resource.type.split(":")[1].split("/")[0]
                used.add(IAM_SERVICE_OF_TYPE.get(resource.type) or IAM_SERVICE_OF_MODULE.get(module, module))
    assert used <= granted, f"add to deploy_access.PLATFORM_SERVICES (and PREVIEW_READ_ACTIONS): {used - granted}"
    read = {action.split(":")[0] for action in deploy_access.PREVIEW_READ_ACTIONS}
    assert set(deploy_access.PLATFORM_SERVICES) <= read, "previews must be able to read every managed service"


def test_deploy_roles_reach_only_their_own_stacks_buckets_and_state(bootstrap: Plan, staging: Plan, prod: Plan) -> None:
    state_bucket = _arn(bootstrap, "aws:s3/bucket:Bucket", "state-bucket")
    for plan in (staging, prod):
        stack, other = plan.stack, "prod" if plan.stack == "staging" else "staging"
        buckets = _statement(bootstrap, f"deploy-{stack}", "ManageStackBuckets")
        assert buckets["Resource"] == [f"arn:aws:s3:::shop-{stack}-*", f"arn:aws:s3:::shop-{stack}-*/*"]
        for bucket in plan.of_type("aws:s3/bucket:Bucket"):
            assert bucket.inputs["bucket"].startswith(f"shop-{stack}-"), "the deploy role could not manage it"
        state = _statement(bootstrap, f"deploy-{stack}", "OwnStackState")
        assert f"{state_bucket}/.pulumi/stacks/shop-platform/{stack}.json*" in state["Resource"]
        assert f"{state_bucket}/.pulumi/locks/organization/shop-platform/{stack}/*" in state["Resource"]
        assert not [arn for arn in state["Resource"] if f"/{other}" in arn]
        s3_resources = [
            r for s in _statements(bootstrap, f"deploy-{stack}") for r in _list(s["Resource"]) if ":s3:" in r
        ]
        assert all(r.startswith((f"arn:aws:s3:::shop-{stack}-", state_bucket)) for r in s3_resources)


def _permits(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    region: str,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether ``action`` on ``resource`` in ``region`` is allowed: an Allow applies and no Deny does.

    A statement applies when its Action (or everything but its NotAction, IAM's case-insensitive wildcards) and its
    Resource match and its Condition holds for the request: ``aws:RequestedRegion`` is ``region``, other keys come
    from ``context`` (e.g. ``iam:PermissionsBoundary``, absent when the request sets none). Only ``StringEquals`` and
    ``StringNotEquals`` are evaluated: an Allow under any other operator never counts, a Deny under one always does
    (the safe readings)."""
    request = {"aws:requestedregion": region, **{key.lower(): value for key, value in (context or {}).items()}}

    def holds(condition: dict[str, Any], effect: str) -> bool:
        for operator, tests in condition.items():
            if operator not in ("StringEquals", "StringNotEquals"):
                return effect == "Deny"
            for key, values in tests.items():
                if (request.get(key.lower()) in _list(values)) is (operator == "StringNotEquals"):
                    return False
        return True

    def applies(statement: dict[str, Any]) -> bool:
        if "Action" in statement:
            acts = any(fnmatchcase(action.lower(), a.lower()) for a in _list(statement["Action"]))
        else:
            acts = not any(fnmatchcase(action.lower(), a.lower()) for a in _list(statement["NotAction"]))
        on = any(fnmatchcase(resource, r) for r in _list(statement["Resource"]))
        return acts and on and holds(statement.get("Condition", {}), statement["Effect"])

    effects = [s["Effect"] for s in statements if applies(s)]
    return "Allow" in effects and "Deny" not in effects


def test_the_permission_check_reads_conditions_and_denies() -> None:
    """The helper the tests below rely on: it must be able to say no."""
    boundary = "arn:aws:iam::123456789012:policy/shop-prod-workload-boundary"
    statements = [
        _allow("Bounded", ["iam:CreateRole"], "arn:aws:iam::1:role/x/*", {"iam:PermissionsBoundary": boundary}),
        _allow("Anywhere", ["s3:*"], "*", {"aws:RequestedRegion": ["eu-west-1"]}),
        _allow("Other", ["ec2:*"], "*", None, "StringLike"),
        {"Effect": "Deny", "NotAction": ["s3:Get*"], "Resource": "arn:aws:s3:::locked/*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/a": "b"}},
        },
    ]
    role = "arn:aws:iam::1:role/x/y"
    assert _permits(statements[:1], "iam:CreateRole", role, "us-east-1", {"iam:PermissionsBoundary": boundary})
    assert not _permits(statements[:1], "iam:CreateRole", role, "us-east-1", {"iam:PermissionsBoundary": "other"})
    assert not _permits(statements[:1], "iam:CreateRole", role, "us-east-1")
    assert _permits(statements[1:2], "s3:PutObject", "arn:aws:s3:::b/k", "eu-west-1")
    assert not _permits(statements[1:2], "s3:PutObject", "arn:aws:s3:::b/k", "us-east-1")
    assert not _permits(statements[2:3], "ec2:RunInstances", "*", "eu-west-1")
    assert _permits(statements[1:4], "s3:GetObject", "arn:aws:s3:::locked/k", "eu-west-1")
    assert not _permits(statements[1:4], "s3:PutObject", "arn:aws:s3:::locked/k", "eu-west-1")
    assert not _permits(statements[1:5], "s3:GetObject", "arn:aws:s3:::b/k", "eu-west-1")
    tagged = {"aws:PrincipalTag/a": "b"}
    assert _permits([statements[1], statements[5]], "s3:GetObject", "arn:aws:s3:::b/k", "eu-west-1", tagged)
    assert not _permits([statements[1], statements[5]], "s3:GetObject", "arn:aws:s3:::b/k", "eu-west-1")


def _allow(
    sid: str, actions: list[str], resource: str, condition: dict[str, Any] | None, operator: str = "StringEquals"
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}
    if condition is not None:
        statement["Condition"] = {operator: condition}
    elif operator != "StringEquals":
        statement["Condition"] = {operator: {"aws:ResourceTag/x": "*"}}
    return statement


def test_deploy_roles_may_upload_the_shops_static_files(bootstrap: Plan, staging: Plan, prod: Plan) -> None:
    """`pulumi up` writes each static file tagged and SSE-KMS encrypted with the data key, and reads it back."""
    for plan in (staging, prod):
        statements = _statements(bootstrap, f"deploy-{plan.stack}")
        data_key = _arn(plan, "aws:kms/key:Key", "data-key")
        region = data_key.split(":")[3]
        uploads = plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        assert uploads
        for upload in uploads:
            assert upload.inputs["kmsKeyId"] == data_key
            arn = f"arn:aws:s3:::{upload.inputs['bucket']}/{upload.inputs['key']}"
            for action in ("s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:GetObjectTagging"):
                assert _permits(statements, action, arn, region), f"deploy-{plan.stack}: {action} on {arn}"
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert _permits(statements, action, data_key, region), f"deploy-{plan.stack}: {action} on {data_key}"


def test_deploy_roles_can_never_change_the_delivery_foundation(bootstrap: Plan) -> None:
    names = ("registry-key", "state-key", "state-staging-secrets-key", "state-prod-secrets-key")
    keys = sorted(_arn(bootstrap, "aws:kms/key:Key", name) for name in names)
    for stack in ("staging", "prod"):
        roles = _statement(bootstrap, f"deploy-{stack}", "NeverChangeTheDeliveryRoles")
        assert roles["Effect"] == "Deny" and roles["Action"] == "iam:*"
        assert roles["Resource"] == ["arn:aws:iam::123456789012:role/shop-ci-*", PROVIDER_ARN]
        assert all(role.inputs["name"].startswith("shop-ci-") for role in bootstrap.of_type(ROLE))
        key_admin = _statement(bootstrap, f"deploy-{stack}", "NeverAdministerTheDeliveryKeys")
        assert key_admin["Effect"] == "Deny" and "kms:ScheduleKeyDeletion" not in key_admin["NotAction"]
        assert sorted(key_admin["Resource"]) == keys


def test_only_the_image_publisher_pushes_and_only_protected_stacks_keep_releases(bootstrap: Plan) -> None:
    repository = _arn(bootstrap, "aws:ecr/repository:Repository", "registry-repository")
    push = _statement(bootstrap, "publisher", "PushShopImage")
    assert push["Resource"] == repository and "ecr:PutImage" in push["Action"]
    assert _allowed_actions(bootstrap, "publisher") == {"ecr:GetAuthorizationToken", *deploy_access.IMAGE_PUSH_ACTIONS}
    assert _statement(bootstrap, "deploy-prod", "KeepReleasedImage")["Resource"] == repository
    assert "ecr:PutImage" not in _allowed_actions(bootstrap, "deploy-staging")


def test_previews_read_configuration_and_their_own_state_but_no_data_or_writes(bootstrap: Plan) -> None:
    writes = re.compile(r":(Create|Put|Delete|Update|Attach|Detach|Tag|Untag|Modify|Pass|Schedule|Encrypt|Generate)")
    for stack in ("staging", "prod"):
        actions = _allowed_actions(bootstrap, f"preview-{stack}")
        assert not [a for a in actions if writes.search(a)], f"preview-{stack} may write"
        assert "secretsmanager:GetSecretValue" not in actions and "ssm:GetParameter" not in actions
        reads = [s for s in _statements(bootstrap, f"preview-{stack}") if "s3:GetObject" in _list(s["Action"])]
        assert all(".pulumi/" in resource for s in reads for resource in _list(s["Resource"]))
        decrypt = [s for s in _statements(bootstrap, f"preview-{stack}") if "kms:Decrypt" in _list(s["Action"])]
        assert [s["Resource"] for s in decrypt] == [
            _arn(bootstrap, "aws:kms/key:Key", "state-key"),  # only through S3
            _arn(bootstrap, "aws:kms/key:Key", f"state-{stack}-secrets-key"),
        ]


S3 = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}


@pytest.mark.parametrize("kind", ["deploy", "preview"])
def test_each_role_decrypts_only_its_own_stacks_secrets_and_the_state_key_only_through_s3(
    bootstrap: Plan, kind: str
) -> None:
    """The stacks share the state key (S3 encryption of their state objects) but not a secrets provider: staging's
    preview role, which runs pull request code without a reviewer, cannot decrypt prod's secret config."""
    state_key = _arn(bootstrap, "aws:kms/key:Key", "state-key")
    for stack, other in (("staging", "prod"), ("prod", "staging")):
        statements = _statements(bootstrap, f"{kind}-{stack}")
        own = _arn(bootstrap, "aws:kms/key:Key", f"state-{stack}-secrets-key")
        foreign = _arn(bootstrap, "aws:kms/key:Key", f"state-{other}-secrets-key")
        assert _permits(statements, "kms:Decrypt", own, "eu-west-1"), f"{kind}-{stack}"
        assert _permits(statements, "kms:Encrypt", own, "eu-west-1") is (kind == "deploy"), f"{kind}-{stack}"
        for action in ("kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:PutKeyPolicy"):
            assert not _permits(statements, action, foreign, "eu-west-1"), f"{kind}-{stack}: {action} on {other}'s"
        assert _permits(statements, "kms:Decrypt", state_key, "eu-west-1", S3), f"{kind}-{stack}"
        assert not _permits(statements, "kms:Decrypt", state_key, "eu-west-1"), f"{kind}-{stack}: not through S3"


def test_each_stack_has_its_own_rotating_protected_secrets_provider(bootstrap: Plan) -> None:
    assert bootstrap.outputs["secretsProviderUrls"] == {
        "staging": "awskms://alias/shop-ci-staging-pulumi-secrets?region=eu-west-1",
        "prod": "awskms://alias/shop-ci-prod-pulumi-secrets?region=eu-west-1",
    }
    for stack in ("staging", "prod"):
        key = bootstrap.one("aws:kms/key:Key", f"state-{stack}-secrets-key")
        assert key.inputs["enableKeyRotation"] is True and key.options["protect"] is True
        alias = bootstrap.one("aws:kms/alias:Alias", f"state-{stack}-secrets-key-alias")
        assert alias.inputs["name"] == f"alias/shop-ci-{stack}-pulumi-secrets"
        (root,) = json.loads(key.inputs["policy"])["Statement"]
        assert root["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


def test_no_name_of_the_bootstrap_is_taken_by_a_stack_in_the_same_account(
    bootstrap: Plan, staging: Plan, prod: Plan
) -> None:
    """KMS aliases, roles and policies are unique per account (and region): a stack creating one the bootstrap
    already has fails its first `pulumi up`."""
    named = {"aws:kms/alias:Alias", "aws:iam/role:Role", "aws:iam/policy:Policy"}

    def names(plan: Plan) -> set[str]:
        return {str(r.inputs["name"]) for r in plan.resources if r.type in named and "name" in r.inputs}

    assert names(bootstrap) and names(prod)
    assert not names(bootstrap) & (names(staging) | names(prod))


# ------------------------------------------------------------------------------------------------ workload boundaries

POLICY = "aws:iam/policy:Policy"
#: Every role write IAM can condition on ``iam:PermissionsBoundary`` (Service Authorization Reference), literally.
ROLE_WRITES_NEEDING_THE_BOUNDARY = {
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
}


def _boundary(plan: Plan, stack: str) -> PlannedResource:
    return plan.one(POLICY, f"github-{stack}-workload-boundary")


def _boundary_statements(plan: Plan, stack: str) -> list[dict[str, Any]]:
    return json.loads(_boundary(plan, stack).inputs["policy"])["Statement"]


def test_each_stack_has_a_protected_boundary_whose_arn_its_roles_carry(
    bootstrap: Plan, staging: Plan, prod: Plan
) -> None:
    for plan in (staging, prod):
        boundary = _boundary(bootstrap, plan.stack)
        assert boundary.inputs["name"] == f"shop-{plan.stack}-workload-boundary" and boundary.inputs["path"] == "/"
        assert boundary.options["protect"] is True
        assert {role.inputs["permissionsBoundary"] for role in plan.of_type(ROLE)} == {boundary.outputs["arn"]}
    assert len(bootstrap.of_type(POLICY)) == 2


@pytest.mark.parametrize(
    ("action", "resource", "allowed"),
    [
        ("s3:GetObject", "arn:aws:s3:::shop-prod-assets-123456789012/media/a.png", True),
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", True),
        ("iam:GetRole", "arn:aws:iam::123456789012:role/shop/prod/x", True),
        ("iam:CreateServiceLinkedRole", "arn:aws:iam::123456789012:role/aws-service-role/x", True),
        ("ecr:BatchGetImage", "arn:aws:ecr:eu-west-1:123456789012:repository/shop/app", True),
        ("iam:CreateRole", "arn:aws:iam::123456789012:role/escalate", False),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/shop/prod/x", False),
        ("iam:PutRolePolicy", "arn:aws:iam::123456789012:role/shop-ci-deploy-prod", False),
        ("iam:UpdateAssumeRolePolicy", "arn:aws:iam::123456789012:role/admin", False),
        ("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/shop-prod-workload-boundary", False),
        ("ecr:PutImage", "arn:aws:ecr:eu-west-1:123456789012:repository/shop/app", False),
        ("ecr:SetRepositoryPolicy", "arn:aws:ecr:eu-west-1:123456789012:repository/shop/app", False),
        ("ecr:BatchDeleteImage", "arn:aws:ecr:eu-west-1:123456789012:repository/shop/app", False),
        # An allow-list: no way into IAM through another service, nor around the registry's repository scope.
        ("sts:AssumeRole", "arn:aws:iam::123456789012:role/admin", False),
        ("cloudformation:CreateStack", "arn:aws:cloudformation:eu-west-1:123456789012:stack/x/1", False),
        ("lambda:UpdateFunctionCode", "arn:aws:lambda:eu-west-1:123456789012:function:x", False),
        ("ssm:SendCommand", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1", False),
        ("ec2:RunInstances", "arn:aws:ec2:eu-west-1:123456789012:instance/*", False),
        ("organizations:LeaveOrganization", "*", False),
        ("sso:CreatePermissionSet", "*", False),
        ("ecr:PutRegistryPolicy", "*", False),
        ("ecr:PutReplicationConfiguration", "*", False),
        ("ecr:CreatePullThroughCacheRule", "*", False),
        ("ecr:PutRegistryScanningConfiguration", "*", False),
        ("ecr:GetDownloadUrlForLayer", "arn:aws:ecr:eu-west-1:123456789012:repository/shop/app", True),
        ("ec2:DescribeSubnets", "*", True),
    ],
)
def test_the_boundary_caps_a_workload_below_iam_and_the_delivery_foundation(
    bootstrap: Plan, action: str, resource: str, allowed: bool
) -> None:
    """What a role carrying the boundary could do at most, whatever its own policies grant."""
    for stack in ("staging", "prod"):
        assert _permits(_boundary_statements(bootstrap, stack), action, resource, "eu-west-1") is allowed, stack


def test_the_boundary_keeps_workloads_off_the_state_and_the_delivery_keys(bootstrap: Plan) -> None:
    state = _arn(bootstrap, "aws:s3/bucket:Bucket", "state-bucket")
    state_logs = _arn(bootstrap, "aws:s3/bucket:Bucket", "state-access-logs")
    assert state_logs == "arn:aws:s3:::shop-ci-state-logs-123456789012"
    state_key = _arn(bootstrap, "aws:kms/key:Key", "state-key")
    registry_key = _arn(bootstrap, "aws:kms/key:Key", "registry-key")
    for stack in ("staging", "prod"):
        statements = _boundary_statements(bootstrap, stack)
        for action, resource in [
            ("s3:GetObject", f"{state}/.pulumi/stacks/shop-platform/prod.json"),
            ("s3:ListBucket", state),
            ("s3:GetObject", f"{state_logs}/state/2024-01-01-00-00-00-0123456789ABCDEF"),
            ("s3:ListBucket", state_logs),
            ("kms:Decrypt", state_key),
            ("kms:Decrypt", _arn(bootstrap, "aws:kms/key:Key", "state-staging-secrets-key")),
            ("kms:Decrypt", _arn(bootstrap, "aws:kms/key:Key", "state-prod-secrets-key")),
            ("kms:PutKeyPolicy", registry_key),
            ("kms:ScheduleKeyDeletion", registry_key),
        ]:
            assert not _permits(statements, action, resource, "eu-west-1"), f"{stack}: {action} on {resource}"
        assert _permits(statements, "kms:Decrypt", registry_key, "eu-west-1")  # pulling images


def _inline_actions(plan: Plan) -> dict[str, set[str]]:
    """Every action an inline policy of one of the plan's roles allows, with the policies that allow it."""
    used: dict[str, set[str]] = {}
    for policy in plan.of_type(ROLE_POLICY):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            assert "NotAction" not in statement, f"{policy.name}: a role policy lists its actions"
            for action in _list(statement["Action"]):
                used.setdefault(action, set()).add(policy.name)
    return used


def _matches(action: str, patterns: list[str]) -> bool:
    """IAM's action matching: case-insensitive, ``*`` and ``?`` wildcards."""
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def test_the_boundary_allows_every_action_the_platforms_roles_use(bootstrap: Plan, staging: Plan, prod: Plan) -> None:
    """A boundary only caps, so a role permission it lacks fails at run time: extend WORKLOAD_BOUNDARY_ACTIONS."""
    for plan in (staging, prod):
        used = _inline_actions(plan)
        assert len(used) > 50, "the plan's role policies were found"
        (allow,) = [s for s in _boundary_statements(bootstrap, plan.stack) if s["Effect"] == "Allow"]
        missing = {action: policies for action, policies in used.items() if not _matches(action, allow["Action"])}
        assert not missing, f"{plan.stack}: add to deploy_access.WORKLOAD_BOUNDARY_ACTIONS: {missing}"


def test_the_boundary_is_an_allow_list_without_a_way_into_iam(bootstrap: Plan) -> None:
    for stack in ("staging", "prod"):
        statements = _boundary_statements(bootstrap, stack)
        (allow,) = [s for s in statements if s["Effect"] == "Allow"]
        assert allow == {
            "Sid": "OnlyWhatThePlatformsRolesUse",
            "Effect": "Allow",
            "Action": list(deploy_access.WORKLOAD_BOUNDARY_ACTIONS),
            "Resource": "*",
        }
        assert not [s for s in statements if "NotAction" in s and s["Effect"] == "Allow"]
        actions = allow["Action"]
        wildcards = {a for a in actions if "*" in a}  # read families and KMS variants; no whole service
        assert wildcards == {
            "autoscaling:Describe*",
            "ec2:Describe*",
            "elasticloadbalancing:Describe*",
            "iam:Get*",
            "iam:List*",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
        }
        services = {a.split(":")[0] for a in actions}
        assert not services & {"sts", "cloudformation", "lambda", "ssm", "organizations", "sso", "codebuild"}
        assert {a for a in actions if a.startswith("iam:")} == {"iam:Get*", "iam:List*", "iam:CreateServiceLinkedRole"}
        ecr = {a for a in actions if a.startswith("ecr:")}
        assert ecr == {
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetAuthorizationToken",
            "ecr:GetDownloadUrlForLayer",
        }


def test_the_boundary_fits_iams_managed_policy_size_limit(bootstrap: Plan, on_pulumi_cloud: Plan) -> None:
    # IAM counts a managed policy's characters without whitespace: at most 6,144.
    for plan in (bootstrap, on_pulumi_cloud):
        for stack in ("staging", "prod"):
            document = _boundary(plan, stack).inputs["policy"]
            assert len(re.sub(r"\s", "", document)) <= 6_144, stack


def test_without_a_state_backend_the_boundary_still_guards_the_registry(on_pulumi_cloud: Plan) -> None:
    sids = {statement["Sid"] for statement in _boundary_statements(on_pulumi_cloud, "prod")}
    assert {"NeverChangeTheRegistry", "NeverAdministerTheRegistryKey"} <= sids
    assert not {"NeverTheState", "NeverTheStateOrSecretsKeys"} & sids


def test_deploy_roles_write_roles_only_under_their_stacks_path_with_its_boundary(bootstrap: Plan) -> None:
    for stack in ("staging", "prod"):
        boundary = _arn(bootstrap, POLICY, f"github-{stack}-workload-boundary")
        stack_roles = f"arn:aws:iam::123456789012:role/shop/{stack}/*"
        writes = _statement(bootstrap, f"deploy-{stack}", "WriteStackRolesWithItsBoundary")
        assert set(writes["Action"]) == ROLE_WRITES_NEEDING_THE_BOUNDARY
        assert writes["Resource"] == stack_roles
        assert writes["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary}}
        others = _statement(bootstrap, f"deploy-{stack}", "ManageStackRoles")
        assert others["Resource"] == stack_roles and "iam:PassRole" in others["Action"]
        assert not set(others["Action"]) & ROLE_WRITES_NEEDING_THE_BOUNDARY
        other_boundary = _arn(
            bootstrap, POLICY, f"github-{'prod' if stack == 'staging' else 'staging'}-workload-boundary"
        )
        statements = _statements(bootstrap, f"deploy-{stack}")
        own_role = f"arn:aws:iam::123456789012:role/shop/{stack}/cluster-node-1234567"
        for action in ROLE_WRITES_NEEDING_THE_BOUNDARY:
            with_boundary = {"iam:PermissionsBoundary": boundary}
            assert _permits(statements, action, own_role, "us-east-1", with_boundary), f"{stack}: {action}"
            with_other = {"iam:PermissionsBoundary": other_boundary}
            assert not _permits(statements, action, own_role, "us-east-1", with_other), f"{stack}: {action}"
            assert not _permits(statements, action, own_role, "us-east-1"), f"{stack}: {action} without a boundary"
            outside = "arn:aws:iam::123456789012:role/admin"
            assert not _permits(statements, action, outside, "us-east-1", with_boundary), f"{stack}: {action}"


def test_no_role_writes_roles_without_the_boundary_condition_or_passes_roles_beyond_its_stack(bootstrap: Plan) -> None:
    for purpose in _purposes(bootstrap):
        for statement in _statements(bootstrap, purpose):
            if statement["Effect"] != "Allow":
                continue
            actions = {
                a for a in _list(statement["Action"]) for w in ROLE_WRITES_NEEDING_THE_BOUNDARY if fnmatchcase(w, a)
            }
            if actions:
                assert "iam:PermissionsBoundary" in statement.get("Condition", {}).get("StringEquals", {}), (
                    f"{purpose}: {statement['Sid']} allows {actions} without the boundary"
                )
            if any(fnmatchcase("iam:PassRole", a) for a in _list(statement["Action"])):
                stack = purpose.removeprefix("deploy-")
                assert statement["Resource"] == f"arn:aws:iam::123456789012:role/shop/{stack}/*", purpose
        assert not {a for a in _allowed_actions(bootstrap, purpose) if re.match(r"iam:(Create|Delete)Policy", a)}


def test_deploy_roles_never_lift_or_change_a_boundary(bootstrap: Plan) -> None:
    for stack in ("staging", "prod"):
        statements = _statements(bootstrap, f"deploy-{stack}")
        lift = _statement(bootstrap, f"deploy-{stack}", "NeverLiftABoundary")
        assert lift == {
            "Sid": "NeverLiftABoundary",
            "Effect": "Deny",
            "Action": "iam:DeleteRolePermissionsBoundary",
            "Resource": "*",
        }
        boundaries = _statement(bootstrap, f"deploy-{stack}", "NeverChangeTheWorkloadBoundaries")
        assert boundaries["Effect"] == "Deny" and boundaries["NotAction"] == ["iam:Get*", "iam:List*"]
        assert boundaries["Resource"] == "arn:aws:iam::123456789012:policy/shop-*-workload-boundary"
        for other in ("staging", "prod"):
            arn = _arn(bootstrap, POLICY, f"github-{other}-workload-boundary")
            for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
                assert not _permits(statements, action, arn, "us-east-1"), f"deploy-{stack}: {action} on {arn}"
        own_role = f"arn:aws:iam::123456789012:role/shop/{stack}/cluster-node-1234567"
        assert not _permits(statements, "iam:DeleteRolePermissionsBoundary", own_role, "us-east-1")
        # Unconditioned, a role write of the stack's own path is still refused: only the boundary condition allows it.
        assert not _permits(statements, "iam:CreateRole", own_role, "us-east-1")
        assert _permits(statements, "iam:PassRole", own_role, "us-east-1")
        assert not _permits(statements, "iam:PassRole", "arn:aws:iam::123456789012:role/admin", "us-east-1")


# ------------------------------------------------------------------------------------------------ registry


def test_the_registry_is_immutable_scanned_and_encrypted_with_our_key(bootstrap: Plan) -> None:
    repository = bootstrap.one("aws:ecr/repository:Repository")
    assert repository.inputs["name"] == "shop/app"
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": _arn(bootstrap, "aws:kms/key:Key", "registry-key")}
    ]
    assert repository.inputs["forceDelete"] is False and repository.options["protect"] is True


def test_the_lifecycle_policy_never_expires_a_recent_release(bootstrap: Plan) -> None:
    rules = json.loads(bootstrap.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    by_priority = sorted(rules, key=lambda rule: rule["rulePriority"])
    releases, untagged, everything = (rule["selection"] for rule in by_priority)
    assert releases == {
        "tagStatus": "tagged",
        "tagPrefixList": [release.RELEASE_TAG_PREFIX],
        "countType": "imageCountMoreThan",
        "countNumber": 30,
    }
    assert release.RELEASE_TAG_PREFIX == image_registry.RELEASE_TAG_PREFIX
    assert untagged["tagStatus"] == "untagged" and untagged["countType"] == "sinceImagePushed"
    # ECR requires the "any" rule last; images matched by the release rule are never expired by it.
    assert everything == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 200}


# ------------------------------------------------------------------------------------------------ state backend


def _side(plan: Plan, kind: str, name: str) -> dict[str, Any]:
    """The inputs of a bucket's side resource, e.g. ``_side(plan, "bucketPolicy", "state-bucket-policy")``."""
    return plan.one(f"aws:s3/{kind}:{kind[0].upper()}{kind[1:]}", name).inputs


def test_the_state_bucket_is_private_versioned_encrypted_logged_and_tls_only(bootstrap: Plan) -> None:
    bucket = bootstrap.one("aws:s3/bucket:Bucket", "state-bucket")
    assert bucket.inputs["bucket"] == "shop-ci-state-123456789012" and bucket.options["protect"] is True
    assert bucket.inputs["forceDestroy"] is False
    access = _side(bootstrap, "bucketPublicAccessBlock", "state-bucket-public-access-block")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(access[flag] is True for flag in flags)
    versioning = _side(bootstrap, "bucketVersioning", "state-bucket-versioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    (rule,) = _side(bootstrap, "bucketServerSideEncryptionConfiguration", "state-bucket-encryption")["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": _arn(bootstrap, "aws:kms/key:Key", "state-key"),
    }
    (policy,) = json.loads(_side(bootstrap, "bucketPolicy", "state-bucket-policy")["policy"])["Statement"]
    assert policy["Effect"] == "Deny" and policy["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (lifecycle,) = _side(bootstrap, "bucketLifecycleConfiguration", "state-bucket-lifecycle")["rules"]
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    # S3 rejects noncurrent-version rules while versioning is still being turned on.
    versioning_urn = bootstrap.one("aws:s3/bucketVersioning:BucketVersioning", "state-bucket-versioning").urn
    lifecycle_resource = bootstrap.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "state-bucket-lifecycle"
    )
    assert versioning_urn in lifecycle_resource.dependencies
    logging = _side(bootstrap, "bucketLogging", "state-bucket-access-logging")
    assert logging["targetBucket"] == bootstrap.one("aws:s3/bucket:Bucket", "state-access-logs").inputs["bucket"]


def test_only_the_state_buckets_access_logs_are_delivered_to_the_log_bucket(bootstrap: Plan) -> None:
    policy = json.loads(_side(bootstrap, "bucketPolicy", "state-access-logs-policy")["policy"])
    delivery = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == _arn(bootstrap, "aws:s3/bucket:Bucket", "state-bucket")
    assert delivery["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_keys_rotate_keep_the_full_deletion_window_and_are_protected(bootstrap: Plan) -> None:
    for key in bootstrap.of_type("aws:kms/key:Key"):
        assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
        assert key.options["protect"] is True


def test_teams_on_pulumi_cloud_get_no_state_backend(on_pulumi_cloud: Plan) -> None:
    assert [r for r in on_pulumi_cloud.resources if r.type.startswith("aws:s3/")] == []
    assert len(on_pulumi_cloud.of_type("aws:kms/key:Key")) == 1
    assert "PULUMI_BACKEND_URL" not in on_pulumi_cloud.outputs["githubVariables"]
    assert not [s for s in _statements(on_pulumi_cloud, "deploy-prod") if s["Sid"] == "OwnStackState"]


# ------------------------------------------------------------------------------------------------ fit


def test_outputs_are_the_variables_the_workflows_read(bootstrap: Plan) -> None:
    read = {
        name
        for path in (ROOT / ".github" / "workflows").glob("*.yml")
        for name in re.findall(r"vars\.(\w+)", path.read_text())
    }
    # Not the bootstrap's to know: the Pulumi Cloud org, the Docker Hub mirror, the preview runners' labels.
    operator_set = {"PULUMI_ORG", "DOCKERHUB_REPOSITORY", "DOCKERHUB_USERNAME"}
    operator_set |= {f"PREVIEW_RUNNER_LABELS_{stack}" for stack in ("STAGING", "PROD")}
    assert set(bootstrap.outputs["githubVariables"]) == read - operator_set
    assert bootstrap.outputs["githubVariables"]["PULUMI_BACKEND_URL"] == bootstrap.outputs["stateBackendUrl"]
    assert "stateKeyUrl" not in bootstrap.outputs  # the state key is no stack's secrets provider


def test_the_policy_pack_passes_the_bootstrap_with_prods_config(bootstrap: Plan) -> None:
    violations, report = check(bootstrap, ROOT / "policies" / "config" / "prod.json")
    assert violations == [], report


def test_bad_bootstrap_settings_get_one_clear_message() -> None:
    overrides = {
        "shop-bootstrap:githubRepository": "not a repository",
        "shop-bootstrap:deployProtectedStacks": ["production"],
    }
    with pytest.raises(SettingsError) as raised:
        preview(STACK, project_dir=BOOTSTRAP_DIR, overrides=overrides)
    message = str(raised.value)
    assert message.startswith("Pulumi.ci.yaml: 2 configuration problems:")
    assert "shop-bootstrap:githubRepository: String should match pattern" in message
    assert "shop-bootstrap:deployProtectedStacks: production not in deployStacks" in message


def test_the_bootstraps_config_declarations_are_generated_from_its_settings(tmp_path: Path) -> None:
    assert stacks_cli(["config-schema", "--check", "--project-dir", str(BOOTSTRAP_DIR)]) == 0
    stale = tmp_path / "Pulumi.yaml"
    stale.write_text((BOOTSTRAP_DIR / "Pulumi.yaml").read_text().replace("default: 200", "default: 100"))
    assert stacks_cli(["config-schema", "--check", "--project-dir", str(tmp_path)]) == 1


def test_each_deploy_role_alone_keeps_its_stacks_release_record(bootstrap: Plan) -> None:
    """ci/release.py refuses a downgrade and picks its rollback target from the record: a role that could write
    another stack's record could make that stack's next rollback go anywhere."""
    variables = bootstrap.outputs["githubVariables"]
    region = variables["AWS_REGION"]
    account = _role(bootstrap, "deploy-prod").outputs["arn"].split(":")[4]
    for stack in ("staging", "prod"):
        parameter = variables[f"RELEASE_PARAMETER_{stack.upper()}"]
        assert parameter == f"/shop/{stack}/releases"
        arn = f"arn:aws:ssm:{region}:{account}:parameter{parameter}"
        for purpose in _purposes(bootstrap):
            for action in ("ssm:GetParameter", "ssm:PutParameter"):
                allowed = _permits(_statements(bootstrap, purpose), action, arn, region)
                assert allowed is (purpose == f"deploy-{stack}"), f"{purpose}: {action} on {parameter}"


def _stack_resources(plan: Plan) -> dict[str, str]:
    """ARNs of the stack's cluster, an access entry on it, its database and its secrets, from its plan's names."""
    data_key = _arn(plan, "aws:kms/key:Key", "data-key")
    region, account = data_key.split(":")[3:5]
    (cluster,) = {addon.inputs["clusterName"] for addon in plan.of_type("aws:eks/addon:Addon")}
    (database,) = [db.inputs["identifier"] for db in plan.of_type("aws:rds/instance:Instance")]
    resources = {
        "cluster": f"arn:aws:eks:{region}:{account}:cluster/{cluster}",
        "access entry": f"arn:aws:eks:{region}:{account}:access-entry/{cluster}/role/{account}/x/0",
        "database": f"arn:aws:rds:{region}:{account}:db:{database}",
        "data key": data_key,
    }
    for secret in plan.of_type("aws:secretsmanager/secret:Secret"):
        name = secret.inputs["name"]
        resources[f"secret {name}"] = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"
    return resources


#: What a compromised or mistaken staging deploy would do to prod, by the kind of resource it hits.
_ATTACKS = {
    "cluster": ["eks:UpdateClusterConfig", "eks:DeleteCluster", "eks:DescribeCluster"],
    "access entry": ["eks:CreateAccessEntry", "eks:AssociateAccessPolicy"],
    "database": ["rds:ModifyDBInstance", "rds:DeleteDBInstance", "rds:CreateDBSnapshot"],
    "data key": ["kms:Decrypt", "kms:ScheduleKeyDeletion"],
    "secret": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
}


def _attacks(kind: str) -> list[str]:
    return _ATTACKS["secret" if kind.startswith("secret ") else kind]


def test_in_one_account_the_staging_deploy_role_is_refused_on_prods_cluster_database_and_secrets(
    bootstrap: Plan, staging: Plan, prod: Plan
) -> None:
    """Stacks that share an account and a region: the deploy roles' eks:*/rds:*/secretsmanager:*/kms:* would reach
    every stack's. By name and by the `stack` tag each role is refused the other's, and keeps its own."""
    for own, other in ((staging, prod), (prod, staging)):
        statements = _statements(bootstrap, f"deploy-{own.stack}")
        for tags in ({"aws:ResourceTag/stack": other.stack}, {}):  # tagged, or its tag removed out of band
            for kind, arn in _stack_resources(other).items():
                if kind == "data key" and not tags:
                    continue  # a key's ARN holds no name: its tag is what confines it
                for action in _attacks(kind):
                    refused = not _permits(statements, action, arn, arn.split(":")[3], tags)
                    assert refused, f"deploy-{own.stack}: {action} on {other.stack}'s {kind} ({tags or 'untagged'})"
        for kind, arn in _stack_resources(own).items():
            for action in _attacks(kind):
                allowed = _permits(statements, action, arn, arn.split(":")[3], {"aws:ResourceTag/stack": own.stack})
                assert allowed, f"deploy-{own.stack}: {action} on its own {kind}"
        # Nor can it create or re-tag anything as the other stack's.
        region, account = _arn(own, "aws:kms/key:Key", "data-key").split(":")[3:5]
        vpc = f"arn:aws:ec2:{region}:{account}:vpc/vpc-1"
        assert not _permits(statements, "ec2:CreateTags", vpc, region, {"aws:RequestTag/stack": other.stack})
        assert _permits(statements, "ec2:CreateTags", vpc, region, {"aws:RequestTag/stack": own.stack})


def test_stack_names_the_deploy_roles_cannot_tell_apart_are_refused() -> None:
    """prod's role denies staging's `shop-staging-*`; a stack `staging-eu` would be denied its own resources."""
    overrides = {"shop-bootstrap:deployStacks": ["staging", "staging-eu", "prod"]}
    with pytest.raises(SettingsError, match="staging-eu extends staging: a stack's name may not start with another's"):
        preview(STACK, project_dir=BOOTSTRAP_DIR, overrides=overrides)


def test_preview_roles_read_configuration_but_no_instances_user_data(bootstrap: Plan) -> None:
    """User data may hold a runner's registration token or another stack's bootstrap secrets."""
    region = bootstrap.outputs["githubVariables"]["AWS_REGION"]
    instance = f"arn:aws:ec2:{region}:123456789012:instance/i-0123456789abcdef0"
    template = f"arn:aws:ec2:{region}:123456789012:launch-template/lt-0123456789abcdef0"
    for stack in ("staging", "prod"):
        statements = _statements(bootstrap, f"preview-{stack}")
        assert _permits(statements, "ec2:DescribeInstances", "*", region)
        assert _permits(statements, "ec2:DescribeLaunchTemplates", "*", region)
        assert not _permits(statements, "ec2:DescribeInstanceAttribute", instance, region)
        assert not _permits(statements, "ec2:DescribeLaunchTemplateVersions", template, region)
