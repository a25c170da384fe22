"""`make run`'s embedded default: SQLite, inline tasks, demo data, the pages a newcomer opens."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DOCKSIDE_VAR_DIR"] = str(var_dir)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_embedded_default_serves_demo_warehouse(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path)
    _manage(env, "migrate", "--noinput")
    first = _manage(env, "seed_demo")
    assert "1000 bins, 500 products" in first.stdout
    again = _manage(env, "seed_demo")
    assert "0 opening stock receipts" in again.stdout, "seed_demo must be idempotent"
    assert "every balance equals its ledger" in _manage(env, "reconcile_stock").stdout
    # The KPI backfill on SQLite: the demo's past weeks of deliveries, picks and receipts.
    today = dt.date.today()
    kpis = _manage(
        env, "compute_kpis", "--from", str(today - dt.timedelta(days=35)), "--to", str(today)
    )
    assert "otd: " in kpis.stdout and "dock_to_stock: " in kpis.stdout, kpis.stdout
    assert (tmp_path / "dockside.sqlite3").exists()

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = _get(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the development server did not start")
                time.sleep(0.2)  # polling for the port to open, not timing behaviour
        assert status == 200
        status, page = _get(f"{base}/admin/login/")
        assert status == 200 and "Django administration" in page
        status, page = _get(f"{base}/api/docs/")
        assert status == 200 and "swagger-ui" in page
        assert "https://" not in page and "http://" not in page.replace(base, "")
        status, schema = _get(f"{base}/api/schema/")
        assert status == 200 and "/api/v1/stock/balances/" in schema
        status, body = _get(f"{base}/readyz")
        assert status == 200 and '"ready"' in body
    finally:
        server.terminate()
        server.wait(timeout=20)
