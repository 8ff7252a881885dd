"""The repository's side of GitHub OIDC, as code: the subject claim template the roles' trust policies match, and
the environments (deployment branches, reviewers) that alone may mint the subjects the roles trust.

Without these, a role's trust rests on settings clicked in GitHub's UI: an environment whose branch rule is lifted,
or whose reviewers are removed, would still mint the subject the prod deploy role trusts. Here the same names build
both sides, so a role never trusts an environment the bootstrap does not define.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_github as github

from stacks.settings import DeploySettings, GitHubSettings

#: The claims of the repository's subject template, in order: GitHub joins them as ``key:value`` pairs with ``:``
#: (docs.github.com "About security hardening with OpenID Connect", "Customizing the subject claims"). The
#: repository's id, not its name: a repository re-created under the name, or a rename, matches nothing. ``context``
#: is ``environment:<name>`` for a job in an environment (else ``ref:<ref>`` or ``pull_request``), and
#: ``job_workflow_ref`` the workflow file the job is defined in, at the ref it ran from.
SUBJECT_CLAIM_KEYS = ("repository_id", "context", "job_workflow_ref")
#: The workflow whose jobs publish images and deploy (on push to main), and the one whose jobs preview a pull request.
DEPLOY_WORKFLOW = ".github/workflows/deploy.yml"
PREVIEW_WORKFLOW = ".github/workflows/preview.yml"
MAIN = "refs/heads/main"
#: A pull_request run's ref: its merge commit. Only the pull request's number varies.
PULL_REQUEST_REF = "refs/pull/*/merge"
#: The GitHub environment of a stack's pull request previews; a protected stack's requires a reviewer.
PREVIEW_ENVIRONMENT = "preview-{stack}"
#: The environment of deploy.yml's notify job: it holds NOTIFY_WEBHOOK_URL, and no role trusts it.
NOTIFY_ENVIRONMENT = "notify"


def subject(github_settings: GitHubSettings, environment: str, workflow: str, ref: str) -> str:
    """The ``sub`` of a token minted for a job of ``workflow`` at ``ref`` in ``environment`` (SUBJECT_CLAIM_KEYS)."""
    return (
        f"repository_id:{github_settings.repository_id}:environment:{environment}"
        f":job_workflow_ref:{github_settings.repository}/{workflow}@{ref}"
    )


@dataclass(frozen=True)
class Trust:
    """Who may assume a role: one environment, one workflow file, one ref (a pattern for pull requests)."""

    environment: str
    workflow: str
    ref: str

    def subject(self, github_settings: GitHubSettings) -> str:
        return subject(github_settings, self.environment, self.workflow, self.ref)


def publisher_trust(settings: GitHubSettings) -> Trust:
    return Trust(settings.image_environment, DEPLOY_WORKFLOW, MAIN)


def deploy_trust(settings: GitHubSettings, deploy: DeploySettings, stack: str) -> Trust:
    protected = stack in deploy.protected_stacks
    return Trust(settings.production_environment if protected else stack, DEPLOY_WORKFLOW, MAIN)


def preview_trust(stack: str) -> Trust:
    return Trust(PREVIEW_ENVIRONMENT.format(stack=stack), PREVIEW_WORKFLOW, PULL_REQUEST_REF)


@dataclass(frozen=True, kw_only=True)
class GitHubRepositoryArgs:
    github: GitHubSettings
    deploy: DeploySettings
    depends_on: list[pulumi.Resource]
    """The roles: their trust must match the new subjects before GitHub mints them (GitHub's docs: create the cloud
    side's condition first)."""


class GitHubRepository(pulumi.ComponentResource):
    """The subject template and the environments of the repository the roles trust (GITHUB_TOKEN of an admin)."""

    environments: dict[str, github.RepositoryEnvironment]

    def __init__(self, name: str, args: GitHubRepositoryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shop:cicd:GitHubRepository", name, None, opts)
        settings, deploy = args.github, args.deploy
        owner, repository = settings.repository.split("/")
        provider = github.Provider(name, owner=owner, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self._settings = settings
        self.environments = {}
        if settings.manage_shared:
            github.ActionsRepositoryOidcSubjectClaimCustomizationTemplate(
                f"{name}-oidc-subject",
                repository=repository,
                use_default=False,
                include_claim_keys=list(SUBJECT_CLAIM_KEYS),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=args.depends_on)),
            )
            for environment in (settings.image_environment, NOTIFY_ENVIRONMENT):
                self._environment(name, repository, environment, child, reviewed=False, main_only=True)
        for stack in deploy.stacks:
            protected = stack in deploy.protected_stacks
            # Deploying environments: main only; the production environment also waits for a reviewer who did not
            # start the run. Admins skip no environment's rules.
            deploying = settings.production_environment if protected else stack
            self._environment(name, repository, deploying, child, reviewed=protected, main_only=True)
            # Previews run for a pull request's branch, whatever its name; a protected stack's decrypts that
            # stack's state and secrets, so someone other than the author approves it first.
            previewing = PREVIEW_ENVIRONMENT.format(stack=stack)
            self._environment(name, repository, previewing, child, reviewed=protected, main_only=False)
        self.register_outputs({"environments": sorted(self.environments)})

    def _environment(
        self,
        name: str,
        repository: str,
        environment: str,
        opts: pulumi.ResourceOptions,
        *,
        reviewed: bool,
        main_only: bool,
    ) -> None:
        if environment in self.environments:  # the production environment of several protected stacks
            return
        settings = self._settings
        resource = github.RepositoryEnvironment(
            f"{name}-{environment}",
            repository=repository,
            environment=environment,
            can_admins_bypass=False,
            prevent_self_review=reviewed,
            reviewers=[
                github.RepositoryEnvironmentReviewerArgs(
                    teams=list(settings.reviewer_teams), users=list(settings.reviewer_users)
                )
            ]
            if reviewed
            else None,
            deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                protected_branches=False, custom_branch_policies=True
            )
            if main_only
            else None,
            opts=opts,
        )
        if main_only:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-{environment}-main",
                repository=repository,
                environment=resource.environment,
                branch_pattern="main",
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=resource)),
            )
        self.environments[environment] = resource
