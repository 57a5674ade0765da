"""The durable job queue: rows of `scheduled_jobs` claimed with a lease.

pending --claim--> running --finish--> done | failed | cancelled, or pending again (deferred or retried).

Claiming is one transaction: `SELECT id ... ORDER BY next_attempt_at LIMIT n FOR UPDATE SKIP LOCKED`, then
`UPDATE ... WHERE id IN (those) AND still due RETURNING`. On PostgreSQL concurrent workers skip each
other's locked rows, so a job is claimed by one worker; on SQLite the clause is dropped, the database's
single writer serializes claims, and the due condition in the UPDATE keeps a claim compare-and-set. A running job whose lease (locked_at) is
older than the lease timeout belongs to a worker that died: it is claimable again; a live worker renews
the lease of the jobs it is still running (`renew`), so a slow job is not taken over. Finishing is
compare-and-set on (status running, locked_by), so a worker whose lease was taken over cannot
overwrite the new owner's result.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Update, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ScheduledJob
from tools.scheduler.outcomes import Outcome

DEFAULT_LEASE = timedelta(minutes=5)
_INSERT_CHUNK = 1000  # rows per INSERT: well under PostgreSQL's 32767 bind parameters
_JOBS = ScheduledJob.__table__
_ACTION_IDS = uuid.UUID("7f1c7a52-6d0e-4d8e-9a51-2b1f0c9e8a41")


def job_action_id(job_id: str) -> str:
    """The action id (dispatch's idempotency key) of a job's send: the same on every retry of the job."""
    return uuid.uuid5(_ACTION_IDS, job_id).hex


def new_job(kind: str, user_id: str | None, payload: dict[str, Any], due: datetime, dedupe_key: str | None = None) -> dict[str, Any]:
    """The column values of a pending job, for `insert_jobs`."""
    return {
        "kind": kind, "user_id": user_id, "payload": payload, "due_at": due, "next_attempt_at": due,
        "dedupe_key": dedupe_key,
    }


async def insert_jobs(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert jobs, skipping any whose dedupe_key exists already (planned by another worker or pass)."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    inserted = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = list(rows[start : start + _INSERT_CHUNK])
        statement = dialect.insert(ScheduledJob).values(chunk).on_conflict_do_nothing(index_elements=["dedupe_key"])
        inserted += max((await session.execute(statement)).rowcount or 0, 0)
    return inserted


# Claiming runs every few jobs: its statements are built once, with the times and ids bound per claim.
_CLAIMABLE = or_(
    and_(ScheduledJob.status == "pending", ScheduledJob.next_attempt_at <= bindparam("now")),
    and_(ScheduledJob.status == "running", ScheduledJob.locked_at < bindparam("lease_lapsed_before")),
)
_PICK = (
    select(ScheduledJob.id)
    .where(_CLAIMABLE)
    .order_by(ScheduledJob.next_attempt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_TAKE = (
    update(ScheduledJob)
    .where(ScheduledJob.id.in_(bindparam("job_ids", expanding=True)), _CLAIMABLE)
    .values(
        status="running", locked_by=bindparam("worker_id"), locked_at=bindparam("now"), attempts=ScheduledJob.attempts + 1
    )
    .returning(ScheduledJob)
    .execution_options(synchronize_session=False)
)


async def claim(
    sessions: async_sessionmaker[AsyncSession], worker_id: str, now: datetime, limit: int, lease: timedelta = DEFAULT_LEASE
) -> list[ScheduledJob]:
    """Claim up to `limit` due jobs (earliest first) for `worker_id`; each claim counts as an attempt.

    Two statements in one transaction, not `UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP
    LOCKED)`: PostgreSQL may run such a subquery again for every row it updates, each run skipping the
    rows the previous ones locked, so the LIMIT stops limiting and one worker takes the whole queue.
    """
    due = {"now": now, "lease_lapsed_before": now - lease}
    async with sessions() as session:
        ids = (await session.scalars(_PICK, {**due, "limit": limit})).all()
        if not ids:
            await session.rollback()
            return []
        jobs = (await session.scalars(_TAKE, {**due, "job_ids": list(ids), "worker_id": worker_id})).all()
        await session.commit()
    return list(jobs)


async def renew(
    sessions: async_sessionmaker[AsyncSession], worker_id: str, job_ids: Sequence[str], now: datetime
) -> int:
    """Restart the lease of jobs `worker_id` is still running; how many it still held."""
    async with sessions() as session:
        result = await session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.id.in_(job_ids), ScheduledJob.status == "running", ScheduledJob.locked_by == worker_id)
            .values(locked_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return result.rowcount


async def finish(session: AsyncSession, worker_id: str, outcomes: Sequence[tuple[ScheduledJob, Outcome]]) -> set[str]:
    """Record each outcome on its job, where `worker_id` still holds the job; the ids of the jobs it held
    (a job it does not hold was taken over by another worker, and is left as it is). The caller commits.

    One UPDATE for all the jobs whose outcome sets the same values: in a batch that is most of them (done).
    A deferral is not a failed attempt, so it gives its attempt back.
    """
    by_change: dict[tuple[bool, tuple[tuple[str, Any], ...]], list[str]] = {}
    for job, outcome in outcomes:
        by_change.setdefault((outcome.status == "deferred", _finished_values(outcome)), []).append(job.id)
    held: set[str] = set()
    for (gives_attempt_back, values), job_ids in by_change.items():
        statement = _finish_statement(tuple(column for column, _ in values), gives_attempt_back)
        parameters = {"job_ids": job_ids, "worker_id": worker_id, **{f"new_{column}": value for column, value in values}}
        held.update((await session.scalars(statement, parameters)).all())
    return held


def _finished_values(outcome: Outcome) -> tuple[tuple[str, Any], ...]:
    """The columns an outcome sets, with their values."""
    values: dict[str, Any] = {"status": outcome.job_status}
    if outcome.error is not None or outcome.succeeded:
        values["last_error"] = outcome.error
    if outcome.run_at is not None and not outcome.final:
        values["next_attempt_at"] = outcome.run_at
    return tuple(values.items())


@cache
def _finish_statement(columns: tuple[str, ...], gives_attempt_back: bool) -> Update:
    """The compare-and-set UPDATE that finishes jobs, setting `columns` (bound as `new_<column>`): one per
    combination, built once. A Core statement built anew for every job cost more CPU than running it."""
    values: dict[str, Any] = {column: bindparam(f"new_{column}") for column in columns}
    values.update(locked_by=None, locked_at=None)
    if gives_attempt_back:
        values["attempts"] = _JOBS.c.attempts - 1
    return (
        update(_JOBS)
        .where(
            _JOBS.c.id.in_(bindparam("job_ids", expanding=True)),
            _JOBS.c.status == "running",
            _JOBS.c.locked_by == bindparam("worker_id"),
        )
        .values(values)
        .returning(_JOBS.c.id)
    )
