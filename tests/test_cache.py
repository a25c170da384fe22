"""The Redis cache backend (config/cache.py): Django's, with its Redis clients reused."""

from __future__ import annotations

import uuid

import redis

from config.cache import RedisCache


def test_one_client_serves_every_call_and_the_values_round_trip(redis_url):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    cache = RedisCache(redis_url, {"KEY_PREFIX": prefix})
    server = redis.Redis.from_url(redis_url)
    try:
        cache.set("history", [1.5, 2.5], 30)
        assert cache.get("history") == [1.5, 2.5]
        assert cache.add("history", [], 30) is False
        assert cache.get_many(["history", "missing"]) == {"history": [1.5, 2.5]}
        client = cache._cache.get_client(write=True)
        assert cache._cache.get_client() is client
        assert cache._cache.get_client(write=True) is client
        cache.delete("history")
        assert cache.get("history") is None
    finally:
        for key in server.scan_iter(f"{prefix}:*"):
            server.delete(key)
