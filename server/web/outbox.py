"""`/outbox`: the messages the development outbox holds for the person (COACH_OUTBOX), newest first, paged; each
one plainly marked as not sent. With the outbox off the page is a 404 that says so."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import outbox
from db.models import OutboxMessage
from server.auth import Principal
from server.context import app_context
from server.paging import encode_cursor, query_cursor
from server.routes.outbox import message_json
from server.web.pages import error_page, page
from server.web.rendering import render

PAGE_SIZE = 20
CHANNEL_NAMES = {"sms": "Text message", "call": "Phone call", "email": "Email"}


def _shown(row: OutboxMessage) -> dict[str, Any]:
    return {**message_json(row), "channel_name": CHANNEL_NAMES.get(row.channel, row.channel),
            "when": f"{row.created_at:%Y-%m-%d %H:%M} UTC"}


@page
async def outbox_page(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    if not app_context(request).settings.COACH_OUTBOX:
        return error_page(request, viewer, 404, "The development outbox is off on this server (COACH_OUTBOX is not "
                                                "set): messages are really sent, or not at all.")
    before = query_cursor(request)
    rows = await outbox.newest_first(session, viewer.user_id, PAGE_SIZE + 1, before=before)
    shown, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    context = {
        "messages": [_shown(row) for row in shown],
        "older": encode_cursor((shown[-1].created_at, shown[-1].id)) if more else None,
        "paged": before is not None,
    }
    return render(request, "outbox.html", context, viewer=viewer)


routes = [Route("/outbox", outbox_page, methods=["GET"])]
