"""Group commit: writes that arrive while a transaction commits share the next transaction.

Why: a scheduled job's outcome is a few small statements (its history row and traces, the job's status),
and a transaction of its own (pool checkout with its ping, BEGIN, COMMIT and its WAL flush) cost about
as much as those statements, in the worker and in PostgreSQL. Jobs that finish together now commit
together. Nothing waits on a timer: a write that arrives while nothing commits is committed at once.

A write is given the shared `Transaction`: its session; `insert`, which defers rows to one INSERT per
table for the whole batch, just before the commit (history rows and traces are most of what a job
writes: per row, an executemany costs a fraction of a statement of its own); and `later`, which defers a
step to run once for the items of every write that asked for it (a scheduled job's finish: one UPDATE
for the batch's jobs).

A batch whose transaction fails is run again one write per transaction, so a bad write fails alone and
the others still commit. A write may therefore run twice: it must change nothing but the transaction it
is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("coach.db")

T = TypeVar("T")
DEFAULT_MAX_BATCH = 64


Step = Callable[[AsyncSession, list[Any]], Awaitable[None]]


class Transaction:
    """What the writes of one transaction share: the session, the rows they insert and the steps they
    defer, held back until `flush` so that each table gets one INSERT and each step one run."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._rows: dict[Table, list[dict[str, Any]]] = {}
        self._steps: dict[Step, list[Any]] = {}

    def insert(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        self._rows.setdefault(table, []).extend(rows)

    def later(self, step: Step, item: Any) -> None:
        """Run `step(session, items)` at flush, after the inserts, once for the items of every write that
        deferred the same step."""
        self._steps.setdefault(step, []).append(item)

    async def flush(self) -> None:
        """Insert the rows held back, one statement per table, then run the deferred steps."""
        rows, self._rows = self._rows, {}
        for table, table_rows in rows.items():
            if table_rows:
                await self.session.execute(insert(table), table_rows)
        steps, self._steps = self._steps, {}
        for step, items in steps.items():
            await step(self.session, items)


Write = Callable[[Transaction], Awaitable[T]]


async def commit_writes(session: AsyncSession, writes: list[Write[Any]]) -> list[Any]:
    """Run `writes` in `session`'s transaction and commit it; their results."""
    transaction = Transaction(session)
    results = [await write(transaction) for write in writes]
    await transaction.flush()
    await session.commit()
    return results


@dataclass
class _Queued(Generic[T]):
    write: Write[T]
    done: asyncio.Future[T]


class GroupCommit:
    """Runs writes in shared transactions: each write's result or exception is its own."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._queue: list[_Queued[Any]] = []
        self._committing: asyncio.Task[None] | None = None

    async def run(self, write: Write[T]) -> T:
        """Run `write` in a transaction that commits before this returns; `write`'s result, or its exception."""
        queued: _Queued[T] = _Queued(write, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_queue())
        return await asyncio.shield(queued.done)  # a caller that is cancelled leaves its write to commit

    async def _commit_queue(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                await self._commit_batch(batch)
            except asyncio.CancelledError:  # the loop is closing: nobody may wait for ever
                for queued in [*batch, *self._queue]:
                    if not queued.done.done():
                        queued.done.set_exception(RuntimeError("the write was abandoned: its event loop closed"))
                self._queue = []
                raise

    async def _commit_batch(self, batch: list[_Queued[Any]]) -> None:
        if len(batch) > 1:
            try:
                results = await self._transaction([queued.write for queued in batch])
            except Exception:
                log.warning("a shared transaction failed; its writes commit one by one", exc_info=True)
            else:
                for queued, result in zip(batch, results):
                    queued.done.set_result(result)
                return
        for queued in batch:
            try:
                queued.done.set_result((await self._transaction([queued.write]))[0])
            except Exception as exc:
                queued.done.set_exception(exc)

    async def _transaction(self, writes: list[Write[Any]]) -> list[Any]:
        async with self._sessions() as session:
            return await commit_writes(session, writes)
