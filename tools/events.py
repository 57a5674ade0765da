"""Realtime events for the person's pages (`GET /api/events`): `pending_created`, `pending_resolved` (with
the new status), `action_recorded` (an outcome in the history: executed, failed or denied). Each carries ids
and the tool's name, never the action's arguments.

Published on Redis pub/sub when `REDIS_URL` is set, so every process's subscribers see them; in-process
otherwise. Publishing never fails an action: a lost event is logged, the database stays the truth.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as redis_asyncio

log = logging.getLogger("coach.events")
Event = dict[str, Any]


class EventBus(Protocol):
    async def publish(self, user_id: str, event: Event) -> None: ...

    def subscribe(self, user_id: str) -> Any:
        """An async context manager yielding an async iterator of the user's events."""
        ...

    async def subscribers(self, user_id: str) -> int:
        """How many subscriptions to the user's events are open (in every process, with Redis)."""
        ...


class InProcessEventBus:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)

    async def publish(self, user_id: str, event: Event) -> None:
        for queue in list(self._queues.get(user_id, ())):
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, user_id: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues[user_id].add(queue)

        async def events() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._queues[user_id].discard(queue)

    async def subscribers(self, user_id: str) -> int:
        return len(self._queues.get(user_id, ()))


class RedisEventBus:
    def __init__(self, client: redis_asyncio.Redis, prefix: str = "coach:events:") -> None:
        self._client = client
        self._prefix = prefix

    async def publish(self, user_id: str, event: Event) -> None:
        try:
            await self._client.publish(self._prefix + user_id, json.dumps(event, default=str))
        except Exception as exc:  # a realtime hint; never fail the action over it
            log.warning("event not published", extra={"error": type(exc).__name__, "event": event.get("type")})

    @asynccontextmanager
    async def subscribe(self, user_id: str) -> AsyncIterator[AsyncIterator[Event]]:
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self._prefix + user_id)

        async def events() -> AsyncIterator[Event]:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield json.loads(message["data"])

        try:
            yield events()
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def subscribers(self, user_id: str) -> int:
        [(_, count)] = await self._client.pubsub_numsub(self._prefix + user_id)
        return int(count)
