"""OIDC as code (issue 21, item 6): the repository's subject claim template and environments come from the
bootstrap, and each role's trust policy, evaluated against the tokens GitHub would mint, admits exactly one
workflow of this repository at one ref in one environment."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

import pytest

from components.deploy_access import SUBJECT_CLAIM_KEYS
from stacks.offline.engine import preview
from stacks.offline.plan import Plan
from stacks.settings import SettingsError
from tests.cicd import ROOT, all_jobs, steps, uses, workflow_events

BOOTSTRAP_DIR = ROOT / "bootstrap"
TEMPLATE = (
    "github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:"
    "ActionsRepositoryOidcSubjectClaimCustomizationTemplate"
)
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
BRANCH_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
# bootstrap/Pulumi.ci.yaml's example repository.
REPOSITORY, REPOSITORY_ID, REVIEWER_TEAM = "example-org/shop-platform", 100000001, 200000001
DEPLOY, PREVIEW = ".github/workflows/deploy.yml", ".github/workflows/preview.yml"
MAIN, PULL_REQUEST = "refs/heads/main", "refs/pull/42/merge"


@dataclass(frozen=True)
class Token:
    """The claims of a job's OIDC token that the subject template can name."""

    environment: str | None
    workflow: str
    ref: str
    event: str = "push"
    repository: str = REPOSITORY
    repository_id: int = REPOSITORY_ID

    def claim(self, key: str) -> str:
        """One claim's part of the subject: ``key:value`` (``context`` is the default subject's tail)."""
        if key == "repo":
            return f"repo:{self.repository}"
        if key == "repository_id":
            return f"repository_id:{self.repository_id}"
        if key == "job_workflow_ref":
            return f"job_workflow_ref:{self.repository}/{self.workflow}@{self.ref}"
        assert key == "context", key
        if self.environment:
            return f"environment:{self.environment}"
        return "pull_request" if self.event == "pull_request" else f"ref:{self.ref}"

    def subject(self, keys: list[str]) -> str:
        return ":".join(self.claim(key) for key in keys)


def _template_keys(plan: Plan) -> list[str]:
    template = plan.one(TEMPLATE)
    assert template.inputs["useDefault"] is False
    return template.inputs["includeClaimKeys"]


def _admits(trust: dict[str, Any], subject: str) -> bool:
    """Whether a token with ``subject`` (audience STS) may assume the role: every condition of an Allow holds.
    StringEquals compares exactly, StringLike with IAM's ``*`` and ``?``; any other operator fails (the safe
    reading for an Allow)."""
    claims = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    claims["token.actions.githubusercontent.com:sub"] = subject

    def holds(operator: str, key: str, value: str) -> bool:
        if operator == "StringEquals":
            return claims.get(key) == value
        if operator == "StringLike":
            return fnmatchcase(claims.get(key, ""), value.replace("[", "[[]"))
        return False

    return any(
        statement["Effect"] == "Allow"
        and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        and all(
            holds(operator, key, value)
            for operator, tests in statement.get("Condition", {}).items()
            for key, value in tests.items()
        )
        for statement in trust["Statement"]
    )


def _trust(plan: Plan, purpose: str) -> dict[str, Any]:
    return json.loads(plan.one("aws:iam/role:Role", f"github-{purpose}").inputs["assumeRolePolicy"])


#: The one token each role admits, by role.
RIGHT = {
    "publisher": Token("image", DEPLOY, MAIN),
    "deploy-staging": Token("staging", DEPLOY, MAIN),
    "deploy-prod": Token("production", DEPLOY, MAIN),
    "preview-staging": Token("preview-staging", PREVIEW, PULL_REQUEST, event="pull_request"),
    "preview-prod": Token("preview-prod", PREVIEW, PULL_REQUEST, event="pull_request"),
}


def test_the_repository_gets_the_subject_template_the_roles_expect(bootstrap: Plan) -> None:
    template = bootstrap.one(TEMPLATE)
    assert template.inputs == {
        "repository": "shop-platform",
        "useDefault": False,
        "includeClaimKeys": ["repository_id", "context", "job_workflow_ref"],
    }
    assert list(SUBJECT_CLAIM_KEYS) == template.inputs["includeClaimKeys"]
    assert bootstrap.one("pulumi:providers:github").inputs["owner"] == "example-org"
    # The template is set after the roles: a token in the new format must find a role that expects it.
    roles = {role.urn for role in bootstrap.of_type("aws:iam/role:Role")}
    assert roles and roles <= set(template.dependencies)


@pytest.mark.parametrize("purpose", sorted(RIGHT))
def test_each_role_admits_its_workflow_on_its_ref_in_its_environment(bootstrap: Plan, purpose: str) -> None:
    keys, trust = _template_keys(bootstrap), _trust(bootstrap, purpose)
    right = RIGHT[purpose]
    assert _admits(trust, right.subject(keys)), purpose
    (statement,) = trust["Statement"]
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    refused = {
        "another workflow": replace(right, workflow=".github/workflows/ci.yml"),
        "a copy of the workflow under another name": replace(right, workflow=".github/workflows/deploy-copy.yml"),
        "another branch": replace(right, ref="refs/heads/feature", event="push"),
        "a tag": replace(right, ref="refs/tags/v1"),
        "a fork (its own id and name)": replace(right, repository="someone/shop-platform", repository_id=999),
        "a repository re-created under the name": replace(right, repository_id=REPOSITORY_ID + 1),
        "no environment": replace(right, environment=None),
        "another environment": replace(right, environment="staging" if right.environment != "staging" else "image"),
        "GitHub's default subject": right,
    }
    for case, token in refused.items():
        subject = token.subject(["repo", "context"] if case == "GitHub's default subject" else keys)
        assert not _admits(trust, subject), f"{purpose} admits {case}: {subject}"
    for other, token in RIGHT.items():
        if other != purpose:
            assert not _admits(trust, token.subject(keys)), f"{purpose} admits {other}'s job"


def test_a_preview_role_admits_any_pull_request_but_not_a_push(bootstrap: Plan) -> None:
    keys, trust = _template_keys(bootstrap), _trust(bootstrap, "preview-staging")
    assert _admits(trust, replace(RIGHT["preview-staging"], ref="refs/pull/7/merge").subject(keys))
    pushed = Token("preview-staging", PREVIEW, "refs/heads/main")
    assert not _admits(trust, pushed.subject(keys))
    # Only the pull request number is a pattern; deploy and publisher subjects are exact.
    for purpose in ("publisher", "deploy-staging", "deploy-prod"):
        assert "StringLike" not in _trust(bootstrap, purpose)["Statement"][0]["Condition"]


def test_the_trust_check_can_say_no() -> None:
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                    "StringLike": {"token.actions.githubusercontent.com:sub": "a:*:b"},
                },
            }
        ]
    }
    assert _admits(trust, "a:1:b")
    assert not _admits(trust, "a:1:c")
    trust["Statement"][0]["Condition"]["ForAnyValue:StringLike"] = {"x": "*"}
    assert not _admits(trust, "a:1:b")


def _matrix(text: str, entry: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda match: entry[match[1]], text)


def _job_token(path: str, job: dict[str, Any], entry: dict[str, str]) -> Token:
    environment = job.get("environment")
    environment = environment["name"] if isinstance(environment, dict) else environment
    if environment:
        environment = _matrix(environment, entry)
    events = workflow_events(path.removeprefix(".github/workflows/"))
    (event,) = events & {"push", "pull_request"}
    return Token(environment, path, MAIN if event == "push" else PULL_REQUEST, event=event)


def test_every_job_that_assumes_a_role_gets_a_token_that_role_admits(bootstrap: Plan) -> None:
    """The workflows as written, against the trust policies as planned: each job that assumes a role mints a
    subject (its environment, its workflow file, the ref its event runs at) the role admits, and no role is
    left that no job uses."""
    keys = _template_keys(bootstrap)
    purposes = [r.name.removeprefix("github-") for r in bootstrap.of_type("aws:iam/role:Role")]
    trusted = {bootstrap.one("aws:iam/role:Role", f"github-{p}").outputs["arn"]: _trust(bootstrap, p) for p in purposes}
    variables = bootstrap.outputs["githubVariables"]
    assumed = set()
    for name, job_id, job in all_jobs():
        for step in steps(job):
            if uses(step) != "aws-actions/configure-aws-credentials":
                continue
            for entry in job.get("strategy", {}).get("matrix", {}).get("include", [{}]):
                (variable,) = re.findall(r"vars\.(\w+)", _matrix(step["with"]["role-to-assume"], entry))
                token = _job_token(f".github/workflows/{name}", job, entry)
                assert token.environment, f"{name}:{job_id} assumes a role outside an environment"
                assert _admits(trusted[variables[variable]], token.subject(keys)), f"{name}:{job_id} ({variable})"
                assumed.add(variables[variable])
    assert assumed == set(trusted), "every role the bootstrap creates is used by a job"


def _environments(plan: Plan) -> dict[str, dict[str, Any]]:
    return {resource.inputs["environment"]: resource.inputs for resource in plan.of_type(ENVIRONMENT)}


def test_the_environments_the_roles_trust_are_created_with_their_rules(bootstrap: Plan) -> None:
    environments = _environments(bootstrap)
    assert set(environments) == {token.environment for token in RIGHT.values()} | {"notify"}
    branch_patterns = {p.inputs["environment"]: p.inputs["branchPattern"] for p in bootstrap.of_type(BRANCH_POLICY)}
    # Deploying environments: main only, admins cannot bypass; production also waits for a reviewer who did not
    # start the run.
    main_only = {"protectedBranches": False, "customBranchPolicies": True}
    for name in ("image", "notify", "staging", "production"):
        assert environments[name]["deploymentBranchPolicy"] == main_only
        assert branch_patterns[name] == "main"
    assert set(branch_patterns) == {"image", "notify", "staging", "production"}
    for name in ("production", "preview-prod"):
        assert environments[name]["reviewers"] == [{"teams": [REVIEWER_TEAM], "users": []}]
        assert environments[name]["preventSelfReview"] is True
    for name in ("image", "notify", "staging", "preview-staging"):
        assert "reviewers" not in environments[name]
    assert all(environment["canAdminsBypass"] is False for environment in environments.values())


def test_every_environment_a_workflow_names_is_created_by_the_bootstrap(bootstrap: Plan) -> None:
    environments = set(_environments(bootstrap))
    for name, job_id, job in all_jobs():
        environment = job.get("environment")
        if not environment:
            continue
        environment = environment["name"] if isinstance(environment, dict) else environment
        for entry in job.get("strategy", {}).get("matrix", {}).get("include", [{}]):
            resolved = _matrix(environment, entry)
            assert resolved in environments, f"{name}:{job_id} runs in {resolved}, which no code creates"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"shop-bootstrap:githubReviewerTeams": []}, "githubReviewerTeams: name a team or a user"),
        ({"shop-bootstrap:githubReviewerUsers": [1, 2, 3, 4, 5, 6]}, "githubReviewerTeams: 7 reviewers"),
        ({"shop-bootstrap:githubRepositoryId": 0}, "githubRepositoryId: Input should be greater than or equal to 1"),
    ],
)
def test_the_bootstrap_refuses_a_production_environment_without_reviewers_or_a_repository_id(
    overrides: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        preview("ci", project_dir=BOOTSTRAP_DIR, overrides=overrides)
    assert f"shop-bootstrap:{problem}" in str(raised.value)


def test_with_an_account_per_environment_one_bootstrap_owns_the_shared_repository_settings() -> None:
    """Two bootstraps (one per account) configure one repository: only the one with githubManageShared sets the
    subject template and the image and notify environments, and each creates its own stacks' environments."""
    overrides = {
        "shop-bootstrap:githubManageShared": False,
        "shop-bootstrap:deployStacks": ["prod", "dr"],
        "shop-bootstrap:deployProtectedStacks": ["prod", "dr"],
    }
    plan = preview("ci", project_dir=BOOTSTRAP_DIR, overrides=overrides)
    assert plan.of_type(TEMPLATE) == []
    # Two protected stacks share the one production environment.
    assert sorted(_environments(plan)) == ["preview-dr", "preview-prod", "production"]
