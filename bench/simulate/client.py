"""The simulator's HTTP client: one keep-alive connection per thread, JSON in and out, and a
tally of every request (status counts per operation, 5xx, latencies) for the summary."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


class ServerError(RuntimeError):
    """The service answered 5xx, or an answer the simulator cannot go on from."""


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def problem_code(self) -> str:
        return self.body.get("code", "") if isinstance(self.body, dict) else ""


@dataclass
class Tally:
    """Every request the simulator made, by operation (method and route template)."""

    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    seconds: float = 0.0
    seconds_by_operation: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, status: int, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.statuses[operation][status] += 1
            self.seconds += seconds
            self.seconds_by_operation[operation] += seconds
            if status >= 500:
                self.server_errors.append(f"{operation} -> {status} {detail[:300]}")

    @property
    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    @property
    def server_error_count(self) -> int:
        return sum(
            n for counts in self.statuses.values() for status, n in counts.items() if status >= 500
        )


class Client:
    """A logged-in user of the API (a device token) or anonymous; safe to share between
    threads: each thread keeps its own connection."""

    def __init__(
        self, base_url: str, tally: Tally, *, token: str = "", name: str = "", user_id: int = 0
    ) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.base_url = base_url.rstrip("/")
        self.tally = tally
        self.token = token
        self.name = name
        self.user_id = user_id
        self.cookies: dict[str, str] = {}
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        operation: str = "",
        params: dict | None = None,
        headers: dict[str, str] | None = None,
        raw: bool = False,
        form: dict | None = None,
    ) -> Answer:
        """Send one request; a dropped connection is retried once (with the same
        Idempotency-Key, as a handheld does). 5xx answers are recorded, not raised."""
        url = "/api/v1/" + path.lstrip("/") if not path.startswith("/") else path
        if params:
            url += "?" + urlencode(params)
        sent = dict(headers or {})
        payload = None
        if form is not None:
            payload = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent["Accept"] = "application/json" if not raw else "*/*"
        operation = operation or f"{method} {path}"
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                conn = self._connection()
                conn.request(method, url, body=payload, headers=sent)
                response = conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                self._drop_connection()
                if attempt == 2:
                    raise
                with self.tally.lock:
                    self.tally.retries += 1
                continue
            elapsed = time.perf_counter() - started
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            text = data.decode("utf-8", "replace")
            parsed: Any = text
            if not raw and "json" in answer_headers.get("content-type", ""):
                parsed = json.loads(text) if text else None
            self.tally.record(operation, response.status, elapsed, text)
            if response.getheader("Connection", "").lower() == "close":
                self._drop_connection()
            return Answer(response.status, parsed, answer_headers)
        raise AssertionError("unreachable")

    def get(self, path: str, *, operation: str = "", **params) -> Answer:
        return self.request("GET", path, operation=operation, params=params or None)

    def post(
        self, path: str, body: Any = None, *, operation: str = "", key: str | None = None
    ) -> Answer:
        headers = {"Idempotency-Key": key} if key else None
        return self.request("POST", path, body, operation=operation, headers=headers)

    def expect(self, answer: Answer, *statuses: int, what: str = "") -> Any:
        """The body of an answer that must have one of `statuses`; else ServerError."""
        if answer.status not in statuses:
            raise ServerError(f"{what or 'request'}: {answer.status} {str(answer.body)[:500]}")
        return answer.body

    def list_all(self, path: str, *, operation: str = "", **params) -> list[dict]:
        """Every row of a paginated list, in the list's own order."""
        rows: list[dict] = []
        page = 1
        while True:
            answer = self.get(path, operation=operation, page=page, page_size=500, **params)
            body = self.expect(answer, 200, what=f"GET {path}")
            rows.extend(body["results"])
            if not body.get("next"):
                return rows
            page += 1


def new_key() -> str:
    return str(uuid.uuid4())


def login(base_url: str, tally: Tally, username: str, password: str) -> Client:
    """Issue a device token for `username` (POST /auth/tokens/) and return a client using it."""
    anonymous = Client(base_url, tally)
    answer = anonymous.post(
        "auth/tokens/",
        {"username": username, "password": password, "device_name": f"simulator-{username}"},
        operation="POST auth/tokens/",
    )
    body = anonymous.expect(answer, 201, what=f"login {username}")
    return Client(base_url, tally, token=body["token"], name=username, user_id=body["user_id"])
