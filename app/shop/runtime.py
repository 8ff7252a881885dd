"""Everything a running shop holds: settings, secrets, database, Redis, services; built once per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from shop import db
from shop.cache import CatalogCache, RedisStore
from shop.cart_table import DynamoCartTable
from shop.carts import CartStore
from shop.catalog import Catalog
from shop.media import LocalMediaStore, MediaStore, S3MediaStore
from shop.observability import Metrics, abandon, log_event
from shop.orders import Orders
from shop.payments import PaymentProvider, TestPaymentProvider
from shop.ratelimit import RateLimiter
from shop.secrets import Secrets
from shop.security import AdminAuth, Signer
from shop.settings import Settings
from shop.shipping import CountryRules

log = logging.getLogger("shop.runtime")
# Every pod runs housekeeping; it is idempotent and safe concurrently. The interval bounds how long a stalled
# checkout keeps its stock reserved (see orders.STALLED_MARGIN).
HOUSEKEEPING_SECONDS = 300


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        secrets: Secrets | None = None,
        media: MediaStore | None = None,
        payments: PaymentProvider | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets or Secrets(settings)
        self.metrics = Metrics()
        self.engine = db.create_engine(settings, self.secrets)
        self.sessions = db.sessionmaker(self.engine)
        self.reads = db.read_sessionmaker(self.engine)
        self.redis = (
            RedisStore(
                settings.redis_url,
                settings.redis_key_prefix,
                self.secrets.redis_password,
                timeout=settings.redis_timeout_seconds,
                breaker_seconds=settings.redis_breaker_seconds,
            )
            if settings.redis_url
            else None
        )
        self.media: MediaStore = media or (
            S3MediaStore(settings.s3_bucket, settings.s3_prefix, settings.aws_region)
            if settings.s3_bucket
            else LocalMediaStore(settings.media_dir)
        )
        self.catalog = Catalog(
            self.reads,
            self.sessions,
            CatalogCache(self.redis, self.metrics, settings.cache_ttl_seconds, currency=settings.currency),
            settings.cdn_base_url,
            settings.currency,
        )
        self.carts = CartStore(
            self.redis if settings.cart_store == "redis" else None,
            self.sessions,
            self.reads,
            self.catalog,
            settings.cart_ttl_seconds,
            settings.currency,
            table=DynamoCartTable(settings.cart_table, settings.aws_region, settings.cart_ttl_seconds)
            if settings.cart_store == "dynamodb" and settings.cart_table
            else None,
        )
        self.rules = CountryRules(self.sessions, self.reads, settings.currency)
        self.orders = Orders(
            self.sessions,
            self.reads,
            self.carts,
            self.catalog,
            self.rules,
            payments or TestPaymentProvider(),
            self.metrics,
            request_key=self.secrets.session.get,
        )
        self.limiter = RateLimiter(self.redis)
        self.signer = Signer(self.secrets.session)
        self.admin = AdminAuth(self.secrets.admin_token)
        self.shutting_down = False
        self._reported_ahead: frozenset[str] = frozenset()
        self._housekeeping: asyncio.Task[Any] | None = None

    def start_housekeeping(self) -> None:
        self._housekeeping = asyncio.create_task(self._housekeep())

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            try:
                await self.housekeep()
            except Exception:
                log.exception("housekeeping failed", extra={"event": "housekeeping_failed"})

    async def housekeep(self) -> None:
        settled = await self.orders.release_stalled()  # before the purge: it records answers for their keys
        purged = await self.orders.purge_expired_keys() + await self.carts.purge_expired()
        log_event(log, "housekeeping", settled=settled, purged=purged)

    async def ready(self) -> tuple[bool, str]:
        if self.shutting_down:
            return False, "shutting down"
        # Not wait_for: it waits for the cancelled check to finish, and a driver cancelling a query on a silent
        # server takes seconds. The probe answers on time; the abandoned check ends on its own.
        check = asyncio.ensure_future(db.database_revisions(self.engine))
        done, _ = await asyncio.wait((check,), timeout=self.settings.db_ready_timeout_seconds)
        if not done:
            abandon(check)
            return False, "database unreachable: TimeoutError"
        if (exc := check.exception()) is not None:
            return False, f"database unreachable: {type(exc).__name__}"
        revisions = check.result()
        state = db.schema_state(revisions)
        if state == "behind":
            return False, "migrations not at head"
        if state == "ahead":
            if revisions != self._reported_ahead:  # once, not on every probe
                self._reported_ahead = revisions
                db.report_ahead(revisions)
            return True, "schema ahead of this image"
        return True, "ok"

    async def close(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        if self.redis is not None:
            await self.redis.close()
        await self.engine.dispose()
