"""One claimed job's run: its handler, backoff, the finishing write, metrics and a log line.

A job whose run records an action is finished in the transaction that writes the action's history row
(dispatch's `on_finish`): the row, the job's status and what follows the job commit together. A run that
records nothing (skipped, an outcome already recorded) or crashes is finished on its own. Either way the
transaction is usually shared with other jobs finishing at the same time (`db.group_commit`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ScheduledJob
from tools.log_context import job_context
from tools.metrics import SCHEDULER_JOBS, SCHEDULER_LAG
from tools.results import AgentToolResult
from tools.scheduler.handlers import KINDS, JobKind
from tools.scheduler.outcomes import Backoff, Outcome, from_result
from tools.scheduler.preload import ClaimReads, JobReads
from tools.scheduler.queue import finish
from tools.services import ToolServices

log = logging.getLogger("coach.scheduler")


@dataclass
class _Finishing:
    """Writes a job's outcome: `queue.finish`, then the kind's settle once the job is over."""

    services: ToolServices
    job: ScheduledJob
    worker_id: str
    backoff: Backoff
    kind: JobKind | None
    recorded: tuple[Outcome, bool] | None = None  # written in dispatch's transaction: outcome, lease still held

    async def with_action(self, session: AsyncSession, result: AgentToolResult) -> None:
        """dispatch's `on_finish`: the job's outcome, written with the action's history row."""
        self.recorded = await self.write(session, from_result(result))

    async def alone(self, outcome: Outcome) -> tuple[Outcome, bool]:
        """Write `outcome` with no action's record (committed with other jobs' outcomes)."""
        return await self.services.writes.run(lambda transaction: self.write(transaction.session, outcome))

    async def write(self, session: AsyncSession, outcome: Outcome) -> tuple[Outcome, bool]:
        """The outcome after backoff, and whether this worker still held the job (if not, nothing is written)."""
        now: datetime = self.services.clock()
        outcome = self.backoff.apply(outcome, self.job.attempts, now)
        owned = await finish(session, self.job, self.worker_id, outcome)
        if owned and outcome.final and self.kind is not None and self.kind.settle is not None:
            await self.kind.settle(session, self.job, outcome, now)
        return outcome, owned


async def run_job(
    services: ToolServices, job: ScheduledJob, worker_id: str, backoff: Backoff, claim: ClaimReads | None = None
) -> Outcome:
    """Run a job this worker claimed and record its outcome, reading what `claim` loaded for the job's whole
    claim before anything of its own. Never raises for a failing job: a handler that crashes is retried
    with backoff like a provider that is down."""
    with job_context(job.id):
        started = services.clock()
        SCHEDULER_LAG.labels(job.kind).observe(max((started - job.next_attempt_at).total_seconds(), 0.0))
        kind = KINDS.get(job.kind)
        finishing = _Finishing(services, job, worker_id, backoff, kind)
        reads = JobReads(services.sessions, claim)
        try:
            if kind is None:
                outcome = Outcome("failed", error=f"unknown job kind {job.kind!r}")
            else:
                outcome = await kind.run(services, job, finishing.with_action, reads)
            recorded = finishing.recorded
        except Exception as exc:
            log.exception("job crashed", extra={"kind": job.kind})
            # Whatever dispatch wrote may not have committed; finishing is compare-and-set, so trying is safe.
            outcome, recorded = Outcome("retry", error=f"{type(exc).__name__}: {exc}"), None
        finally:
            await reads.close()  # a handler that skipped the job before dispatch leaves its session open
        outcome, owned = recorded or await finishing.alone(outcome)
        SCHEDULER_JOBS.labels(job.kind, outcome.status).inc()
        extra = {"kind": job.kind, "outcome": outcome.status, "attempts": job.attempts, "error": outcome.error}
        if owned:
            log.info("job finished", extra=extra)
        else:
            log.warning("job finished after its lease was taken over; result not recorded", extra=extra)
        return outcome
