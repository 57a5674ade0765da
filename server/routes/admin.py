"""Team admin views: the team's action activity, execution traces and feedback (admins and owners only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db.models import AgentActionFeedback, AgentActionHistory, AgentExecutionTrace, TeamMember
from server.api import authenticated
from server.auth import Principal

LIMIT = 500


def row_json(row: DeclarativeBase) -> dict[str, Any]:
    return {
        column.key: (value.isoformat() if isinstance(value, datetime) else value)
        for column in row.__mapper__.column_attrs
        for value in [getattr(row, column.key)]
    }


def _members(team_id: str) -> Any:
    return select(TeamMember.user_id).where(TeamMember.team_id == team_id)


async def _rows(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    return [row_json(row) for row in (await session.execute(query.limit(LIMIT))).scalars()]


@authenticated
async def activity(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    query = (
        select(AgentActionHistory)
        .where(AgentActionHistory.user_id.in_(_members(team_id)))
        .order_by(AgentActionHistory.created_at.desc())
    )
    return JSONResponse({"activity": await _rows(session, query)})


@authenticated
async def traces(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    query = select(AgentExecutionTrace).where(AgentExecutionTrace.user_id.in_(_members(team_id)))
    if request.query_params.get("action_id"):
        query = query.where(AgentExecutionTrace.action_id == request.query_params["action_id"])
    return JSONResponse({"traces": await _rows(session, query.order_by(AgentExecutionTrace.created_at.desc()))})


@authenticated
async def feedback(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    query = (
        select(AgentActionFeedback)
        .where(AgentActionFeedback.user_id.in_(_members(team_id)))
        .order_by(AgentActionFeedback.created_at.desc())
    )
    return JSONResponse({"feedback": await _rows(session, query)})


routes = [
    Route("/api/admin/teams/{team_id}/activity", activity, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/traces", traces, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/feedback", feedback, methods=["GET"]),
]
