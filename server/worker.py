"""The scheduler worker: claims due jobs and runs them concurrently, plans recurring work, expires stale
pending actions. `coach worker` runs it as a process; `coach serve` runs it in-process.

Each worker runs up to `concurrency` jobs at once (a job mostly waits on the database and providers, so
one process keeps many in flight) and claims more whenever half of its slots are free: a claim's reads are
loaded for all its jobs at once (`tools.scheduler.preload`), so larger claims read less per job (a
quarter gave 258 jobs/s with one worker in `bench/scheduler.py`, half 293). Any number of
workers may run against PostgreSQL; the queue makes every claim exclusive. A job's lease is renewed every
third of the lease while it runs, so only a worker that died (or stalled for a whole lease) loses its
jobs to another. On SIGTERM a worker stops claiming, lets its running jobs finish, and exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from db.models import ScheduledJob
from server.config import Settings
from server.context import AppContext
from tools import pending
from tools.scheduler import planners, retention
from tools.scheduler.outcomes import Backoff
from tools.scheduler.preload import ClaimReads, load_claim
from tools.scheduler.queue import DEFAULT_LEASE, claim, renew
from tools.scheduler.runner import run_job
from tools.services import ToolServices

log = logging.getLogger("coach.worker")
T = TypeVar("T")


class Worker:
    def __init__(
        self,
        services: ToolServices,
        *,
        worker_id: str | None = None,
        concurrency: int = 32,
        poll_interval: float = 0.25,
        maintenance_interval: float = 30.0,
        lease: timedelta = DEFAULT_LEASE,
        lease_renewal_interval: float | None = None,
        backoff: Backoff = Backoff(),
    ) -> None:
        """`lease_renewal_interval` (seconds; a third of the lease by default): how often the leases of
        running jobs are renewed."""
        self.services = services
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.maintenance_interval = maintenance_interval
        self.lease = lease
        self.lease_renewal_interval = (
            lease.total_seconds() / 3 if lease_renewal_interval is None else lease_renewal_interval
        )
        self.backoff = backoff
        self._refill_at = max(1, concurrency // 2)

    async def claim(self, limit: int) -> list[ScheduledJob]:
        return await claim(self.services.sessions, self.worker_id, self.services.clock(), limit, self.lease)

    async def claim_with_reads(self, limit: int) -> tuple[list[ScheduledJob], ClaimReads | None]:
        """Claim up to `limit` jobs and load what they will read; a claim whose reads cannot be loaded still
        runs (each job then reads for itself)."""
        jobs = await self.claim(limit)
        if not jobs:
            return jobs, None
        return jobs, await self._guarded(load_claim(self.services.sessions, jobs), "loading a claim's reads failed")

    async def run_job(self, job: ScheduledJob, claim: ClaimReads | None = None) -> None:
        await run_job(self.services, job, self.worker_id, self.backoff, claim)

    async def renew_leases(self, job_ids: list[str]) -> None:
        if job_ids:
            await renew(self.services.sessions, self.worker_id, job_ids, self.services.clock())

    async def maintain(self) -> None:
        """Plan the next occurrence of recurring work, expire pending actions past their lifetime, and run
        the day's retention purge if no worker has yet."""
        planned = await planners.plan(self.services)
        expired = await pending.expire_stale(self.services)
        if planned or expired:
            log.info("maintenance", extra={"planned": planned, "expired": expired})
        await retention.purge_daily(self.services, self.worker_id)

    async def run_due(self) -> int:
        """Run every job that is due now (by the services' clock), batch by batch; how many ran."""
        ran = 0
        while True:
            jobs, reads = await self.claim_with_reads(self.concurrency)
            if not jobs:
                return ran
            await asyncio.gather(*(self.run_job(job, reads) for job in jobs))
            ran += len(jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: keep up to `concurrency` jobs running, and maintain every interval."""
        log.info("worker started", extra={"worker_id": self.worker_id, "concurrency": self.concurrency})
        running: dict[asyncio.Task[None], str] = {}  # job id by task
        next_maintenance = 0.0
        next_renewal = time.monotonic() + self.lease_renewal_interval
        while not stop.is_set():
            if time.monotonic() >= next_maintenance:
                await self._guarded(self.maintain(), "maintenance failed")
                next_maintenance = time.monotonic() + self.maintenance_interval
            if time.monotonic() >= next_renewal:
                await self._guarded(self.renew_leases(list(running.values())), "renewing leases failed")
                next_renewal = time.monotonic() + self.lease_renewal_interval
            free = self.concurrency - len(running)
            claimed: list[ScheduledJob] = []
            if free >= self._refill_at:
                claimed, reads = await self._guarded(self.claim_with_reads(free), "claiming jobs failed") or ([], None)
                for job in claimed:
                    task = asyncio.create_task(self.run_job(job, reads))
                    running[task] = job.id
                    task.add_done_callback(running.pop)
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)  # more may be due: refill as soon as slots free up
                continue
            await self._wait(stop, running)
        while running:  # finish what was claimed rather than leave it to the lease timeout
            await asyncio.wait(running, timeout=self.lease_renewal_interval)
            await self._guarded(self.renew_leases(list(running.values())), "renewing leases failed")
        log.info("worker stopped", extra={"worker_id": self.worker_id})

    async def _wait(self, stop: asyncio.Event, running: dict[asyncio.Task[None], str]) -> None:
        """Until stop, a running job ends, or the poll interval passes."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({stopping, *running}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    @staticmethod
    async def _guarded(work: Awaitable[T], message: str) -> T | None:
        """Run `work`; a database outage is logged and retried on the next round, not fatal."""
        try:
            return await work
        except Exception:
            log.exception(message)
            return None


async def run_worker(settings: Settings, concurrency: int) -> None:
    """The `coach worker` process: run until SIGTERM or SIGINT."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per provider request; "job finished" says it
    # A pool as large as the jobs a claim may hold, with a claim and maintenance beside them. No ping per
    # checkout (4% of a worker's CPU under load): after a database restart one operation fails and the
    # pool is replaced; a claim or a lease renewal is tried again at the next turn, a shared transaction
    # one write at a time, and a job that was reading is retried with backoff.
    ctx = AppContext.open(settings, pool_size=concurrency + 4, pre_ping=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await Worker(ctx.services, concurrency=concurrency).run(stop)
    finally:
        await ctx.close()
