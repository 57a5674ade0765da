"""Team admin views: the team's action activity, execution traces and feedback (admins and owners only).

A team's actions are those its policy governed (`action_teams`: every team the member belonged to when the
action was requested), not every action its members ever took: what a member did before joining, or
after leaving and moving to another team, is not this team's to see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db.models import ActionTeam, AgentActionFeedback, AgentActionHistory, AgentExecutionTrace
from server.api import authenticated
from server.auth import Principal

LIMIT = 500


def row_json(row: DeclarativeBase) -> dict[str, Any]:
    return {
        column.key: (value.isoformat() if isinstance(value, datetime) else value)
        for column in row.__mapper__.column_attrs
        for value in [getattr(row, column.key)]
    }


def _team_actions(team_id: str) -> Any:
    return select(ActionTeam.action_id).where(ActionTeam.team_id == team_id)


async def _rows(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    return [row_json(row) for row in (await session.execute(query.limit(LIMIT))).scalars()]


@authenticated
async def activity(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    query = (
        select(AgentActionHistory)
        .where(AgentActionHistory.action_id.in_(_team_actions(team_id)))
        .order_by(AgentActionHistory.created_at.desc())
    )
    return JSONResponse({"activity": await _rows(session, query)})


@authenticated
async def traces(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    query = select(AgentExecutionTrace).where(AgentExecutionTrace.action_id.in_(_team_actions(team_id)))
    if request.query_params.get("action_id"):
        query = query.where(AgentExecutionTrace.action_id == request.query_params["action_id"])
    return JSONResponse({"traces": await _rows(session, query.order_by(AgentExecutionTrace.created_at.desc()))})


@authenticated
async def feedback(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    query = (
        select(AgentActionFeedback)
        .where(AgentActionFeedback.action_id.in_(_team_actions(team_id)))
        .order_by(AgentActionFeedback.created_at.desc())
    )
    return JSONResponse({"feedback": await _rows(session, query)})


routes = [
    Route("/api/admin/teams/{team_id}/activity", activity, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/traces", traces, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/feedback", feedback, methods=["GET"]),
]
