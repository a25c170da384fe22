"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; checks nothing else."""
    return JsonResponse({"status": "ok"})


def _database_ready() -> tuple[bool, str]:
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return False, f"unreachable: {error.__class__.__name__}"
    if pending:
        return False, f"{len(pending)} migration(s) not applied"
    return True, "ok"


def _broker_ready() -> tuple[bool, str]:
    if not settings.REDIS_URL:
        return True, "not used (tasks run inline)"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as error:
        return False, f"unreachable: {error.__class__.__name__}"
    return True, "ok"


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve traffic when the database is reachable with every migration applied.

    A broker outage is reported ("degraded") but does not make the instance unready: API
    writes record their background work in the outbox and keep working without Redis.
    """
    database_ok, database = _database_ready()
    broker_ok, broker = _broker_ready()
    state = ("ready" if broker_ok else "degraded") if database_ok else "not ready"
    return JsonResponse(
        {"status": state, "database": database, "broker": broker},
        status=200 if database_ok else 503,
    )
