"""`coach outbox list`: the development outbox's messages as JSON lines, newest first, as a developer on a fresh
machine runs it (a subprocess in a fresh directory, its own SQLite file) to read a sign-in code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from db import outbox
from db.engine import make_engine, make_session_factory

REPOSITORY = Path(__file__).resolve().parents[2]


def coach(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "COACH_SECRET_KEY"}}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=cwd, env={**env, "PYTHONPATH": str(REPOSITORY)},
                          capture_output=True, text=True, timeout=60)


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


async def store(directory: Path, user_id: str, *bodies: str) -> None:
    """Messages as a channel without credentials stores them, in this order (the last is the newest)."""
    engine = make_engine(f"sqlite+aiosqlite:///{directory / 'coach.db'}")
    try:
        async with make_session_factory(engine)() as session:
            for body in bodies:
                await outbox.store(session, user_id=user_id, action_id=None, channel="sms", to_address="+14155550100", body=body)
                await session.commit()
    finally:
        await engine.dispose()


def new_user(directory: Path, phone: str) -> str:
    [user] = lines(coach(directory, "users", "create", "--name", "Dev", "--phone", phone))
    return user["id"]


async def test_outbox_list_prints_the_messages_newest_first_as_json_lines(tmp_path):
    user_id = new_user(tmp_path, "+14155550100")
    await store(tmp_path, user_id, "Your Vision Coach sign-in code is 123456.", "later")
    first, second = lines(coach(tmp_path, "outbox", "list"))
    assert (first["body"], second["body"]) == ("later", "Your Vision Coach sign-in code is 123456.")
    assert (second["user_id"], second["channel"], second["to"], second["sent"]) == (user_id, "sms", "+14155550100", False)


async def test_outbox_list_keeps_to_one_user_and_the_limit(tmp_path):
    mine, theirs = new_user(tmp_path, "+14155550100"), new_user(tmp_path, "+14155550101")
    await store(tmp_path, mine, "a", "b", "c")
    await store(tmp_path, theirs, "other")
    assert [m["body"] for m in lines(coach(tmp_path, "outbox", "list", "--user", mine, "--limit", "2"))] == ["c", "b"]


def test_outbox_list_of_an_empty_outbox_prints_nothing(tmp_path):
    assert lines(coach(tmp_path, "outbox", "list")) == []


def test_outbox_list_refuses_an_unknown_user_and_a_bad_limit_clearly(tmp_path):
    unknown = coach(tmp_path, "outbox", "list", "--user", "nobody")
    assert (unknown.returncode, "no user with id nobody" in unknown.stderr) == (2, True)
    bad = coach(tmp_path, "outbox", "list", "--limit", "0")
    assert bad.returncode == 2 and "--limit" in bad.stderr and "Traceback" not in bad.stderr
