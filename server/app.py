"""`create_app(settings)`: the Starlette application."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from server import openapi
from server.config import Settings
from server.context import AppContext
from server.errors import ApiError, error_response
from server.middleware import (
    BodyLimitMiddleware,
    NoNulInUrlMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from server.routes import (
    actions,
    admin,
    browser,
    calendar,
    chat,
    coaching,
    events,
    flags,
    health,
    media,
    outbox,
    sequences,
    team_analytics,
    tokens,
    twilio,
    usage,
)
from server.routes import (
    settings as settings_routes,
)
from server.web import account, docs, history, home, signin
from server.web import calendar as calendar_page
from server.web import coaching as coaching_pages
from server.web import outbox as outbox_page
from server.web import settings as settings_page
from server.web.rendering import WEB_DIRECTORY
from server.worker import Worker
from tools import telemetry

log = logging.getLogger("coach.app")
# The in-process worker shares the app's connection pool with requests, so it keeps fewer jobs in flight.
IN_PROCESS_CONCURRENCY = 8

_HTTP_CODES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 405: "INVALID_ARGUMENT"}


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.to_response()


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "INVALID_ARGUMENT"), str(exc.detail))


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error")
    return error_response(500, "INTERNAL", "internal error", recoverable=True)


def create_app(settings: Settings, *, run_worker: bool = False) -> Starlette:
    """The app; with `run_worker` the scheduler runs in-process for the app's lifetime (`coach serve`)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.ctx = AppContext.open(settings)
        telemetry.configure(settings.OTEL_EXPORTER_OTLP_ENDPOINT)
        # What is alive now (modules, the context) lives as long as the process: keep it out of the cyclic
        # collector, whose full passes over it otherwise stall the event loop (and every call's audio).
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        worker = None
        if run_worker:
            worker = asyncio.create_task(Worker(app.state.ctx.services, concurrency=IN_PROCESS_CONCURRENCY).run(stop))
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await app.state.ctx.close()
            telemetry.shutdown()

    return Starlette(
        routes=[
            # the JSON API
            *health.routes,
            *events.routes,
            *settings_routes.routes,
            *tokens.routes,
            *actions.routes,
            *outbox.routes,
            *sequences.routes,
            *coaching.routes,
            *admin.routes,
            *flags.routes,
            *usage.routes,
            *team_analytics.routes,
            *chat.routes,
            *calendar.routes,
            *openapi.routes,
            # providers' webhooks and the voice sockets
            *twilio.routes,
            *media.routes,
            *browser.routes,
            # the pages
            *signin.routes,
            *account.routes,
            *home.routes,
            *history.routes,
            *settings_page.routes,
            *calendar_page.routes,
            *docs.routes,
            *coaching_pages.routes,
            *outbox_page.routes,
            Mount("/static", StaticFiles(directory=WEB_DIRECTORY / "static"), name="static"),
        ],
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(SecurityHeadersMiddleware),
            Middleware(
                BodyLimitMiddleware,
                limits={"/twilio/": settings.COACH_MAX_TWILIO_BODY_BYTES, "/api/": settings.COACH_MAX_API_BODY_BYTES},
                default=settings.COACH_MAX_BODY_BYTES,
            ),
            Middleware(NoNulInUrlMiddleware),
        ],
        exception_handlers={
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
