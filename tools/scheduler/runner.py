"""One claimed job's run: its handler, backoff, the finishing transaction, metrics and a log line."""

from __future__ import annotations

import logging

from db.models import ScheduledJob
from tools.log_context import job_context
from tools.metrics import SCHEDULER_JOBS, SCHEDULER_LAG
from tools.scheduler.handlers import KINDS
from tools.scheduler.outcomes import Backoff, Outcome
from tools.scheduler.queue import finish
from tools.services import ToolServices

log = logging.getLogger("coach.scheduler")


async def run_job(services: ToolServices, job: ScheduledJob, worker_id: str, backoff: Backoff) -> Outcome:
    """Run a job this worker claimed and record its outcome. Never raises for a failing job: a handler
    that crashes is retried with backoff like a provider that is down."""
    with job_context(job.id):
        started = services.clock()
        SCHEDULER_LAG.labels(job.kind).observe(max((started - job.next_attempt_at).total_seconds(), 0.0))
        kind = KINDS.get(job.kind)
        try:
            outcome = await kind.run(services, job) if kind else Outcome("failed", error=f"unknown job kind {job.kind!r}")
        except Exception as exc:
            log.exception("job crashed", extra={"kind": job.kind})
            outcome = Outcome("retry", error=f"{type(exc).__name__}: {exc}")
        now = services.clock()
        outcome = backoff.apply(outcome, job.attempts, now)
        async with services.sessions() as session:
            owned = await finish(session, job, worker_id, outcome)
            if owned and outcome.final and kind is not None and kind.settle is not None:
                await kind.settle(session, job, outcome, now)
            await (session.commit() if owned else session.rollback())
        SCHEDULER_JOBS.labels(job.kind, outcome.status).inc()
        extra = {"kind": job.kind, "outcome": outcome.status, "attempts": job.attempts, "error": outcome.error}
        if owned:
            log.info("job finished", extra=extra)
        else:
            log.warning("job finished after its lease was taken over; result not recorded", extra=extra)
        return outcome
