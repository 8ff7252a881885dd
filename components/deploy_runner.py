"""The deploy runner: a CodeBuild project that GitHub Actions uses as a self-hosted runner inside the VPC.

Prod's Kubernetes API has no public endpoint, so the deploy jobs that reach it (`pulumi up` of the Kubernetes
phase, the rollout and smoke checks) run here: in the private subnets, with the cluster's deployer security group,
which the API's own group admits (components/cluster/access.py). CodeBuild-hosted runners start one build per
queued workflow job (the webhook's ``WORKFLOW_JOB_QUEUED`` events) for the job whose ``runs-on`` label is
``codebuild-<project>-<run id>-<run attempt>``, and the build ends with the job: nothing survives from one job to
the next (ephemeral by construction).

Credentials: the build's service role only runs the build (network interfaces in the VPC, its log stream, the
GitHub connection's token). The job itself still gets the stack's deploy role the way every deploy job does,
through GitHub's OIDC token and ``aws-actions/configure-aws-credentials``: that role trusts only the jobs of the
stack's GitHub environment (components/deploy_access), so a job that lands on this runner without that
environment (another workflow, a branch) has the VPC's network and no AWS identity beyond this role's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import PlatformComponent, StackContext
from components.iam import allow, granted_service_role
from components.log_groups import encrypted_log_group
from stacks.settings import RunnerSettings

COMPONENT = "deploy-runner"
#: An AWS managed image by name (CodeBuild standard 7.0, Ubuntu 22.04: actions/setup-python installs Python from
#: GitHub's builds for Ubuntu): CodeBuild pulls it with its own credentials and keeps it patched.
IMAGE = "aws/codebuild/standard:7.0"
COMPUTE_TYPE = "BUILD_GENERAL1_MEDIUM"
#: The webhook event of a queued GitHub Actions job: the only event that starts a build.
WORKFLOW_JOB_QUEUED = "WORKFLOW_JOB_QUEUED"
#: The ``name:`` of .github/workflows/deploy.yml: the only workflow whose jobs get a runner.
DEPLOY_WORKFLOW = "Deploy"
#: A deploy of prod's Kubernetes phase (node groups, add-ons, controllers) takes well under this.
BUILD_TIMEOUT_MINUTES = 120
#: How long a queued job waits for its build before CodeBuild gives up (the job then fails).
QUEUED_TIMEOUT_MINUTES = 30
_GITHUB = "https://github.com"


@dataclass(frozen=True)
class DeployRunnerArgs:
    settings: RunnerSettings
    """Enabled: both its connection and repository are set."""
    context: StackContext
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    """The private subnets: out through the NAT gateways to GitHub, never reachable from outside."""
    security_group_id: pulumi.Input[str]
    """The cluster's deployer group: HTTPS to the Kubernetes API's private endpoint."""
    logs_key_arn: pulumi.Input[str]


class DeployRunner(PlatformComponent):
    project_name: pulumi.Output[str]
    runner_label: str
    """What a job's ``runs-on`` names to run here (GitHub expressions included)."""

    pulumi_type = "shop:cicd:DeployRunner"
    component = COMPONENT

    def __init__(self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        settings, account = args.settings, self.context.account
        if not settings.enabled:
            raise ValueError("the deploy runner needs runnerConnectionArn and runnerRepository")
        project_name = self.naming.physical("deploy-runner", max_length=150)
        self.runner_label = runner_label(project_name)
        log_group = encrypted_log_group(
            f"{name}-logs",
            log_group_name=f"/aws/codebuild/{project_name}",
            retention_days=settings.log_retention_days,
            kms_key_arn=args.logs_key_arn,
            tags=self.tags("deploy-runner-logs"),
            component=self,
        )
        subnet_arns = [
            pulumi.Output.from_input(subnet).apply(lambda subnet_id: account.arn("ec2", f"subnet/{subnet_id}"))
            for subnet in args.subnet_ids
        ]
        statements = pulumi.Output.all(log_group.arn, pulumi.Output.all(*subnet_arns)).apply(
            lambda values: service_role_statements(
                log_group_arn=values[0],
                subnet_arns=list(values[1]),
                connection_arn=settings.connection_arn,
                network_interfaces=account.arn("ec2", "network-interface/*"),
                codebuild=account.service_principal("codebuild"),
            )
        )
        project_arn = account.arn("codebuild", f"project/{project_name}")
        granted = granted_service_role(
            f"{name}-role",
            scope=self.context.role_scope,
            service=account.service_principal("codebuild"),
            description="The deploy runner's builds: network interfaces in the VPC, its logs, the GitHub connection",
            statements=statements,
            tags=self.tags("deploy-runner"),
            parent=self,
            # Only this project's builds (the confused-deputy guard of AWS's service roles).
            trust_conditions={
                "StringEquals": {"aws:SourceAccount": account.id},
                "ArnLike": {"aws:SourceArn": project_arn},
            },
        )
        project = aws.codebuild.Project(
            f"{name}-project",
            name=project_name,
            description=f"GitHub Actions runner in the VPC for the {DEPLOY_WORKFLOW} workflow of {settings.repository}",
            service_role=granted.role.arn,
            # A runner's job publishes nothing through CodeBuild: no artifacts, so no artifact key or bucket.
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type="LINUX_CONTAINER",
                compute_type=COMPUTE_TYPE,
                image=IMAGE,
                image_pull_credentials_type="CODEBUILD",
                # No Docker daemon: the deploy jobs run Pulumi and kubectl, never build images (the image job
                # builds on GitHub's hosted runners), and privileged mode would hand the job the host's kernel.
                privileged_mode=False,
            ),
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"{_GITHUB}/{settings.repository}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=settings.connection_arn),
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id,
                subnets=list(args.subnet_ids),
                security_group_ids=[args.security_group_id],
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=log_group.name
                ),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
            ),
            build_timeout=BUILD_TIMEOUT_MINUTES,
            queued_timeout=QUEUED_TIMEOUT_MINUTES,
            # Pulumi locks the stack anyway; one build at a time bounds the cost and what a runaway job can do.
            concurrent_build_limit=1,
            tags=self.tags("deploy-runner"),
            opts=self.child(depends_on=[*granted.grants, log_group]),
        )
        aws.codebuild.Webhook(
            f"{name}-webhook",
            project_name=project.name,
            build_type="BUILD",
            # A repository webhook (no scope configuration): GitHub sends it this repository's events only.
            filter_groups=[aws.codebuild.WebhookFilterGroupArgs(filters=webhook_filters(settings.actor_ids))],
            opts=self.child(project),
        )
        self.project_name = project.name
        self.register_outputs({"project_name": self.project_name, "runner_label": self.runner_label})


def webhook_filters(actor_ids: Sequence[int]) -> list[aws.codebuild.WebhookFilterGroupFilterArgs]:
    """A queued job of the Deploy workflow, and with ``actor_ids`` only of a run one of those accounts started (the
    event's ``sender``: CodeBuild's ``ACTOR_ACCOUNT_ID`` filter, which every GitHub webhook event carries)."""
    filters = [
        aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern=WORKFLOW_JOB_QUEUED),
        aws.codebuild.WebhookFilterGroupFilterArgs(type="WORKFLOW_NAME", pattern=f"^{DEPLOY_WORKFLOW}$"),
    ]
    if actor_ids:
        pattern = f"^({'|'.join(str(actor) for actor in actor_ids)})$"
        filters.append(aws.codebuild.WebhookFilterGroupFilterArgs(type="ACTOR_ACCOUNT_ID", pattern=pattern))
    return filters


def runner_label(project_name: str) -> str:
    """The ``runs-on`` label of a job that runs on the project: CodeBuild matches the project by name, and the run
    id and attempt make each job's label unique, so a build serves exactly the job that queued it."""
    return f"codebuild-{project_name}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"


def service_role_statements(
    *,
    log_group_arn: str,
    subnet_arns: list[str],
    connection_arn: str,
    network_interfaces: str,
    codebuild: str,
) -> list[dict[str, Any]]:
    """What a build needs and nothing more: no AWS API of the platform (the job assumes the deploy role itself)."""
    # The connection's own service prefix: IAM matches the action's prefix against the ARN's.
    connections = connection_arn.split(":")[2]
    return [
        allow("OwnLogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"], f"{log_group_arn}:*"),
        # "*": EC2 does not scope these calls to resources; CodeBuild makes them to place the build in the VPC.
        allow(
            "PlaceBuildsInTheVpc",
            [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "*",
        ),
        allow(
            "AttachBuildInterfacesInThePrivateSubnets",
            ["ec2:CreateNetworkInterfacePermission"],
            network_interfaces,
            {"StringEquals": {"ec2:Subnet": subnet_arns, "ec2:AuthorizedService": codebuild}},
        ),
        allow(
            "RegisterWithGitHub",
            [f"{connections}:GetConnection", f"{connections}:GetConnectionToken"],
            connection_arn,
        ),
    ]
