"""What the scheduler tests share: a clock the test moves, the app's services on it, and the job rows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import accounts
from db.models import Reminder, ScheduledJob, new_id
from server.context import AppContext
from tools.dispatch import Actor, dispatch

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """A settable clock for `ToolServices.clock` (and so for the worker, which reads time only there)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, by: timedelta) -> None:
        self.now += by


async def jobs(ctx: AppContext, **where: Any) -> list[ScheduledJob]:
    async with ctx.sessions() as session:
        query = select(ScheduledJob).filter_by(**where).order_by(ScheduledJob.due_at)
        return list((await session.scalars(query)).all())


async def job(ctx: AppContext, job_id: str) -> ScheduledJob:
    async with ctx.sessions() as session:
        found = await session.get(ScheduledJob, job_id)
        assert found is not None
        return found


async def wait_for_status(ctx: AppContext, job_id: str, status: str, timeout_s: float = 5.0) -> None:
    """Poll until the job has `status` (a worker running in the background got there)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (await job(ctx, job_id)).status != status:
        assert asyncio.get_running_loop().time() < deadline, f"job {job_id} never became {status}"
        await asyncio.sleep(0.01)


async def schedule_reminder(ctx: AppContext, user_id: str, remind_at: str, channel: str, message: str = "Stretch",
                            recurrence: str | None = None) -> ScheduledJob:
    """A reminder made the way the coach makes one (dispatch, as the operator); returns its first job."""
    args = {"message": message, "remind_at": remind_at, "channel": channel}
    if recurrence:
        args["recurrence"] = recurrence
    result = await dispatch(ctx.services, Actor(user_id, "operator"), "schedule_reminder", args)
    assert result.success and not result.needs_confirmation, result
    assert result.data is not None
    [first] = [row for row in await jobs(ctx, user_id=user_id, kind="reminder")
               if row.payload["reminder_id"] == result.data["reminder_id"]]
    return first


async def seed_email_reminders(
    sessions: async_sessionmaker[AsyncSession], users: int, per_user: int, due: datetime
) -> list[str]:
    """`users` users with `per_user` one-off email reminders each, all due at `due`; returns the job ids.

    Rows are inserted in bulk (this is for the many-jobs test and the benchmark), through the same models
    the coach writes, each as a reminder the user confirmed.
    """
    job_ids = []
    async with sessions() as session:
        for number in range(users):
            user = await accounts.create_user(
                session, name=f"User {number}", phone=None, email=f"u{number}-{new_id()[:8]}@example.com", timezone="UTC"
            )
            for _ in range(per_user):
                reminder = Reminder(
                    id=new_id(), user_id=user.id, message="Stretch", remind_at=due, channel="email",
                    approved_by=new_id(),  # as if the user had confirmed it
                )
                session.add(reminder)
                scheduled = ScheduledJob(
                    id=new_id(), kind="reminder", user_id=user.id, payload={"reminder_id": reminder.id},
                    due_at=due, next_attempt_at=due,
                )
                session.add(scheduled)
                job_ids.append(scheduled.id)
        await session.commit()
    return job_ids


async def make_due(sessions: async_sessionmaker[AsyncSession], job_ids: list[str], at: datetime) -> None:
    async with sessions() as session:
        await session.execute(
            update(ScheduledJob).where(ScheduledJob.id.in_(job_ids)).values(due_at=at, next_attempt_at=at)
        )
        await session.commit()


@dataclass
class WorkerProcess:
    """`coach worker` as a subprocess of the repository's code; its JSON log goes to `log_path`."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, env: dict[str, str], log_path: Path, concurrency: int = 32) -> WorkerProcess:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "worker", "--concurrency", str(concurrency)],
                cwd=REPO, env={**os.environ, **env, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
            )
        return cls(process, log_path)

    def log_lines(self, message: str) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("msg") == message]

    def wait_started(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.log_lines("worker started"):
            assert self.process.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)
