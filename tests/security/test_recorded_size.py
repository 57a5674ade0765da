"""The most one request can make the server store. A body over the API's bound is refused before it is read
and writes nothing; a tool call over a tool's limits is refused (422) and recorded, but what is recorded of it
is bounded: every history and trace row it writes is under 64 KB, and a large refused payload is kept as its
size, its SHA-256 digest and a preview (both backends)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from action_requests import act, confirm
from factories import TestUser, history_rows, new_user
from sqlalchemy import select

from db.engine import json_text
from db.models import AgentActionHistory, AgentExecutionTrace, PendingAgentAction
from server.context import AppContext
from tools.catalogue import PENDING_TOOLS, TOOL_ARGS
from tools.payloads import ARGUMENTS_MAX_BYTES

ROW_BOUND = 64 * 1024
# A valid call of each tool with string arguments; each test below makes one of its strings too long.
VALID_ARGS: dict[str, dict[str, Any]] = {
    "create_task": {"title": "Stretch", "description": "", "due_date": None},
    "schedule_reminder": {"message": "Stretch", "remind_at": "2026-11-25T09:00", "timezone": "UTC", "recurrence": "FREQ=DAILY"},
    "mark_habit_complete": {"habit_id": "h1", "habit_name": "Run"},
    "update_goal_progress": {"goal_id": "g1", "goal_name": "Run", "progress": 10, "note": ""},
    "create_calendar_event": {"title": "Run", "start_time": "2026-12-01T10:00", "description": "", "location": ""},
    "check_calendar_availability": {"date": "2026-12-01", "time_range_start": "09:00"},
    "send_sms": {"message": "Run"},
    "send_email": {"subject": "Run", "body": "Run"},
    "make_voice_call": {"call_type": "custom", "message": "Run"},
    "send_email_to_contact": {"to_email": "pat@example.org", "subject": "Run", "body": "Run", "from_name": "Ann"},
    "create_action_sequence": {"name": "Run", "trigger": "time", "start_at": "2026-12-01T10:00",
                               "actions": [{"tool": "send_sms", "args": {"message": "Run"}}]},
}


def string_arguments() -> list[tuple[str, str]]:
    """(tool, argument) for every string argument of the catalogue's actions (confirming or cancelling a
    pending action records nothing: its id is only looked up)."""
    return [
        (tool, name)
        for tool, model in TOOL_ARGS.items() if tool not in PENDING_TOOLS
        for name, field in model.model_fields.items() if field.annotation in (str, str | None)
    ]


def max_length(tool: str, argument: str) -> int | None:
    metadata = TOOL_ARGS[tool].model_fields[argument].metadata
    return next((constraint.max_length for constraint in metadata if getattr(constraint, "max_length", None)), None)


def stored_size(row: Any) -> int:
    """Bytes of a row's values as the database holds them (JSON columns as their JSON text)."""
    return sum(
        len((json_text(value) if isinstance(value, (dict, list)) else str(value)).encode())
        for value in row if value is not None
    )


async def largest_row(ctx: AppContext, user: TestUser) -> int:
    async with ctx.sessions() as session:
        rows = [
            *(await session.execute(select(AgentActionHistory.__table__).where(AgentActionHistory.user_id == user.id))),
            *(await session.execute(select(AgentExecutionTrace.__table__).where(AgentExecutionTrace.user_id == user.id))),
            *(await session.execute(select(PendingAgentAction.__table__).where(PendingAgentAction.user_id == user.id))),
        ]
    assert rows, "the call was not recorded"
    return max(stored_size(row) for row in rows)


async def test_a_50_mb_tool_argument_is_refused_with_413_and_writes_nothing(client, app):
    user = await new_user(app.state.ctx)
    body = b'{"tool": "send_sms", "args": {"message": "' + b"x" * (50 * 1024 * 1024) + b'"}}'
    response = await client.post("/api/actions", headers={**user.headers, "Content-Type": "application/json"}, content=body)
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await history_rows(app.state.ctx, user_id=user.id) == []


@pytest.mark.parametrize(("tool", "argument"), string_arguments())
async def test_a_string_argument_just_over_its_tools_limit_is_422_and_recorded_in_rows_under_64_kb(client, app, tool, argument):
    limit = max_length(tool, argument)
    assert limit is not None, f"{tool}.{argument} has no max_length"
    user = await new_user(app.state.ctx)
    response = await act(client, user, tool, {**VALID_ARGS[tool], argument: "x" * (limit + 1)})
    assert response.status_code == 422, response.text
    assert f"{argument}: String should have at most {limit} characters" in response.json()["error"]["message"]
    assert await largest_row(app.state.ctx, user) < ROW_BOUND


@pytest.mark.parametrize("character", ["x", "é", "水", "😀"])
async def test_the_largest_valid_call_writes_rows_under_64_kb_in_any_script(client, app, character):
    user = await new_user(app.state.ctx)
    most = max_length("send_email", "body") or ARGUMENTS_MAX_BYTES
    body = character * min(most, (ARGUMENTS_MAX_BYTES - 100) // len(character.encode()))
    proposed = await act(client, user, "send_email", {"subject": "Run", "body": body})
    assert proposed.json()["needs_confirmation"], proposed.text
    assert (await confirm(client, user, proposed.json()["pending_action_id"])).status_code in (200, 503)
    assert {row.status for row in await history_rows(app.state.ctx, user_id=user.id)} >= {"proposed", "confirmed"}
    assert await largest_row(app.state.ctx, user) < ROW_BOUND


async def test_arguments_over_the_stored_size_bound_are_refused_with_their_size(client, app):
    user = await new_user(app.state.ctx)
    response = await act(client, user, "send_email", {"subject": "Run", "body": "😀" * 9000})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["limit_bytes"] == ARGUMENTS_MAX_BYTES
    assert await largest_row(app.state.ctx, user) < ROW_BOUND


async def test_steps_of_a_sequence_together_over_the_limit_are_422_and_recorded_in_rows_under_64_kb(client, app):
    user = await new_user(app.state.ctx)
    step = {"tool": "send_email", "args": {"subject": "Run", "body": "x" * 20000}}
    response = await act(client, user, "create_action_sequence", {**VALID_ARGS["create_action_sequence"], "actions": [step] * 20})
    assert response.status_code == 422, response.text
    assert await largest_row(app.state.ctx, user) < ROW_BOUND


async def test_the_largest_refused_call_the_api_admits_is_recorded_as_its_size_digest_and_a_preview(client, app):
    user = await new_user(app.state.ctx)
    args = {"message": "x" * (1024 * 1024 - 100)}  # just under the API's body bound
    response = await act(client, user, "send_sms", args)
    assert response.status_code == 422, response.text
    [denied] = await history_rows(app.state.ctx, user_id=user.id)
    text = json.dumps(args, sort_keys=True).encode()
    assert denied.payload["truncated"] is True
    assert (denied.payload["size_bytes"], denied.payload["sha256"]) == (len(text), hashlib.sha256(text).hexdigest())
    assert denied.payload["preview"] == text.decode()[: len(denied.payload["preview"])]
    largest = await largest_row(app.state.ctx, user)
    print(f"largest row written by a refused {len(text)}-byte call: {largest} bytes")
    assert largest < ROW_BOUND


async def test_many_unknown_arguments_make_a_bounded_error_message(client, app):
    user = await new_user(app.state.ctx)
    response = await act(client, user, "send_sms", {"message": "Run", **{f"k{n}" * 20: n for n in range(5000)}})
    assert response.status_code == 422
    assert len(response.json()["error"]["message"]) < 1000
    assert await largest_row(app.state.ctx, user) < ROW_BOUND
