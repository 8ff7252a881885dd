"""Process configuration: every `SHOP_*` environment variable, validated once at startup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_DIR = Path(__file__).resolve().parent.parent
DEV_VAR_DIR = APP_DIR / "var"

# Literal secrets are for local runs and tests only; deployed environments read them from Secrets Manager.
_LITERAL_SECRETS = {
    "session_secret": "session_secret_arn",
    "admin_token": "admin_token_secret_arn",
    "redis_password": "redis_auth_secret_arn",
    "origin_verify_token": "origin_verify_secret_arn",
}
# Shortest acceptable value of a secret, by literal setting; a value read from Secrets Manager is held to the same.
SECRET_MIN_LENGTH = {"session_secret": 32, "admin_token": 16, "origin_verify_token": 16}


class ConfigError(Exception):
    """Invalid configuration; the message names every offending variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_", extra="ignore", frozen=True)

    env: Literal["dev", "staging", "prod"] = "prod"
    host: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces; dev binds loopback
    port: int = Field(8080, ge=1, le=65535)
    internal_port: int = Field(9090, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")

    database_url: str | None = None
    db_host: str | None = None
    db_port: int = Field(5432, ge=1, le=65535)
    db_name: str | None = None
    db_secret_arn: str | None = None
    db_ssl_root_cert: Path | None = None
    db_sslmode: Literal["disable", "require", "verify-ca", "verify-full"] | None = None
    db_pool_size: int = Field(10, ge=1, le=100)
    db_wait_seconds: float = Field(60.0, ge=0, le=900)
    db_ready_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="How long a readiness probe (/readyz) waits for the database to answer."
    )
    db_connect_timeout_seconds: int = Field(5, ge=1, le=60, description="TCP + TLS + authentication of a connection.")
    db_statement_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Server-side statement_timeout of every session."
    )
    db_lock_timeout_seconds: float = Field(3.0, gt=0, le=300, description="Server-side lock_timeout of every session.")
    db_pool_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="How long a request waits for a free pooled connection."
    )
    request_timeout_seconds: float = Field(
        15.0, gt=0, le=300, description="Deadline of one request; past it the answer is 503 with Retry-After."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest request body on the public port."
    )

    redis_url: str | None = None
    redis_auth_secret_arn: str | None = None
    redis_password: str | None = None
    redis_key_prefix: str = Field("shop:", min_length=1, max_length=64)
    redis_timeout_seconds: float = Field(
        0.5,
        gt=0,
        le=60,
        description="Connect and read/write timeout of each Redis call; past it the shop falls back to the database.",
    )
    redis_breaker_seconds: float = Field(
        2.0,
        ge=0,
        le=300,
        description="After a Redis failure Redis is skipped for this long (circuit breaker), so an outage costs one "
        "timeout, not one per request.",
    )
    cart_store: Literal["dynamodb", "redis", "database"] = Field(
        "redis",
        description="Where carts live: a DynamoDB table (SHOP_CART_TABLE), Redis hashes (falling back to the "
        "database while Redis is absent or down), or the database.",
    )
    cart_table: str | None = Field(None, description="The DynamoDB table of carts when SHOP_CART_STORE=dynamodb.")
    cart_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    cache_ttl_seconds: int = Field(300, ge=1)

    session_secret_arn: str | None = None
    session_secret: str | None = Field(None, min_length=SECRET_MIN_LENGTH["session_secret"])
    admin_token_secret_arn: str | None = None
    admin_token: str | None = Field(None, min_length=SECRET_MIN_LENGTH["admin_token"])
    origin_verify_secret_arn: str | None = None
    origin_verify_token: str | None = Field(None, min_length=SECRET_MIN_LENGTH["origin_verify_token"])

    s3_bucket: str | None = None
    s3_prefix: str = "media/"
    media_dir: Path = Path("/tmp/shop-media")  # noqa: S108 - the only writable path in the container
    cdn_base_url: str = ""
    aws_region: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("cdn_base_url")
    @classmethod
    def _cdn(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql+psycopg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+psycopg:// or sqlite+aiosqlite://")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        errors: list[str] = []
        if self.database_url is None:
            errors += [
                f"SHOP_{name.upper()}: required when SHOP_DATABASE_URL is not set"
                for name in ("db_host", "db_name", "db_secret_arn")
                if getattr(self, name) is None
            ]
        if self.deployed:
            for literal, arn in _LITERAL_SECRETS.items():
                if getattr(self, literal) is not None:
                    errors.append(
                        f"SHOP_{literal.upper()}: not allowed when SHOP_ENV={self.env}; set SHOP_{arn.upper()}"
                    )
            for arn in ("session_secret_arn", "admin_token_secret_arn"):
                if getattr(self, arn) is None:
                    errors.append(f"SHOP_{arn.upper()}: required when SHOP_ENV={self.env}")
            if self.database_url is not None and urlsplit(self.database_url).password:
                errors.append(f"SHOP_DATABASE_URL: must not embed a password when SHOP_ENV={self.env}")
        else:
            for literal, arn in (("session_secret", "session_secret_arn"), ("admin_token", "admin_token_secret_arn")):
                if getattr(self, literal) is None and getattr(self, arn) is None:
                    errors.append(f"SHOP_{literal.upper()}: required (or SHOP_{arn.upper()})")
        if self.cart_store == "dynamodb" and self.cart_table is None:
            errors.append("SHOP_CART_TABLE: required when SHOP_CART_STORE=dynamodb")
        if self.port == self.internal_port:
            errors.append("SHOP_INTERNAL_PORT: must differ from SHOP_PORT")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @property
    def deployed(self) -> bool:
        return self.env in ("staging", "prod")

    @property
    def cookie_secure(self) -> bool:
        # Local runs are plain http://127.0.0.1, where browsers drop Secure cookies.
        return self.env != "dev"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; raise ConfigError with one readable line on any problem."""
    try:
        return Settings(**overrides)  # pyright: ignore[reportArgumentType]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        if err["loc"]:
            parts.append(f"SHOP_{str(err['loc'][0]).upper()}: {err['msg']}")
        else:
            parts.append(str(err["msg"]).removeprefix("Value error, "))
    return "invalid configuration: " + "; ".join(parts)


def dev_settings(**overrides: object) -> Settings:
    """Local mode (`serve --dev`): SQLite, in-process cache, local images, fixed dev-only secrets."""
    DEV_VAR_DIR.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, object] = {
        "env": "dev",
        "host": "127.0.0.1",
        "port": 8000,
        "internal_port": 9090,
        "database_url": f"sqlite+aiosqlite:///{DEV_VAR_DIR / 'shop.sqlite3'}",
        "media_dir": DEV_VAR_DIR / "media",
        "session_secret": "dev-only-session-secret-never-use-in-production",
        "admin_token": "dev-only-admin-token",
    }
    # Explicit SHOP_* variables still win, so `make shop` can be pointed at PostgreSQL or Redis.
    defaults = {key: value for key, value in defaults.items() if f"SHOP_{key.upper()}" not in os.environ}
    return load_settings(**(defaults | overrides))
