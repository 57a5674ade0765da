"""Executors: one async function per tool, registered by name. They raise ToolFailure to fail.
Preparers: for the few tools whose arguments must be pinned down (and can be refused) before a proposal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tools.catalogue import ToolArgs
from tools.executors.base import Execution, Prepared, Preparer
from tools.executors import calendar, coaching, messaging, sequences

Executor = Callable[[Execution, Any], Awaitable[dict[str, Any]]]

EXECUTORS: dict[str, Executor] = {
    **coaching.EXECUTORS, **messaging.EXECUTORS, **calendar.EXECUTORS, **sequences.EXECUTORS
}
PREPARERS: dict[str, Preparer] = {**coaching.PREPARERS}

__all__ = ["EXECUTORS", "PREPARERS", "Execution", "Executor", "Prepared", "Preparer", "ToolArgs"]
