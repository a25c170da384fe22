"""The live OpenAPI schema, and requests sent through Django's WSGI application in-process and
checked against it with Schemathesis' checks (used by the fuzz tests and the schema regressions).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, close_old_connections, connection, transaction
from schemathesis import Case, Response
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from warehouse.models import DeviceToken


def no_unvalidated_write(ctx, response: Response, case: Case) -> None:
    """A 409 `database-conflict` (config/api/problems.py) is a database constraint that caught
    what validation let through; a client alone, as in these tests, should get a 400 naming
    the field instead."""
    if response.status_code == 409 and b'"database-conflict"' in response.content:
        raise AssertionError(f"A database constraint refused the request: {response.text}")


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    no_unvalidated_write,
]


@contextmanager
def live_schema() -> Iterator[BaseSchema]:
    """The schema `/api/schema/` serves, loaded through the WSGI application; requests of its
    cases go through the same application while the context lasts.

    Django's WSGI handler closes the database connection at the start and end of each request
    unless it is healthy and idle; the test's connection is in a transaction, so (as Django's
    test client does) the handler is kept from closing it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def bearer(user) -> dict[str, str]:
    """The Authorization header of a new device token of `user`."""
    _, raw = DeviceToken.issue(user=user, name="Schema check scanner")
    return {"Authorization": f"Bearer {raw}"}


def send(case: Case, headers: dict[str, str]) -> Response:
    """Send `case` in a savepoint of the test's transaction. What the request writes stays, for
    the requests after it, unless it left the transaction failed: a database error the API
    caught and answered, which in production only fails that request's own statement."""
    try:
        with transaction.atomic():
            response = case.call(headers=headers)
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    except DatabaseError:
        pass
    return response


def failures_of(case: Case, response: Response, headers: dict[str, str]) -> list[tuple[str, str]]:
    """The failed checks on `response`: (title, Schemathesis' report); empty when none."""
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        return [(failure.title, str(group)) for failure in group.exceptions]
    return []


def check(
    schema: BaseSchema,
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    status: int,
    body: Any = None,
    **path_parameters: Any,
) -> Response:
    """Send one request of the operation at `method path` and assert that it got `status` and
    that the answer passes every check."""
    operation = schema[path][method]
    extra = {} if body is None else {"body": body, "media_type": "application/json"}
    case = operation.Case(path_parameters=path_parameters or None, **extra)
    response = send(case, headers)
    assert response.status_code == status, response.text
    problems = failures_of(case, response, headers)
    assert not problems, "\n".join(text for _, text in problems[:1])
    return response
