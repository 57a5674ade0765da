"""The shape every `/api/*` endpoint shares: one database session, an authenticated principal, commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from server.auth import Principal, authenticate_token, bearer_token
from server.context import app_context
from server.errors import ApiError

ApiHandler = Callable[[Request, AsyncSession, Principal], Awaitable[Response]]


def authenticated(handler: ApiHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap `handler` so it runs with a session and the caller's principal, and commits on success.

    An `ApiError` raised by the handler rolls the session back: a refused request writes nothing.
    """

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        ctx = app_context(request)
        async with ctx.sessions() as session:
            principal = await authenticate_token(session, bearer_token(request), ctx.services.clock())
            await session.commit()  # records last_used_at even if the handler is refused
            response = await handler(request, session, principal)
            await session.commit()
            return response

    return endpoint


def query_limit(request: Request, *, default: int, maximum: int) -> int:
    """`limit`: ASCII digits from 1 to `maximum` (`default` when absent); anything else is 400."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum)) and 1 <= int(raw) <= maximum:
        return int(raw)
    message = f"limit must be a whole number from 1 to {maximum}"
    raise ApiError(400, "INVALID_ARGUMENT", message, details={"fields": [{"field": "limit", "message": message}]})
