"""The CI/CD bootstrap's composition (bootstrap/): the image registry, the state backend, GitHub Actions' roles to
push to the one and deploy with the other, the workload boundary that caps every role each stack creates, and the
repository's OIDC subject template and environments those roles' trust relies on.

Its components take the bootstrap's ``naming`` and ``account``, not a ``StackContext``: they serve every stack of
the account rather than belong to one, create no role under a stack's path or boundary (they create the boundaries),
and protect everything they create whatever the stack (every stack depends on them), so neither ``role_scope`` nor
``protect`` would mean anything for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.account import Account
from components.deploy_access import DeployAccess, DeployAccessArgs, GitHubRepository, GitHubRepositoryArgs, StateAccess
from components.image_registry import ImageRegistry, ImageRegistryArgs
from components.naming import Naming
from components.state_backend import StateBackend, StateBackendArgs
from stacks.settings import BootstrapSettings


@dataclass(frozen=True)
class Bootstrap:
    """Everything a bootstrap stack builds; attributes are the components, for exports and tests."""

    account: Account
    registry: ImageRegistry
    state: StateBackend | None
    access: DeployAccess
    repository: GitHubRepository


def build(settings: BootstrapSettings) -> Bootstrap:
    naming = Naming(prefix=settings.account.name_prefix, stack=pulumi.get_stack())
    account = Account.current(settings.account.region)
    registry = ImageRegistry(
        "registry", ImageRegistryArgs(settings=settings.registry, keys=settings.keys, naming=naming, account=account)
    )
    state = (
        StateBackend(
            "state",
            StateBackendArgs(
                settings=settings.state,
                keys=settings.keys,
                naming=naming,
                account=account,
                stacks=settings.deploy.stacks,
            ),
        )
        if settings.state.bucket
        else None
    )
    access = DeployAccess(
        "github",
        DeployAccessArgs(
            github=settings.github,
            deploy=settings.deploy,
            naming=naming,
            account=account,
            registry_arn=registry.repository_arn,
            registry_key_arn=registry.key_arn,
            state=StateAccess(
                bucket_arn=state.bucket_arn,
                log_bucket_arn=state.log_bucket_arn,
                key_arn=state.key_arn,
                secrets_key_arns=state.secrets_key_arns,
            )
            if state
            else None,
        ),
    )
    repository = GitHubRepository(
        "github-repository",
        # After the roles: a token in the new subject format must find a trust policy that expects it.
        GitHubRepositoryArgs(github=settings.github, deploy=settings.deploy, depends_on=[access]),
    )
    return Bootstrap(account=account, registry=registry, state=state, access=access, repository=repository)


def github_variables(bootstrap: Bootstrap) -> dict[str, pulumi.Input[str]]:
    """The repository variables the workflows read, by name (docs/cicd.md)."""
    access = bootstrap.access
    variables: dict[str, pulumi.Input[str]] = {
        "AWS_REGION": bootstrap.account.region,
        "IMAGE_REPOSITORY": bootstrap.registry.repository_url,
        "AWS_IMAGE_ROLE_ARN": access.publisher_role_arn,
    }
    for stack, arn in access.deploy_role_arns.items():
        variables[f"AWS_DEPLOY_ROLE_ARN_{stack.upper().replace('-', '_')}"] = arn
    for stack, arn in access.preview_role_arns.items():
        variables[f"AWS_PREVIEW_ROLE_ARN_{stack.upper().replace('-', '_')}"] = arn
    for stack, parameter in access.release_parameters.items():
        variables[f"RELEASE_PARAMETER_{stack.upper().replace('-', '_')}"] = parameter
    if bootstrap.state:
        variables["PULUMI_BACKEND_URL"] = bootstrap.state.backend_url
    return variables


def export(bootstrap: Bootstrap) -> None:
    """Stack outputs: what the repository's settings and the platform stacks need; no secret among them."""
    pulumi.export("githubVariables", github_variables(bootstrap))
    pulumi.export("githubOidcProviderArn", bootstrap.access.oidc_provider_arn)
    pulumi.export("imageRepositoryUrl", bootstrap.registry.repository_url)
    pulumi.export("deployRoleArns", bootstrap.access.deploy_role_arns)
    pulumi.export("previewRoleArns", bootstrap.access.preview_role_arns)
    if bootstrap.state:
        pulumi.export("stateBackendUrl", bootstrap.state.backend_url)
        # By stack, for `pulumi stack init <stack> --secrets-provider`.
        pulumi.export("secretsProviderUrls", bootstrap.state.secrets_providers)
