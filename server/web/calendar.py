"""`/calendar`: the Google Calendar connection (connect, its state, disconnect), the built-in calendar's
upcoming events, and the private ICS feed (create, rotate, delete; its URL shown once, with a Copy button).

Connecting is a link, not a form: the page's CSP allows forms to post to this site only (`form-action 'self'`),
and Chromium applies that to a form's redirects too. `GET /calendar/google/connect` starts the flow exactly as
`GET /api/calendar/google/connect` does (`oauth.begin`, then `bind_to_browser` sets the browser cookie on
this browser) and sends the browser on to Google. Started from another site, it starts a flow for the
signed-in person's own account in their own browser, which Google still asks them to consent to.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db import accounts
from db.models import CalendarEvent, CalendarFeed
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from server.routes.calendar import bind_to_browser
from server.web.pages import page, see_other
from server.web.rendering import render
from tools.calendar import feed, oauth
from tools.calendar.providers import BuiltinCalendar, google_connection

UPCOMING_EVENTS = 20
# `?google=` and `?feed=` after a redirect back here: a fixed word each, so no one can put words on this page.
NOTICES = {
    ("google", "connected"): ("ok", "Google Calendar is connected. The coach now uses it for your events."),
    ("google", "disconnected"): ("ok", "Google Calendar is disconnected. The coach uses the built-in calendar."),
    ("google", "other-browser"): (
        "error", "Nothing was connected: the connection was started in another browser. Connect again from here."),
    ("google", "refused"): (
        "error", "Nothing was connected: Google did not grant access, or the attempt expired. Try again."),
    ("google", "unavailable"): ("error", "Nothing was connected: Google could not be reached. Try again later."),
    ("feed", "deleted"): ("ok", "The calendar feed is deleted. Its URL no longer works."),
}


def _notice(request: Request) -> tuple[str, str] | None:
    for key in ("google", "feed"):
        if (key, request.query_params.get(key)) in NOTICES:
            return NOTICES[(key, request.query_params[key])]
    return None


def when(event: CalendarEvent, zone: ZoneInfo) -> str:
    """`Mon 3 Mar, 14:00–15:00` in the person's time zone (the end's date too when it is another day)."""
    start, end = event.start_at.astimezone(zone), event.end_at.astimezone(zone)
    end_text = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%a %-d %b, %H:%M")
    return f"{start.strftime('%a %-d %b, %H:%M')}–{end_text}"


async def _calendar_page(
    request: Request, session: AsyncSession, viewer: Principal, *, new_feed_url: str | None = None,
) -> Response:
    services = app_context(request).services
    now: datetime = services.clock()
    zone = ZoneInfo((await accounts.user_settings(session, viewer.user_id)).timezone)
    events = await BuiltinCalendar(session, viewer.user_id).upcoming(now, UPCOMING_EVENTS)
    context = {
        "google_configured": services.google is not None,
        "connection": await google_connection(session, viewer.user_id),
        "events": [(event, when(event, zone)) for event in events],
        "timezone": str(zone),
        "feed": await session.get(CalendarFeed, viewer.user_id),
        "new_feed_url": new_feed_url,
        "notice": _notice(request),
    }
    return render(request, "calendar.html", context, viewer=viewer)


@page
async def calendar_page(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    return await _calendar_page(request, session, viewer)


@page
async def connect_google(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    services = app_context(request).services
    try:
        started = await oauth.begin(session, services, viewer.user_id, services.clock())
    except oauth.GoogleNotConfigured as exc:
        raise ApiError(503, "SERVICE_UNAVAILABLE", str(exc)) from None
    return bind_to_browser(RedirectResponse(started.url, status_code=303), started, services.public_url)


@page
async def disconnect_google(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    if await oauth.disconnect(session, app_context(request).services, viewer.user_id) is None:
        raise not_found("no Google Calendar is connected")
    return see_other("/calendar?google=disconnected")


@page
async def rotate_feed(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    """Create the feed, or replace its URL (the old one stops working). The new URL is shown in this answer only."""
    services = app_context(request).services
    secret = await feed.rotate_feed(session, viewer.user_id, services.clock())
    return await _calendar_page(request, session, viewer, new_feed_url=feed.feed_url(services.public_url, secret))


@page
async def delete_feed(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    if not await feed.revoke_feed(session, viewer.user_id):
        raise not_found("no calendar feed exists")
    return see_other("/calendar?feed=deleted")


routes = [
    Route("/calendar", calendar_page, methods=["GET"]),
    Route("/calendar/google/connect", connect_google, methods=["GET"]),
    Route("/calendar/google/disconnect", disconnect_google, methods=["POST"]),
    Route("/calendar/feed", rotate_feed, methods=["POST"]),
    Route("/calendar/feed/delete", delete_feed, methods=["POST"]),
]
