"""Scheduler throughput and lag: due jobs executed per second by 1 and 2 `coach worker` processes on
PostgreSQL + Redis, and the lag between a job's due time and its execution (p50/p95).

Each round seeds one-off email reminders (5 per user: the per-minute burst limit of one user), starts the
worker processes, waits until they poll, then makes every job due at once. A job's execution time is its
`executed` history row; emails go to the Resend fake (tests/fakes/resend.py) served by its own process.

Run: .venv/bin/python bench/scheduler.py [--jobs 2000] [--workers 1 2] [--concurrency 32]
Environment: COACH_TEST_POSTGRES (admin DSN, default postgresql://postgres@127.0.0.1:5432/test),
COACH_TEST_REDIS (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import asyncpg
from scheduling import WorkerProcess, make_due, seed_email_reminders
from sqlalchemy import func, select

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AgentActionHistory, ScheduledJob, utcnow
from tools.scheduler.queue import job_action_id

POSTGRES_ADMIN_DSN = os.environ.get("COACH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("COACH_TEST_REDIS", "redis://127.0.0.1:6379/0")
RESEND_KEY = "re_bench"
PER_USER = 5
TARGET_RATE = 500.0
TARGET_P95_S = 1.0


@dataclass(frozen=True)
class Round:
    workers: int
    jobs: int
    seconds: float
    lags: list[float]

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    def lag(self, p: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_resend_fake(port: int) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn; from fakes.resend import FakeResend; "
        f"uvicorn.run(FakeResend({RESEND_KEY!r}).app, host='127.0.0.1', port={port}, log_level='warning')"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO / "tests")
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)


async def _done_count(sessions, job_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return await session.scalar(
            select(func.count()).where(ScheduledJob.id.in_(job_ids), ScheduledJob.status.in_(("done", "failed")))
        )


async def measure(url: str, env: dict[str, str], workers: int, jobs: int, concurrency: int, logs: Path) -> Round:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        job_ids = await seed_email_reminders(sessions, jobs // PER_USER, PER_USER, utcnow() + timedelta(days=1))
        processes = [WorkerProcess.start(env, logs / f"w{workers}-{n}.log", concurrency) for n in range(workers)]
        try:
            for process in processes:
                process.wait_started()
            due = utcnow()
            await make_due(sessions, job_ids, due)
            while await _done_count(sessions, job_ids) < len(job_ids):
                await asyncio.sleep(0.05)
        finally:
            for process in processes:
                process.stop()
        async with sessions() as session:
            executed = dict(
                (await session.execute(
                    select(AgentActionHistory.action_id, AgentActionHistory.created_at).where(
                        AgentActionHistory.status == "executed",
                        AgentActionHistory.action_id.in_([job_action_id(job_id) for job_id in job_ids]),
                    )
                )).all()
            )
    finally:
        await engine.dispose()
    lags = [(at - due).total_seconds() for at in executed.values()]
    assert len(lags) == jobs, f"{len(lags)} of {jobs} jobs executed"
    return Round(workers, jobs, max(lags), lags)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=32)
    options = parser.parse_args()
    name = f"coach_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    port = _free_port()
    resend = start_resend_fake(port)
    rounds = []
    try:
        host = POSTGRES_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
        url = f"postgresql+asyncpg://{host}/{name}"
        upgrade(url)
        env = {
            "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "COACH_SECRET_KEY": "bench", "NO_PROXY": "127.0.0.1",
            "RESEND_API_KEY": RESEND_KEY, "RESEND_BASE_URL": f"http://127.0.0.1:{port}", "EMAIL_FROM": "coach@example.com",
        }
        with tempfile.TemporaryDirectory() as logs:
            for workers in options.workers:
                rounds.append(asyncio.run(measure(url, env, workers, options.jobs, options.concurrency, Path(logs))))
    finally:
        resend.terminate()
        resend.wait(10)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print_table(rounds, options.concurrency)


def print_table(rounds: list[Round], concurrency: int) -> None:
    header = f"{'workers':>7} {'concurrency':>11} {'jobs':>6} {'seconds':>8} {'jobs/s':>8} {'lag p50 s':>10} {'lag p95 s':>10}"
    print(header)
    print("-" * len(header))
    for row in rounds:
        print(
            f"{row.workers:>7} {concurrency:>11} {row.jobs:>6} {row.seconds:>8.2f} {row.rate:>8.0f} "
            f"{row.lag(50):>10.3f} {row.lag(95):>10.3f}"
        )
    best = max(rounds, key=lambda row: row.rate)
    verdict = "met" if best.rate >= TARGET_RATE and best.lag(95) < TARGET_P95_S else "MISSED"
    print(f"\ntarget >= {TARGET_RATE:g} jobs/s and lag p95 < {TARGET_P95_S:g} s: {verdict} "
          f"(best: {best.workers} workers, {best.rate:.0f} jobs/s, p95 {best.lag(95):.3f} s)")


if __name__ == "__main__":
    main()
