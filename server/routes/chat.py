"""`POST /api/chat`: text chat with the coach, same tools and policy as a call."""

from __future__ import annotations

import logging

from google.genai import errors as genai_errors
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.api import authenticated
from server.auth import Principal
from server.chat import chat
from server.context import app_context
from server.errors import ApiError
from server.schemas import parse_body
from server.schemas.actions import ChatRequest

log = logging.getLogger("coach.chat")


@authenticated
async def post_chat(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    body = await parse_body(request, ChatRequest)
    ctx = app_context(request)
    if ctx.genai is None:
        raise ApiError(503, "SERVICE_UNAVAILABLE", "chat is not configured (GEMINI_API_KEY is unset)", recoverable=True)
    try:
        reply = await chat(ctx.services, ctx.genai, ctx.settings.GEMINI_TEXT_MODEL, principal.actor(), body)
    except genai_errors.APIError as exc:
        log.warning("model call failed", extra={"status": exc.code})
        raise ApiError(503, "SERVICE_UNAVAILABLE", "the coach model is not reachable right now", recoverable=True) from None
    return JSONResponse(reply)


routes = [Route("/api/chat", post_chat, methods=["POST"])]
