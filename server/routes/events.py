"""`GET /api/events`: the signed-in person's realtime events as server-sent events (DESIGN.md section 9).

Each event is `event: <type>` and `data: <json>` with ids, the tool's name and a status only (never an
action's arguments), from the event bus: Redis pub/sub when `REDIS_URL` is set, so an action proposed or
resolved by another server process reaches this stream too. A comment line goes out every
`COACH_EVENTS_HEARTBEAT_SECONDS`. Events wait in a bounded queue per connection; a client too slow to keep
up is disconnected (its EventSource reconnects and the page reads the current state again) rather than
letting the queue grow. The stream ends when the client goes (Starlette cancels it; the subscription is
dropped on the way out).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from tools.events import Event, EventBus

EVENT_TYPES = frozenset({"pending_created", "pending_resolved", "action_recorded"})
CARRIED_FIELDS = ("action_id", "tool", "status")
QUEUE_LIMIT = 100
RECONNECT_MS = 1000
_OVERFLOW: Event = {"type": "overflow"}


def sse_message(event: Event) -> str:
    """One server-sent event: its type as the event name, the carried fields as JSON data."""
    data = {field: event[field] for field in CARRIED_FIELDS if field in event}
    return f"event: {event['type']}\ndata: {json.dumps(data)}\n\n"


async def _pump(events: AsyncIterator[Event], queue: asyncio.Queue[Event]) -> None:
    """Move the person's contract events from the bus into `queue`; past `QUEUE_LIMIT` waiting, stop."""
    async for event in events:
        if event.get("type") not in EVENT_TYPES:
            continue
        if queue.qsize() >= QUEUE_LIMIT:
            queue.put_nowait(_OVERFLOW)
            return
        queue.put_nowait(event)


async def event_stream(bus: EventBus, user_id: str, heartbeat_seconds: float) -> AsyncIterator[str]:
    queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_LIMIT + 1)
    async with bus.subscribe(user_id) as events:
        pump = asyncio.create_task(_pump(events, queue))
        try:
            yield f"retry: {RECONNECT_MS}\n: subscribed\n\n"  # sent once the subscription holds
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), heartbeat_seconds)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if event is _OVERFLOW:
                    return
                yield sse_message(event)
        finally:
            pump.cancel()
            with suppress(asyncio.CancelledError):
                await pump


SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@authenticated
async def events(request: Request, session: AsyncSession, principal: Principal) -> Response:
    ctx = app_context(request)
    stream = event_stream(ctx.services.events, principal.user_id, ctx.settings.COACH_EVENTS_HEARTBEAT_SECONDS)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


routes = [Route("/api/events", events, methods=["GET"])]
