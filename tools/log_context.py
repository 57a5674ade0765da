"""Ids that every log line of the current task carries (request, call, action, scheduled job).

They live here, below the server and voice layers, so dispatch can set the action id and the
JSON formatter in `server.logs` can read all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
call_id_var: ContextVar[str | None] = ContextVar("call_id", default=None)
action_id_var: ContextVar[str | None] = ContextVar("action_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)


@contextmanager
def action_context(action_id: str) -> Iterator[None]:
    token = action_id_var.set(action_id)
    try:
        yield
    finally:
        action_id_var.reset(token)


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    token = job_id_var.set(job_id)
    try:
        yield
    finally:
        job_id_var.reset(token)
