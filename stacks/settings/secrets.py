"""Settings of the application secrets (components/secrets.py)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, field_validator

from stacks.settings.base import Environment, Problem, section

#: Secrets Manager's longest recovery window, kept in prod.
PROD_RECOVERY_WINDOW_DAYS = 30
#: Days between scheduled rotations with Lambda in prod.
PROD_LAMBDA_ROTATION_DAYS = 30


@section(prefix="secrets")
class SecretSettings:
    """Secrets Manager secrets generated for the application (Redis AUTH, session key, admin and origin tokens)."""

    recovery_window_days: int = Field(
        default=PROD_RECOVERY_WINDOW_DAYS,
        ge=0,
        le=30,
        description="Days a deleted secret can still be restored: 7-30 (prod keeps 30), or 0 to delete it at once "
        "so that a destroyed stack can be created again right away (the secrets have fixed names, which a secret "
        "awaiting deletion keeps taken; staging).",
    )

    session_rotation: int = Field(
        default=0,
        ge=0,
        description="Raise by one to rotate the key that signs the shop's session cookies (signs everyone out).",
    )
    admin_token_rotation: int = Field(
        default=0, ge=0, description="Raise by one to rotate the credential of the shop's admin API."
    )

    lambda_rotation_days: int = Field(
        default=PROD_LAMBDA_ROTATION_DAYS,
        ge=0,
        le=1000,
        description="Days between scheduled rotations of the session key and admin token by the rotation function "
        "(docs/operations.md, Rotation with Lambda), or 0 for none (staging). The function is deployed either way.",
    )

    def rotation(self, purpose: str) -> int:
        """How many times the secret of ``purpose`` (``session``, ...) has been rotated through config (the AUTH
        token and the origin header rotate only with their Lambda functions)."""
        rotations = {
            "session": self.session_rotation,
            "admin-token": self.admin_token_rotation,
        }
        return rotations[purpose]

    @field_validator("recovery_window_days")
    @classmethod
    def _secrets_manager_window(cls, days: int) -> int:
        if 0 < days < 7:
            raise ValueError("must be 0 (delete at once) or 7-30: Secrets Manager accepts no other window")
        return days

    def problems(self, environment: Environment) -> Iterator[Problem]:
        if environment == "prod" and self.recovery_window_days < PROD_RECOVERY_WINDOW_DAYS:
            yield "recovery_window_days", f"prod keeps the full {PROD_RECOVERY_WINDOW_DAYS}-day recovery window"
