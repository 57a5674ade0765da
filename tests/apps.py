"""Running the app in-process for tests: lifespan entered, an httpx client over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

from server.app import create_app
from server.config import Settings


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app with its lifespan entered (database engine, Redis, provider clients)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def http_client(application: Starlette, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app; with the app's https PUBLIC_URL as `base_url`, it keeps and sends Secure cookies as a
    browser at that address does."""
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http
