"""Retry with exponential backoff for provider calls: on 429 and 5xx only, never on other 4xx."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("coach.channels")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    first_delay_s: float = 0.2
    multiplier: float = 2.0
    max_delay_s: float = 5.0

    def delays(self) -> list[float]:
        return [min(self.first_delay_s * self.multiplier**i, self.max_delay_s) for i in range(self.attempts - 1)]


def is_retryable_status(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    status_of: Callable[[Exception], int | None],
    policy: RetryPolicy,
    what: str,
) -> T:
    """Run `attempt`; when it raises with a retryable status, wait and try again, up to `policy.attempts`."""
    for delay in [*policy.delays(), None]:
        try:
            return await attempt()
        except Exception as exc:
            status = status_of(exc)
            if delay is None or not is_retryable_status(status):
                raise
            log.warning("provider call failed; retrying", extra={"call": what, "status": status, "delay_s": delay})
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
