"""The daily retention purge as a scheduler job: the worker's maintenance claims the day's job (one per UTC
day whatever the number of workers, by its dedupe key, inserted already running and leased to the claiming
worker) and runs it at once, renewing its lease between batches. A purge whose worker died is an ordinary
job with a lapsed lease: another worker claims it from the queue and runs it (`run_purge`).

It is claimed rather than planned ahead so that it never waits in the queue among the people's jobs. What
is purged, and in what batches, is `db.retention`'s.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from db import retention
from db.models import ScheduledJob
from tools.dispatch import OnFinish
from tools.scheduler.outcomes import Outcome
from tools.scheduler.preload import JobReads
from tools.scheduler.queue import DEFAULT_LEASE, finish, insert_jobs, new_job, renew
from tools.services import ToolServices

KIND = "retention_purge"
log = logging.getLogger("coach.retention")


def dedupe_key(now: datetime) -> str:
    return f"{KIND}:{now.date().isoformat()}"


async def purge_daily(services: ToolServices, worker_id: str) -> retention.Purged | None:
    """Claim and run today's purge (by the services' clock); None when a worker has claimed it already."""
    now = services.clock()
    job = {**new_job(KIND, None, {}, now, dedupe_key(now)), "status": "running", "locked_by": worker_id, "locked_at": now, "attempts": 1}
    async with services.sessions() as session:
        claimed = await insert_jobs(session, [job])
        await session.commit()
    if not claimed:
        return None
    async with services.sessions() as session:
        job_id = await session.scalar(select(ScheduledJob.id).where(ScheduledJob.dedupe_key == dedupe_key(now)))
    renewed_at = now

    async def keep_lease() -> None:
        nonlocal renewed_at
        if services.clock() - renewed_at > DEFAULT_LEASE / 3:
            renewed_at = services.clock()
            await renew(services.sessions, worker_id, [job_id], renewed_at)

    purged = await retention.purge(services.sessions, now, after_batch=keep_lease)
    async with services.sessions() as session:
        claimed_job = await session.get(ScheduledJob, job_id)
        await finish(session, worker_id, [(claimed_job, Outcome("done"))])
        await session.commit()
    log.info("retention purge", extra={"rows": purged.rows, "transactions": purged.transactions})
    return purged


async def run_purge(services: ToolServices, job: ScheduledJob, on_finish: OnFinish, reads: JobReads) -> Outcome:
    """A purge taken over from a worker that died (the queue renews its lease while it runs)."""
    purged = await retention.purge(services.sessions, services.clock())
    log.info("retention purge", extra={"rows": purged.rows, "transactions": purged.transactions})
    return Outcome("done")
