"""Model usage per turn, through the real server and the Gemini fakes: what a team's admin reads at
`/api/admin/teams/{team_id}/sessions`, `.../sessions/{id}` and `.../usage`, and `/metrics`."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta, timezone

import pytest
import websockets
from audio import silence, tone
from factories import new_team, new_user
from fakes.gemini_live import live_usage
from fakes.gemini_text import function_call_response, text_response, text_usage
from fakes.otlp import FakeOtlpCollector
from fakes.server import running_server
from worlds import ended_call, voice_world

from db.models import new_id
from server.config import DEFAULT_LIVE_MODEL, DEFAULT_TEXT_MODEL
from tools import usage

# Round prices so that the expected cost is plain arithmetic (USD per million tokens).
PRICES = {
    DEFAULT_LIVE_MODEL: {"input": {"default": 1.0, "audio": 10.0}, "output": {"default": 2.0, "audio": 20.0}},
    DEFAULT_TEXT_MODEL: {"input": {"default": 0.5}, "output": {"default": 4.0}},
}
MILLION = 1_000_000


@pytest.fixture
async def world(backend, tmp_path):
    async with voice_world(backend, tmp_path, COACH_MODEL_PRICES=PRICES) as running:
        yield running


async def team_with_admin_and_member(world):
    team = await new_team(world.data)
    admin = await new_user(world.data, team_id=team, role="admin", name="Ada")
    member = await new_user(world.data, team_id=team, name="Max")
    return team, admin, member


async def browser_call(world, member):
    """Open a browser voice conversation; the model's side of it."""
    socket = await websockets.connect(f"{world.ws_base}/ws/voice?token={member.token}", proxy=None)
    connection = await world.gemini.live.wait_for_connection(0)
    await connection.wait_for(lambda c: c.client_contents or None)
    await socket.send(silence(100, 16000))
    return socket, connection


def audio_message(usage_metadata: dict) -> dict:
    data = base64.b64encode(tone(40, 24000)).decode()
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
    return {"serverContent": {"modelTurn": {"parts": [part]}}, "usageMetadata": usage_metadata}


async def session_list(world, team, admin) -> list[dict]:
    response = await world.http.get(f"/api/admin/teams/{team}/sessions", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["sessions"]


async def session_steps(world, team, admin, session_id) -> dict:
    response = await world.http.get(f"/api/admin/teams/{team}/sessions/{session_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_call_shows_each_turns_reported_tokens_and_the_configured_cost(world):
    team, admin, member = await team_with_admin_and_member(world)
    socket, connection = await browser_call(world, member)
    await connection.send_audio(tone(80, 24000))
    await connection.send_turn_complete(live_usage({"TEXT": 300, "AUDIO": 120}, {"AUDIO": 80, "TEXT": 5}))
    await connection.send_audio(tone(80, 24000))
    await connection.send_turn_complete(live_usage({"TEXT": 410, "AUDIO": 60}, {"AUDIO": 40}))
    await asyncio.sleep(0.2)
    await socket.close()
    call = await ended_call(world, member.id)

    [listed] = await session_list(world, team, admin)
    assert (listed["id"], listed["kind"], listed["user_id"]) == (call.id, "browser", member.id)
    assert (listed["turns"], listed["input_tokens"], listed["output_tokens"]) == (2, 890, 125)
    turn_costs = [
        (300 * 1.0 + 120 * 10.0 + 80 * 20.0 + 5 * 2.0) / MILLION,
        (410 * 1.0 + 60 * 10.0 + 40 * 20.0) / MILLION,
    ]
    assert listed["cost_usd"] == pytest.approx(sum(turn_costs))
    steps = (await session_steps(world, team, admin, call.id))["steps"]
    turns = [step for step in steps if step["type"] == "model_turn"]
    assert [(t["model"], t["input_tokens"], t["output_tokens"]) for t in turns] == [
        (DEFAULT_LIVE_MODEL, 420, 85), (DEFAULT_LIVE_MODEL, 470, 40),
    ]
    assert [t["input_tokens_by_modality"] for t in turns] == [{"text": 300, "audio": 120}, {"text": 410, "audio": 60}]
    assert [t["output_tokens_by_modality"] for t in turns] == [{"text": 5, "audio": 80}, {"audio": 40}]
    assert [t["cost_usd"] for t in turns] == pytest.approx(turn_costs)
    assert all(t["latency_ms"] >= 0 for t in turns)


async def test_a_usage_report_repeated_within_a_turn_is_counted_once(world):
    team, admin, member = await team_with_admin_and_member(world)
    socket, connection = await browser_call(world, member)
    report = live_usage({"TEXT": 200, "AUDIO": 50}, {"AUDIO": 30})
    await connection.send_raw(audio_message(report))
    await connection.send_raw(audio_message(report))
    await connection.send_turn_complete(report)
    await asyncio.sleep(0.2)
    await socket.close()
    call = await ended_call(world, member.id)

    [listed] = await session_list(world, team, admin)
    assert (listed["id"], listed["turns"], listed["input_tokens"], listed["output_tokens"]) == (call.id, 1, 250, 30)


async def test_a_chat_shows_its_turns_tokens_tool_call_and_cost(world):
    team, admin, member = await team_with_admin_and_member(world)
    world.gemini.text.queue_response(function_call_response(
        ("create_task", {"title": "Stretch", "confidence": 0.95}), usage=text_usage({"TEXT": 700}, 20, thoughts=30),
    ))
    world.gemini.text.queue_response(text_response("Added.", usage=text_usage({"TEXT": 760}, 6)))
    reply = await world.http.post("/api/chat", headers=member.headers, json={"message": "add stretching"})
    assert reply.status_code == 200, reply.text

    [listed] = await session_list(world, team, admin)
    assert (listed["kind"], listed["turns"], listed["tool_calls"], listed["errors"]) == ("chat", 2, 1, 0)
    assert (listed["input_tokens"], listed["output_tokens"], listed["thoughts_tokens"]) == (1460, 26, 30)
    assert listed["cost_usd"] == pytest.approx((1460 * 0.5 + (26 + 30) * 4.0) / MILLION)
    steps = (await session_steps(world, team, admin, listed["id"]))["steps"]
    assert [step["type"] for step in steps] == ["model_turn", "tool_call", "model_turn"]
    tool = steps[1]
    assert (tool["tool"], tool["decision"], tool["outcome"]) == ("create_task", "execute", "executed")
    assert tool["latency_ms"] is not None
    assert steps[0]["input_tokens_by_modality"] == {"text": 700}
    assert steps[0]["thoughts_tokens"] == 30


def token_count(metrics: str, model: str, direction: str, modality: str) -> float:
    prefix = f'coach_model_tokens_total{{direction="{direction}",modality="{modality}",model="{model}"}} '
    line = next((line for line in metrics.splitlines() if line.startswith(prefix)), None)
    return float(line[len(prefix):]) if line else 0.0


async def test_metrics_count_the_tokens_by_model_direction_and_modality(world):
    member = await new_user(world.data)
    before = (await world.http.get("/metrics")).text
    world.gemini.text.queue_response(text_response("Hi!", usage=text_usage({"TEXT": 123}, 7)))
    assert (await world.http.post("/api/chat", headers=member.headers, json={"message": "hi"})).status_code == 200
    after = (await world.http.get("/metrics")).text
    for direction, modality, added in (("input", "text", 123), ("output", "text", 7)):
        counted = token_count(after, DEFAULT_TEXT_MODEL, direction, modality)
        assert counted - token_count(before, DEFAULT_TEXT_MODEL, direction, modality) == added


async def recorded_conversation(world, user_id: str, team_ids: tuple[str, ...], model: str, started: datetime,
                                input_tokens: int, output_tokens: int) -> None:
    """A chat conversation with one turn, recorded the way `/api/chat` records it."""
    conversation = usage.ConversationStart(
        new_id(), user_id, "chat", team_ids, started, ended_at=started + timedelta(seconds=2)
    )
    ns = int(started.timestamp() * 1e9)
    reported = usage.TokenUsage(input_tokens, output_tokens)
    turn = usage.Turn(conversation.conversation_id, user_id, model, reported, ns, ns + 500_000_000)
    await usage.record_turns(world.data.services, [turn], conversation)


async def test_usage_groups_the_teams_tokens_and_cost_by_day_member_and_model(world):
    team, admin, member = await team_with_admin_and_member(world)
    other_team = await new_team(world.data)
    outsider = await new_user(world.data, team_id=other_team)
    day1 = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
    day2 = day1 + timedelta(days=1)
    await recorded_conversation(world, member.id, (team,), DEFAULT_TEXT_MODEL, day1, 1000, 100)
    await recorded_conversation(world, member.id, (team,), DEFAULT_LIVE_MODEL, day2, 2000, 200)
    await recorded_conversation(world, admin.id, (team,), DEFAULT_TEXT_MODEL, day2, 3000, 300)
    await recorded_conversation(world, outsider.id, (other_team,), DEFAULT_TEXT_MODEL, day2, 9000, 900)
    text_cost = lambda i, o: (i * 0.5 + o * 4.0) / MILLION  # noqa: E731
    live_cost = (2000 * 1.0 + 200 * 2.0) / MILLION

    async def grouped(group_by: str) -> dict[str, tuple[int, int, float]]:
        query = {"group_by": group_by, "since": "2026-11-01T00:00:00Z", "until": "2026-11-05T00:00:00Z"}
        response = await world.http.get(f"/api/admin/teams/{team}/usage", params=query, headers=admin.headers)
        assert response.status_code == 200, response.text
        return {g["key"]: (g["input_tokens"], g["output_tokens"], g["cost_usd"]) for g in response.json()["groups"]}

    assert await grouped("day") == {
        "2026-11-02": (1000, 100, pytest.approx(text_cost(1000, 100))),
        "2026-11-03": (5000, 500, pytest.approx(live_cost + text_cost(3000, 300))),
    }
    assert await grouped("user") == {
        member.id: (3000, 300, pytest.approx(text_cost(1000, 100) + live_cost)),
        admin.id: (3000, 300, pytest.approx(text_cost(3000, 300))),
    }
    assert await grouped("model") == {
        DEFAULT_TEXT_MODEL: (4000, 400, pytest.approx(text_cost(4000, 400))),
        DEFAULT_LIVE_MODEL: (2000, 200, pytest.approx(live_cost)),
    }


async def test_the_session_list_pages_with_a_cursor(world):
    team, admin, member = await team_with_admin_and_member(world)
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    for minute in range(5):
        await recorded_conversation(world, member.id, (team,), DEFAULT_TEXT_MODEL, start + timedelta(minutes=minute), 10, 1)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await world.http.get(f"/api/admin/teams/{team}/sessions", params=params, headers=admin.headers)).json()
        seen += [s["started_at"] for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)


async def test_a_member_cannot_read_the_teams_usage(world):
    team, _admin, member = await team_with_admin_and_member(world)
    for path in ("sessions", "usage", "sessions/" + "0" * 32):
        response = await world.http.get(f"/api/admin/teams/{team}/{path}", headers=member.headers)
        assert response.status_code == 403


async def test_spans_and_the_token_metric_reach_an_otlp_collector_with_the_genai_names(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # the SDK's own settings: export soon, not in 5 s
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
    collector = FakeOtlpCollector()
    with running_server(collector.app) as collector_url:
        async with voice_world(backend, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=collector_url) as world:
            member = await new_user(world.data)
            world.gemini.text.queue_response(function_call_response(
                ("create_task", {"title": "Stretch", "confidence": 0.95}), usage=text_usage({"TEXT": 700}, 20),
            ))
            world.gemini.text.queue_response(text_response("Added.", usage=text_usage({"TEXT": 760}, 6)))
            assert (await world.http.post("/api/chat", headers=member.headers, json={"message": "x"})).status_code == 200
            await wait_for(lambda: len(collector.spans) >= 3 and "gen_ai.client.token.usage" in collector.metric_names)

    turns = [span for span in collector.spans if span.attributes.get("gen_ai.operation.name") == "chat"]
    assert [span.name for span in turns] == [f"chat {DEFAULT_TEXT_MODEL}"] * 2
    assert [(s.attributes["gen_ai.usage.input_tokens"], s.attributes["gen_ai.usage.output_tokens"]) for s in turns] == [
        (700, 20), (760, 6),
    ]
    assert {s.attributes["gen_ai.request.model"] for s in turns} == {DEFAULT_TEXT_MODEL}
    [tool] = [span for span in collector.spans if span.attributes.get("gen_ai.operation.name") == "execute_tool"]
    assert (tool.name, tool.attributes["gen_ai.tool.name"]) == ("execute_tool create_task", "create_task")
    conversation_ids = {span.attributes["gen_ai.conversation.id"] for span in [*turns, tool]}
    assert len(conversation_ids) == 1


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
