"""Rate limits on the endpoints worth guessing at (admin login, order lookup): fixed-window counters per client,
shared by every pod through Redis, counted in the process while Redis is absent or down."""

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


#: A person types a token or an order number a few times; a script tries thousands.
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

    async def retry_after(self, limit: Limit, client: str) -> int | None:
        """Count one request of `client`; None while within the limit, else the seconds until the window ends."""
        now = self.clock()
        window = int(now // limit.window_seconds)
        retry = max(1, limit.window_seconds - int(now % limit.window_seconds))
        # Hashed: the client address is never a raw key, and every key has the same short length.
        who = hashlib.blake2b(client.encode(), digest_size=8).hexdigest()
        count = None
        if self.redis is not None:
            key = self.redis.key("rl", limit.name, who, str(window))

            async def incr(r: Any) -> int:
                pipe = r.pipeline(transaction=True)
                pipe.incr(key)
                pipe.expire(key, limit.window_seconds)
                return (await pipe.execute())[0]

            try:
                count = await self.redis.run(incr)
            except RedisUnavailable:
                count = None
        if count is None:
            count = self._count_locally(f"{limit.name}:{who}:{window}")
        return None if count <= limit.requests else retry

    def _count_locally(self, key: str) -> int:
        count = self._local.pop(key, 0) + 1
        self._local[key] = count
        while len(self._local) > self.max_local_keys:  # oldest windows first; bounded memory
            self._local.popitem(last=False)
        return count
