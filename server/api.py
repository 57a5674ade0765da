"""The shape every `/api/*` endpoint shares: one database session, an authenticated principal (token or
session cookie), commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from server.auth import Principal, authenticate_request
from server.context import app_context

ApiHandler = Callable[[Request, AsyncSession, Principal], Awaitable[Response]]


def authenticated(handler: ApiHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap `handler` so it runs with a session and the caller's principal, and commits on success.

    An `ApiError` raised by the handler rolls the session back: a refused request writes nothing.
    """

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        ctx = app_context(request)
        async with ctx.sessions() as session:
            principal = await authenticate_request(session, request, ctx.settings.COACH_SECRET_KEY, ctx.services.clock())
            await session.commit()  # records last_used_at / last_seen_at even if the handler is refused
            response = await handler(request, session, principal)
            await session.commit()
            return response

    return endpoint
