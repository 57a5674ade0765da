"""Model usage: one row per model turn with the token counts as reported, the conversation it belongs to,
Prometheus counters and (when configured) OpenTelemetry spans. Cost is not stored (see `tools.pricing`).

Written off the audio path: a call's turns go through the group commit (`ToolServices.writes`) from a task
of their own, once per turn; a chat's conversation and turns in one transaction at the end of the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from google.genai import types
from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.group_commit import Transaction
from db.models import MODALITIES, Conversation, ConversationTeam, ModelTurn
from tools import telemetry
from tools.services import ToolServices

TOKENS = Counter(
    "coach_model_tokens_total", "Model tokens as reported, by model, direction and modality",
    ["model", "direction", "modality"],
)
UNSPLIT = "unsplit"  # the modality label of tokens reported without a breakdown
THOUGHTS = "thoughts"

_CONVERSATIONS = Conversation.__table__
_CONVERSATION_TEAMS = ConversationTeam.__table__
_MODEL_TURNS = ModelTurn.__table__

UsageMetadata = types.UsageMetadata | types.GenerateContentResponseUsageMetadata


def _by_modality(details: list[types.ModalityTokenCount] | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for detail in details or []:
        modality = (detail.modality.value if detail.modality is not None else "").lower()
        if modality in MODALITIES and detail.token_count is not None:
            counts[modality] = counts.get(modality, 0) + detail.token_count
    return counts


@dataclass(frozen=True)
class TokenUsage:
    """One turn's usage as the model reported it (Live's `usage_metadata` or a generateContent response's)."""

    input_tokens: int
    output_tokens: int
    thoughts_tokens: int | None = None
    cached_tokens: int | None = None
    input_by_modality: dict[str, int] = field(default_factory=dict)
    output_by_modality: dict[str, int] = field(default_factory=dict)
    reported: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, metadata: UsageMetadata) -> TokenUsage:
        if isinstance(metadata, types.UsageMetadata):  # Live names the output "response"
            output, output_details = metadata.response_token_count, metadata.response_tokens_details
        else:
            output, output_details = metadata.candidates_token_count, metadata.candidates_tokens_details
        return cls(
            input_tokens=metadata.prompt_token_count or 0,
            output_tokens=output or 0,
            thoughts_tokens=metadata.thoughts_token_count,
            cached_tokens=metadata.cached_content_token_count,
            input_by_modality=_by_modality(metadata.prompt_tokens_details),
            output_by_modality=_by_modality(output_details),
            reported=metadata.model_dump(mode="json", exclude_none=True),
        )


@dataclass(frozen=True)
class Turn:
    """One model turn of a conversation, ready to record."""

    conversation_id: str
    user_id: str
    model: str
    usage: TokenUsage
    started_ns: int
    ended_ns: int

    def row(self) -> dict[str, Any]:
        usage = self.usage
        row: dict[str, Any] = {
            "conversation_id": self.conversation_id,
            "user_id": self.user_id,
            "model": self.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "thoughts_tokens": usage.thoughts_tokens,
            "cached_tokens": usage.cached_tokens,
            "reported": usage.reported,
            "latency_ms": round((self.ended_ns - self.started_ns) / 1e6, 3),
            "started_at": datetime.fromtimestamp(self.started_ns / 1e9, timezone.utc),
        }
        for modality in MODALITIES:
            row[f"input_{modality}_tokens"] = usage.input_by_modality.get(modality)
            row[f"output_{modality}_tokens"] = usage.output_by_modality.get(modality)
        return row


@dataclass(frozen=True)
class ConversationStart:
    conversation_id: str
    user_id: str
    kind: str  # call | browser | chat | scheduler
    team_ids: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None = None
    error: str | None = None

    def add_to(self, transaction: Transaction) -> None:
        transaction.insert(_CONVERSATIONS, [{
            "id": self.conversation_id, "user_id": self.user_id, "kind": self.kind, "started_at": self.started_at,
            "ended_at": self.ended_at, "error": self.error,
        }])
        transaction.insert(_CONVERSATION_TEAMS, [
            {"conversation_id": self.conversation_id, "team_id": team, "started_at": self.started_at}
            for team in self.team_ids
        ])


def observe(turn: Turn) -> None:
    """Count the turn's tokens in Prometheus and export its span (when OpenTelemetry is configured)."""
    usage = turn.usage
    for direction, total, by_modality in (
        ("input", usage.input_tokens, usage.input_by_modality),
        ("output", usage.output_tokens, usage.output_by_modality),
    ):
        if by_modality:
            for modality, count in by_modality.items():
                TOKENS.labels(turn.model, direction, modality).inc(count)
        else:
            TOKENS.labels(turn.model, direction, UNSPLIT).inc(total)
    if usage.thoughts_tokens:
        TOKENS.labels(turn.model, "output", THOUGHTS).inc(usage.thoughts_tokens)
    telemetry.model_turn_span(
        model=turn.model, conversation_id=turn.conversation_id, input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens, started_ns=turn.started_ns, ended_ns=turn.ended_ns,
    )


async def start_conversation(services: ToolServices, start: ConversationStart) -> None:
    async def write(transaction: Transaction) -> None:
        start.add_to(transaction)

    await services.writes.run(write)


async def record_turns(services: ToolServices, turns: list[Turn], start: ConversationStart | None = None) -> None:
    """Observe and store `turns` (with their conversation, when it is not stored yet), in one transaction."""
    for turn in turns:
        observe(turn)

    async def write(transaction: Transaction) -> None:
        if start is not None:
            start.add_to(transaction)
        transaction.insert(_MODEL_TURNS, [turn.row() for turn in turns])

    await services.writes.run(write)


async def end_conversation(session: AsyncSession, conversation_id: str, error: str | None) -> None:
    """Mark the conversation ended (in the caller's transaction)."""
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.ended_at.is_(None))
        .values(ended_at=datetime.now(timezone.utc), error=error)
    )
