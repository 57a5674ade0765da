"""What a job's run means for the job: done, deferred to a time policy names, retried with backoff, or over.

Policy answers map to the scheduler's behaviour (DESIGN section 6 and the scheduler spec):
QUIET_HOURS -> deferred to the next allowed time (never dropped), RATE_LIMITED -> deferred to retry_at,
PERMISSION_DENIED -> cancelled (dispatch already wrote the denial), SERVICE_UNAVAILABLE or a crash ->
retried with exponential backoff, then failed; anything else (bad arguments, blocked content, no
recipient) fails at once, since running it again would give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from tools.results import AgentToolResult, ErrorCode

Status = Literal["done", "skipped", "proposed", "deferred", "retry", "failed", "cancelled"]
JOB_STATUS: dict[str, str] = {
    "done": "done", "skipped": "done", "proposed": "done",
    "deferred": "pending", "retry": "pending",
    "failed": "failed", "cancelled": "cancelled",
}


@dataclass(frozen=True)
class Outcome:
    """`status` of one run; `run_at` for deferred and retried runs; `error` is kept in `last_error`."""

    status: Status
    run_at: datetime | None = None
    error: str | None = None

    @property
    def job_status(self) -> str:
        return JOB_STATUS[self.status]

    @property
    def final(self) -> bool:
        return self.job_status != "pending"

    @property
    def succeeded(self) -> bool:
        return self.job_status == "done"


def from_result(result: AgentToolResult) -> Outcome:
    """The outcome of a job whose run was one dispatch."""
    if result.success:
        return Outcome("proposed" if result.needs_confirmation else "done")
    error = result.error
    code = error.code if error else None
    message = (error.message if error else None) or result.message or "failed"
    details = (error.details if error else None) or {}
    if code in (ErrorCode.QUIET_HOURS, ErrorCode.RATE_LIMITED):
        at = details.get("next_allowed_at") or details.get("retry_at")
        # Windows that never overlap (no allowed time at all) cannot be waited out.
        return Outcome("deferred", datetime.fromisoformat(at), message) if at else Outcome("failed", error=message)
    if code == ErrorCode.PERMISSION_DENIED:
        return Outcome("cancelled", error=message)
    if code == ErrorCode.SERVICE_UNAVAILABLE:
        return Outcome("retry", error=message)
    return Outcome("failed", error=f"{code}: {message}" if code else message)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff for retried runs: first, first*factor, ... capped; failed after max_attempts."""

    first: timedelta = timedelta(minutes=1)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 5

    def delay(self, attempts: int) -> timedelta:
        return min(self.first * self.factor ** max(attempts - 1, 0), self.cap)

    def apply(self, outcome: Outcome, attempts: int, now: datetime) -> Outcome:
        """A `retry` gets its time, or becomes `failed` once `attempts` runs have been spent."""
        if outcome.status != "retry":
            return outcome
        if attempts >= self.max_attempts:
            return Outcome("failed", error=f"gave up after {attempts} attempts: {outcome.error}")
        return replace(outcome, run_at=now + self.delay(attempts))
