"""The one place physical names and tags come from.

Tags are set explicitly on every taggable resource (not through provider ``default_tags``) so that the offline
plan, policies and reviewers can see them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: The purpose part of the workload boundaries' names (``Naming.workload_boundary``).
WORKLOAD_BOUNDARY = "workload-boundary"


@dataclass(frozen=True)
class Naming:
    """Names and tags for one stack: ``<prefix>-<stack>-<purpose>``."""

    prefix: str
    stack: str

    def physical(self, purpose: str, max_length: int = 63) -> str:
        """A physical name within ``max_length``; over-long names keep a stable hash suffix to stay unique."""
        name = f"{self.prefix}-{self.stack}-{purpose}"
        if len(name) <= max_length:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:6]
        return f"{name[: max_length - len(digest) - 1].rstrip('-')}-{digest}"

    def path(self, purpose: str) -> str:
        """A hierarchical name ``<prefix>/<stack>/<purpose>`` (Secrets Manager): IAM can grant one stack's subtree."""
        return f"{self.prefix}/{self.stack}/{purpose}"

    @property
    def role_path(self) -> str:
        """The IAM path of every role the stack creates, ``/<prefix>/<stack>/``: a deploy role may create roles
        only under its own stack's path."""
        return f"/{self.prefix}/{self.stack}/"

    @property
    def workload_boundary(self) -> str:
        """Name of the stack's permissions boundary ``<prefix>-<stack>-workload-boundary``: a managed policy the
        bootstrap creates (path ``/``, so its ARN is known before it exists) and every role of the stack carries."""
        return f"{self.prefix}-{self.stack}-{WORKLOAD_BOUNDARY}"

    def tags(self, component: str, **extra: str) -> dict[str, str]:
        """The tags every resource of ``component`` carries, plus resource-specific ones (e.g. ``Name``)."""
        return {
            "project": self.prefix,
            "stack": self.stack,
            "component": component,
            "managed-by": "pulumi",
            **extra,
        }

    def resource_tags(self, component: str, purpose: str) -> dict[str, str]:
        """``tags`` of a resource whose ``Name`` is its physical name for ``purpose``."""
        return self.tags(component, Name=self.physical(purpose))
