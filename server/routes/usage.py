"""Team admin views of model usage: the team's conversations with their turns, tools, tokens and estimated
cost, one conversation's steps, and usage grouped by day, member or model (admins and owners only).

Cost is computed here, from the configured prices (`COACH_MODEL_PRICES`), every time usage is read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db import conversations
from db.conversations import ModelSums, ToolCallSteps
from db.models import Conversation, ModelTurn
from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from server.paging import encode_cursor, query_cursor, query_limit, query_time
from tools.pricing import ModelPrices, cost_usd

DEFAULT_RANGE = timedelta(days=30)
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


def _range(request: Request) -> tuple[datetime, datetime]:
    until = query_time(request, "until") or datetime.now(timezone.utc)
    since = query_time(request, "since") or until - DEFAULT_RANGE
    return since, until


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _cost(prices: ModelPrices, sums: list[ModelSums]) -> dict[str, Any]:
    """The estimated cost of `sums` (priced models only) and the models without a price."""
    costs = {s.model: cost_usd(prices, s) for s in sums}
    return {
        "cost_usd": round(sum(c for c in costs.values() if c is not None), 6),
        "unpriced_models": sorted(model for model, cost in costs.items() if cost is None),
    }


def _tokens(sums: list[ModelSums]) -> dict[str, Any]:
    return {
        "turns": sum(s.turns for s in sums),
        "input_tokens": sum(s.input_tokens for s in sums),
        "output_tokens": sum(s.output_tokens for s in sums),
        "thoughts_tokens": sum(s.thoughts_tokens for s in sums),
    }


def _summary(
    conversation: Conversation, sums: list[ModelSums], actions: tuple[int, int], prices: ModelPrices
) -> dict[str, Any]:
    tool_calls, failed = actions
    ended = conversation.ended_at
    return {
        "id": conversation.id,
        "kind": conversation.kind,
        "user_id": conversation.user_id,
        "started_at": _iso(conversation.started_at),
        "ended_at": _iso(ended),
        "duration_s": round((ended - conversation.started_at).total_seconds(), 3) if ended else None,
        **_tokens(sums),
        "tool_calls": tool_calls,
        "errors": failed + (conversation.error is not None),
        "error": conversation.error,
        **_cost(prices, sums),
    }


@authenticated
async def sessions(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    since, until = _range(request)
    limit = query_limit(request, default=PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    page = await conversations.team_conversation_page(session, team_id, since, until, query_cursor(request), limit + 1)
    more, page = len(page) > limit, page[:limit]
    ids = [c.id for c in page]
    sums = await conversations.model_sums_by_conversation(session, ids) if ids else {}
    actions = await conversations.action_counts_by_conversation(session, ids) if ids else {}
    prices = app_context(request).settings.COACH_MODEL_PRICES
    return JSONResponse({
        "sessions": [_summary(c, sums.get(c.id, []), actions.get(c.id, (0, 0)), prices) for c in page],
        "next_cursor": encode_cursor((page[-1].started_at, page[-1].id)) if more else None,
    })


def _turn_step(turn: ModelTurn, prices: ModelPrices) -> dict[str, Any]:
    sums = ModelSums.of_turn(turn)
    return {
        "type": "model_turn",
        "id": turn.id,
        "started_at": _iso(turn.started_at),
        "model": turn.model,
        "input_tokens": turn.input_tokens,
        "output_tokens": turn.output_tokens,
        "thoughts_tokens": turn.thoughts_tokens,
        "cached_tokens": turn.cached_tokens,
        "input_tokens_by_modality": sums.by_modality["input"],
        "output_tokens_by_modality": sums.by_modality["output"],
        "latency_ms": turn.latency_ms,
        "cost_usd": cost_usd(prices, sums),
    }


def _tool_step(steps: ToolCallSteps) -> dict[str, Any]:
    decision = next((t.data for t in steps.traces if t.trace_type == "decision_point"), None)
    latencies = [t.latency_ms for t in steps.traces if t.latency_ms is not None]
    last = steps.history[-1]
    return {
        "type": "tool_call",
        "action_id": steps.action_id,
        "tool": last.tool,
        "started_at": _iso(steps.history[0].created_at),
        "decision": decision.get("outcome") if decision else None,
        "decision_code": decision.get("code") if decision else None,
        "statuses": [row.status for row in steps.history],
        "outcome": last.status,
        "error_code": last.error_code,
        "pending": last.status == "proposed",
        "latency_ms": max(latencies) if latencies else None,
    }


@authenticated
async def session_steps(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id, conversation_id = request.path_params["team_id"], request.path_params["session_id"]
    principal.require_team_admin(team_id)
    conversation = await conversations.team_conversation(session, team_id, conversation_id)
    if conversation is None:
        raise not_found("no such session in this team")
    prices = app_context(request).settings.COACH_MODEL_PRICES
    turns = await conversations.model_turns(session, conversation_id)
    tools = await conversations.tool_calls(session, conversation_id)
    steps = [_turn_step(turn, prices) for turn in turns] + [_tool_step(tool) for tool in tools]
    steps.sort(key=lambda step: step["started_at"])
    sums = (await conversations.model_sums_by_conversation(session, [conversation_id])).get(conversation_id, [])
    failed = sum(tool.history[-1].status == conversations.FAILED for tool in tools)
    return JSONResponse({"session": _summary(conversation, sums, (len(tools), failed), prices), "steps": steps})


def _group(key: str, sums: list[ModelSums], prices: ModelPrices) -> dict[str, Any]:
    return {
        "key": key,
        **_tokens(sums),
        **_cost(prices, sums),
        "models": [{"model": s.model, **_tokens([s]), "cost_usd": cost_usd(prices, s)} for s in sums],
    }


@authenticated
async def usage(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    group_by = request.query_params.get("group_by", "day")
    if group_by not in conversations.GROUPS:
        message = f"group_by must be one of {', '.join(conversations.GROUPS)}"
        raise ApiError(400, "INVALID_ARGUMENT", message, details={"fields": [{"field": "group_by", "message": message}]})
    since, until = _range(request)
    groups = await conversations.team_usage(session, team_id, since, until, group_by)
    prices = app_context(request).settings.COACH_MODEL_PRICES
    every = [s for sums in groups.values() for s in sums]
    return JSONResponse({
        "group_by": group_by,
        "since": _iso(since),
        "until": _iso(until),
        "groups": [_group(key, sums, prices) for key, sums in groups.items()],
        "total": {**_tokens(every), **_cost(prices, every)},
    })


routes = [
    Route("/api/admin/teams/{team_id}/sessions", sessions, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/sessions/{session_id}", session_steps, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/usage", usage, methods=["GET"]),
]
