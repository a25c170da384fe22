"""The Redis cache backend, with one Redis client per connection pool instead of one per command.

Django's backend builds a new `redis.Redis` for every cache call; constructing one (its table of
response callbacks) cost more CPU than the round trip itself, and every API request makes
several calls (the throttles read and write their counters). The client is thread-safe and
holds no connection of its own (they stay in the pool), so it is built once per pool.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write: bool = False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            # `_get_connection_pool` picks the index again (at random among read replicas):
            # file the client under the pool it was built for.
            index = next(i for i, known in self._pools.items() if known is pool)
            client = self._clients.setdefault(index, self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    """`django.core.cache.backends.redis.RedisCache`, reusing its Redis clients."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def count(self, key: str, timeout: int) -> int:
        """Add one to the counter `key` (created at 0, expiring after `timeout` seconds) and
        return it: ONE round trip (MULTI/EXEC), where `add` and `incr` would take three."""
        key = self.make_and_validate_key(key)
        pipeline = self._cache.get_client(key, write=True).pipeline(transaction=True)
        pipeline.set(key, 0, ex=timeout, nx=True)
        pipeline.incr(key)
        return pipeline.execute()[1]


def count(key: str, timeout: int) -> int:
    """Add one to the counter `key` in the default cache and return it. A new counter starts at
    0 and expires `timeout` seconds after it was created (not after its last increment)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        return backend.count(key, timeout)
    if backend.add(key, 1, timeout):
        return 1
    try:
        return backend.incr(key)
    except ValueError:  # it expired between the two calls
        backend.set(key, 1, timeout)
        return 1
