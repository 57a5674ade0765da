"""`GET/PUT /api/me/settings` and `GET/PUT /api/teams/{team_id}/settings`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db import accounts
from db.models import UserAgentSettings
from policy import team_rules
from server.api import authenticated
from server.auth import Principal
from server.errors import not_found
from server.schemas import invalid_fields, parse_body
from server.schemas.settings import TeamSettingsUpdate, UserSettingsUpdate

_NOT_SETTINGS = {"user_id", "team_id", "updated_at"}


def settings_json(row: DeclarativeBase) -> dict[str, Any]:
    return {
        column.key: getattr(row, column.key)
        for column in row.__mapper__.column_attrs
        if column.key not in _NOT_SETTINGS
    }


@authenticated
async def get_my_settings(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    return JSONResponse(settings_json(await accounts.user_settings(session, principal.user_id)))


async def save_my_settings(session: AsyncSession, user_id: str, update: UserSettingsUpdate) -> UserAgentSettings:
    """Store the user's changes, all or none: a change a team's rule refuses (policy.team_rules) is a 422 naming
    the field, before anything is written. The API and the settings page both save through here."""
    changes = update.changes()
    refused = team_rules.refusals(changes, team_rules.team_rules(await accounts.named_team_settings(session, user_id)))
    if refused:
        raise invalid_fields(refused)
    row = await accounts.user_settings(session, user_id)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    return row


@authenticated
async def put_my_settings(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    update = await parse_body(request, UserSettingsUpdate)
    return JSONResponse(settings_json(await save_my_settings(session, principal.user_id, update)))


@authenticated
async def get_team_settings(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    row = await accounts.team_settings(session, team_id)
    if row is None:
        raise not_found("team settings not found")
    return JSONResponse(settings_json(row))


@authenticated
async def put_team_settings(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    update = await parse_body(request, TeamSettingsUpdate)
    row = await accounts.team_settings(session, team_id)
    if row is None:
        raise not_found("team settings not found")
    for key, value in update.changes().items():
        setattr(row, key, value)
    await session.flush()
    return JSONResponse(settings_json(row))


routes = [
    Route("/api/me/settings", get_my_settings, methods=["GET"]),
    Route("/api/me/settings", put_my_settings, methods=["PUT"]),
    Route("/api/teams/{team_id}/settings", get_team_settings, methods=["GET"]),
    Route("/api/teams/{team_id}/settings", put_team_settings, methods=["PUT"]),
]
