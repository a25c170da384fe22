"""`manage.py check --deploy` passes with the production settings the README documents."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def documented_production_settings() -> dict[str, str]:
    """The NAME=value lines of the first shell block in the README's production section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    settings = {}
    for line in block.splitlines():
        name, _, value = line.partition("=")
        settings[name.strip()] = value.split("#", 1)[0].strip()
    return settings


def check_deploy(settings: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCKSIDE_", "THROTTLE_", "DJANGO_")) and key != "SECRET_KEY"
    }
    env.update(settings)
    env["REDIS_URL"] = os.environ.get("DOCKSIDE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_production_settings_pass_check_deploy():
    settings = documented_production_settings()
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "DOCKSIDE_SECURE", "DEBUG"} <= set(settings)
    settings["SECRET_KEY"] = secrets.token_urlsafe(50)
    result = check_deploy(settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr.upper()


def test_the_check_does_fail_without_the_https_settings():
    """The test above can fail: leaving out DOCKSIDE_SECURE (or the key) is reported."""
    settings = documented_production_settings()
    settings["SECRET_KEY"] = secrets.token_urlsafe(50)
    del settings["DOCKSIDE_SECURE"]
    result = check_deploy(settings)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, result.stderr
    settings["DOCKSIDE_SECURE"] = "1"
    settings["SECRET_KEY"] = "short"
    result = check_deploy(settings)
    assert result.returncode != 0
    assert "security.W009" in result.stderr
