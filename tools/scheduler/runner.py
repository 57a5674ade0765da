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

from db.group_commit import Transaction
from db.models import ScheduledJob
from tools.log_context import job_context
from tools.metrics import SCHEDULER_JOBS, SCHEDULER_LAG
from tools.results import AgentToolResult
from tools.scheduler.handlers import KINDS, JobKind, Settle
from tools.scheduler.outcomes import Backoff, Outcome, from_result
from tools.scheduler.preload import ClaimReads, JobReads
from tools.scheduler.queue import finish
from tools.services import ToolServices

log = logging.getLogger("coach.scheduler")


@dataclass
class _Finishing:
    """A job's outcome, to be written (`_finish_jobs`) with the outcomes of the other jobs finishing in the
    same transaction."""

    services: ToolServices
    job: ScheduledJob
    worker_id: str
    backoff: Backoff
    kind: JobKind | None
    recorded: tuple[Outcome, bool] | None = None  # once written: the outcome after backoff, lease still held

    async def with_action(self, transaction: Transaction, result: AgentToolResult) -> None:
        """dispatch's `on_finish`: the job's outcome, written with the action's history row."""
        transaction.later(_finish_jobs, (self, from_result(result)))

    async def alone(self, outcome: Outcome) -> tuple[Outcome, bool]:
        """Write `outcome` with no action's record."""

        async def write(transaction: Transaction) -> None:
            transaction.later(_finish_jobs, (self, outcome))

        await self.services.writes.run(write)
        assert self.recorded is not None  # the write committed, so _finish_jobs ran
        return self.recorded


async def _finish_jobs(session: AsyncSession, outcomes: list[tuple[_Finishing, Outcome]]) -> None:
    """Write the outcomes of the jobs finishing in one transaction: backoff applied, one UPDATE per worker
    and kind of change (`queue.finish`), then what follows the jobs that are over (their kind's `settle`,
    once per kind). A job whose lease another worker took over is left as that worker has it."""
    by_worker: dict[str, list[tuple[_Finishing, Outcome]]] = {}
    for finishing, outcome in outcomes:
        by_worker.setdefault(finishing.worker_id, []).append((finishing, outcome))
    for worker_id, items in by_worker.items():
        now: datetime = items[0][0].services.clock()
        applied = [(finishing, finishing.backoff.apply(outcome, finishing.job.attempts, now)) for finishing, outcome in items]
        held = await finish(session, worker_id, [(finishing.job, outcome) for finishing, outcome in applied])
        settling: dict[Settle, list[tuple[ScheduledJob, Outcome]]] = {}
        for finishing, outcome in applied:
            finishing.recorded = outcome, finishing.job.id in held
            settle = finishing.kind.settle if finishing.kind is not None else None
            if finishing.recorded[1] and outcome.final and settle is not None:
                settling.setdefault(settle, []).append((finishing.job, outcome))
        for settle, settled in settling.items():
            await settle(session, settled, now)


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
