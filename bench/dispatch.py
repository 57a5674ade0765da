"""Overhead of `tools.dispatch()`: policy and database writes, no provider time.

Two paths, each timed call by call:
- auto:    `create_task`, auto-approved (low risk) -> executed: settings, flag, decision, task row,
           history row and three traces;
- confirm: `send_sms` proposal -> needs_confirmation: settings, opt-out, flag, quiet hours and consent
           floor, pending row, history row and traces, realtime event. No provider is called.

On SQLite (a temporary file, in-process limits and events) and on PostgreSQL + Redis (a temporary
database, created and dropped here, like the test suite does).

Run: .venv/bin/python bench/dispatch.py [--calls 500] [--backend sqlite|postgres|both]
Environment: COACH_TEST_POSTGRES (admin DSN, default postgresql://postgres@127.0.0.1:5432/test),
COACH_TEST_REDIS (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import redis.asyncio as redis_asyncio

from services import create_postgres_database, drop_postgres_database

from db import accounts
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from tools.dispatch import Actor, dispatch
from tools.services import build_services

REDIS_URL = os.environ.get("COACH_TEST_REDIS", "redis://127.0.0.1:6379/0")
# A weekday afternoon in the user's zone and the number's: outside quiet hours and inside the consent floor.
DAYTIME = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
WARMUP = 50
TARGET_P95_MS = 10.0


@dataclass(frozen=True)
class Row:
    backend: str
    path: str
    timings_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.timings_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _time_calls(calls: int, call: Callable[[int], Awaitable[None]]) -> list[float]:
    for i in range(WARMUP):
        await call(-1 - i)
    timings = []
    for i in range(calls):
        start = time.perf_counter()
        await call(i)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


async def measure(backend: str, database_url: str, redis_url: str | None, calls: int) -> list[Row]:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    client = redis_asyncio.from_url(redis_url) if redis_url else None
    services = build_services(sessions=sessions, redis=client, secret_key="bench", public_url="http://localhost")
    services.clock = lambda: DAYTIME
    try:
        async with sessions() as session:
            user = await accounts.create_user(
                session, name="Bench", phone="+14155550123", email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                timezone="America/Los_Angeles",
            )
            await session.commit()
        actor = Actor(user.id, "api")

        async def auto(i: int) -> None:
            result = await dispatch(services, actor, "create_task", {"title": f"task {i}"}, confidence=0.9)
            assert result.success and not result.needs_confirmation, result

        async def confirm(i: int) -> None:
            result = await dispatch(services, actor, "send_sms", {"message": f"reminder {i}"})
            assert result.needs_confirmation, result

        return [
            Row(backend, "auto (create_task)", await _time_calls(calls, auto)),
            Row(backend, "confirm (send_sms proposal)", await _time_calls(calls, confirm)),
        ]
    finally:
        await services.close()
        if client is not None:
            await client.aclose()
        await engine.dispose()


def run_sqlite(calls: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/bench.db"
        upgrade(url)
        return asyncio.run(measure("sqlite", url, None, calls))


def run_postgres(calls: int) -> list[Row]:
    url = create_postgres_database()
    try:
        upgrade(url)
        return asyncio.run(measure("postgres+redis", url, REDIS_URL, calls))
    finally:
        drop_postgres_database(url)


def print_table(rows: list[Row]) -> None:
    header = f"{'backend':<16} {'path':<28} {'calls':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.backend:<16} {row.path:<28} {len(row.timings_ms):>6} {row.percentile(50):>8.2f} "
            f"{row.percentile(95):>8.2f} {row.percentile(99):>8.2f} {statistics.fmean(row.timings_ms):>8.2f}"
        )
    postgres = [row for row in rows if row.backend.startswith("postgres")]
    if postgres:
        worst = max(row.percentile(95) for row in postgres)
        verdict = "met" if worst < TARGET_P95_MS else "MISSED"
        print(f"\ntarget p95 < {TARGET_P95_MS:g} ms on PostgreSQL+Redis: {verdict} (worst p95 {worst:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    options = parser.parse_args()
    rows: list[Row] = []
    if options.backend in ("sqlite", "both"):
        rows += run_sqlite(options.calls)
    if options.backend in ("postgres", "both"):
        rows += run_postgres(options.calls)
    print_table(rows)


if __name__ == "__main__":
    main()
