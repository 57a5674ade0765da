"""The attacker without credentials: every route of the real app, read from its route table, refuses them.

API routes answer 401 unless this module names them as public (with the reason) or as Twilio webhooks,
which are authenticated by X-Twilio-Signature instead and answer 403, changing nothing. Every other route is
a page: it knows only the session cookie (never a bearer token) and sends a signed-out visitor to /signin. Websockets refuse
in their own way: `/ws/voice` at the handshake, `/twilio/media` with close code 1008 before the model is
dialled. A route added without authentication fails `test_every_other_http_route_is_401_...`; a new
websocket fails until its refusal is tested here. Both backends (SQLite; PostgreSQL + Redis).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from app_routes import Endpoint, app_endpoints
from apps import http_client, running_app
from backends import Backend, make_settings
from factories import new_user
from phone import inbound_call_twiml, media_caller, stream_of
from sqlalchemy import func, select
from twilio_requests import signature, signed_form
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from worlds import VoiceWorld, voice_world

from db import calls
from db.models import CallSession, ConsentRecord
from server.config import Settings
from server.context import AppContext
from tools.channels.stream_token import issue_stream_token

AUTH_TOKEN = "twilio-webhook-token"
PUBLIC_URL = "https://coach.example.test"
POLICY_VIOLATION = 1008

# Reachable without an API token, each for the reason given. Keep this small: every entry is a way in.
PUBLIC = {
    "GET /healthz": "liveness probe: says ok, nothing else",
    "GET /readyz": "readiness probe: which backing services answer, no data",
    "GET /metrics": "Prometheus scrape: process counters, no user data",
    "* /web": "the browser page's static files",
    "* /static": "the pages' stylesheet and vendored scripts",
    "GET /signin": "the sign-in form",
    "POST /signin": "asks for a code: answers the same whether or not the identifier is anyone's (test_signin.py)",
    "POST /signin/code": "a code, limited in attempts (test_signin.py)",
    "POST /signin/token": "an API token, checked as the API checks it",
    "POST /signout": "ends the cookie's session, if any (CSRF-checked when there is one)",
    "GET /oauth/google/callback": "Google's redirect: the single-use signed state says whose connection it is",
    "GET /calendar/{secret}.ics": "the feed's unguessable path is the credential (see test_ownership.py)",
    "GET /openapi.json": "the API's description (paths and shapes), the same for everyone; no data",
}
# Authenticated by X-Twilio-Signature over PUBLIC_URL instead of a token.
TWILIO_SIGNED = {"POST /twilio/voice", "POST /twilio/status", "POST /twilio/sms", "POST /twilio/outbound"}
# A websocket cannot answer 401 with a JSON body; each one's refusal has its own tests below.
WEBSOCKETS = {
    "WS /ws/voice": "the API token in the query string, checked before the handshake is accepted",
    "WS /twilio/media": "the signed stream token in the start frame, checked before the model is dialled",
}
# The API surface as DESIGN.md section 5 names it: the route table must still hold all of it.
KNOWN_API = {
    "GET /api/me/settings", "PUT /api/me/settings", "GET /api/teams/{team_id}/settings",
    "PUT /api/teams/{team_id}/settings", "POST /api/actions", "GET /api/actions/pending",
    "POST /api/actions/pending/{action_id}/confirm", "POST /api/actions/pending/{action_id}/cancel",
    "GET /api/actions/history", "POST /api/actions/{history_id}/feedback", "POST /api/chat",
    "GET /api/admin/teams/{team_id}/activity", "GET /api/admin/teams/{team_id}/traces",
    "GET /api/admin/teams/{team_id}/feedback",
}
CREDENTIALS = {
    "none": {},
    "garbage bearer": {"Authorization": "Bearer vc_" + "0" * 40},
    "empty bearer": {"Authorization": "Bearer "},
    "other scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
}


@pytest.fixture
def settings(backend: Backend) -> Settings:
    """Overrides conftest's `settings`: Twilio webhooks are checked against AUTH_TOKEN."""
    return make_settings(backend, TWILIO_AUTH_TOKEN=AUTH_TOKEN, PUBLIC_URL=PUBLIC_URL)


@pytest.fixture
def ctx(app) -> AppContext:
    return app.state.ctx


@pytest.fixture
async def world(backend: Backend, tmp_path: Path) -> AsyncIterator[VoiceWorld]:
    """The server on real sockets (websockets need them), with the Gemini Live fake it would dial."""
    async with voice_world(backend, tmp_path) as running:
        yield running


def keys(kind: str | None = None) -> set[str]:
    return {endpoint.key for endpoint in app_endpoints() if kind is None or endpoint.kind == kind}


def error_of(response: httpx.Response) -> str | None:
    """The error code of a JSON error answer; None for any other answer (a page, a list, an empty body)."""
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def bearer_routes() -> list[Endpoint]:
    exempt = PUBLIC.keys() | TWILIO_SIGNED
    return [
        endpoint for endpoint in app_endpoints()
        if endpoint.kind == "http" and endpoint.key not in exempt and endpoint.path.startswith("/api/")
    ]


def page_routes() -> list[Endpoint]:
    exempt = PUBLIC.keys() | TWILIO_SIGNED
    return [
        endpoint for endpoint in app_endpoints()
        if endpoint.kind == "http" and endpoint.key not in exempt and not endpoint.path.startswith("/api/")
    ]


# --- the route table ---------------------------------------------------------------------------


def test_the_route_table_holds_every_api_route_the_contract_names() -> None:
    assert KNOWN_API <= keys("http"), f"missing from the app: {sorted(KNOWN_API - keys('http'))}"


def test_every_exemption_names_a_route_that_exists() -> None:
    listed = PUBLIC.keys() | TWILIO_SIGNED | WEBSOCKETS.keys()
    assert listed <= keys(), f"exempt but no longer routed (remove them): {sorted(listed - keys())}"


def test_every_websocket_route_has_its_refusal_tested_here() -> None:
    untested = keys("websocket") - WEBSOCKETS.keys()
    assert not untested, f"websocket routes whose refusal of bad credentials nobody tests: {sorted(untested)}"


@pytest.mark.parametrize("credentials", CREDENTIALS)
async def test_every_other_http_route_is_401_with_no_or_bad_credentials(client, credentials):
    routes = bearer_routes()
    assert {endpoint.key for endpoint in routes} >= KNOWN_API
    answers = {}
    for endpoint in routes:
        response = await client.request(endpoint.method, endpoint.url(), headers=CREDENTIALS[credentials], json={})
        answers[endpoint.key] = (response.status_code, error_of(response))
    assert answers == {endpoint.key: (401, "UNAUTHENTICATED") for endpoint in routes}


@pytest.mark.parametrize("credentials", CREDENTIALS)
async def test_every_page_sends_a_visitor_without_a_session_to_sign_in(client, credentials):
    routes = page_routes()
    assert "GET /" in {endpoint.key for endpoint in routes}
    answers = {}
    for endpoint in routes:
        response = await client.request(endpoint.method, endpoint.url(), headers=CREDENTIALS[credentials])
        answers[endpoint.key] = (response.status_code, response.headers.get("location", "").split("?")[0])
    assert answers == {endpoint.key: (303, "/signin") for endpoint in routes}


async def test_a_forged_session_cookie_is_no_session(client):
    client.cookies.set("coach_session", "not-a-session." + "0" * 64)
    response = await client.get("/account")
    assert (response.status_code, response.headers["location"]) == (303, "/signin?next=/account")


# --- Twilio webhooks ----------------------------------------------------------------------------

FORGERIES = ["unsigned", "signed with another auth token", "signed for another webhook", "parameters changed"]
# Where a genuine signature for one webhook is replayed by "signed for another webhook".
REPLAYED_FROM = {"/twilio/voice": "/twilio/status", "/twilio/status": "/twilio/voice", "/twilio/sms": "/twilio/voice"}


def forged(path: str, params: dict[str, str], forgery: str) -> tuple[bytes, dict[str, str]]:
    """A webhook body and headers as an attacker without our Twilio auth token can make them."""
    if forgery == "unsigned":
        return urlencode(params).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    if forgery == "signed with another auth token":
        return signed_form("a-guessed-token", PUBLIC_URL + path, params)
    if forgery == "signed for another webhook":
        return signed_form(AUTH_TOKEN, PUBLIC_URL + REPLAYED_FROM[path], params)
    _, headers = signed_form(AUTH_TOKEN, PUBLIC_URL + path, {**params, "From": "+14155550100"})
    return urlencode(params).encode(), headers  # a genuine signature over another caller's number


async def post_forged(client: httpx.AsyncClient, path: str, params: dict[str, str], forgery: str) -> httpx.Response:
    body, headers = forged(path, params, forgery)
    return await client.post(path, content=body, headers=headers)


async def call_rows(ctx: AppContext, user_id: str) -> list[CallSession]:
    async with ctx.sessions() as session:
        return list((await session.scalars(select(CallSession).where(CallSession.user_id == user_id))).all())


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_inbound_call_webhook_is_403_and_opens_no_call(client, ctx, forgery):
    user = await new_user(ctx)
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": user.phone}
    response = await post_forged(client, "/twilio/voice", params, forgery)
    assert (response.status_code, error_of(response)) == (403, "PERMISSION_DENIED")
    assert await call_rows(ctx, user.id) == []


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_status_callback_is_403_and_leaves_the_call_as_it_was(client, ctx, forgery):
    user = await new_user(ctx)
    call_sid = "CA" + uuid.uuid4().hex
    async with ctx.sessions() as session:
        await calls.start_call(
            session, user_id=user.id, direction="outbound", purpose="goal_checkin", call_sid=call_sid
        )
        await session.commit()
    params = {"CallSid": call_sid, "CallStatus": "completed", "AnsweredBy": "machine_start", "From": user.phone}
    response = await post_forged(client, "/twilio/status", params, forgery)
    assert (response.status_code, error_of(response)) == (403, "PERMISSION_DENIED")
    [call] = await call_rows(ctx, user.id)
    assert (call.status, call.answered_by) == ("in-progress", None)


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_sms_webhook_is_403_and_changes_no_consent(client, ctx, forgery):
    user = await new_user(ctx)
    response = await post_forged(client, "/twilio/sms", {"From": user.phone, "Body": "STOP"}, forgery)
    assert (response.status_code, error_of(response)) == (403, "PERMISSION_DENIED")
    async with ctx.sessions() as session:
        assert await session.scalar(select(func.count()).where(ConsentRecord.address == user.phone)) == 0


async def test_a_server_without_a_twilio_auth_token_refuses_every_webhook(backend):
    settings = make_settings(backend, PUBLIC_URL=PUBLIC_URL)  # no TWILIO_AUTH_TOKEN
    async with running_app(settings) as application, http_client(application) as client:
        user = await new_user(application.state.ctx)
        answers = {}
        for path in REPLAYED_FROM:
            body, headers = signed_form("", PUBLIC_URL + path, {"CallSid": "CA1", "From": user.phone, "Body": "STOP"})
            answers[path] = (await client.post(path, content=body, headers=headers)).status_code
        assert answers == dict.fromkeys(REPLAYED_FROM, 403)
        assert await call_rows(application.state.ctx, user.id) == []


# --- websockets ---------------------------------------------------------------------------------


async def call_count(ctx: AppContext) -> int:
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(CallSession)) or 0


@pytest.mark.parametrize("query", ["", "?token=", "?token=vc_not-a-real-token"])
async def test_the_browser_voice_socket_without_a_valid_token_is_refused_at_the_handshake(world, query):
    calls_before = await call_count(world.data)
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{world.ws_base}/ws/voice{query}", proxy=None)
    assert refused.value.response.status_code == 403
    assert await call_count(world.data) == calls_before
    assert world.gemini.live.connections == []


def _tampered(token: str, user_id: str) -> str:
    """The genuine token's payload rewritten to another user, its signature kept."""
    payload, signed = token.split(".")
    grant = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    rewritten = base64.urlsafe_b64encode(json.dumps({**grant, "user_id": user_id}).encode()).rstrip(b"=").decode()
    return f"{rewritten}.{signed}"


def bad_stream_token(world: VoiceWorld, kind: str, genuine: str, call_sid: str, victim_id: str) -> dict[str, str]:
    """The stream's custom parameters with a token that must not open the stream (`genuine` is the one the
    webhook issued for this call; the attacker wants the call to run as `victim_id`)."""
    grant = {"user_id": victim_id, "call_session_id": uuid.uuid4().hex, "purpose": "conversation", "call_sid": call_sid}
    tokens = {
        "missing": None,
        "garbage": "not-a-token",
        "forged": issue_stream_token("someone-else's-key", **grant),
        "expired": issue_stream_token(world.settings.COACH_SECRET_KEY, ttl_s=-1, **grant),
        "tampered": _tampered(genuine, victim_id),
    }
    return {} if tokens[kind] is None else {"token": tokens[kind]}


@pytest.mark.parametrize("kind", ["missing", "garbage", "forged", "expired", "tampered"])
async def test_a_media_stream_without_a_valid_token_is_closed_with_1008_before_the_model_is_dialled(world, kind):
    caller_user, victim = await new_user(world.data), await new_user(world.data)
    call_sid = "CA" + uuid.uuid4().hex
    stream = stream_of(await inbound_call_twiml(world, caller_user.phone, call_sid))
    parameters = bad_stream_token(world, kind, stream.parameters["token"], call_sid, victim.id)
    async with media_caller(world, type(stream)(stream.url, parameters), call_sid) as caller:
        assert await caller.wait_closed(5) == POLICY_VIOLATION
    assert world.gemini.live.connections == []


async def test_a_media_stream_with_a_forged_twilio_signature_is_refused_at_the_handshake(world):
    user = await new_user(world.data)
    call_sid = "CA" + uuid.uuid4().hex
    stream = stream_of(await inbound_call_twiml(world, user.phone, call_sid))
    caller = media_caller(world, stream, call_sid)
    caller.headers["X-Twilio-Signature"] = signature("a-guessed-token", stream.url)
    with pytest.raises(InvalidStatus) as refused:
        await caller.connect()
    assert refused.value.response.status_code == 403
    assert world.gemini.live.connections == []
