"""GitHub Actions' way into AWS: GitHub's OIDC provider, one role per kind of job (``publisher``, ``deploy-<stack>``,
``preview-<stack>``), each trusted only for one GitHub environment of one workflow of this repository, and the
workload boundary that caps every role a stack creates.

- ``actions.py``: the IAM action sets, as data.
- ``statements.py``: each role's and the boundary's policy, as tables of ``allow``/``deny`` statements.
- ``component.py``: the ``DeployAccess`` component that creates the provider, the roles and the boundaries.
- ``github.py``: the subjects the roles trust, and the ``GitHubRepository`` component that makes GitHub mint them
  (the subject claim template, the environments with their branch rules and reviewers).

What each role may and may not do, what is not capped and why: docs/threat-model.md.
"""

from components.deploy_access.actions import (
    BOUNDED_ROLE_WRITE_ACTIONS,
    CLUSTER_OIDC_PROVIDER_ACTIONS,
    IMAGE_PUSH_ACTIONS,
    IMAGE_READ_ACTIONS,
    KEY_USE_ACTIONS,
    LOAD_BALANCER_READ_ACTIONS,
    PLATFORM_SERVICES,
    POLICY_READ_ACTIONS,
    PREVIEW_READ_ACTIONS,
    STACK_ROLE_ACTIONS,
    WORKLOAD_BOUNDARY_ACTIONS,
)
from components.deploy_access.component import (
    GITHUB_OIDC_HOST,
    STS_AUDIENCE,
    DeployAccess,
    DeployAccessArgs,
    StateAccess,
)
from components.deploy_access.github import (
    PREVIEW_ENVIRONMENT,
    SUBJECT_CLAIM_KEYS,
    GitHubRepository,
    GitHubRepositoryArgs,
)
from components.deploy_access.statements import GLOBAL_SERVICES_REGION

__all__ = [
    "BOUNDED_ROLE_WRITE_ACTIONS",
    "CLUSTER_OIDC_PROVIDER_ACTIONS",
    "GITHUB_OIDC_HOST",
    "GLOBAL_SERVICES_REGION",
    "IMAGE_PUSH_ACTIONS",
    "IMAGE_READ_ACTIONS",
    "KEY_USE_ACTIONS",
    "LOAD_BALANCER_READ_ACTIONS",
    "PLATFORM_SERVICES",
    "POLICY_READ_ACTIONS",
    "PREVIEW_ENVIRONMENT",
    "PREVIEW_READ_ACTIONS",
    "STACK_ROLE_ACTIONS",
    "STS_AUDIENCE",
    "SUBJECT_CLAIM_KEYS",
    "WORKLOAD_BOUNDARY_ACTIONS",
    "DeployAccess",
    "DeployAccessArgs",
    "GitHubRepository",
    "GitHubRepositoryArgs",
    "StateAccess",
]
