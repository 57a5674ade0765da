"""Group commit: writes that arrive while a transaction commits share the next transaction.

Why: a scheduled job's outcome is a few small statements (its history row and traces, the job's status),
and a transaction of its own (pool checkout with its ping, BEGIN, COMMIT and its WAL flush) cost about
as much as those statements, in the worker and in PostgreSQL. Jobs that finish together now commit
together. Nothing waits on a timer: a write that arrives while nothing commits is committed at once.

A batch whose transaction fails is run again one write per transaction, so a bad write fails alone and
the others still commit. A write may therefore run twice: it must change nothing but the session it is
given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("coach.db")

T = TypeVar("T")
Write = Callable[[AsyncSession], Awaitable[T]]
DEFAULT_MAX_BATCH = 64


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
            results = [await write(session) for write in writes]
            await session.commit()
        return results
