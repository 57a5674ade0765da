"""`GET|POST /api/me/tokens`, `DELETE /api/me/tokens/{token_id}`: a person's own API tokens.

Token ids are not secrets; the secret is in the creation's answer only. Another user's token id answers
404, like an unknown one, so ids cannot be probed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db import accounts
from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from server.schemas import invalid_field, parse_body
from server.schemas.tokens import CreatedToken, TokenCreate, TokenInfo


@authenticated
async def list_tokens(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    now = app_context(request).services.clock()
    rows = await accounts.list_tokens(session, principal.user_id)
    return JSONResponse({"tokens": [TokenInfo.of(row, now).model_dump(mode="json") for row in rows]})


@authenticated
async def create_token(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    body = await parse_body(request, TokenCreate)
    now = app_context(request).services.clock()
    try:
        new = await accounts.issue_token(
            session, principal.user_id, name=body.name, expires_at=body.expires_at, now=now,
        )
    except accounts.InvalidTokenExpiry as exc:
        raise invalid_field("expires_at", str(exc)) from None
    except accounts.TooManyTokens as exc:
        raise ApiError(409, "INVALID_ARGUMENT", str(exc), details={"limit": accounts.MAX_LIVE_TOKENS}) from None
    created = CreatedToken.of_new(new, now).model_dump(mode="json")
    return JSONResponse(created, status_code=201, headers={"Cache-Control": "no-store"})


@authenticated
async def revoke_token(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    now = app_context(request).services.clock()
    row = await accounts.revoke_token(session, principal.user_id, request.path_params["token_id"], now)
    if row is None:
        raise not_found("no such token")
    return JSONResponse(TokenInfo.of(row, now).model_dump(mode="json"))


routes = [
    Route("/api/me/tokens", list_tokens, methods=["GET"]),
    Route("/api/me/tokens", create_token, methods=["POST"]),
    Route("/api/me/tokens/{token_id}", revoke_token, methods=["DELETE"]),
]
