"""The record of every action: history rows (one per step) and execution traces with latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.group_commit import Transaction
from db.models import ActionTeam, AgentActionHistory, AgentExecutionTrace, new_id, utcnow


@dataclass
class ActionRecord:
    """What is known about one action while it is dispatched; traces are written with the history row."""

    action_id: str
    user_id: str
    team_id: str | None
    tool: str
    source: str
    risk_level: str
    confidence: float | None
    attempted_since: datetime | None = None
    """Set when an earlier attempt of this action may have reached a provider: since when (see `dispatch`)."""
    governing_team_ids: tuple[str, ...] = ()
    """Every team of the user when the action was requested, written with its first step (action_teams)."""
    started: float = field(default_factory=time.perf_counter)
    _traces: list[dict[str, Any]] = field(default_factory=list)  # agent_execution_traces rows to insert

    def trace(self, trace_type: str, **data: Any) -> None:
        self._traces.append(
            {
                "action_id": self.action_id,
                "user_id": self.user_id,
                "trace_type": trace_type,
                "data": data,
                "latency_ms": round((time.perf_counter() - self.started) * 1000, 3),
            }
        )

    def redact(self, payload: dict[str, Any], clean: Callable[[str], str]) -> dict[str, Any]:
        """Apply `clean` to every string of the traces collected so far and of `payload`; returns the cleaned payload."""
        for trace in self._traces:
            trace["data"] = _map_strings(trace["data"], clean)
        return _map_strings(payload, clean)

    def rows(
        self,
        status: str,
        payload: dict[str, Any],
        *,
        result: dict[str, Any] | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> HistoryRows:
        """The history row of this step with the traces collected so far, which are handed over. The first
        step also links the action to its governing teams, at the step's own time (`requested_at`)."""
        now = utcnow()
        history = dict(
            user_id=self.user_id,
            team_id=self.team_id,
            action_id=self.action_id,
            tool=self.tool,
            status=status,
            source=self.source,
            payload=payload,
            result=result,
            confidence=self.confidence,
            risk_level=self.risk_level,
            error_code=error_code,
            error_message=error_message,
            created_at=now,
        )
        traces, self._traces = self._traces, []
        teams = [
            {"id": new_id(), "action_id": self.action_id, "team_id": team, "requested_at": now}
            for team in self.governing_team_ids
        ]
        self.governing_team_ids = ()
        return HistoryRows(history, traces, teams)


@dataclass(frozen=True)
class HistoryRows:
    """One step's rows of agent_action_history and agent_execution_traces, ready to insert (more than once,
    if a transaction that inserted them rolled back)."""

    history: dict[str, Any]
    traces: list[dict[str, Any]]
    teams: list[dict[str, Any]] = field(default_factory=list)

    async def insert(self, session: AsyncSession) -> None:
        """Insert now, in `session`'s transaction (the caller commits)."""
        transaction = Transaction(session)
        self.add_to(transaction)
        await transaction.flush()

    def add_to(self, transaction: Transaction) -> None:
        """Insert with the transaction's other rows. Core inserts into the tables rather than ORM objects:
        these rows are only ever written here, so the ORM's bookkeeping for them would be pure overhead."""
        transaction.insert(_HISTORY, [self.history])
        transaction.insert(_TRACES, self.traces)
        transaction.insert(_ACTION_TEAMS, self.teams)


_HISTORY = AgentActionHistory.__table__
_TRACES = AgentExecutionTrace.__table__
_ACTION_TEAMS = ActionTeam.__table__


def _map_strings(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, clean) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_strings(item, clean) for item in value]
    return value
