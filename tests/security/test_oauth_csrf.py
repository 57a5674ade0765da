"""OAuth CSRF: the Google callback connects a calendar only in the browser that started the flow.

Each browser is an httpx client of the app at its public https address, with its own cookie jar; Google is
FakeGoogle over real sockets, which consents at once and redirects back with the state and a code. Without
the browser binding, a consent URL an attacker started and sent to a victim connects the victim's calendar
to the attacker's account.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from http.cookies import SimpleCookie

import httpx
import pytest
from apps import http_client, running_app
from backends import Backend, make_settings
from factories import TestUser, daytime_clock, new_user
from providers import GoogleWorld, running_google
from sqlalchemy import select
from starlette.applications import Starlette

from db.models import OAuthState, UserCalendarConnection
from server.config import Settings
from server.context import AppContext

COOKIE = "coach_oauth_browser"


@pytest.fixture
def google() -> Iterator[GoogleWorld]:
    with running_google() as world:
        yield world


def google_settings(backend: Backend, google: GoogleWorld, **overrides: object) -> Settings:
    return make_settings(backend, **google.settings(), **overrides)


@pytest.fixture
def settings(backend: Backend, google: GoogleWorld) -> Settings:
    return google_settings(backend, google)


@pytest.fixture
def ctx(app: Starlette) -> AppContext:
    daytime_clock(app.state.ctx)
    return app.state.ctx


def browser(app: Starlette) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """A browser of its own (its own cookies) at the app's public address."""
    return http_client(app, base_url=app.state.ctx.settings.PUBLIC_URL)


@pytest.fixture
async def attacker_browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as http:
        yield http


@pytest.fixture
async def victim_browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as http:
        yield http


async def start(http: httpx.AsyncClient, user: TestUser) -> httpx.Response:
    response = await http.get("/api/calendar/google/connect", headers=user.headers)
    assert response.status_code == 200, response.text
    return response


async def started_callback(http: httpx.AsyncClient, user: TestUser) -> str:
    """`user` starts connecting in `http` and consents at Google; the callback URL Google sends back."""
    return await GoogleWorld.consent((await start(http, user)).json()["authorization_url"])


async def connection_of(ctx: AppContext, user: TestUser) -> UserCalendarConnection | None:
    async with ctx.sessions() as session:
        return await session.scalar(select(UserCalendarConnection).where(UserCalendarConnection.user_id == user.id))


def cookie_set_by(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    assert COOKIE in cookie, response.headers["set-cookie"]
    return cookie


def error_code(response: httpx.Response) -> str | None:
    return (response.json().get("error") or {}).get("code")


async def test_a_callback_without_the_flow_cookie_is_refused_and_connects_nothing(app, ctx, google):
    user = await new_user(ctx)
    async with browser(app) as started_here, browser(app) as cookieless:
        callback = await started_callback(started_here, user)
        response = await cookieless.get(callback)
    assert (response.status_code, error_code(response)) == (403, "PERMISSION_DENIED")
    assert "browser" in response.json()["error"]["message"]
    assert await connection_of(ctx, user) is None and google.fake.token_requests == []


async def test_a_callback_with_another_flows_cookie_is_refused(app, ctx, google, attacker_browser, victim_browser):
    attacker, victim = await new_user(ctx), await new_user(ctx)
    attackers_callback = await started_callback(attacker_browser, attacker)
    await started_callback(victim_browser, victim)  # the victim's browser holds a cookie of its own flow
    response = await victim_browser.get(attackers_callback)
    assert (response.status_code, error_code(response)) == (403, "PERMISSION_DENIED")
    assert await connection_of(ctx, attacker) is None and await connection_of(ctx, victim) is None
    assert google.fake.token_requests == []


async def test_an_attackers_consent_link_completed_by_a_victim_connects_nothing_to_the_attacker(
    app, ctx, google, attacker_browser, victim_browser
):
    attacker = await new_user(ctx)
    link = (await start(attacker_browser, attacker)).json()["authorization_url"]
    response = await victim_browser.get(await GoogleWorld.consent(link))  # the victim consents at Google with their account
    assert response.status_code == 403
    assert await connection_of(ctx, attacker) is None and google.fake.token_requests == []
    async with ctx.sessions() as session:  # the attacker's state is used up: it cannot be completed later
        assert await session.scalar(select(OAuthState).where(OAuthState.user_id == attacker.id)) is None


async def test_the_browser_that_started_the_flow_connects(app, ctx, google, victim_browser):
    user = await new_user(ctx)
    response = await victim_browser.get(await started_callback(victim_browser, user))
    assert response.status_code == 200, response.text
    assert response.json()["connected"] is True
    assert (await connection_of(ctx, user)) is not None and [r.status for r in google.fake.token_requests] == [200]


async def test_the_flow_cookie_is_httponly_secure_lax_and_scoped_to_the_callback(app, ctx, google, victim_browser):
    user = await new_user(ctx)
    [cookie] = cookie_set_by(await start(victim_browser, user)).values()
    assert (cookie["path"], cookie["samesite"].lower(), cookie["max-age"]) == ("/oauth/google/callback", "lax", "600")
    assert cookie["httponly"] and cookie["secure"] and len(cookie.value) >= 40


async def test_the_flow_cookie_is_not_secure_when_the_public_url_is_plain_http(backend, google):
    async with running_app(google_settings(backend, google, PUBLIC_URL="http://localhost:8000")) as application, browser(application) as http:
        user = await new_user(application.state.ctx)
        [cookie] = cookie_set_by(await start(http, user)).values()
    assert cookie["httponly"] and not cookie["secure"]


@pytest.mark.parametrize("outcome", ["connected", "refused"])
async def test_the_callback_clears_the_flow_cookie(app, ctx, google, victim_browser, outcome):
    user = await new_user(ctx)
    callback = await started_callback(victim_browser, user)
    if outcome == "refused":
        callback = callback.replace("state=", "state=forged")
    response = await victim_browser.get(callback)
    assert response.status_code == (200 if outcome == "connected" else 400)
    [cleared] = cookie_set_by(response).values()
    assert (cleared.value, cleared["max-age"], cleared["path"]) == ("", "0", "/oauth/google/callback")
    assert COOKIE not in victim_browser.cookies
