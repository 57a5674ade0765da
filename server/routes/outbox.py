"""`GET /api/outbox`: the signed-in person's messages in the development outbox (COACH_OUTBOX), newest first.

These messages were stored instead of sent: nobody received them. The list is empty, not 404, when there
are none (or the outbox is off). Only the caller's own messages are listed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db import outbox
from db.models import OutboxMessage
from server.api import authenticated
from server.auth import Principal
from server.paging import encode_cursor, query_cursor, query_limit

OUTBOX_LIMIT, MAX_OUTBOX_LIMIT = 50, 500


def message_json(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id, "action_id": row.action_id, "channel": row.channel, "to": row.to_address,
        "subject": row.subject, "body": row.body, "sent": False, "created_at": row.created_at.isoformat(),
    }


@authenticated
async def list_outbox(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    limit = query_limit(request, default=OUTBOX_LIMIT, maximum=MAX_OUTBOX_LIMIT)
    rows = await outbox.newest_first(session, principal.user_id, limit + 1, before=query_cursor(request))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor((page[-1].created_at, page[-1].id)) if more else None
    return JSONResponse({"messages": [message_json(row) for row in page], "next_cursor": next_cursor})


routes = [Route("/api/outbox", list_outbox, methods=["GET"])]
