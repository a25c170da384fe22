"""Start Dockside for a simulated day: a fresh PostgreSQL database made by the service's own
setup (`migrate`, `seed_demo --no-activity --pickers N`), gunicorn on 127.0.0.1, a Celery worker,
beat and the outbox relay; everything stopped again however the run ends.

This is the only part of the simulator that runs the project's code, and only as the
service's own processes and setup commands: the day itself is played over HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench._server import ROOT, migrate, recreate_database, start_server, stop_server


@dataclass(frozen=True)
class ServiceOptions:
    postgres: str  # server URL without a database name
    database: str
    redis_url: str
    port: int
    pickers: int
    workers: int = 2
    threads: int = 8
    log_dir: Path = ROOT / "var"


def service_environment(options: ServiceOptions) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "CACHE_", "THROTTLE_"))
    }
    env.update(
        {
            "DATABASE_URL": f"{options.postgres}/{options.database}",
            "REDIS_URL": options.redis_url,
            # One dock login scans for 40 trucks and one dispatcher packs for the whole day:
            # the per-person rates, sized for one human with a handheld, would throttle them.
            "THROTTLE_USER": "1000000/minute",
            "THROTTLE_SCAN": "1000000/minute",
            "THROTTLE_LOGIN": "1000/minute",
            # The day's route plan names every packed shipment (about 2,600 at scale 1); API
            # lists are capped at 1,000 items by default.
            "DOCKSIDE_MAX_LIST_ITEMS": "10000",
            # The simulated day plans its own routes; beat must not plan tomorrow's first.
            "DOCKSIDE_ROUTE_PLANNING_CUTOFF": "23:59",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def free_port() -> int:
    """A port nobody listens on now: other benchmarks and services share this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = open(log, "ab")  # noqa: SIM115 - kept open for the process's life
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def fingerprint(options: ServiceOptions) -> str:
    """What the prepared warehouse depends on: the schema, the demo data's code, the options
    and the day (opening stock lots are dated)."""
    digest = hashlib.sha256(f"{options.pickers}:{dt.date.today()}".encode())
    sources = sorted(ROOT.glob("*/migrations/*.py")) + sorted(ROOT.glob("*/demo.py"))
    for path in [*sources, ROOT / "warehouse/management/commands/seed_demo.py"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _template_fingerprint(postgres: str, template: str) -> str | None:
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        ).fetchone()
    return row[0] if row else None


def prepare(options: ServiceOptions, *, say=print) -> dict[str, str]:
    """A fresh database with the schema and the demo warehouse's master data.

    Migrating and seeding take a minute or two on a busy machine, so the result is kept as a
    template database (`<database>_template`, marked with what it was built from) and each
    run starts from a copy of it."""
    import psycopg

    env = service_environment(options)
    template = f"{options.database}_template"
    mark = fingerprint(options)
    if _template_fingerprint(options.postgres, template) != mark:
        say(f"  building {template}: migrate, seed_demo --no-activity --pickers {options.pickers}")
        recreate_database(options.postgres, template)
        template_env = {**env, "DATABASE_URL": f"{options.postgres}/{template}"}
        # Without a broker the seed's follow-up tasks run inline: the copy starts with none.
        template_env.pop("REDIS_URL")
        migrate(template_env)
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "seed_demo",
                "--no-activity",
                "--pickers",
                str(options.pickers),
            ],
            cwd=ROOT,
            env=template_env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with psycopg.connect(f"{options.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f"COMMENT ON DATABASE \"{template}\" IS '{mark}'")
    with psycopg.connect(f"{options.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{options.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{options.database}" TEMPLATE "{template}"')
    return env


@contextmanager
def running_service(options: ServiceOptions, *, say=print) -> Iterator[str]:
    """Prepare and start the service; yield its base URL; stop it on the way out (also on
    Ctrl-C, an exception or SIGTERM)."""

    def terminate(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminate)
    env = prepare(options, say=say)
    options.log_dir.mkdir(parents=True, exist_ok=True)
    log = options.log_dir / f"simulate-{options.database}.log"
    log.write_bytes(b"")
    processes: list[subprocess.Popen] = []
    server = None
    with tempfile.TemporaryDirectory(prefix="dockside-beat-") as beat_dir:
        try:
            celery = [sys.executable, "-m", "celery", "-A", "config"]
            processes.append(
                _spawn(
                    [*celery, "worker", "--loglevel=WARNING", "--concurrency=2", "--pool=prefork"],
                    env,
                    log,
                )
            )
            processes.append(
                _spawn(
                    [
                        *celery,
                        "beat",
                        "--loglevel=WARNING",
                        f"--schedule={Path(beat_dir) / 'schedule'}",
                    ],
                    env,
                    log,
                )
            )
            processes.append(_spawn([sys.executable, "manage.py", "relay_outbox"], env, log))
            port = options.port or free_port()
            server = start_server(
                port=port,
                workers=options.workers,
                threads=options.threads,
                env=env,
                log_name=f"simulate-{options.database}-gunicorn",
            )
            if server.poll() is not None:
                raise SystemExit(f"gunicorn could not start on port {port}; see {log}")
            say(f"  service up on 127.0.0.1:{port} (gunicorn, worker, beat, relay)")
            yield f"http://127.0.0.1:{port}"
        finally:
            if server is not None:
                stop_server(server)
            for process in reversed(processes):
                _stop(process)
            signal.signal(signal.SIGTERM, previous)


def reconcile(options: ServiceOptions) -> tuple[bool, str]:
    """`manage.py reconcile_stock` on the service's side: (clean, its output)."""
    env = service_environment(options)
    result = subprocess.run(
        [sys.executable, "manage.py", "reconcile_stock"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return result.returncode == 0, (result.stdout + result.stderr).strip()
