"""The deterministic cost of a scheduled job and of a dispatch: database statements, Redis commands and
CPU seconds, counted in one process (wall-clock rates on a shared machine are noisy; these are not).

- job:      one-off email reminders run by a `Worker` (claim, reminder handler, dispatch(send_email) to
            the Resend fake, finish), as `coach worker` runs them, logging JSON like it does;
- dispatch: dispatch(send_email) as the scheduler, and create_task as the API, called one after another.

Statements are counted with a `before_cursor_execute` listener, Redis commands by wrapping the client's
`execute_command` (a Lua script or a pipeline counts as one), CPU with `time.process_time` (this process:
the Resend fake runs in its own).

Run: .venv/bin/python bench/job_cost.py [--jobs 1000] [--calls 300] [--concurrency 16]
Environment: as bench/scheduler.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from sqlalchemy import event  # noqa: E402

from bench.scheduler import REDIS_URL, RESEND_KEY, _free_port, start_resend_fake
from db import accounts
from db.migrate import upgrade
from db.models import utcnow
from scheduling import make_due, seed_email_reminders
from services import create_postgres_database, drop_postgres_database
from server.config import Settings
from server.context import AppContext
from server.logs import configure_logging
from server.worker import Worker
from tools.dispatch import Actor, dispatch
from tools.reads import Reads
from tools.scheduler.handlers import scheduler_actor


@dataclass
class Counters:
    statements: int = 0
    transactions: int = 0
    checkouts: int = 0
    redis: int = 0


@dataclass(frozen=True)
class Cost:
    what: str
    runs: int
    counted: Counters  # the difference over the runs
    cpu_s: float
    wall_s: float

    def line(self) -> str:
        per_run = "".join(f" {value / self.runs:>12.2f}" for value in astuple(self.counted))
        return f"{self.what:<32} {self.runs:>6}{per_run} {self.cpu_s / self.runs * 1000:>12.2f} {self.runs / self.wall_s:>8.0f}"


HEADER = f"{'per run':<32} {'runs':>6}" + "".join(f" {name:>12}" for name in (*Counters.__dataclass_fields__, "cpu ms")) + f" {'runs/s':>8}"


def instrument(ctx: AppContext) -> Counters:
    counters = Counters()

    def count_statement(*_: Any) -> None:
        counters.statements += 1

    def count_transaction(*_: Any) -> None:
        counters.transactions += 1

    def count_checkout(*_: Any) -> None:
        counters.checkouts += 1

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", count_statement)
    event.listen(ctx.engine.sync_engine, "begin", count_transaction)
    event.listen(ctx.engine.sync_engine.pool, "checkout", count_checkout)
    assert ctx.redis is not None
    execute_command = ctx.redis.execute_command

    async def count_command(*args: Any, **options: Any) -> Any:
        counters.redis += 1
        return await execute_command(*args, **options)

    ctx.redis.execute_command = count_command  # type: ignore[method-assign]
    pipeline = ctx.redis.pipeline

    def count_pipeline(*args: Any, **options: Any) -> Any:
        counters.redis += 1
        return pipeline(*args, **options)

    ctx.redis.pipeline = count_pipeline  # type: ignore[method-assign]
    return counters


async def measured(what: str, runs: int, counters: Counters, work: Callable[[], Awaitable[Any]]) -> Cost:
    before = astuple(counters)
    cpu, wall = time.process_time(), time.perf_counter()
    await work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Cost(what, runs, Counters(*(after - first for after, first in zip(astuple(counters), before))), cpu, wall)


async def job_cost(ctx: AppContext, counters: Counters, jobs: int, concurrency: int) -> Cost:
    job_ids = await seed_email_reminders(ctx.sessions, jobs // 5, 5, utcnow() + timedelta(days=1))
    await make_due(ctx.sessions, job_ids, utcnow())
    worker = Worker(ctx.services, concurrency=concurrency)
    return await measured(f"job (concurrency {concurrency})", len(job_ids), counters, worker.run_due)


async def dispatch_costs(ctx: AppContext, counters: Counters, calls: int) -> list[Cost]:
    users = []
    async with ctx.sessions() as session:
        for number in range(calls):
            users.append(await accounts.create_user(
                session, name="Bench", phone=None, email=f"d{number}-{uuid.uuid4().hex[:8]}@example.com", timezone="UTC"
            ))
        await session.commit()
        reads = Reads(ctx.sessions, lent=session)
        actors = [await scheduler_actor(reads, user.id) for user in users]

    async def emails() -> None:
        for actor in actors:
            result = await dispatch(ctx.services, actor, "send_email", {"subject": "Hi", "body": "Stretch"},
                                    action_id=uuid.uuid4().hex, approved_by=uuid.uuid4().hex)  # a confirmed reminder's
            assert result.success and not result.needs_confirmation, result

    async def tasks() -> None:
        for actor in actors:
            result = await dispatch(
                ctx.services, Actor(actor.user_id, "api"), "create_task", {"title": "task"}, confidence=0.9
            )
            assert result.success and not result.needs_confirmation, result

    return [
        await measured("dispatch send_email (scheduler)", calls, counters, emails),
        await measured("dispatch create_task (api)", calls, counters, tasks),
    ]


async def run(url: str, port: int, options: argparse.Namespace) -> list[Cost]:
    settings = Settings(
        DATABASE_URL=url, REDIS_URL=REDIS_URL, COACH_SECRET_KEY="bench", RESEND_API_KEY=RESEND_KEY,
        RESEND_BASE_URL=f"http://127.0.0.1:{port}", EMAIL_FROM="coach@example.com",
    )
    ctx = AppContext.open(settings, pool_size=options.concurrency + 4)
    try:
        counters = instrument(ctx)
        await dispatch_costs(ctx, counters, 20)  # warm-up: imports, prepared statements, the pool
        return [
            await job_cost(ctx, counters, options.jobs, options.concurrency),
            await job_cost(ctx, counters, options.jobs // 4, 1),
            *await dispatch_costs(ctx, counters, options.calls),
        ]
    finally:
        await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    configure_logging()  # INFO, JSON, like `coach worker`; to /dev/null so the table stays readable
    devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    for handler in logging.getLogger().handlers:
        handler.setStream(devnull)  # type: ignore[attr-defined]
    logging.getLogger("httpx").setLevel(logging.WARNING)
    url = create_postgres_database()
    port = _free_port()
    resend = start_resend_fake(port)
    try:
        upgrade(url)
        costs = asyncio.run(run(url, port, options))
    finally:
        resend.terminate()
        resend.wait(10)
        drop_postgres_database(url)
    print(HEADER)
    for cost in costs:
        print(cost.line())


if __name__ == "__main__":
    main()
