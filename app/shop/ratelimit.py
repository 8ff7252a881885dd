"""Rate limits on the endpoints worth guessing at (admin login and the admin API's bearer token, order lookup):
fixed-window counters per client, shared by every pod through Redis, counted in the process while Redis is absent
or down."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shop.cache import RedisStore, RedisUnavailable


@dataclass(frozen=True)
class Limit:
    name: str
    requests: int
    window_seconds: int


#: A person types a token or an order number a few times; a script tries thousands. Admin login attempts and the
#: admin API's wrong bearer tokens share one budget: both guess the same token.
ADMIN_LOGIN = Limit("admin_login", 10, 60)
ORDER_LOOKUP = Limit("order_lookup", 30, 60)


class RateLimiter:
    def __init__(
        self, redis: RedisStore | None, *, max_local_keys: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.max_local_keys = max_local_keys
        self._local: OrderedDict[str, int] = OrderedDict()

    async def retry_after(self, limit: Limit, client: str, *, count: bool = True) -> int | None:
        """Count one request of `client`; None while within the limit, else the seconds until the window ends.
        With count=False, only look: None while `client` may make one more request."""
        now = self.clock()
        window = int(now // limit.window_seconds)
        retry = max(1, limit.window_seconds - int(now % limit.window_seconds))
        # Hashed: the client address is never a raw key, and every key has the same short length.
        who = hashlib.blake2b(client.encode(), digest_size=8).hexdigest()
        seen = None
        if self.redis is not None:
            key = self.redis.key("rl", limit.name, who, str(window))

            async def incr(r: Any) -> int:
                pipe = r.pipeline(transaction=True)
                pipe.incr(key)
                pipe.expire(key, limit.window_seconds)
                return (await pipe.execute())[0]

            async def read(r: Any) -> int:
                return int(await r.get(key) or 0)

            try:
                seen = await self.redis.run(incr if count else read)
            except RedisUnavailable:
                seen = None
        if seen is None:
            seen = self._count_locally(f"{limit.name}:{who}:{window}", count)
        return None if seen + (not count) <= limit.requests else retry

    def _count_locally(self, key: str, count: bool) -> int:
        if not count:
            return self._local.get(key, 0)
        seen = self._local.pop(key, 0) + 1
        self._local[key] = seen
        while len(self._local) > self.max_local_keys:  # oldest windows first; bounded memory
            self._local.popitem(last=False)
        return seen
