"""The stack's deploy runner (components/deploy_runner.py): a CodeBuild-hosted GitHub Actions runner in the private
subnets with the cluster's deployer security group, started only for the deploy workflow's queued jobs of this
repository, logging to an encrypted log group, with a service role that can run the build and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.deploy_runner import DEPLOY_WORKFLOW, runner_label
from stacks.offline import phases
from stacks.offline.engine import load_config
from stacks.offline.plan import Plan, PlannedResource
from stacks.settings import PlatformSettings, SettingsError, parse
from tests.cluster_plan import ROLE, inline_statements, key_arn, private_subnet_ids, trust_policy
from tests.conftest import plan_for

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "aws:codebuild/project:Project"
WEBHOOK = "aws:codebuild/webhook:Webhook"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
P = "shop-platform"


def _project(plan: Plan) -> PlannedResource:
    return plan.one(PROJECT, "deploy-runner-project")


def _role(plan: Plan) -> PlannedResource:
    (role,) = [role for role in plan.of_type(ROLE) if role.outputs["arn"] == _project(plan).inputs["serviceRole"]]
    return role


def test_the_project_runs_in_the_private_subnets_with_the_deployer_group_only(plan: Plan) -> None:
    vpc = _project(plan).inputs["vpcConfig"]
    assert sorted(vpc["subnets"]) == sorted(private_subnet_ids(plan))
    assert vpc["securityGroupIds"] == [plan.one(SECURITY_GROUP, "cluster-deployer-sg").id]
    assert vpc["vpcId"] == plan.one("aws:ec2/vpc:Vpc").id


def test_the_webhook_starts_builds_only_for_the_deploy_workflows_queued_jobs_of_this_repository(plan: Plan) -> None:
    webhook = plan.one(WEBHOOK)
    project = _project(plan)
    assert webhook.inputs["projectName"] == project.inputs["name"]
    assert webhook.inputs["filterGroups"] == [
        {
            "filters": [
                {"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"},
                {"type": "WORKFLOW_NAME", "pattern": f"^{DEPLOY_WORKFLOW}$"},
            ]
        }
    ]
    # A repository webhook: no organization or global scope, so GitHub sends it this repository's events only.
    assert "scopeConfiguration" not in webhook.inputs
    config = yaml.safe_load((ROOT / f"Pulumi.{plan.stack}.yaml").read_text())["config"]
    source = project.inputs["source"]
    assert source["location"] == f"https://github.com/{config[f'{P}:runnerRepository']}.git"
    assert source["auth"] == {"type": "CODECONNECTIONS", "resource": config[f"{P}:runnerConnectionArn"]}
    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    assert deploy["name"] == DEPLOY_WORKFLOW


def test_listed_accounts_alone_may_start_the_runner() -> None:
    """runnerActorIds: in a public repository, a fork's pull request could otherwise run a workflow named Deploy on
    the runner; the event's sender must then be one of the listed accounts."""
    plan = plan_for("staging", {f"{P}:runnerActorIds": [583231, 41898282]})
    (group,) = plan.one(WEBHOOK).inputs["filterGroups"]
    assert group["filters"][2:] == [{"type": "ACTOR_ACCOUNT_ID", "pattern": "^(583231|41898282)$"}]


@pytest.mark.parametrize("ids", ["[0]", '["octocat"]', json.dumps(list(range(1, 52)))])
def test_the_actor_ids_are_github_account_ids(ids: str) -> None:
    with pytest.raises(SettingsError, match="runnerActorIds"):
        _settings("prod", runnerActorIds=ids)


def test_deploy_yml_selects_the_runner_the_plan_creates(plan: Plan) -> None:
    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    assert deploy["jobs"][f"deploy-{plan.stack}"]["runs-on"] == runner_label(_project(plan).inputs["name"])


def test_builds_are_ephemeral_unprivileged_on_a_managed_image_and_log_to_an_encrypted_group(plan: Plan) -> None:
    project = _project(plan)
    environment = project.inputs["environment"]
    assert environment["privilegedMode"] is False
    assert environment["image"].startswith("aws/codebuild/") and environment["imagePullCredentialsType"] == "CODEBUILD"
    assert project.inputs["artifacts"] == {"type": "NO_ARTIFACTS"}
    assert "cache" not in project.inputs  # nothing carried from one job's build to the next
    logs = project.inputs["logsConfig"]
    assert logs["s3Logs"] == {"status": "DISABLED"} and logs["cloudwatchLogs"]["status"] == "ENABLED"
    (group,) = [
        g
        for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.inputs["name"] == logs["cloudwatchLogs"]["groupName"]
    ]
    assert group.inputs["kmsKeyId"] == key_arn(plan, "logs")
    assert group.inputs["retentionInDays"] == _settings(plan.stack).runner.log_retention_days


def _settings(stack: str, **overrides: str) -> PlatformSettings:
    project, config, _ = load_config(stack)
    return parse({**config, **{f"{P}:{key}": value for key, value in overrides.items()}}, project=project, stack=stack)


def test_the_service_role_runs_the_build_and_nothing_else(plan: Plan) -> None:
    """No platform API, no sts:AssumeRole: the job gets the deploy role through OIDC, never from the build."""
    role = _role(plan)
    (trust,) = trust_policy(role)["Statement"]
    project_arn = f"arn:aws:codebuild:{plan.region}:123456789012:project/{_project(plan).inputs['name']}"
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": project_arn},
    }
    assert role.inputs["permissionsBoundary"].endswith(f":policy/shop-{plan.stack}-workload-boundary")
    statements = {s["Sid"]: s for s in inline_statements(plan, role)}
    assert set(statements) == {
        "OwnLogStreams",
        "PlaceBuildsInTheVpc",
        "AttachBuildInterfacesInThePrivateSubnets",
        "RegisterWithGitHub",
    }
    actions = {action for s in statements.values() for action in s["Action"]}
    assert not [a for a in actions if a.split(":")[0] in ("sts", "iam", "eks", "s3", "kms", "secretsmanager")]
    assert not [a for a in actions if "*" in a]
    log_group = _project(plan).inputs["logsConfig"]["cloudwatchLogs"]["groupName"]
    assert statements["OwnLogStreams"]["Resource"].endswith(f":log-group:{log_group}:*")
    subnets = statements["AttachBuildInterfacesInThePrivateSubnets"]["Condition"]["StringEquals"]["ec2:Subnet"]
    assert sorted(subnets) == sorted(
        f"arn:aws:ec2:{plan.region}:123456789012:subnet/{s}" for s in private_subnet_ids(plan)
    )
    connection = _project(plan).inputs["source"]["auth"]["resource"]
    assert statements["RegisterWithGitHub"] == {
        "Sid": "RegisterWithGitHub",
        "Effect": "Allow",
        "Action": ["codeconnections:GetConnection", "codeconnections:GetConnectionToken"],
        "Resource": connection,
    }


def test_first_deploy_phase_one_creates_the_runner(prod: Plan) -> None:
    """It needs the VPC and the deployer group, not the Kubernetes API: phase two runs on it."""
    first = {resource.urn for resource in phases.phase_one(prod)}
    runner = [r for r in prod.resources if "DeployRunner" in r.urn or r.type in (PROJECT, WEBHOOK)]
    assert len(runner) >= 6 and all(resource.urn in first for resource in runner)


def test_without_runner_settings_there_is_no_runner() -> None:
    plan = plan_for("staging", {f"{P}:runnerConnectionArn": "", f"{P}:runnerRepository": ""})
    assert not plan.of_type(PROJECT) and not plan.of_type(WEBHOOK)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"runnerRepository": ""}, "the runner needs both runnerConnectionArn and runnerRepository"),
        ({"runnerConnectionArn": "arn:aws:iam::123456789012:role/x"}, "String should match pattern"),
        ({"runnerRepository": "not a repository"}, "String should match pattern"),
    ],
)
def test_the_runner_needs_both_settings_and_each_is_checked(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        _settings("prod", **overrides)
