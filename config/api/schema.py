"""Post-processing of the OpenAPI schema drf-spectacular generates (SPECTACULAR_SETTINGS).

- Every operation declares the errors it can answer, as RFC 9457 problem documents
  (config.api.problems), so a client (and the API fuzz) can tell a documented refusal from a
  surprise, and check the error body too.
- Times of day (customer windows, vehicle shifts) are local times without an offset; the
  `time` format that drf-spectacular gives them means an RFC 3339 time, which carries one.
"""

from __future__ import annotations

from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "example": "urn:dockside:problem:validation-error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "The `type`'s last part, for programs."},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Per field (or `non_field_errors`): the messages.",
        },
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}
# Which operations can answer each error, and why.
ANY = "any"
WRITES = "writes"
WITH_INPUT = "with input"
WITH_BODY = "with body"
ERRORS: dict[int, tuple[str, str]] = {
    400: (WITH_INPUT, "Invalid request: a field, filter or header; `errors` names them."),
    401: (ANY, "Not authenticated: no, an unknown, a revoked or an expired token."),
    403: (ANY, "The caller's role may not do this."),
    404: (ANY, "No such object, or not in a warehouse the caller works in."),
    409: (WRITES, "Not allowed in the object's current state, or a concurrent change won."),
    413: (WITH_BODY, "The request body is larger than the limit."),
    415: (WITH_BODY, "The body's media type is not accepted."),
    422: (WRITES, "Refused by a warehouse rule, or an Idempotency-Key reused with another body."),
    429: (ANY, "Too many requests; Retry-After says when to try again."),
    503: (ANY, "The database cannot be reached; nothing was written. Retry-After is set."),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
LOCAL_TIME = {
    "type": "string",
    "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
    "example": "08:00:00",
}


def declare_problem_responses(result: dict, generator, request, public) -> dict:
    """Add the problem responses each operation can give to those it declares itself; a
    declared error without a body gets the problem body."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status_code, (scope, description) in ERRORS.items():
                if not _can_answer(scope, method, operation):
                    continue
                declared = responses.setdefault(str(status_code), {"description": description})
                declared.setdefault("content", problem_content)
    return result


def _can_answer(scope: str, method: str, operation: dict[str, Any]) -> bool:
    has_body = "requestBody" in operation
    if scope == ANY:
        return True
    if scope == WRITES:
        return method != "get"
    if scope == WITH_BODY:
        return has_body
    parameters = operation.get("parameters", [])
    return has_body or any(parameter.get("in") in ("query", "header") for parameter in parameters)


def declare_local_times(result: dict, generator, request, public) -> dict:
    """Describe `format: time` strings as local times of day, HH:MM[:SS[.ffffff]]."""
    _replace_times(result.get("components", {}))
    _replace_times(result.get("paths", {}))
    return result


def _replace_times(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            del node["format"]
            description = node.get("description", "")
            node.update({key: value for key, value in LOCAL_TIME.items() if key not in node})
            node["description"] = (
                f"{description} " if description else ""
            ) + "A local time of day in the warehouse's time zone, without an offset."
        for value in node.values():
            _replace_times(value)
    elif isinstance(node, list):
        for value in node:
            _replace_times(value)
