"""The record of every action: history rows (one per step) and execution traces with latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.group_commit import Transaction
from db.models import (
    ACTION_STEP_BITS,
    ActionTeam,
    AgentActionHistory,
    AgentExecutionTrace,
    ConversationAction,
    new_id,
    utcnow,
)


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
    conversation_id: str | None = None
    """The conversation (call, chat) the action was requested in, written with its first step."""
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
        step = {"action_id": self.action_id, "steps": ACTION_STEP_BITS.get(status, 0), "denied_code": _denied(status, error_code)}
        teams = [
            {**step, "id": new_id(), "team_id": team, "requested_at": now, "user_id": self.user_id, "tool": self.tool}
            for team in self.governing_team_ids
        ]
        self.governing_team_ids = ()
        conversation = (
            [{"action_id": self.action_id, "conversation_id": self.conversation_id}] if self.conversation_id else []
        )
        self.conversation_id = None
        return HistoryRows(history, traces, teams, conversation, step)


@dataclass(frozen=True)
class HistoryRows:
    """One step's rows of agent_action_history and agent_execution_traces, ready to insert (more than once,
    if a transaction that inserted them rolled back)."""

    history: dict[str, Any]
    traces: list[dict[str, Any]]
    teams: list[dict[str, Any]] = field(default_factory=list)
    """The action's team links, with its first step (their roll-up of the action starts with it)."""
    conversation: list[dict[str, Any]] = field(default_factory=list)
    step: dict[str, Any] = field(default_factory=dict)
    """What a later step adds to the links' roll-up: its bit in `steps`, its denial's code."""

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
        transaction.insert(_CONVERSATION_ACTIONS, self.conversation)
        if self.teams:
            transaction.later(_link_teams, self.teams)
        elif self.step.get("steps") or self.step.get("denied_code"):
            transaction.later(_add_step, self.step)


_HISTORY = AgentActionHistory.__table__
_TRACES = AgentExecutionTrace.__table__
_ACTION_TEAMS = ActionTeam.__table__
_CONVERSATION_ACTIONS = ConversationAction.__table__
_ADD_STEP = (
    update(_ACTION_TEAMS)
    .where(_ACTION_TEAMS.c.action_id == bindparam("step_action_id"))
    .values(
        steps=_ACTION_TEAMS.c.steps.op("|")(bindparam("step_bit")),
        denied_code=func.coalesce(bindparam("step_denied_code"), _ACTION_TEAMS.c.denied_code),
    )
)


def _denied(status: str, error_code: str | None) -> str | None:
    return error_code if status == "denied" else None


async def _link_teams(session: AsyncSession, links: list[list[dict[str, Any]]]) -> None:
    """Insert the team links of the actions whose first step this transaction writes. An action tried again
    (a retried job's send) links again: its existing links take the new step instead."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_ACTION_TEAMS)
    statement = statement.on_conflict_do_update(
        index_elements=["action_id", "team_id"],
        set_={
            "steps": _ACTION_TEAMS.c.steps.op("|")(statement.excluded.steps),
            "denied_code": func.coalesce(statement.excluded.denied_code, _ACTION_TEAMS.c.denied_code),
        },
    )
    await session.execute(statement, [row for rows in links for row in rows])


async def _add_step(session: AsyncSession, steps: list[dict[str, Any]]) -> None:
    """Add later steps to their actions' team links: one UPDATE, executed for every step."""
    parameters = [
        {"step_action_id": step["action_id"], "step_bit": step["steps"], "step_denied_code": step["denied_code"]}
        for step in steps
    ]
    await session.execute(_ADD_STEP, parameters)


def _map_strings(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, clean) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_strings(item, clean) for item in value]
    return value
