"""The DeployAccess component: GitHub's OIDC provider, the delivery roles (publisher, deploy-<stack>,
preview-<stack>) with the statements of ``statements.py``, and each stack's workload boundary."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.deploy_access.github import Trust, deploy_trust, preview_trust, publisher_trust
from components.deploy_access.statements import DeliveryPolicies, Foundation, workload_boundary
from components.iam import policy_document
from components.naming import Naming
from stacks.settings import DeploySettings, GitHubSettings

COMPONENT = "cicd"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"


@dataclass(frozen=True)
class StateAccess:
    """The self-managed backend that holds the stacks' state."""

    bucket_arn: pulumi.Input[str]
    log_bucket_arn: pulumi.Input[str]
    """The state bucket's access logs (who read or wrote which stack's state)."""
    key_arn: pulumi.Input[str]
    """The state objects' S3 encryption key."""
    secrets_key_arns: Mapping[str, pulumi.Input[str]]
    """By stack: the stack's secrets provider key."""


@dataclass(frozen=True, kw_only=True)
class DeployAccessArgs:
    github: GitHubSettings
    deploy: DeploySettings
    naming: Naming
    """The bootstrap's naming (its ``ci`` stack): the roles' names; each platform stack's is derived from it."""
    account: Account
    registry_arn: pulumi.Input[str]
    registry_key_arn: pulumi.Input[str]
    state: StateAccess | None
    """None when the stacks keep their state in Pulumi Cloud."""


class DeployAccess(pulumi.ComponentResource):
    """Not a ``PlatformComponent``: it belongs to the account's bootstrap, not to a stack (components/bootstrap.py),
    and everything it creates is protected whatever the stack."""

    oidc_provider_arn: pulumi.Output[str]
    publisher_role_arn: pulumi.Output[str]
    deploy_role_arns: dict[str, pulumi.Output[str]]
    preview_role_arns: dict[str, pulumi.Output[str]]
    workload_boundary_arns: dict[str, pulumi.Output[str]]
    """By stack: the permissions boundary every role of that stack carries (``components/iam.py`` RoleScope)."""
    release_parameters: dict[str, str]
    """By stack: the SSM parameter of its release record, which only its deploy role may write (ci/release.py)."""

    def __init__(self, name: str, args: DeployAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shop:cicd:DeployAccess", name, None, opts)
        self._name = name
        self._args = args
        policies = DeliveryPolicies(naming=args.naming, account=args.account, project=args.deploy.project)
        self.oidc_provider_arn = self._oidc_provider()
        state = args.state
        self._foundation = pulumi.Output.all(
            self.oidc_provider_arn,
            args.registry_arn,
            args.registry_key_arn,
            state.bucket_arn if state else None,
            state.log_bucket_arn if state else None,
            state.key_arn if state else None,
            dict(state.secrets_key_arns) if state else {},
        ).apply(lambda arns: Foundation(*arns))

        github, deploy = args.github, args.deploy
        # Every role trusts one environment of one workflow at one ref (components/deploy_access/github.py): a job
        # of another workflow, branch or repository, or outside the environment, gets another subject.
        self.publisher_role_arn = self._role("publisher", publisher_trust(github), policies.publisher, hours=1)
        self.deploy_role_arns, self.preview_role_arns, self.workload_boundary_arns = {}, {}, {}
        self.release_parameters = {stack: policies.release_record(stack) for stack in deploy.stacks}
        for stack in deploy.stacks:
            self.workload_boundary_arns[stack] = self._workload_boundary(stack)
            protected = stack in deploy.protected_stacks
            self.deploy_role_arns[stack] = self._role(
                f"deploy-{stack}",
                deploy_trust(github, deploy, stack),
                lambda foundation, stack=stack, protected=protected: policies.deploy(
                    stack, foundation, protected=protected, others=tuple(s for s in deploy.stacks if s != stack)
                ),
                hours=deploy.session_hours,
            )
            self.preview_role_arns[stack] = self._role(
                f"preview-{stack}",
                preview_trust(stack),
                lambda foundation, stack=stack: policies.preview(stack, foundation),
                hours=1,
            )
        self.register_outputs(
            {
                "oidc_provider_arn": self.oidc_provider_arn,
                "publisher_role_arn": self.publisher_role_arn,
                "deploy_role_arns": self.deploy_role_arns,
                "preview_role_arns": self.preview_role_arns,
                "workload_boundary_arns": self.workload_boundary_arns,
            }
        )

    def _oidc_provider(self) -> pulumi.Output[str]:
        existing = self._args.github.oidc_provider_arn
        if existing:
            return pulumi.Output.from_input(existing)
        provider = aws.iam.OpenIdConnectProvider(
            f"{self._name}-github",
            url=f"https://{GITHUB_OIDC_HOST}",
            client_id_lists=[STS_AUDIENCE],
            # No thumbprints: IAM validates GitHub's certificate against its own trusted CAs.
            tags=self._args.naming.tags(COMPONENT, Name=GITHUB_OIDC_HOST),
            opts=pulumi.ResourceOptions(parent=self, protect=True),  # every role's trust depends on it
        )
        return provider.arn

    def _workload_boundary(self, stack: str) -> pulumi.Output[str]:
        """The managed policy that caps every role ``stack`` creates. Its path is ``/``, so the platform and the
        deploy role's conditions know its ARN from its name alone."""
        name = replace(self._args.naming, stack=stack).workload_boundary
        boundary = aws.iam.Policy(
            f"{self._name}-{stack}-workload-boundary",
            name=name,
            path="/",
            description=f"Caps every role stack {stack} creates: no IAM changes, nothing of the delivery foundation",
            policy=self._foundation.apply(lambda foundation: policy_document(workload_boundary(foundation))),
            tags=self._args.naming.tags(COMPONENT, Name=name),
            # Every role of the stack refers to it; deleting it would lift the cap from none but break all of them.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        return boundary.arn

    def _role(
        self, purpose: str, trust: Trust, statements: Callable[[Foundation], list[dict[str, Any]]], *, hours: int
    ) -> pulumi.Output[str]:
        """A role that only GitHub tokens for ``trust``'s subject (and audience STS) may assume."""
        naming = self._args.naming
        subject = trust.subject(self._args.github)
        # A pull request's number is the one part of a preview's subject that varies: only there a pattern.
        audience = {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE}
        condition = (
            {"StringEquals": audience, "StringLike": {f"{GITHUB_OIDC_HOST}:sub": subject}}
            if "*" in subject
            else {"StringEquals": {**audience, f"{GITHUB_OIDC_HOST}:sub": subject}}
        )
        trust_policy = self.oidc_provider_arn.apply(
            lambda provider_arn: policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": provider_arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": condition,
                    }
                ]
            )
        )
        role = aws.iam.Role(
            f"{self._name}-{purpose}",
            name=naming.physical(purpose, max_length=64),
            description=f"GitHub Actions ({subject}): {purpose}",
            assume_role_policy=trust_policy,
            max_session_duration=hours * 3600,
            tags=naming.tags(COMPONENT, Name=naming.physical(purpose, max_length=64)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{purpose}-policy",
            role=role.id,
            policy=self._foundation.apply(lambda foundation: policy_document(statements(foundation))),
            opts=pulumi.ResourceOptions(parent=role),
        )
        return role.arn
