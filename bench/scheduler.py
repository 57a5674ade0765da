"""Scheduler throughput and lag: due jobs executed per second by 1 and 2 `coach worker` processes on
PostgreSQL + Redis, and the lag between a job's due time and its execution (p50/p95).

Each round seeds one-off email reminders (5 per user: the per-minute burst limit of one user), starts the
worker processes and waits until they poll. Burst: every job becomes due at once; jobs/s is how fast the
backlog drains (its lag is mostly queueing). Paced: jobs fall due at `--rate` per second, below capacity;
its lag is the scheduling delay itself (polling, claiming, dispatch). A job's execution time is its
`executed` history row; emails go to the Resend fake (tests/fakes/resend.py) served by its own process.
Each round also reports the CPU its parts spent per job (from /proc): where a faster scheduler must save.

Run: .venv/bin/python bench/scheduler.py [--jobs 2000] [--paced-jobs 300] [--rate 20] [--workers 1 2]
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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from scheduling import WorkerProcess, make_due, seed_email_reminders
from services import create_postgres_database, drop_postgres_database
from sqlalchemy import func, select

from bench.cpu import CpuMeter, pids_whose_command
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AgentActionHistory, ScheduledJob, utcnow
from tools.scheduler.queue import job_action_id

REDIS_URL = os.environ.get("COACH_TEST_REDIS", "redis://127.0.0.1:6379/0")
RESEND_KEY = "re_bench"
PER_USER = 5
TARGET_RATE = 500.0
TARGET_P95_S = 1.0


@dataclass(frozen=True)
class Round:
    mode: str
    workers: int
    jobs: int
    seconds: float
    lags: list[float]
    cpu: dict[str, float]  # CPU seconds by part (workers, postgres, redis, resend fake) while the round ran

    def cpu_ms_per_job(self, part: str) -> float:
        return self.cpu[part] / self.jobs * 1000

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


async def _make_due_paced(sessions, job_ids: list[str], rate: float) -> None:  # type: ignore[no-untyped-def]
    """Due times `1/rate` apart, starting in a second, set in tenth-of-a-second groups."""
    start = utcnow() + timedelta(seconds=1)
    per_tick = max(1, round(rate / 10))
    for tick, first in enumerate(range(0, len(job_ids), per_tick)):
        await make_due(sessions, job_ids[first : first + per_tick], start + timedelta(seconds=tick * per_tick / rate))


def cpu_meter(url: str, workers: list[WorkerProcess], resend: subprocess.Popen[bytes]) -> CpuMeter:
    """The round's parts: the worker processes, the PostgreSQL backends of the bench database (this
    process's completion polling among them: a query every 50 ms), Redis and the Resend fake."""
    database = url.rsplit("/", 1)[1]
    return CpuMeter({
        "workers": lambda: [worker.process.pid for worker in workers],
        "postgres": lambda: pids_whose_command(lambda command: command.startswith("postgres:") and f" {database} " in command),
        "redis": lambda: pids_whose_command(lambda command: command.startswith("redis-server")),
        "resend fake": lambda: [resend.pid],
    })


async def measure(
    url: str, env: dict[str, str], workers: int, jobs: int, concurrency: int, logs: Path, rate: float | None,
    resend: subprocess.Popen[bytes],
) -> Round:
    """One round; `rate` None means burst (all due at once)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        job_ids = await seed_email_reminders(sessions, jobs // PER_USER, PER_USER, utcnow() + timedelta(days=1))
        processes = [WorkerProcess.start(env, logs / f"w{workers}-{n}.log", concurrency) for n in range(workers)]
        try:
            for process in processes:
                process.wait_started()
            meter = cpu_meter(url, processes, resend)
            meter.start()
            if rate is None:
                await make_due(sessions, job_ids, utcnow())
            else:
                await _make_due_paced(sessions, job_ids, rate)
            while await _done_count(sessions, job_ids) < len(job_ids):
                await asyncio.sleep(0.05)
            meter.stop()
        finally:
            for process in processes:
                process.stop()
        async with sessions() as session:
            due = dict((await session.execute(
                select(ScheduledJob.id, ScheduledJob.due_at).where(ScheduledJob.id.in_(job_ids))
            )).all())
            executed = dict((await session.execute(
                select(AgentActionHistory.action_id, AgentActionHistory.created_at).where(
                    AgentActionHistory.status == "executed",
                    AgentActionHistory.action_id.in_([job_action_id(job_id) for job_id in job_ids]),
                )
            )).all())
    finally:
        await engine.dispose()
    lags = [(executed[job_action_id(job_id)] - due[job_id]).total_seconds() for job_id in job_ids]
    span = (max(executed.values()) - min(due.values())).total_seconds()
    return Round("burst" if rate is None else f"paced {rate:g}/s", workers, jobs, span, lags, meter.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs of a burst round")
    parser.add_argument("--paced-jobs", type=int, default=300, help="jobs of a paced round")
    parser.add_argument("--rate", type=float, default=20.0, help="jobs falling due per second in a paced round")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    url = create_postgres_database()
    port = _free_port()
    resend = start_resend_fake(port)
    rounds = []
    try:
        upgrade(url)
        env = {
            "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "COACH_SECRET_KEY": "bench", "NO_PROXY": "127.0.0.1",
            "RESEND_API_KEY": RESEND_KEY, "RESEND_BASE_URL": f"http://127.0.0.1:{port}", "EMAIL_FROM": "coach@example.com",
        }
        with tempfile.TemporaryDirectory() as logs:
            for workers in options.workers:
                for jobs, rate in ((options.jobs, None), (options.paced_jobs, options.rate)):
                    rounds.append(asyncio.run(measure(url, env, workers, jobs, options.concurrency, Path(logs), rate, resend)))
    finally:
        resend.terminate()
        resend.wait(10)
        drop_postgres_database(url)
    print_table(rounds, options.concurrency)


def print_table(rounds: list[Round], concurrency: int) -> None:
    header = (
        f"{'round':<12} {'workers':>7} {'concurrency':>11} {'jobs':>6} {'seconds':>8} {'jobs/s':>8} "
        f"{'lag p50 s':>10} {'lag p95 s':>10} {'CPU ms per job: workers':>24} {'postgres':>8} {'redis':>6} {'resend':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rounds:
        print(
            f"{row.mode:<12} {row.workers:>7} {concurrency:>11} {row.jobs:>6} {row.seconds:>8.2f} {row.rate:>8.0f} "
            f"{row.lag(50):>10.3f} {row.lag(95):>10.3f} {row.cpu_ms_per_job('workers'):>24.2f} "
            f"{row.cpu_ms_per_job('postgres'):>8.2f} {row.cpu_ms_per_job('redis'):>6.2f} {row.cpu_ms_per_job('resend fake'):>6.2f}"
        )
    burst = max((row for row in rounds if row.mode == "burst"), key=lambda row: row.rate)
    paced = max(row.lag(95) for row in rounds if row.mode != "burst")
    print(f"\ntarget >= {TARGET_RATE:g} jobs/s: {'met' if burst.rate >= TARGET_RATE else 'MISSED'} "
          f"(best burst: {burst.workers} workers, {burst.rate:.0f} jobs/s); "
          f"paced lag p95 < {TARGET_P95_S:g} s: {'met' if paced < TARGET_P95_S else 'MISSED'} (worst {paced:.3f} s); "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
