"""Settings of the customer-managed KMS keys (components/keys.py)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from stacks.settings.base import Environment, Problem, section


@section(prefix="kms")
class KeySettings:
    """Customer-managed KMS keys: one per purpose (data, logs, secrets)."""

    deletion_window_days: int = Field(
        default=30, ge=7, le=30, description="Waiting period before a scheduled key deletion completes (7-30 days)."
    )
    rotation_period_days: int = Field(
        default=365, ge=90, le=2560, description="Automatic key material rotation period (90-2560 days)."
    )

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if environment == "prod" and self.deletion_window_days < 30:
            yield "deletion_window_days", "prod keeps the full 30-day window to recover from a mistaken key deletion"
