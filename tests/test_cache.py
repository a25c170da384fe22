"""The Redis cache backend (config/cache.py): Django's, with its Redis clients reused."""

from __future__ import annotations

import uuid

import redis
from django.core.cache import cache as default_cache
from django.test import override_settings

from config.cache import RedisCache, count


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


def test_count_adds_one_in_one_round_trip_and_expires(redis_url):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    cache = RedisCache(redis_url, {"KEY_PREFIX": prefix})
    server = redis.Redis.from_url(redis_url)
    try:
        assert [cache.count("hits", 30) for _ in range(3)] == [1, 2, 3]
        assert cache.get("hits") == 3
        (key,) = server.scan_iter(f"{prefix}:*")
        assert 0 < server.ttl(key) <= 30
        with override_settings(
            CACHES={
                "default": {
                    "BACKEND": "config.cache.RedisCache",
                    "LOCATION": redis_url,
                    "KEY_PREFIX": prefix,
                }
            }
        ):
            assert count("hits", 30) == 4
    finally:
        for key in server.scan_iter(f"{prefix}:*"):
            server.delete(key)


def test_count_in_any_other_cache_backend():
    default_cache.delete("hits")
    assert [count("hits", 30) for _ in range(3)] == [1, 2, 3]
    assert default_cache.get("hits") == 3
    default_cache.delete("hits")
