"""Errors as RFC 9457 problem details (application/problem+json), from one handler."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

from warehouse.errors import DomainError, is_transient_conflict

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE


def problem(
    *,
    status_code: int,
    title: str,
    detail: str,
    code: str,
    errors: dict | None = None,
    headers: dict | None = None,
) -> Response:
    body = {
        "type": f"urn:dockside:problem:{code}",
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    response = Response(body, status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {field: _flatten(messages) for field, messages in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def _flatten(messages):
    if isinstance(messages, dict):
        return {key: _flatten(value) for key, value in messages.items()}
    if isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            return [str(m) for m in messages]
        return [_flatten(m) for m in messages]
    return [str(messages)]


def problem_exception_handler(exc, context) -> Response | None:
    """Map every error an API view can raise to a problem+json response; never a bare 500."""
    if isinstance(exc, DomainError):
        return problem(
            status_code=exc.http_status,
            title=exc.title,
            detail=exc.message,
            code=exc.code,
            errors=exc.errors or None,
        )
    if isinstance(exc, RequestDataTooBig):
        # Django's cap on form data, met while DRF parses a form or multipart body.
        return problem(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            title="Request too large",
            detail=f"The form data is larger than the limit of "
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            code="request-too-large",
        )
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, ObjectDoesNotExist):
        exc = Http404(str(exc))
    if isinstance(exc, DataError):
        # A value the database cannot hold or compare, e.g. a NUL character in a code that a
        # lookup field passed on (DRF's character fields refuse those; its related fields not).
        return problem(
            status_code=status.HTTP_400_BAD_REQUEST,
            title="Invalid request",
            detail="A value in the request cannot be stored or looked up (e.g. a NUL character).",
            code="invalid-value",
        )
    if isinstance(exc, OperationalError) and is_transient_conflict(exc):
        return problem(
            status_code=status.HTTP_409_CONFLICT,
            title="Conflict",
            detail="A concurrent change got in the way; nothing was written. Retry.",
            code="concurrent-update",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, OperationalError | InterfaceError):
        return problem(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            title="Service unavailable",
            detail="The database cannot be reached; nothing was written. Retry shortly.",
            code="database-unavailable",
            headers={"Retry-After": "5"},
        )
    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            return problem(
                status_code=status.HTTP_409_CONFLICT,
                title="Conflict",
                detail="The change conflicts with the stored data; nothing was written.",
                code="database-conflict",
            )
        return None
    if isinstance(exc, exceptions.ValidationError):
        return problem(
            status_code=response.status_code,
            title="Invalid request",
            detail="One or more fields are invalid.",
            code="validation-error",
            errors=_field_errors(exc.detail),
        )
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    headers = {
        k: v
        for k, v in response.headers.items()
        if k in ("Retry-After", "WWW-Authenticate", "Allow")
    }
    return problem(
        status_code=response.status_code,
        title=_TITLES.get(response.status_code, "Error"),
        detail=str(detail),
        code=str(code).replace("_", "-"),
        headers=headers,
    )


_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
}
