"""The attacker at the sign-in door and the session cookie: codes are single-use, short-lived, limited in
guesses and in number, stored keyed-hashed; the sign-in forms refuse login CSRF and open redirects; the
cookie is HttpOnly, SameSite=Lax and Secure on https; a cookie-authenticated API call needs the CSRF token.
The app is wired to the Twilio fake (codes by SMS). Both backends (SQLite; PostgreSQL + Redis)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from apps import http_client
from factories import TestUser, new_user
from providers import Providers
from sqlalchemy import select

from db import accounts
from db.models import SigninCode, WebSession
from server.web.cookies import SESSION_COOKIE

PUBLIC_URL = "https://coach.example.test"


@pytest.fixture
async def browser(app) -> AsyncIterator[httpx.AsyncClient]:
    """A browser at the app's https address: it keeps the Secure cookies the app sets, follows no redirects."""
    async with http_client(app, base_url=PUBLIC_URL) as http:
        yield http


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def ask_for_code(browser: httpx.AsyncClient, identifier: str) -> httpx.Response:
    token = form_token(await browser.get("/signin"))
    return await browser.post("/signin", data={"csrf_token": token, "identifier": identifier})


async def enter_code(browser: httpx.AsyncClient, identifier: str, code: str, next_path: str = "/") -> httpx.Response:
    token = form_token(await browser.get("/signin"))
    return await browser.post("/signin/code", data={"csrf_token": token, "identifier": identifier, "code": code, "next": next_path})


def last_code(providers: Providers, user: TestUser) -> str:
    bodies = [message.param("Body") or "" for message in providers.twilio.messages if message.param("To") == user.phone]
    found = re.search(r"\b(\d{6})\b", bodies[-1])
    assert found is not None
    return found.group(1)


async def signed_in_as(user: TestUser, providers: Providers, browser: httpx.AsyncClient) -> httpx.Response:
    await ask_for_code(browser, user.phone)
    return await enter_code(browser, user.phone, last_code(providers, user))


async def test_the_session_cookie_is_httponly_samesite_lax_and_secure(ctx, browser, providers):
    user = await new_user(ctx)
    answer = await signed_in_as(user, providers, browser)
    assert answer.status_code == 303
    cookie = next(value for name, value in answer.headers.multi_items() if name == "set-cookie" and value.startswith(SESSION_COOKIE))
    assert {"HttpOnly", "SameSite=lax", "Secure"} <= {part.strip() for part in cookie.split(";")}


async def test_a_code_works_once(ctx, browser, providers):
    user = await new_user(ctx)
    await ask_for_code(browser, user.phone)
    code = last_code(providers, user)
    assert (await enter_code(browser, user.phone, code)).status_code == 303
    browser.cookies.clear()
    assert (await enter_code(browser, user.phone, code)).status_code == 400


async def test_a_code_expires_after_ten_minutes(ctx, browser, providers, app):
    user = await new_user(ctx)
    await ask_for_code(browser, user.phone)
    started = ctx.services.clock()
    app.state.ctx.services.clock = lambda: started + timedelta(minutes=10, seconds=1)
    assert (await enter_code(browser, user.phone, last_code(providers, user))).status_code == 400


async def test_a_new_code_ends_the_earlier_one(ctx, browser, providers):
    user = await new_user(ctx)
    await ask_for_code(browser, user.phone)
    first = last_code(providers, user)
    await ask_for_code(browser, user.phone)
    if last_code(providers, user) != first:
        assert (await enter_code(browser, user.phone, first)).status_code == 400


async def test_a_sixth_code_within_a_quarter_hour_is_refused_and_not_sent(ctx, browser, providers):
    user = await new_user(ctx)
    for _ in range(5):
        assert (await ask_for_code(browser, user.phone)).status_code == 200
    refused = await ask_for_code(browser, user.phone)
    assert refused.status_code == 429
    assert len([m for m in providers.twilio.messages if m.param("To") == user.phone]) == 5


async def test_the_database_holds_no_code_in_clear(ctx, browser, providers):
    user = await new_user(ctx)
    await ask_for_code(browser, user.phone)
    code = last_code(providers, user)
    async with ctx.sessions() as session:
        [row] = (await session.execute(select(SigninCode).where(SigninCode.user_id == user.id))).scalars()
    assert code not in row.code_hash and len(row.code_hash) == 64


async def test_a_sign_in_form_posted_from_another_site_is_refused(ctx, browser, providers):
    """Login CSRF: the attacker's page posts its own code (or token) without our form's nonce cookie."""
    user = await new_user(ctx)
    attacker = await new_user(ctx)
    forged = await browser.post("/signin/token", data={"csrf_token": "x" * 64, "token": attacker.token})
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    assert (await browser.post("/signin", data={"identifier": user.phone})).status_code == 403
    assert [m for m in providers.twilio.messages if m.param("To") == user.phone] == []


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
async def test_after_sign_in_the_browser_never_leaves_the_site(ctx, browser, providers, target):
    user = await new_user(ctx)
    await ask_for_code(browser, user.phone)
    answer = await enter_code(browser, user.phone, last_code(providers, user), next_path=target)
    assert answer.headers["location"] == "/"


async def test_a_cookie_authenticated_api_change_needs_the_csrf_token(ctx, browser, providers):
    user = await new_user(ctx)
    await signed_in_as(user, providers, browser)
    assert (await browser.get("/api/me/settings")).status_code == 200
    refused = await browser.put("/api/me/settings", json={"agent_actions_enabled": False})
    assert refused.status_code == 403
    async with ctx.sessions() as session:
        csrf = (await session.execute(select(WebSession.csrf_token).where(WebSession.user_id == user.id))).scalar_one()
    accepted = await browser.put("/api/me/settings", json={"agent_actions_enabled": False}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200


async def test_a_revoked_api_token_signs_no_browser_in(ctx, browser):
    user = await new_user(ctx)
    async with ctx.sessions() as session:
        [token] = await accounts.list_tokens(session, user.id)
        await accounts.revoke_token(session, user.id, token.id, ctx.services.clock())
        await session.commit()
    nonce_page = await browser.get("/signin")
    answer = await browser.post("/signin/token", data={"csrf_token": form_token(nonce_page), "token": user.token})
    assert answer.status_code == 400
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


async def test_a_session_ends_after_thirty_days(ctx, browser, providers, app):
    user = await new_user(ctx)
    await signed_in_as(user, providers, browser)
    assert (await browser.get("/account")).status_code == 200
    started = ctx.services.clock()
    app.state.ctx.services.clock = lambda: started + timedelta(days=30, seconds=1)
    assert (await browser.get("/account")).headers["location"] == "/signin?next=/account"


async def test_an_unknown_identifier_is_answered_like_a_known_one(ctx, browser, providers):
    user = await new_user(ctx)
    known = await ask_for_code(browser, user.phone)
    unknown = await ask_for_code(browser, "+14155550142")
    strip = lambda page: re.sub(r"\+\d+|value=\"[^\"]*\"", "", page.text)  # noqa: E731 - the identifiers differ
    assert (known.status_code, strip(known)) == (unknown.status_code, strip(unknown))
