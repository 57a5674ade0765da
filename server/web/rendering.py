"""Rendering pages: the Jinja2 environment (autoescaped) and what every page's layout needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from server.auth import Principal
from server.context import app_context

WEB_DIRECTORY = Path(__file__).resolve().parents[2] / "web"
templates = Jinja2Templates(directory=WEB_DIRECTORY / "templates")

NAVIGATION = (
    ("/", "Home"),
    ("/history", "History"),
    ("/settings", "Settings"),
    ("/calendar", "Calendar"),
    ("/habits", "Habits"),
    ("/goals", "Goals"),
    ("/tasks", "Tasks"),
    ("/contacts", "Contacts"),
    ("/reminders", "Reminders"),
    ("/docs", "API"),
)


def is_fragment_request(request: Request) -> bool:
    """Whether the enhancement library asked for a part of a page (htmx sends `HX-Request`)."""
    return request.headers.get("hx-request") == "true"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, viewer: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page `template` for `viewer` (None: signed out), with the layout's navigation and CSRF token."""
    ctx = app_context(request)
    navigation = list(NAVIGATION)
    if ctx.services.outbox:
        navigation.append(("/outbox", "Outbox"))
    layout = {
        "viewer": viewer,
        "csrf_token": viewer.web_session.csrf_token if viewer is not None and viewer.web_session is not None else "",
        "navigation": navigation if viewer is not None else [],
        "current_path": request.url.path,
    }
    return templates.TemplateResponse(request, template, {**layout, **(context or {})}, status_code=status_code)
