"""The reads of a whole claim of jobs, loaded before its jobs run: their reminders and what dispatch reads
for each (`tools.reads.Preloaded`: the owners with their teams and roles, which also make the scheduler's
actor), one query per kind of fact.

Why: each job used to open its own read transaction for the same handful of lookups; a claim of 16 jobs
now reads in 5 queries instead of about 80. A job reads on its own only what the claim did not load
(a habit's completions, a sequence, a proposed action's pending row), in a session opened on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Reminder, ScheduledJob
from tools.reads import Preloaded, Reads
from tools.scheduler.queue import job_action_id

OUTREACH_TOOLS = ("send_sms", "send_email", "make_voice_call")
"""The tools a job reaches its user with (a sequence step's own tool is read when it runs)."""


@dataclass
class ClaimReads:
    reminders: dict[str, Any] = field(default_factory=dict)
    """Reminder id -> its row of `reminder_rows`; None when it is gone."""
    dispatch: Preloaded = field(default_factory=Preloaded)


class JobReads(Reads):
    """A job's reads: the claim's, then a session of its own (closed by dispatch, or by the runner)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], claim: ClaimReads | None = None) -> None:
        claim = claim or ClaimReads()
        super().__init__(sessions, preloaded=claim.dispatch)
        self._reminders = claim.reminders

    async def reminder(self, reminder_id: str) -> Any:
        """The reminder's row of `reminder_rows`, None when it is gone."""
        if reminder_id in self._reminders:
            return self._reminders[reminder_id]
        return (await reminder_rows(self.session(), {reminder_id})).get(reminder_id)


async def reminder_rows(session: AsyncSession, reminder_ids: set[str]) -> dict[str, Any]:
    """What a reminder job reads of each reminder (owner, status, channel, message, its yes), in one query."""
    if not reminder_ids:
        return {}
    rows = (
        await session.execute(
            select(
                Reminder.id, Reminder.user_id, Reminder.status, Reminder.channel, Reminder.message, Reminder.approved_by
            )
            .where(Reminder.id.in_(reminder_ids))
        )
    ).all()
    return {row.id: row for row in rows}


async def load_claim(sessions: async_sessionmaker[AsyncSession], jobs: Sequence[ScheduledJob]) -> ClaimReads:
    """Everything the claim's jobs will read that can be read for all of them at once."""
    reminder_ids = {str(job.payload["reminder_id"]) for job in jobs if job.kind == "reminder" and "reminder_id" in job.payload}
    async with sessions() as session:
        reminders = await reminder_rows(session, reminder_ids)
        owners = {row.user_id for row in reminders.values()} | {job.user_id for job in jobs if job.user_id}
        dispatch = await Preloaded.load(session, owners, [job_action_id(job.id) for job in jobs], OUTREACH_TOOLS)
    return ClaimReads({reminder_id: reminders.get(reminder_id) for reminder_id in reminder_ids}, dispatch)
