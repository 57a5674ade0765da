"""`GET /api/admin/teams/{team_id}/flags`: the feature flags that reach a team, for its admins and owners —
how each is targeted as far as the team is concerned and which of its members it is on for. Operators
change flags with `coach flags`; a team cannot (yet) switch a flag for itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db import flags as flag_rows
from db.models import FeatureFlag
from policy.flags import flag_enabled, rule_of
from server.api import authenticated
from server.auth import Principal


def flag_json(flag: FeatureFlag) -> dict[str, Any]:
    """A flag's whole targeting (operators)."""
    return {
        "name": flag.name, "description": flag.description, "enabled": flag.enabled, "team_ids": flag.team_ids,
        "user_ids": flag.user_ids, "rollout_percentage": flag.rollout_percentage,
    }


def _team_view(flag: FeatureFlag, team_id: str, members: dict[str, list[str]]) -> dict[str, Any]:
    """What a team's admins may know of a flag: never other teams' ids, only their own members by id."""
    rule = rule_of(flag)
    on_for = [user_id for user_id, teams in members.items() if flag_enabled(rule, user_id, teams)]
    return {
        "name": flag.name,
        "description": flag.description,
        "on_for_everyone": flag.enabled,
        "on_for_this_team": team_id in flag.team_ids,
        "rollout_percentage": flag.rollout_percentage,
        "members_on": on_for,
        "members_on_count": len(on_for),
        "members_count": len(members),
    }


@authenticated
async def team_flags(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    members = await flag_rows.teams_of_members(session, team_id)
    return JSONResponse({"flags": [_team_view(flag, team_id, members) for flag in await flag_rows.all_flags(session)]})


routes = [Route("/api/admin/teams/{team_id}/flags", team_flags, methods=["GET"])]
