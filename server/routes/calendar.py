"""Calendar routes: connect and disconnect Google, the OAuth callback, and the built-in calendar's feed.

`GET /api/calendar/google/connect` answers JSON `{authorization_url, expires_at}` rather than a redirect:
it is an API call with a bearer token, which a plain browser navigation cannot carry, so the client
fetches it and then sends the browser to the URL. Google redirects back to `GET /oauth/google/callback`.

The flow is bound to the browser that started it: the connect answer sets an HttpOnly, SameSite=Lax cookie
(Secure when PUBLIC_URL is https) holding the flow's browser nonce, scoped to the callback's path, and the
callback connects nothing without it. A page's same-origin `fetch` stores that cookie in the browser that
then follows the URL. A start whose URL is opened in another browser (a URL printed by a script, or a link
an attacker sends) is refused at the callback: that is the attack the cookie is there to stop. A browser
navigation that started the flow by itself (a GET with a token in its URL) would not help: an attacker could
send that link just as well.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from db.models import CalendarFeed
from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, forbidden, not_found
from tools.calendar import feed, oauth
from tools.calendar.ics import render_calendar
from tools.calendar.providers import BuiltinCalendar, GoogleCalendar, google_connection

BROWSER_COOKIE = "coach_oauth_browser"
# How a refused callback is named to the calendar page (`/calendar?google=...`): a fixed word, never a message.
CALLBACK_OUTCOMES = {403: "other-browser", 400: "refused", 503: "unavailable"}


def _unavailable(message: str) -> ApiError:
    return ApiError(503, "SERVICE_UNAVAILABLE", message, recoverable=True)


@authenticated
async def calendar_status(request: Request, session: AsyncSession, principal: Principal) -> Response:
    """Which calendar the tools use for this user, and whether a feed exists (its URL is never shown again)."""
    connection = await google_connection(session, principal.user_id)
    return JSONResponse({
        "provider": GoogleCalendar.name if connection else BuiltinCalendar.name,
        "google_configured": app_context(request).services.google is not None,
        "google_connected": connection is not None,
        "calendar_id": connection.calendar_id if connection else None,
        "feed": await session.get(CalendarFeed, principal.user_id) is not None,
    })


@authenticated
async def google_connect(request: Request, session: AsyncSession, principal: Principal) -> Response:
    services = app_context(request).services
    try:
        started = await oauth.begin(session, services, principal.user_id, services.clock())
    except oauth.GoogleNotConfigured as exc:
        raise _unavailable(str(exc)) from None
    response = JSONResponse({"authorization_url": started.url, "expires_at": started.expires_at.isoformat()})
    return bind_to_browser(response, started, services.public_url)


def bind_to_browser(response: Response, started: oauth.AuthorizationRequest, public_url: str) -> Response:
    """Give `response`'s browser the flow's nonce (HttpOnly cookie): only that browser can complete the flow.
    The API's JSON answer and the calendar page's redirect to Google both hand it out here."""
    response.set_cookie(
        BROWSER_COOKIE, started.browser_nonce, max_age=int(oauth.STATE_TTL.total_seconds()),
        **_browser_cookie_scope(public_url),
    )
    return response


def _browser_cookie_scope(public_url: str) -> dict[str, Any]:
    """Where the browser cookie lives: setting and clearing it must name the same scope."""
    return {
        "path": oauth.CALLBACK_PATH, "secure": public_url.startswith("https://"), "httponly": True, "samesite": "lax",
    }


async def google_callback(request: Request) -> Response:
    """Google's redirect (no API token): the single-use state says whose connection this is, the browser cookie
    that this browser started it. The cookie is cleared whatever the outcome. A person's browser (it asks for
    HTML) goes back to the calendar page, which says what happened; any other client gets the JSON answer."""
    ctx = app_context(request)
    try:
        response: Response = await _complete_google(request)
        outcome = "connected"
    except ApiError as exc:
        response, outcome = exc.to_response(), CALLBACK_OUTCOMES.get(exc.status, "refused")
    if "text/html" in request.headers.get("accept", ""):
        response = RedirectResponse(f"/calendar?google={outcome}", status_code=303)
    response.delete_cookie(BROWSER_COOKIE, **_browser_cookie_scope(ctx.services.public_url))
    return response


async def _complete_google(request: Request) -> Response:
    ctx = app_context(request)
    params = request.query_params
    async with ctx.sessions() as session:
        try:
            connection = await oauth.complete(
                session, ctx.services, state=params.get("state", ""), code=params.get("code"),
                error=params.get("error"), browser_nonce=request.cookies.get(BROWSER_COOKIE), now=ctx.services.clock(),
            )
        except oauth.OtherBrowser as exc:
            raise forbidden(str(exc)) from None
        except oauth.OAuthRefused as exc:
            raise ApiError(400, "INVALID_ARGUMENT", str(exc)) from None
        except (oauth.GoogleNotConfigured, oauth.GoogleUnavailable) as exc:
            raise _unavailable(str(exc)) from None
        await session.commit()
    return JSONResponse({"connected": True, "provider": "google", "calendar_id": connection.calendar_id})


@authenticated
async def google_disconnect(request: Request, session: AsyncSession, principal: Principal) -> Response:
    revoked = await oauth.disconnect(session, app_context(request).services, principal.user_id)
    if revoked is None:
        raise not_found("no Google Calendar is connected")
    return JSONResponse({"disconnected": True, "revoked": revoked})


@authenticated
async def create_feed(request: Request, session: AsyncSession, principal: Principal) -> Response:
    """Create the feed, or rotate it (the old URL stops working). The URL is shown only in this answer."""
    services = app_context(request).services
    secret = await feed.rotate_feed(session, principal.user_id, services.clock())
    return JSONResponse({"url": feed.feed_url(services.public_url, secret)}, status_code=201)


@authenticated
async def delete_feed(request: Request, session: AsyncSession, principal: Principal) -> Response:
    if not await feed.revoke_feed(session, principal.user_id):
        raise not_found("no calendar feed exists")
    return Response(status_code=204)


async def calendar_feed(request: Request) -> Response:
    """The private iCalendar feed; the secret in the path is the capability. Unknown secrets get 404."""
    ctx = app_context(request)
    async with ctx.sessions() as session:
        events = await feed.feed_events(session, request.path_params["secret"], ctx.services.clock())
    if events is None:
        raise not_found("no such calendar")
    return Response(
        render_calendar(events),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


routes = [
    Route("/api/calendar", calendar_status, methods=["GET"]),
    Route("/api/calendar/google/connect", google_connect, methods=["GET"]),
    Route(oauth.CALLBACK_PATH, google_callback, methods=["GET"]),
    Route("/api/calendar/google", google_disconnect, methods=["DELETE"]),
    Route("/api/calendar/feed", create_feed, methods=["POST"]),
    Route("/api/calendar/feed", delete_feed, methods=["DELETE"]),
    Route("/calendar/{secret}.ics", calendar_feed, methods=["GET"]),
]
