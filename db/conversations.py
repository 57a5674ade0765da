"""Repository for a team's conversations and their model usage (the admin views of model usage).

A team sees the conversations its members held while they were members (`conversation_teams`, written
when the conversation started), as it sees only the actions its policy governed (`action_teams`).
Token figures are summed per model in SQL, so that the caller prices each model's sums (`tools.pricing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    MODALITIES,
    AgentActionHistory,
    AgentExecutionTrace,
    Conversation,
    ConversationAction,
    ConversationTeam,
    ModelTurn,
)

DIRECTIONS = ("input", "output")
FAILED = "failed"


def _column(direction: str, modality: str) -> Any:
    return getattr(ModelTurn, f"{direction}_{modality}_tokens")


def _unsplit(direction: str) -> ColumnElement[int]:
    """Tokens of the turns that reported no breakdown for `direction` (their total counts as `default`)."""
    reported = [_column(direction, modality) for modality in MODALITIES]
    total = ModelTurn.input_tokens if direction == "input" else ModelTurn.output_tokens
    return func.sum(case((and_(*(column.is_(None) for column in reported)), total), else_=0))


def _token_sums() -> list[ColumnElement[Any]]:
    """The per-model sums a `ModelSums` is made of, in its order."""
    columns: list[ColumnElement[Any]] = [
        func.count(ModelTurn.id), func.sum(ModelTurn.input_tokens), func.sum(ModelTurn.output_tokens),
        func.sum(ModelTurn.thoughts_tokens),
    ]
    for direction in DIRECTIONS:
        columns += [func.sum(_column(direction, modality)) for modality in MODALITIES]
        columns.append(_unsplit(direction))
    return columns


@dataclass(frozen=True)
class ModelSums:
    """One model's token sums over a group of turns."""

    model: str
    turns: int
    input_tokens: int
    output_tokens: int
    thoughts_tokens: int
    by_modality: dict[str, dict[str, int]]  # only the modalities some turn reported
    unsplit: dict[str, int]

    @classmethod
    def of(cls, model: str, values: Sequence[Any]) -> ModelSums:
        turns, input_tokens, output_tokens, thoughts, *rest = values
        by_modality: dict[str, dict[str, int]] = {}
        unsplit: dict[str, int] = {}
        for direction in DIRECTIONS:
            *counts, uncovered = rest[: len(MODALITIES) + 1]
            rest = rest[len(MODALITIES) + 1 :]
            by_modality[direction] = {m: int(c) for m, c in zip(MODALITIES, counts) if c is not None}
            unsplit[direction] = int(uncovered or 0)
        return cls(model, int(turns), int(input_tokens or 0), int(output_tokens or 0), int(thoughts or 0),
                   by_modality, unsplit)

    @classmethod
    def of_turn(cls, turn: ModelTurn) -> ModelSums:
        by_modality = {
            direction: {m: count for m in MODALITIES if (count := getattr(turn, f"{direction}_{m}_tokens")) is not None}
            for direction in DIRECTIONS
        }
        totals = {"input": turn.input_tokens, "output": turn.output_tokens}
        unsplit = {direction: 0 if by_modality[direction] else totals[direction] for direction in DIRECTIONS}
        return cls(turn.model, 1, turn.input_tokens, turn.output_tokens, turn.thoughts_tokens or 0, by_modality, unsplit)


def _in_range(column: Any, since: datetime, until: datetime) -> ColumnElement[bool]:
    return and_(column >= since, column < until)


Position = tuple[datetime, str]


async def team_conversation_page(
    session: AsyncSession, team_id: str, since: datetime, until: datetime, after: Position | None, limit: int
) -> list[Conversation]:
    """The team's conversations started in [since, until), newest first, after `after` (a cursor)."""
    query = select(ConversationTeam.conversation_id).where(
        ConversationTeam.team_id == team_id, _in_range(ConversationTeam.started_at, since, until)
    )
    if after is not None:
        query = query.where(
            tuple_(ConversationTeam.started_at, ConversationTeam.conversation_id) < tuple_(after[0], after[1])
        )
    query = query.order_by(ConversationTeam.started_at.desc(), ConversationTeam.conversation_id.desc()).limit(limit)
    ids = list((await session.execute(query)).scalars())
    if not ids:
        return []
    found = {c.id: c for c in (await session.execute(select(Conversation).where(Conversation.id.in_(ids)))).scalars()}
    return [found[i] for i in ids if i in found]


async def team_conversation(session: AsyncSession, team_id: str, conversation_id: str) -> Conversation | None:
    """The conversation, when it is the team's."""
    return await session.scalar(
        select(Conversation)
        .join(ConversationTeam, ConversationTeam.conversation_id == Conversation.id)
        .where(Conversation.id == conversation_id, ConversationTeam.team_id == team_id)
    )


async def model_sums_by_conversation(
    session: AsyncSession, conversation_ids: Iterable[str]
) -> dict[str, list[ModelSums]]:
    query = (
        select(ModelTurn.conversation_id, ModelTurn.model, *_token_sums())
        .where(ModelTurn.conversation_id.in_(list(conversation_ids)))
        .group_by(ModelTurn.conversation_id, ModelTurn.model)
    )
    sums: dict[str, list[ModelSums]] = {}
    for conversation_id, model, *values in await session.execute(query):
        sums.setdefault(conversation_id, []).append(ModelSums.of(model, values))
    return sums


async def action_counts_by_conversation(
    session: AsyncSession, conversation_ids: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """Per conversation: (tool calls, tool calls that failed)."""
    query = (
        select(
            ConversationAction.conversation_id,
            func.count(distinct(ConversationAction.action_id)),
            func.count(distinct(case((AgentActionHistory.status == FAILED, AgentActionHistory.action_id)))),
        )
        .join(AgentActionHistory, AgentActionHistory.action_id == ConversationAction.action_id, isouter=True)
        .where(ConversationAction.conversation_id.in_(list(conversation_ids)))
        .group_by(ConversationAction.conversation_id)
    )
    return {conversation_id: (int(calls), int(failed)) for conversation_id, calls, failed in await session.execute(query)}


async def model_turns(session: AsyncSession, conversation_id: str) -> list[ModelTurn]:
    query = select(ModelTurn).where(ModelTurn.conversation_id == conversation_id).order_by(ModelTurn.started_at)
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class ToolCallSteps:
    """An action of a conversation: its history rows and traces, in time order."""

    action_id: str
    history: list[AgentActionHistory]
    traces: list[AgentExecutionTrace]


async def tool_calls(session: AsyncSession, conversation_id: str) -> list[ToolCallSteps]:
    actions = select(ConversationAction.action_id).where(ConversationAction.conversation_id == conversation_id)
    history = (await session.execute(
        select(AgentActionHistory).where(AgentActionHistory.action_id.in_(actions)).order_by(AgentActionHistory.created_at)
    )).scalars()
    traces = (await session.execute(
        select(AgentExecutionTrace).where(AgentExecutionTrace.action_id.in_(actions))
        .order_by(AgentExecutionTrace.created_at)
    )).scalars()
    steps: dict[str, ToolCallSteps] = {}
    for row in history:
        steps.setdefault(row.action_id, ToolCallSteps(row.action_id, [], [])).history.append(row)
    for trace in traces:
        if trace.action_id in steps:
            steps[trace.action_id].traces.append(trace)
    return sorted(steps.values(), key=lambda step: step.history[0].created_at)


GROUPS = ("day", "user", "model")


def _group_key(group_by: str, dialect: str) -> ColumnElement[Any]:
    if group_by == "user":
        return ModelTurn.user_id
    if group_by == "model":
        return ModelTurn.model
    if dialect == "postgresql":  # the UTC day, whatever the session's time zone
        return func.to_char(func.timezone("UTC", ModelTurn.started_at), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", ModelTurn.started_at)


async def team_usage(
    session: AsyncSession, team_id: str, since: datetime, until: datetime, group_by: str
) -> dict[str, list[ModelSums]]:
    """The team's model turns started in [since, until), summed per group (day, user or model) and model."""
    key = _group_key(group_by, session.bind.dialect.name).label("key")
    query: Select[Any] = (
        select(key, ModelTurn.model, *_token_sums())
        .join(ConversationTeam, ConversationTeam.conversation_id == ModelTurn.conversation_id)
        .where(ConversationTeam.team_id == team_id, _in_range(ModelTurn.started_at, since, until))
        .group_by(key, ModelTurn.model)
        .order_by(key)
    )
    groups: dict[str, list[ModelSums]] = {}
    for group, model, *values in await session.execute(query):
        groups.setdefault(str(group), []).append(ModelSums.of(model, values))
    return groups

