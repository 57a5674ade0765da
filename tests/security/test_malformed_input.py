"""Malformed input gets a clear 4xx with the JSON error shape, never a 500: deep nesting, a `limit` that is
not a plain number, NUL characters and NaN/Infinity (which PostgreSQL refuses to store), and a Twilio
webhook delivered twice. A refused tool call is still recorded (on both backends)."""

from __future__ import annotations

import re

import httpx
import pytest
from apps import http_client, running_app
from backends import make_settings
from factories import TestUser, history_rows, new_user
from sqlalchemy import func, select
from twilio_requests import signed_form

from db.models import CallSession

AUTH_TOKEN = "twilio-webhook-token"
PUBLIC_URL = "https://coach.example.test"


async def send_json_text(
    client: httpx.AsyncClient, user: TestUser, path: str, text: str, method: str = "POST"
) -> httpx.Response:
    """A body exactly as written (JSON encoders refuse to write NaN, Infinity or 100 000 brackets)."""
    headers = {**user.headers, "Content-Type": "application/json"}
    return await client.request(method, path, content=text.encode(), headers=headers)


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) >= {"code", "message", "recoverable"}


@pytest.mark.parametrize("depth", [40, 100_000])
async def test_a_body_nested_deeper_than_the_bound_is_422(client, app, depth):
    user = await new_user(app.state.ctx)
    nested = "[" * depth + "]" * depth
    response = await send_json_text(client, user, "/api/actions", f'{{"tool": "create_task", "args": {{"title": {nested}}}}}')
    assert_error(response, 422)
    assert "nested deeper" in response.json()["error"]["message"]


async def test_an_integer_too_long_to_convert_is_422(client, app):
    user = await new_user(app.state.ctx)
    response = await send_json_text(client, user, "/api/me/settings", '{"daily_sms_limit": ' + "9" * 5000 + "}", "PUT")
    assert_error(response, 422)


@pytest.mark.parametrize("limit", ["²", "abc", "-1", "0", "5001", "9" * 5000, "", "1.5", " 7"])
async def test_a_history_limit_that_is_not_a_whole_number_from_1_to_5000_is_400(client, app, limit):
    user = await new_user(app.state.ctx)
    response = await client.get("/api/actions/history", headers=user.headers, params={"limit": limit})
    assert_error(response, 400)
    assert response.json()["error"]["details"]["fields"][0]["field"] == "limit"


async def test_a_history_limit_within_bounds_limits_the_rows(client, app):
    user = await new_user(app.state.ctx)
    for title in ("one", "two"):
        await client.post("/api/actions", headers=user.headers, json={"tool": "create_task", "args": {"title": title}})
    response = await client.get("/api/actions/history", headers=user.headers, params={"limit": "1"})
    assert response.status_code == 200 and len(response.json()["history"]) == 1


async def test_a_nul_character_in_a_tool_argument_is_refused_and_the_denial_recorded(client, app):
    user = await new_user(app.state.ctx)
    response = await client.post("/api/actions", headers=user.headers, json={"tool": "create_task", "args": {"title": "a\x00b"}})
    assert_error(response, 422)
    [denied] = await history_rows(app.state.ctx, user_id=user.id)
    assert (denied.status, denied.error_code) == ("denied", "INVALID_ARGUMENT")
    assert denied.payload["truncated"] is True and "\\u0000" in denied.payload["preview"]


@pytest.mark.parametrize(
    "body",
    [
        '{"tool": "create_task", "args": {"title": "Run"}, "confidence": NaN}',
        '{"tool": "create_task", "args": {"title": "Run", "confidence": Infinity}}',
        '{"tool": "update_goal_progress", "args": {"goal_name": "Run", "progress": -Infinity}}',
        '{"tool": "create_task", "args": {"title": "Run", "extra": [NaN]}}',
    ],
)
async def test_nan_or_infinity_in_a_tool_call_is_refused_and_the_denial_recorded(client, app, body):
    user = await new_user(app.state.ctx)
    response = await send_json_text(client, user, "/api/actions", body)
    assert_error(response, 422)
    [denied] = await history_rows(app.state.ctx, user_id=user.id)
    assert (denied.status, denied.error_code) == ("denied", "INVALID_ARGUMENT")
    assert denied.confidence is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/me/settings", '{"confidence_threshold": NaN}'),
        ("PUT", "/api/me/settings", '{"timezone": "Europe/London\\u0000"}'),
        ("POST", "/api/chat", '{"message": "hello\\u0000"}'),
        ("POST", "/api/actions/history-entry/feedback", '{"comment": "\\u0000"}'),
    ],
)
async def test_nul_or_nan_in_any_other_body_is_422(client, app, method, path, body):
    user = await new_user(app.state.ctx)
    assert_error(await send_json_text(client, user, path, body, method), 422)


@pytest.mark.parametrize("path", ["/api/actions/history?q=%00", "/api/actions/history?status=a%00", "/api/actions/%00/feedback"])
async def test_a_nul_character_in_the_url_is_400(client, app, path):
    user = await new_user(app.state.ctx)
    method = "POST" if path.endswith("feedback") else "GET"
    assert_error(await client.request(method, path, headers=user.headers, json={}), 400)


# --- a Twilio webhook delivered again ------------------------------------------------------------


@pytest.fixture
async def twilio_app(backend):
    settings = make_settings(backend, TWILIO_AUTH_TOKEN=AUTH_TOKEN, PUBLIC_URL=PUBLIC_URL)
    async with running_app(settings) as app, http_client(app) as client:
        yield app, client


async def post_call(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    body, headers = signed_form(AUTH_TOKEN, PUBLIC_URL + "/twilio/voice", params)
    return await client.post("/twilio/voice", content=body, headers=headers)


async def test_a_replayed_signed_inbound_call_gets_the_same_answer_and_one_call_session(twilio_app):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    params = {"CallSid": "CA-replayed", "From": user.phone, "To": "+14155550199"}
    first, again = await post_call(client, params), await post_call(client, params)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.text == first.text and re.search(r'<Parameter name="token"', first.text)
    async with app.state.ctx.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(CallSession).where(CallSession.call_sid == "CA-replayed"))
    assert count == 1


async def test_a_call_sid_already_taken_by_another_caller_is_hung_up_without_a_stream(twilio_app):
    app, client = twilio_app
    first, second = await new_user(app.state.ctx), await new_user(app.state.ctx)
    await post_call(client, {"CallSid": "CA-taken", "From": first.phone})
    response = await post_call(client, {"CallSid": "CA-taken", "From": second.phone})
    assert response.status_code == 200
    assert "<Hangup" in response.text and "<Stream" not in response.text


async def test_an_unpaired_surrogate_in_a_tool_argument_is_refused_and_the_denial_recorded(client, app):
    user = await new_user(app.state.ctx)
    body = '{"tool": "create_task", "args": {"title": "Run \\ud800"}, "confidence": 0.9}'
    assert_error(await send_json_text(client, user, "/api/actions", body), 422)
    [denied] = await history_rows(app.state.ctx, user_id=user.id)
    assert (denied.status, denied.error_code) == ("denied", "INVALID_ARGUMENT")


async def test_an_unpaired_surrogate_in_any_other_body_is_422(client, app):
    user = await new_user(app.state.ctx)
    assert_error(await send_json_text(client, user, "/api/chat", '{"message": "hello \\udc00"}'), 422)
