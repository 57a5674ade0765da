"""Starting a call session from a route: who the caller is, and how to reach the model."""

from __future__ import annotations

from google.genai import types

from db import accounts
from db.models import User
from server.context import AppContext
from voice.gemini import LiveBridge, live_config
from voice.session import CallInfo, ModelConnector


def model_connector(ctx: AppContext) -> ModelConnector:
    def connect(instruction: str, declarations: list[types.FunctionDeclaration]) -> LiveBridge:
        return LiveBridge(
            ctx.genai,
            ctx.settings.GEMINI_LIVE_MODEL,
            lambda handle: live_config(instruction, declarations, handle),
        )

    return connect


async def call_info(
    ctx: AppContext, *, user_id: str, call_session_id: str, direction: str, purpose: str, message: str = ""
) -> CallInfo | None:
    async with ctx.sessions() as session:
        user = await session.get(User, user_id)
        if user is None:
            return None
        memberships = await accounts.memberships(session, user_id)
    return CallInfo(
        user_id=user_id,
        call_session_id=call_session_id,
        direction=direction,
        purpose=purpose,
        message=message,
        user_name=user.name,
        team_roles={m.team_id: m.role for m in memberships},
    )
