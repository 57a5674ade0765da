"""What the scheduler tests share: a clock the test moves, the app's services on it, and the job rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from db.models import ScheduledJob
from server.context import AppContext
from tools.dispatch import Actor, dispatch


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
