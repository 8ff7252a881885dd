"""Settings of the CI/CD bootstrap (bootstrap/: project ``shop-bootstrap``), run once per AWS account.

The bootstrap holds what every platform stack's pipeline relies on — the GitHub OIDC provider and roles, the
image registry, the state backend — so its settings are checked as prod's (``ENVIRONMENT``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from stacks.settings.base import Environment, Problem, section
from stacks.settings.keys import KeySettings
from stacks.settings.stack import NamePrefix, Region

_STACK_NAME = r"^[a-z][a-z0-9-]{0,30}$"
_OIDC_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")


def _oidc_provider_arn(value: str) -> str:
    if value and not _OIDC_PROVIDER_ARN.match(value):
        raise ValueError("must be the ARN of this account's token.actions.githubusercontent.com OIDC provider")
    return value


StackName = Annotated[str, Field(pattern=_STACK_NAME)]


@section(prefix="")
class AccountSettings:
    """Where the bootstrap deploys and how its resources are named."""

    region: Region = Field(
        description="AWS region of the registry, state bucket and roles (the `aws:region` config key); deploy roles "
        "may act in this region and us-east-1 (CloudFront, its certificates and WAF), so use the platform's region."
    )
    name_prefix: NamePrefix = Field(
        default="shop",
        description="Prefix of physical names; must equal the platform stacks' namePrefix, whose bucket names "
        "(<prefix>-<stack>-...), role paths (/<prefix>/<stack>/) and workload boundaries scope the deploy roles.",
    )

    EXTERNAL_KEYS: ClassVar[dict[str, str]] = {"region": "aws:region"}


@section(prefix="github")
class GitHubSettings:
    """The GitHub repository whose workflows may assume the roles, through GitHub's OIDC provider."""

    repository: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$",
        description="The repository as OWNER/NAME, exactly as GitHub spells it (the OIDC subject is case-sensitive).",
    )
    image_environment: str = Field(
        default="image",
        pattern=r"^[A-Za-z0-9._-]{1,255}$",
        description="The GitHub environment (deployment branches: main) that alone may publish images; it holds "
        "the Docker Hub token.",
    )
    production_environment: str = Field(
        default="production",
        pattern=r"^[A-Za-z0-9._-]{1,255}$",
        description="The GitHub environment (with required reviewers) that alone may deploy protected stacks.",
    )
    oidc_provider_arn: Annotated[str, AfterValidator(_oidc_provider_arn)] = Field(
        default="",
        description="ARN of an existing token.actions.githubusercontent.com provider to reuse (an account has at "
        "most one); empty creates it.",
    )
    repository_id: int = Field(
        ge=1,
        description="The repository's numeric id (`gh api repos/OWNER/NAME --jq .id`): the OIDC subject names it, "
        "so a repository deleted and re-created under the same name (or a fork) matches no role.",
    )
    reviewer_teams: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        default=(),
        description="Ids of the teams (`gh api orgs/ORG/teams/SLUG --jq .id`) whose approval the production "
        "environment and the protected stacks' preview environments require.",
    )
    reviewer_users: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        default=(),
        description="Ids of the users (`gh api users/LOGIN --jq .id`) whose approval the production environment and "
        "the protected stacks' preview environments require.",
    )

    manage_shared: bool = Field(
        default=True,
        description="Create the repository's OIDC subject template and the image and notify environments; with an "
        "account per environment exactly one of the bootstraps does (the registry's account), the other sets false.",
    )

    def problems(self, environment: Environment) -> Iterator[Problem]:
        reviewers = len(self.reviewer_teams) + len(self.reviewer_users)
        if not reviewers:
            yield "reviewer_teams", "name a team or a user (githubReviewerUsers): prod deploys need an approval"
        if reviewers > 6:
            yield "reviewer_teams", f"{reviewers} reviewers: GitHub allows at most 6 teams and users together"


@section(prefix="deploy")
class DeploySettings:
    """The platform stacks the pipeline deploys from this account, and their roles."""

    project: str = Field(
        default="shop-platform",
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="Pulumi project of the platform stacks (its state files are under .pulumi/*/<project>/).",
    )
    stacks: tuple[StackName, ...] = Field(
        default=("staging", "prod"), min_length=1, description="Stacks that get a deploy role and a preview role."
    )
    protected_stacks: tuple[StackName, ...] = Field(
        default=("prod",),
        description="Stacks only the production environment may deploy; the others deploy from the environment "
        "named like the stack.",
    )
    session_hours: int = Field(
        default=3,
        ge=1,
        le=12,
        description="Longest session of a deploy role, in hours (a first prod deploy is long, and a rollback may "
        "follow it in the same job).",
    )

    def problems(self, environment: Environment) -> Iterator[Problem]:
        unknown = sorted(set(self.protected_stacks) - set(self.stacks))
        if unknown:
            yield "protected_stacks", f"{', '.join(unknown)} not in deployStacks"
        if not self.protected_stacks:
            yield "protected_stacks", "name the stacks that need an approval, or prod deploys on every push"
        # A deploy role denies the other stacks' <prefix>-<stack>-* names: "prod" would deny "prod-eu" its own.
        extended = sorted(f"{b} extends {a}" for a in self.stacks for b in self.stacks if b.startswith(f"{a}-"))
        if extended:
            yield "stacks", f"{', '.join(extended)}: a stack's name may not start with another's and '-'"


@section(prefix="registry")
class RegistrySettings:
    """The ECR repository of the shop image (immutable tags, scanned on push, KMS-encrypted)."""

    keep_images: int = Field(default=200, ge=20, le=10000, description="Images kept in all (newest first).")
    keep_releases: int = Field(
        default=30, ge=5, le=1000, description="Images tagged release-* (ran in a protected stack) kept, newest first."
    )
    untagged_days: int = Field(default=7, ge=1, le=365, description="Days before an untagged image is expired.")

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if self.keep_releases >= self.keep_images:
            yield "keep_releases", "must be below registryKeepImages (releases are a subset of all images)"


@section(prefix="state")
class StateBackendSettings:
    """The S3 bucket and KMS key of Pulumi's self-managed backend (teams on Pulumi Cloud turn it off)."""

    bucket: bool = Field(default=True, description="Create the state bucket and its key (false on Pulumi Cloud).")
    noncurrent_version_days: int = Field(
        default=90, ge=7, le=3650, description="Days a replaced state file version is kept (to recover a bad update)."
    )
    access_log_days: int = Field(
        default=365, ge=30, le=3650, description="Days the state bucket's access logs (who read which state) are kept."
    )


@dataclass(frozen=True)
class BootstrapSettings:
    """Typed, validated settings of a bootstrap stack."""

    #: The bootstrap's sections are checked as prod's: every platform stack depends on what it creates.
    ENVIRONMENT: ClassVar[Environment] = "prod"

    account: AccountSettings
    keys: KeySettings
    github: GitHubSettings
    deploy: DeploySettings
    registry: RegistrySettings
    state: StateBackendSettings

    @staticmethod
    def problems(sections: Mapping[str, Any], environment: Environment) -> Iterator[tuple[str, str, str]]:
        """No check spans sections yet; each section checks its own fields."""
        return iter(())
