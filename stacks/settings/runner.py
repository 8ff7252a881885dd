"""Settings of the deploy runner (components/deploy_runner.py): the in-VPC GitHub Actions runner of deploy.yml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field

from stacks.settings.base import Environment, Problem, RetentionDays, section

#: A CodeConnections connection (or one made before the service's rename, under its CodeStar Connections name).
CONNECTION_ARN_PATTERN = (
    r"^$|^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$"
)
#: OWNER/NAME as GitHub spells them. Both patterns admit the empty default: no runner.
REPOSITORY_PATTERN = r"^$|^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"


@section(prefix="runner")
class RunnerSettings:
    """Where the runner's jobs come from: the GitHub connection (created once by hand: it needs an OAuth handshake
    in the console, docs/getting-started.md) and the repository whose deploy workflow runs on it."""

    connection_arn: str = Field(
        default="",
        pattern=CONNECTION_ARN_PATTERN,
        description="ARN of the CodeConnections connection to GitHub (console: Developer Tools > Connections); "
        "with runnerRepository, the stack creates its in-VPC deploy runner, which deploy.yml's deploy jobs run on "
        "(`doctor` reports it missing).",
    )
    repository: str = Field(
        default="",
        pattern=REPOSITORY_PATTERN,
        description="The GitHub repository (OWNER/NAME) whose deploy workflow runs on the runner.",
    )
    log_retention_days: RetentionDays = Field(
        default=365, description="Days the runner's build logs (every deploy job's output) are kept."
    )
    actor_ids: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        default=(),
        max_length=50,
        description="GitHub account ids (`gh api users/LOGIN --jq .id`) whose workflow runs may start the runner: "
        "everyone who merges to main or re-runs a deploy (a merge queue's bot too). Empty: any run of a workflow "
        "named Deploy may, a fork's pull request in a public repository included (docs/cicd.md).",
    )

    @property
    def enabled(self) -> bool:
        return bool(self.connection_arn and self.repository)

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if bool(self.connection_arn) != bool(self.repository):
            missing = "repository" if self.connection_arn else "connection_arn"
            yield missing, "the runner needs both runnerConnectionArn and runnerRepository; set both or neither"
