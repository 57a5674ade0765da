"""The history page and export at scale (PostgreSQL): one person with N actions (default 100,000; a fifth of
them went through a confirmation, so they have three steps), then over HTTP to a real `coach serve`:

- `/history` p50/p95: the first page and a page deep in the cursor chain, unfiltered and filtered;
- the full CSV and JSON export of every action: time, bytes, and the server's peak RSS growth meanwhile.

Run: .venv/bin/python bench/history.py [--actions 100000] [--requests 40]
Environment: COACH_TEST_POSTGRES (admin DSN, default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from services import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from db import accounts, web_sessions  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import AgentActionHistory, AgentExecutionTrace, new_id  # noqa: E402
from server.paging import encode_cursor  # noqa: E402
from server.web.cookies import SESSION_COOKIE, signed  # noqa: E402

SECRET = "bench-history-secret"
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 5000
TOOLS = ("create_task", "mark_habit_complete", "update_goal_progress", "schedule_reminder", "send_sms")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def action_rows(user_id: str, number: int) -> tuple[list[dict], list[dict]]:
    """One action's history steps and its decision trace; every fifth was confirmed first."""
    action_id, tool = new_id(), TOOLS[number % len(TOOLS)]
    at = START + timedelta(seconds=number * 60)
    confirmed = number % 5 == 0
    base = {"user_id": user_id, "team_id": None, "action_id": action_id, "tool": tool, "source": "api",
            "payload": {"title": f"Action number {number}", "note": "bench"}, "confidence": 0.9, "risk_level": "low",
            "error_code": None, "error_message": None}
    steps = ["proposed", "confirmed", "executed"] if confirmed else ["executed"]
    history = [
        {**base, "id": new_id(), "status": status, "created_at": at + timedelta(seconds=offset),
         "result": {"task_id": new_id(), "title": f"Action number {number}"} if status == "executed" else None}
        for offset, status in enumerate(steps)
    ]
    trace = {"id": new_id(), "action_id": action_id, "user_id": user_id, "trace_type": "decision_point",
             "data": {"outcome": "confirm" if confirmed else "execute", "code": None}, "latency_ms": 1.0, "created_at": at}
    return history, [trace]


async def arrange(url: str, actions: int) -> tuple[str, str, str]:
    """The user, N actions (bulk insert), a signed-in session cookie and a cursor ~90% deep."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    async with sessions() as session:
        user = await accounts.create_user(session, name="Bench", phone=None, email="bench@example.test", timezone="UTC")
        started = await web_sessions.start(session, user_id=user.id, signed_in_with="token", user_agent="bench",
                                           now=datetime.now(UTC))
        await session.commit()
    deep = None
    for first in range(0, actions, BATCH):
        history, traces = [], []
        for number in range(first, min(first + BATCH, actions)):
            steps, trace = action_rows(user.id, number)
            history += steps
            traces += trace
            if number == actions // 10:
                deep = (steps[-1]["created_at"], steps[-1]["id"])
        async with sessions() as session:
            await session.execute(insert(AgentActionHistory), history)
            await session.execute(insert(AgentExecutionTrace), traces)
            await session.commit()
    async with engine.begin() as connection:  # committed: statistics written in a rolled-back transaction vanish
        await connection.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return signed(started.secret, SECRET), started.row.csrf_token, encode_cursor(deep)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def timings(client: httpx.Client, path: str, requests: int) -> tuple[float, float]:
    client.get(path)  # warm
    spent = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        spent.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1]


def export(client: httpx.Client, pid: int, path: str) -> tuple[float, int, int]:
    """Seconds, bytes, and the server's peak RSS growth (KiB) while the whole export streams."""
    before = peak = rss_kb(pid)
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kb(pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.perf_counter()
    size = 0
    with client.stream("GET", path) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            size += len(chunk)
    spent = time.perf_counter() - started
    done.set()
    watcher.join()
    return spent, size, peak - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    options = parser.parse_args()
    url = create_postgres_database()
    server = None
    try:
        upgrade(url)
        started = time.perf_counter()
        cookie, _csrf, deep = asyncio.run(arrange(url, options.actions))
        print(f"arranged {options.actions} actions in {time.perf_counter() - started:.1f} s")
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "COACH_SECRET_KEY": SECRET, "PYTHONPATH": str(REPO)}
        env.pop("REDIS_URL", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--no-worker"], cwd=REPO, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=120) as client:
            for _ in range(100):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            pages = [
                ("first page", "/history"),
                ("deep page (cursor ~90% down)", f"/history?cursor={deep}"),
                ("first page, tool + status", "/history?tool=create_task&status=executed"),
                ("deep page, tool + status", f"/history?tool=create_task&status=executed&cursor={deep}"),
                ("first page, search 'number 4242'", "/history?q=number+4242"),
            ]
            print(f"\n{'/history (50 rows a page)':<36} {'p50 ms':>8} {'p95 ms':>8}")
            for name, path in pages:
                p50, p95 = timings(client, path, options.requests)
                print(f"{name:<36} {p50:>8.1f} {p95:>8.1f}")
            print(f"\n{'export (every action)':<36} {'seconds':>8} {'MB':>8} {'peak RSS +MB':>13}")
            for kind in ("csv", "json"):
                spent, size, grew = export(client, server.pid, f"/api/actions/history?view=actions&format={kind}")
                print(f"{kind:<36} {spent:>8.1f} {size / 1e6:>8.1f} {grew / 1024:>13.1f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_postgres_database(url)


if __name__ == "__main__":
    main()
