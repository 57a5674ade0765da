"""The `coach` command as a user runs it: a subprocess in a fresh directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def coach(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "COACH_SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_first_run_generates_a_private_secret_file(tmp_path):
    assert coach(tmp_path, "migrate").returncode == 0
    secret = tmp_path / ".coach-secret"
    assert secret.exists()
    assert secret.stat().st_mode & 0o777 == 0o600


def test_migrate_twice_is_fine(tmp_path):
    assert coach(tmp_path, "migrate").returncode == 0
    assert coach(tmp_path, "migrate").returncode == 0


def test_users_create_prints_id_and_token_as_json(tmp_path):
    team = json.loads(coach(tmp_path, "teams", "create", "--name", "Acme").stdout)
    result = coach(
        tmp_path, "users", "create", "--name", "Ann", "--phone", "+1 (415) 555-2671",
        "--email", "ann@example.com", "--timezone", "America/New_York", "--team", team["id"], "--role", "admin",
    )
    assert result.returncode == 0, result.stderr
    user = json.loads(result.stdout)
    assert user["phone"] == "+14155552671"
    assert user["token"].startswith("vc_")
    assert len(user["id"]) == 32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phone", "12"], "phone"),
        (["--email", "nope"], "email"),
        (["--email", "a@example.com", "--timezone", "Nowhere/City"], "time zone"),
        ([], "--phone or --email"),
    ],
)
def test_users_create_refuses_bad_input_clearly(tmp_path, args, message):
    result = coach(tmp_path, "users", "create", "--name", "Ann", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_phone_is_refused(tmp_path):
    assert coach(tmp_path, "users", "create", "--name", "A", "--phone", "+14155552671").returncode == 0
    again = coach(tmp_path, "users", "create", "--name", "B", "--phone", "+14155552671")
    assert again.returncode == 2
    assert "already exists" in again.stderr
