"""Idempotency-Key handling for writes that a flaky network may send twice.

The key's record is inserted in the same transaction as the write it guards. A concurrent retry
with the same key blocks on the unique index until the first request commits, then replays its
stored response; a retry after a lost response replays it too. The same key with a different
request body is refused with 422.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.problems import PROBLEM_CONTENT_TYPE, problem_exception_handler
from warehouse.errors import DomainError, IdempotencyKeyReused
from warehouse.models import IdempotencyRecord
from warehouse.retries import run_retrying_conflicts

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 128


class MissingIdempotencyKey(DomainError):
    code = "idempotency-key-required"
    title = "Idempotency-Key header required"
    http_status = 400


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(
    request: Request,
    handler: Callable[[], Response],
    *,
    required: bool,
    retry_conflicts: bool = False,
) -> Response:
    """Run `handler` once per (user, Idempotency-Key); replay its response to retries.

    Without a key the handler just runs (or, when `required`, the request is refused with 400).
    A 4xx answer is stored and replayed like a success: the retry of a refused scan is refused
    the same way. A 5xx or an unexpected exception stores nothing, so a retry runs again.

    With `retry_conflicts`, a transaction PostgreSQL aborts as a deadlock victim (or on a
    serialisation failure) is run again whole, the key's claim with it, a few times with
    jittered back-off (DOCKSIDE["CONFLICT_MAX_ATTEMPTS"] in all); the last failure is
    answered 409 concurrent-update with Retry-After, as without. Only for handlers whose every
    effect is in the transaction.
    """
    if not retry_conflicts or connection.in_atomic_block:
        return _idempotent_once(request, handler, required=required)
    return run_retrying_conflicts(
        lambda: _idempotent_once(request, handler, required=required), what=request.path
    )


def _idempotent_once(
    request: Request, handler: Callable[[], Response], *, required: bool
) -> Response:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        if required:
            raise MissingIdempotencyKey(
                f"Send an {HEADER} header (a new UUID per scan, reused on retry)."
            )
        return handler()
    if len(key) > MAX_KEY_LENGTH:
        raise MissingIdempotencyKey(f"{HEADER} must be at most {MAX_KEY_LENGTH} characters.")
    fingerprint = _fingerprint(request)
    # No savepoint on the way to a success: the claim, the handler's writes and the stored
    # response are one transaction. A refused request (DomainError) rolls all of it back, and
    # its 4xx answer is then stored in a transaction of its own (see `_store_refusal`).
    try:
        with transaction.atomic():
            record_id = _claim(request.user.pk, key, fingerprint)
            if record_id is not None:
                response = handler()
                if response.status_code >= 500:
                    transaction.set_rollback(True)
                    return response
                _store(record_id, response)
                return response
    except DomainError as error:
        response = problem_exception_handler(error, {})
        if response.status_code >= 500:
            return response
        return _store_refusal(request, key, fingerprint, response, error)
    return _replay(request, key, fingerprint)


def _store(record_id: int, response: Response) -> None:
    # A raw UPDATE that encodes the body once (dates and decimals as the API renders them):
    # it runs on every scan.
    table = IdempotencyRecord._meta.db_table
    body = connection.ops.adapt_json_value(response.data, DjangoJSONEncoder)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET response_status = %s, response_body = %s WHERE id = %s",
            [response.status_code, body, record_id],
        )


def _store_refusal(
    request: Request, key: str, fingerprint: str, response: Response, error: DomainError
) -> Response:
    """Store the 4xx answer of a refused request, whose own transaction was rolled back.

    What the refusal itself must leave behind (`error.after_rollback`, e.g. a wrong-bin scan
    counted for pick accuracy) is written here, with the stored answer: once per key.

    The key is claimed again. Between the rollback and this claim a concurrent duplicate may
    have claimed it (it was waiting on our first claim): then its answer is the stored one and
    is replayed here too, so every request with the key still gets the same answer and the
    handler's effects are committed at most once.
    """
    with transaction.atomic():
        record_id = _claim(request.user.pk, key, fingerprint)
        if record_id is not None:
            for effect in getattr(error, "after_rollback", ()):
                effect()
            _store(record_id, response)
            return response
    return _replay(request, key, fingerprint)


def _claim(user_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key's record and return its id, or None if the key is already taken.

    INSERT ... ON CONFLICT DO NOTHING: no savepoint and no IntegrityError to recover from. While
    another transaction holds an uncommitted record for the key, this waits on the unique index:
    None if that one commits (then replay it), the new record's id if it rolls back.
    """
    table = IdempotencyRecord._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, key, request_fingerprint, created_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user_id, key, fingerprint, now],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _replay(request: Request, key: str, fingerprint: str) -> Response:
    record = IdempotencyRecord.objects.get(user=request.user, key=key)
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"{HEADER} {key!r} was already used for a different request; use a new key."
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    if record.response_status >= 400:
        response.content_type = PROBLEM_CONTENT_TYPE
    return response


# The header as the OpenAPI schema documents it on the endpoints that take it.
IDEMPOTENCY_KEY_REQUIRED = OpenApiParameter(
    HEADER,
    location=OpenApiParameter.HEADER,
    required=True,
    description="A new UUID per scan or confirmation, sent again unchanged on retry: the "
    "request is applied once and the retry gets the first answer.",
)
IDEMPOTENCY_KEY_OPTIONAL = OpenApiParameter(
    HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    description="A client-made unique key; a retry with the same key is applied once.",
)
