"""The worker as it runs: `coach worker` processes (many on one PostgreSQL database run every job exactly
once; one killed mid-send leaves its job to another, which does not send it again; one stops cleanly on
SIGTERM) and the app's in-process worker (`coach serve` without --no-worker)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from backends import Backend, make_settings
from providers import Providers
from scheduling import REPO, WorkerProcess, job, make_due, seed_email_reminders
from services import create_postgres_database, drop_postgres_database
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import accounts
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AgentActionHistory, Reminder, ScheduledJob, new_id, utcnow
from server.app import create_app
from tools.scheduler.queue import job_action_id

JOBS_PER_USER = 5  # the per-minute burst limit of one user's emails


@pytest.fixture
def own_postgres(postgres_backend: Backend) -> Iterator[Backend]:
    """A database of this test's own: the workers run every due job they find, and see no other test's."""
    url = create_postgres_database()
    try:
        upgrade(url)
        yield Backend("postgres", url, postgres_backend.redis_url)
    finally:
        drop_postgres_database(url)


def worker_env(backend: Backend, providers: Providers) -> dict[str, str]:
    env = {
        "DATABASE_URL": backend.database_url,
        "COACH_SECRET_KEY": "test-secret-key-not-for-production",
        "NO_PROXY": "127.0.0.1,localhost",
        **{name: str(value) for name, value in providers.settings().items()},
    }
    if backend.redis_url:
        env["REDIS_URL"] = backend.redis_url
    return env


async def _job_states(backend: Backend) -> dict[str, int]:
    """How many of the seeded reminder jobs are in each state (a worker's daily retention purge is a job too)."""
    engine = make_engine(backend.database_url)
    try:
        async with make_session_factory(engine)() as session:
            rows = await session.execute(
                select(ScheduledJob.status, func.count()).where(ScheduledJob.kind == "reminder").group_by(ScheduledJob.status)
            )
            return {status: count for status, count in rows.all()}
    finally:
        await engine.dispose()


async def test_two_worker_processes_run_1000_due_jobs_exactly_once(own_postgres, providers, tmp_path):
    engine = make_engine(own_postgres.database_url)
    sessions = make_session_factory(engine)
    try:
        job_ids = await seed_email_reminders(sessions, 1000 // JOBS_PER_USER, JOBS_PER_USER, utcnow() + timedelta(days=1))
        env = worker_env(own_postgres, providers)
        workers = [WorkerProcess.start(env, tmp_path / f"worker-{n}.log", concurrency=16) for n in range(2)]
        try:
            for worker in workers:
                worker.wait_started()
            await make_due(sessions, job_ids, utcnow())  # both are polling: they race for the same 1,000 jobs
            deadline = time.monotonic() + 120
            while (await _job_states(own_postgres)).get("done", 0) < len(job_ids):
                assert time.monotonic() < deadline, await _job_states(own_postgres)
                await asyncio.sleep(0.2)
        finally:
            exits = [worker.stop() for worker in workers]
        assert exits == [0, 0]
        async with sessions() as session:
            executed = (await session.scalars(
                select(AgentActionHistory.action_id).where(AgentActionHistory.status == "executed")
            )).all()
    finally:
        await engine.dispose()
    assert await _job_states(own_postgres) == {"done": 1000}
    assert len(executed) == len(set(executed)) == 1000
    keys = [request.headers.get("idempotency-key") for request in providers.resend.requests]
    assert len(keys) == len(set(keys)) == 1000  # every job reached Resend once: no replayed sends
    finished = [len(worker.log_lines("job finished")) for worker in workers]
    assert sum(finished) == 1000 and min(finished) > 0, finished  # both took part


async def test_a_worker_whose_database_connections_were_closed_goes_on_running_due_jobs(own_postgres, providers, tmp_path):
    """The worker's pool does not test connections before use: the first statement on a closed one fails,
    and the worker must recover from that on its own (as after a database restart)."""
    engine = make_engine(own_postgres.database_url)
    sessions = make_session_factory(engine)
    try:
        job_ids = await seed_email_reminders(sessions, 2, JOBS_PER_USER, utcnow() + timedelta(days=1))
        worker = WorkerProcess.start(worker_env(own_postgres, providers), tmp_path / "worker.log", concurrency=16)
        try:
            worker.wait_started()
            await asyncio.sleep(1)  # it has polled: its pool holds open connections
            async with sessions() as session:
                closed = (await session.scalars(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ))).all()
            assert closed
            await make_due(sessions, job_ids, utcnow())
            deadline = time.monotonic() + 30
            while (await _job_states(own_postgres)).get("done", 0) < len(job_ids):
                assert time.monotonic() < deadline, await _job_states(own_postgres)
                await asyncio.sleep(0.2)
        finally:
            exit_code = worker.stop()
    finally:
        await engine.dispose()
    assert exit_code == 0
    assert len(providers.resend.requests) == len(job_ids)


def midday_zone() -> str:
    """A fixed-offset zone where it is about noon now, so an SMS is inside every quiet-hours window whenever
    the test runs (the recipient's number below has no zone of its own: the user's zone is used)."""
    offset = 12 - datetime.now(UTC).hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-5 is UTC+5


async def seed_sms_reminder(sessions: async_sessionmaker[AsyncSession], due: datetime) -> str:
    async with sessions() as session:
        user = await accounts.create_user(session, name="Kim", phone="+447400123456", email=None, timezone=midday_zone())
        reminder = Reminder(id=new_id(), user_id=user.id, message="Stretch", remind_at=due, channel="sms",
                            approved_by=new_id())  # a reminder the user confirmed
        scheduled = ScheduledJob(id=new_id(), kind="reminder", user_id=user.id, payload={"reminder_id": reminder.id},
                                 due_at=due, next_attempt_at=due)
        session.add_all([reminder, scheduled])
        await session.commit()
        return scheduled.id


async def job_status(sessions: async_sessionmaker[AsyncSession], job_id: str) -> str | None:
    async with sessions() as session:
        return await session.scalar(select(ScheduledJob.status).where(ScheduledJob.id == job_id))


async def test_a_worker_killed_after_twilio_took_the_sms_leaves_the_job_to_another_which_does_not_resend(
    own_postgres, providers, tmp_path
):
    engine = make_engine(own_postgres.database_url)
    sessions = make_session_factory(engine)
    env = worker_env(own_postgres, providers)
    try:
        job_id = await seed_sms_reminder(sessions, utcnow())
        providers.twilio.lose_next_answers(1, hang_s=60)  # Twilio creates the SMS; its answer never comes back
        dying = WorkerProcess.start(env, tmp_path / "dying.log")
        try:
            deadline = time.monotonic() + 30
            while not providers.twilio.messages:
                assert time.monotonic() < deadline, dying.log_path.read_text()
                await asyncio.sleep(0.05)
        finally:
            dying.process.kill()  # SIGKILL while it waits for Twilio's answer: no cleanup, no finishing
            dying.process.wait(10)
        async with sessions() as session:
            stuck = await session.get(ScheduledJob, job_id)
            assert stuck is not None and (stuck.status, stuck.attempts) == ("running", 1)
            stuck.locked_at = utcnow() - timedelta(hours=1)  # the lease runs out (5 minutes in real time)
            await session.commit()
        successor = WorkerProcess.start(env, tmp_path / "successor.log")
        try:
            deadline = time.monotonic() + 30
            while (await job_status(sessions, job_id)) != "done":
                assert time.monotonic() < deadline, successor.log_path.read_text()
                await asyncio.sleep(0.1)
        finally:
            assert successor.stop() == 0
        async with sessions() as session:
            [executed] = (await session.scalars(select(AgentActionHistory).where(
                AgentActionHistory.action_id == job_action_id(job_id), AgentActionHistory.status == "executed"
            ))).all()
    finally:
        await engine.dispose()
    [sms] = providers.twilio.messages
    assert sms.param("Body") == "Stretch"
    assert executed.result["message_sid"] in {m["sid"] for r in providers.twilio.requests if r.method == "GET"
                                              for m in r.response["messages"]}


def test_coach_worker_starts_and_stops_cleanly_on_sigterm(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "COACH_SECRET_KEY"}}
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker"], cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
            stdout=log, stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, log_path)
    try:
        worker.wait_started()
    finally:
        exit_status = worker.stop(timeout=15)
    assert exit_status == 0
    assert worker.log_lines("worker stopped")
    assert "Traceback" not in log_path.read_text()


async def test_the_app_runs_the_scheduler_in_process_when_asked(backend, providers):
    application = create_app(make_settings(backend, **providers.settings()), run_worker=True)
    async with application.router.lifespan_context(application):
        ctx = application.state.ctx
        [job_id] = await seed_email_reminders(ctx.sessions, 1, 1, utcnow())
        deadline = time.monotonic() + 15
        while (await job(ctx, job_id)).status != "done":
            assert time.monotonic() < deadline, "the in-process worker did not run the due job"
            await asyncio.sleep(0.1)
    assert len(providers.resend.emails) == 1
