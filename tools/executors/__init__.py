"""Executors: one async function per tool, registered by name. They raise ToolFailure to fail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tools.catalogue import ToolArgs
from tools.executors.base import Execution
from tools.executors import coaching, messaging, sequences

Executor = Callable[[Execution, Any], Awaitable[dict[str, Any]]]

EXECUTORS: dict[str, Executor] = {**coaching.EXECUTORS, **messaging.EXECUTORS, **sequences.EXECUTORS}

__all__ = ["EXECUTORS", "Execution", "Executor", "ToolArgs"]
