"""Secrets from AWS Secrets Manager (deployed) or literal settings (local), cached and re-readable for rotation."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shop.observability import log_event
from shop.settings import SECRET_MIN_LENGTH, ConfigError, Settings

log = logging.getLogger("shop.secrets")
# Re-reads triggered by a failed credential check are rate-limited so bad clients cannot hammer the API.
MIN_REFRESH_INTERVAL = 30.0


class SecretRef:
    """One secret value, fetched on first use and re-fetched only through `refresh()`.

    With `fetch_previous`, the ref is a key ring: `ring()` is the current value and the previous one (Secrets
    Manager's AWSCURRENT and AWSPREVIOUS), so credentials issued under the previous value stay valid through a
    rotation while everything new is signed with the current one. With `fetch_pending` too, the ring also holds the
    value a rotation is putting in place (AWSPENDING): the origin header, which CloudFront sends before the rotation
    promotes it.
    """

    def __init__(
        self,
        variable: str,
        fetch: Callable[[], str],
        clock: Callable[[], float],
        min_length: int = 1,
        fetch_previous: Callable[[], str | None] | None = None,
        fetch_pending: Callable[[], str | None] | None = None,
    ) -> None:
        self.variable = variable
        self._fetch = fetch
        self._fetch_previous = fetch_previous
        self._fetch_pending = fetch_pending
        self._min_length = min_length
        self._clock = clock
        self._value: str | None = None
        self._others: tuple[str, ...] = ()
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> str:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._load()
        assert self._value is not None
        return self._value

    def ring(self) -> tuple[str, ...]:
        """The values a presented credential may match: the current one first, then the previous (and pending) one
        if any."""
        current = self.get()
        return (current, *(other for other in self._others if other != current))

    def refresh(self) -> bool:
        """Re-read the secret after a credential failure; True when a new value (current or in the ring) was
        loaded."""
        with self._lock:
            if self._clock() - self._fetched_at < MIN_REFRESH_INTERVAL:
                return False
            old = (self._value, self._others)
            try:
                self._load()
            except ConfigError as exc:
                # Keep serving with the value in use; a bad rotation must not fail every request.
                self._fetched_at = self._clock()
                log_event(log, "secret_refresh_failed", level=logging.ERROR, error=str(exc))
                return False
            return (self._value, self._others) != old

    async def arefresh(self) -> bool:
        if self._clock() - self._fetched_at < MIN_REFRESH_INTERVAL:
            return False  # checked here too, so a flood of bad credentials costs no thread hops
        return await asyncio.to_thread(self.refresh)

    def _load(self) -> None:
        try:
            value = self._fetch()
            others = [fetch() for fetch in (self._fetch_previous, self._fetch_pending) if fetch is not None]
        except Exception as exc:
            raise ConfigError(f"{self.variable}: cannot read secret: {exc}") from exc
        if len(value) < self._min_length:
            raise ConfigError(f"{self.variable}: the secret must be at least {self._min_length} characters long")
        self._value = value
        # A previous value shorter than the rule (never valid as current) is not accepted either.
        self._others = tuple(dict.fromkeys(o for o in others if o is not None and len(o) >= self._min_length))
        self._fetched_at = self._clock()


@dataclass(frozen=True)
class DbCredentials:
    username: str
    password: str


class Secrets:
    """All secrets the shop needs, resolved from settings."""

    def __init__(self, settings: Settings, client: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._client = client
        self._client_lock = threading.Lock()
        # The two credentials the shop verifies itself are key rings: a rotation does not sign anyone out.
        session, admin_token = (
            self._ref("session_secret", "session_secret_arn", ring=True),
            self._ref("admin_token", "admin_token_secret_arn", ring=True),
        )
        assert session is not None and admin_token is not None, "settings validation requires both"
        self.session: SecretRef = session
        self.admin_token: SecretRef = admin_token
        # A key ring too: after an AUTH failure the shop tries the other token (ElastiCache's ROTATE keeps the
        # previous one valid until the next rotation).
        self.redis_password = self._ref("redis_password", "redis_auth_secret_arn", ring=True)
        # A key ring of the current, previous and pending values: CloudFront sends the pending one as soon as its
        # rotation's setSecret step ran, before finishSecret makes it current (functions/rotate_generated).
        self.origin_verify = self._ref("origin_verify_token", "origin_verify_secret_arn", ring=True, pending=True)
        self.db = self._ref(None, "db_secret_arn")

    def db_credentials(self) -> DbCredentials:
        assert self.db is not None
        try:
            data = json.loads(self.db.get())
            return DbCredentials(username=str(data["username"]), password=str(data["password"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError("SHOP_DB_SECRET_ARN: secret must be JSON with username and password") from exc

    def load_all(self) -> None:
        """Fetch every configured secret once at startup so a bad ARN fails fast."""
        for ref in (self.session, self.admin_token, self.redis_password, self.origin_verify, self.db):
            if ref is not None:
                ref.get()
        if self.db is not None:
            self.db_credentials()

    def _ref(
        self, literal_field: str | None, arn_field: str, ring: bool = False, pending: bool = False
    ) -> SecretRef | None:
        arn = getattr(self._settings, arn_field)
        if arn:
            min_length = SECRET_MIN_LENGTH.get(literal_field or "", 1)
            previous = self._stage_reader(arn, "AWSPREVIOUS") if ring else None
            return SecretRef(
                f"SHOP_{arn_field.upper()}",
                self._reader(arn),
                self._clock,
                min_length,
                previous,
                self._stage_reader(arn, "AWSPENDING") if pending else None,
            )
        if literal_field is None or (literal := getattr(self._settings, literal_field)) is None:
            return None
        return SecretRef(f"SHOP_{literal_field.upper()}", lambda: literal, self._clock)

    def _reader(self, arn: str) -> Callable[[], str]:
        def read() -> str:
            return self._secretsmanager().get_secret_value(SecretId=arn)["SecretString"]

        return read

    def _stage_reader(self, arn: str, stage: str) -> Callable[[], str | None]:
        def read_stage() -> str | None:
            client = self._secretsmanager()
            try:
                return client.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
            except client.exceptions.ResourceNotFoundException:
                return None  # never rotated, or no rotation under way

        return read_stage

    def _secretsmanager(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import boto3  # only deployed environments need it; it is slow to import

                self._client = boto3.client("secretsmanager", region_name=self._settings.aws_region)
            return self._client
