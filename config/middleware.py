"""Request plumbing shared by the API and the web pages."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"


def request_too_large(limit: int) -> JsonResponse:
    """The 413 answer, as an RFC 9457 problem that names the limit."""
    return JsonResponse(
        {
            "type": "urn:dockside:problem:request-too-large",
            "title": "Request too large",
            "status": 413,
            "detail": f"The request body is larger than the limit of {limit} bytes.",
            "code": "request-too-large",
            "max_bytes": limit,
        },
        status=413,
        content_type=PROBLEM_CONTENT_TYPE,
    )


class RequestSizeLimitMiddleware:
    """Refuse bodies over DOCKSIDE["MAX_REQUEST_BYTES"] with 413, judged by Content-Length
    before a byte of the body is read (a client may not make the server read gigabytes to be
    told no). A body without a length is not read by Django or DRF at all.

    Django's own cap on form data (DATA_UPLOAD_MAX_MEMORY_SIZE, by default the same limit) is
    met only when set lower; the API's exception handler answers that with 413 as well.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DOCKSIDE["MAX_REQUEST_BYTES"]
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # as Django reads it: an unreadable length is no body
        if length > limit:
            return request_too_large(limit)
        return self.get_response(request)
