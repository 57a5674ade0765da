"""`/account`: the signed-in person's browser sessions and API tokens, each revocable; a new token is shown once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import accounts, web_sessions
from db.models import ApiToken
from server.auth import Principal
from server.context import app_context
from server.errors import not_found
from server.web.pages import page, see_other
from server.web.rendering import render

TOKEN_NAME_MAX = 100
TOKEN_LIFETIMES = {"": None, "30": timedelta(days=30), "90": timedelta(days=90), "365": timedelta(days=365)}


async def _account_page(
    request: Request, session: AsyncSession, viewer: Principal, *, new_token: str | None = None,
    error: str | None = None, status_code: int = 200,
) -> Response:
    now = app_context(request).services.clock()
    context = {
        "sessions": await web_sessions.list_for_user(session, viewer.user_id, now),
        "tokens": [token for token in await accounts.list_tokens(session, viewer.user_id) if _working(token, now)],
        "new_token": new_token,
        "error": error,
    }
    return render(request, "account.html", context, viewer=viewer, status_code=status_code)


def _working(token: ApiToken, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


@page
async def account(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    return await _account_page(request, session, viewer)


@page
async def revoke_session(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    if not await web_sessions.revoke(session, viewer.user_id, request.path_params["session_id"], app_context(request).services.clock()):
        raise not_found("no such session")
    return see_other("/account")


@page
async def create_token(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()[: TOKEN_NAME_MAX + 1]
    lifetime = str(form.get("expires_in_days", ""))
    if not name or len(name) > TOKEN_NAME_MAX or lifetime not in TOKEN_LIFETIMES:
        return await _account_page(request, session, viewer, error=f"Give the token a name of 1 to {TOKEN_NAME_MAX} characters.", status_code=400)
    now = app_context(request).services.clock()
    days = TOKEN_LIFETIMES[lifetime]
    try:
        created = await accounts.issue_token(session, viewer.user_id, name=name, expires_at=now + days if days else None, now=now)
    except accounts.TooManyTokens as refused:
        return await _account_page(request, session, viewer, error=str(refused), status_code=409)
    return await _account_page(request, session, viewer, new_token=created.secret)


@page
async def revoke_token(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    if await accounts.revoke_token(session, viewer.user_id, request.path_params["token_id"], app_context(request).services.clock()) is None:
        raise not_found("no such token")
    return see_other("/account")


routes = [
    Route("/account", account, methods=["GET"]),
    Route("/account/sessions/{session_id}/revoke", revoke_session, methods=["POST"]),
    Route("/account/tokens", create_token, methods=["POST"]),
    Route("/account/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
]
