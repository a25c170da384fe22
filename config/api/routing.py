"""URL patterns grouped by their first path segment, so a request tries a handful of them.

Django resolves a path by trying every pattern in order. The API's routers give ~160 flat
patterns (each route twice, with and without a format suffix), and a request for
`/api/v1/receipts/1/scans/` tried the ~120 of the apps before it: a quarter of a millisecond of
CPU on every scan. `by_first_segment` puts the patterns whose literal start names their first
segment (`receipts/...`, `receipts.json`) behind one pattern per segment that consumes nothing
(an `include` at ""): the patterns inside match, reverse and appear in the OpenAPI schema
exactly as before, and a path with another first segment skips them with one string
comparison. Patterns whose first segment is not literal (the API root) stay where they were.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import URLPattern, URLResolver
from django.urls.resolvers import RegexPattern, RoutePattern

# Regex characters that end a literal run; an escaped punctuation character is literal.
_REGEX_META = set(".^$*+?{}[]|()")
# Where a first segment ends.
_SEGMENT_ENDS = "/."

Pattern = URLPattern | URLResolver


def by_first_segment(patterns: Sequence[Pattern]) -> list[Pattern]:
    """`patterns`, with each contiguous run of patterns of one first segment behind one pattern.

    Only runs are grouped, so the order in which patterns are tried for any path is unchanged
    (two patterns with different literal first segments never match the same path).
    """
    grouped: list[Pattern] = []
    run: list[Pattern] = []
    run_segment: str | None = None

    def flush() -> None:
        if len(run) > 1:
            grouped.append(URLResolver(FirstSegmentPattern(run_segment), list(run)))
        else:
            grouped.extend(run)
        run.clear()

    for pattern in patterns:
        segment = first_segment(pattern)
        if segment is None or segment != run_segment:
            flush()
        run_segment = segment
        if segment is None:
            grouped.append(pattern)
        else:
            run.append(pattern)
    flush()
    return grouped


class FirstSegmentPattern(RoutePattern):
    """The pattern of `path("", include(...))` (its route, regex and text are ""), matching
    only paths whose first segment is `segment`, and consuming nothing of them."""

    def __init__(self, segment: str) -> None:
        super().__init__("", is_endpoint=False)
        self.segment = segment
        self._starts = (f"{segment}/", f"{segment}.")

    def match(self, path: str) -> tuple[str, tuple, dict] | None:
        if path.startswith(self._starts):
            return path, (), {}
        return None


def first_segment(pattern: Pattern) -> str | None:
    """The literal first path segment every path `pattern` matches starts with, followed by
    "/" or "."; None when the pattern does not pin one down."""
    prefix = _literal_prefix(pattern.pattern)
    if prefix is None:
        return None
    end = next((i for i, char in enumerate(prefix) if char in _SEGMENT_ENDS), None)
    if not end:  # no end in the literal part, or an empty segment
        return None
    return prefix[:end]


def _literal_prefix(pattern: RegexPattern | RoutePattern) -> str | None:
    if isinstance(pattern, RoutePattern):
        return str(pattern._route).split("<", 1)[0]
    if not isinstance(pattern, RegexPattern):
        return None
    regex = pattern._regex if isinstance(pattern._regex, str) else None
    if regex is None or not regex.startswith("^"):
        return None
    literal = []
    chars = iter(regex[1:])
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if not escaped or escaped.isalnum():
                break  # a class such as \d, or \Z: not literal
            literal.append(escaped)
        elif char in _REGEX_META:
            # A quantifier applies to the character before it, which is then not certain.
            if char in "*?{" and literal:
                literal.pop()
            break
        else:
            literal.append(char)
    return "".join(literal)
