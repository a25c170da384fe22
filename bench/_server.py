"""What the benchmarks share: a fresh PostgreSQL database and a gunicorn serving the app on
127.0.0.1, stopped with everything it started however the benchmark ends."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def recreate_database(postgres: str, name: str) -> None:
    """Drop (closing its connections) and create database `name` on the server `postgres`."""
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )


def start_server(
    *, port: int, workers: int, threads: int, env: dict[str, str], log_name: str = "bench-gunicorn"
) -> subprocess.Popen:
    """Start gunicorn (gthread workers) on 127.0.0.1:`port` and wait until /healthz answers.

    The server runs in a session of its own, so `stop_server` signals it and its workers only.
    """
    log = ROOT / "var" / f"{log_name}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--error-logfile",
        str(log),
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit(f"gunicorn did not come up; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@contextmanager
def running_server(**options) -> Iterator[subprocess.Popen]:
    """`start_server(**options)` for the length of the block; stopped on the way out, also on
    Ctrl-C, an exception or a SIGTERM to the benchmark."""

    def terminate(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminate)
    server = start_server(**options)
    try:
        yield server
    finally:
        stop_server(server)
        signal.signal(signal.SIGTERM, previous)
