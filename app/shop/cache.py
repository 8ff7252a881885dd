"""Redis access that degrades instead of failing, and the two-tier catalog read cache."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.exceptions import AuthenticationError, RedisError

from shop.observability import Metrics, log_event
from shop.secrets import SecretRef

log = logging.getLogger("shop.cache")
T = TypeVar("T")

# How often a process re-reads the shared catalog version; bounds cross-pod staleness after admin edits.
VERSION_CHECK_SECONDS = 1.0


class RedisUnavailable(Exception):
    pass


class _SecretCredentials(CredentialProvider):
    """The AUTH token each new connection sends: AWSCURRENT, or after an AUTH failure the next value of the key ring
    (AWSCURRENT, AWSPREVIOUS), re-read first: a rotation may have moved the token since it was read."""

    def __init__(self, secret: SecretRef) -> None:
        self.secret = secret
        self._choice = 0

    def get_credentials(self) -> tuple[str]:
        ring = self.secret.ring()
        return (ring[self._choice % len(ring)],)

    async def get_credentials_async(self) -> tuple[str]:
        return self.get_credentials()

    async def rejected(self) -> None:
        """The cache refused the token: a new value read from Secrets Manager goes first, else the other one."""
        self._choice = 0 if await self.secret.arefresh() else self._choice + 1


class RedisStore:
    """A Redis client behind a circuit breaker; callers get RedisUnavailable and fall back.

    Each call may take up to `timeout` seconds (SHOP_REDIS_TIMEOUT_SECONDS); after a failure Redis is skipped for
    `breaker_seconds` (SHOP_REDIS_BREAKER_SECONDS), so an outage costs one timeout, not one per request.
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        password: SecretRef | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        timeout: float = 0.5,
        breaker_seconds: float = 2.0,
    ) -> None:
        self.prefix = prefix
        self.breaker_seconds = breaker_seconds
        self._credentials = _SecretCredentials(password) if password else None
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
            credential_provider=self._credentials,
        )
        self._clock = clock
        self._open_until = 0.0

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def run(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        if self._clock() < self._open_until:
            raise RedisUnavailable
        try:
            return await operation(self.client)
        except (RedisError, OSError) as exc:
            if isinstance(exc, AuthenticationError) and self._credentials is not None:
                await self._credentials.rejected()  # AUTH token rotated
            if self._open_until == 0.0 or self._clock() >= self._open_until:
                log_event(log, "redis_unavailable", level=logging.WARNING, error=str(exc)[:200])
            self._open_until = self._clock() + self.breaker_seconds
            raise RedisUnavailable from exc

    async def close(self) -> None:
        await self.client.aclose()


class CatalogCache:
    """Serialized catalog reads: an in-process LRU in front of Redis, both keyed by a catalog version.

    Admin edits bump the version in Redis (INCR), which retires every cached entry in every pod at once;
    a pod notices within VERSION_CHECK_SECONDS. Without Redis the version is process-local. A bump made while
    Redis is down is process-local too, and is published (INCR) as soon as Redis answers again, so the newer
    catalog wins over Redis's older version and the entries cached under it.

    Shared entries are keyed by the shop's currency too: every value carries prices, and a shop restarted with
    another SHOP_CURRENCY (or a second shop on the same Redis) must never serve those of the old one. The version
    is shared: an edit retires every currency's entries.
    """

    def __init__(
        self,
        redis: RedisStore | None,
        metrics: Metrics,
        ttl: float,
        *,
        currency: str,
        max_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self.ttl = ttl
        self.currency = currency
        self.max_entries = max_entries
        self.clock = clock
        self.version = 0
        self._version_checked = float("-inf")
        self._unpublished = False  # the local version was bumped while Redis was down
        self._local: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._hits_local = metrics.cache.labels("catalog_local", "hit")
        self._misses_local = metrics.cache.labels("catalog_local", "miss")
        self._hits_redis = metrics.cache.labels("catalog_redis", "hit")
        self._misses_redis = metrics.cache.labels("catalog_redis", "miss")

    async def get(
        self, key: str, load: Callable[[], Awaitable[bytes]], *, shared: bool | Callable[[bytes], bool] = True
    ) -> bytes:
        """The cached value, else load(): stored in the in-process LRU, and in Redis when `shared` is true or, as a
        function, is true of the value (free-form client input must not grow Redis's key space)."""
        now = self.clock()
        await self._sync_version(now)
        entry = self._local.get(key)
        if entry is not None and entry[0] > now:
            self._hits_local.inc()
            return entry[1]
        self._misses_local.inc()
        version = self.version
        value = await self._get_shared(key, version) if shared else None
        if value is None:
            value = await load()
            if shared is True or (callable(shared) and shared(value)):
                await self._set_shared(key, version, value)
        if version != self.version:
            return value  # invalidated while loading: serve it once, cache nothing
        self._local[key] = (now + self.ttl, value)
        self._local.move_to_end(key)
        if len(self._local) > self.max_entries:
            self._local.popitem(last=False)
        return value

    async def invalidate(self) -> None:
        self._local.clear()
        if self.redis is None:
            self.version += 1
            return
        try:
            await self._publish(self.redis)
        except RedisUnavailable:
            self.version += 1
            self._unpublished = True

    async def _publish(self, redis: RedisStore) -> None:
        version_key = redis.key("catalog", "version")
        self.version = await redis.run(lambda r: r.incr(version_key))
        self._version_checked = self.clock()
        self._unpublished = False

    async def _sync_version(self, now: float) -> None:
        if self.redis is None or now - self._version_checked < VERSION_CHECK_SECONDS:
            return
        self._version_checked = now
        version_key = self.redis.key("catalog", "version")
        try:
            if self._unpublished:
                await self._publish(self.redis)
                self._local.clear()
                return
            raw = await self.redis.run(lambda r: r.get(version_key))
        except RedisUnavailable:
            return
        version = int(raw or 0)
        if version != self.version:
            self.version = version
            self._local.clear()

    async def _get_shared(self, key: str, version: int) -> bytes | None:
        if self.redis is None:
            return None
        shared_key = self.redis.key("catalog", str(version), self.currency, key)
        try:
            value: Any = await self.redis.run(lambda r: r.get(shared_key))
        except RedisUnavailable:
            return None
        (self._hits_redis if value is not None else self._misses_redis).inc()
        return value

    async def _set_shared(self, key: str, version: int, value: bytes) -> None:
        if self.redis is None:
            return
        shared_key = self.redis.key("catalog", str(version), self.currency, key)
        with contextlib.suppress(RedisUnavailable):
            await self.redis.run(lambda r: r.set(shared_key, value, ex=int(self.ttl)))
