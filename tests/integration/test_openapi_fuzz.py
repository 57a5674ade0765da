"""schemathesis against the real server (uvicorn, real sockets, the provider fakes), driven by /openapi.json:
every operation, a bounded number of generated requests each, as a signed-up person with a bearer token.

No answer may be a server error (`not_a_server_error`), and every answer must be one the document describes
(its status, and its body's schema): the document is checked against the server, not only the other way.
A generated request whose path names an id is sent twice: as generated (an unknown id), and with the id of a
row the person owns, so the handlers behind the 404 run too.

PostgreSQL + Redis only: it refuses more than SQLite does (NUL in text, integers out of range, stricter
types), so it is the backend that finds server errors, and running both would double the slowest test here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from action_requests import propose
from backends import Backend
from factories import DAYTIME, TestUser, new_team, new_user
from fakes.gemini_text import text_response
from hypothesis import HealthCheck, Phase
from providers import running_google
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from worlds import VoiceWorld, voice_world

from db.models import ActionSequence, AgentActionHistory, Conversation, Reminder

EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
async def world(backend: Backend, tmp_path: Path) -> Any:
    """The server with every provider faked, Google Calendar included, and a chat model that always answers: no
    answer is a 503 for want of a provider."""
    with running_google() as google:
        async with voice_world(backend, tmp_path, **google.settings()) as running:
            running.gemini.text.set_handler(lambda body: text_response("Noted."))
            yield running


async def owned_ids(world: VoiceWorld, user: TestUser, team_id: str) -> dict[str, str]:
    """One row of each kind the id routes take, owned by `user` (through the API where it makes them at once)."""
    http, headers = world.http, user.headers
    made = {
        "habit_id": (await http.post("/api/habits", headers=headers, json={"name": "Run"})).json()["id"],
        "goal_id": (await http.post("/api/goals", headers=headers, json={"title": "10k"})).json()["id"],
        "task_id": (await http.post("/api/tasks", headers=headers, json={"title": "Shoes"})).json()["id"],
        "contact_id": (await http.post("/api/contacts", headers=headers,
                                       json={"name": "Pat", "email": "pat@example.org"})).json()["id"],
        "token_id": (await http.post("/api/me/tokens", headers=headers, json={"name": "spare"})).json()["id"],
        "action_id": await propose(http, user),
        "team_id": team_id,
    }
    assert (await http.post("/api/chat", headers=headers, json={"message": "Hello"})).status_code == 200  # a conversation
    async with world.data.sessions() as session:
        sequence = ActionSequence(user_id=user.id, name="Morning", trigger="manual", steps=[])
        reminder = Reminder(user_id=user.id, message="Stretch", remind_at=DAYTIME + timedelta(days=1))
        session.add_all([sequence, reminder])
        await session.commit()
        made["sequence_id"], made["reminder_id"] = sequence.id, reminder.id
        made["session_id"] = await session.scalar(select(Conversation.id).where(Conversation.user_id == user.id))
        made["history_id"] = await session.scalar(
            select(AgentActionHistory.id).where(AgentActionHistory.user_id == user.id).limit(1)
        )
    return made


def fuzz(base_url: str, headers: dict[str, str], ids: dict[str, str]) -> list[str]:
    """Run every operation of the server's document; one line per (operation, failure kind) found."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    found: dict[str, str] = {}

    def send(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as failure:  # a Failure, or a FailureGroup of them
            for each in getattr(failure, "exceptions", [failure]):
                key = f"{case.operation.label}: {type(each).__name__}"
                found.setdefault(key, f"{key}: {each}\n  {case.as_curl_command(headers=headers)}")

    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
            phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            send(case)
            if case.path_parameters:
                send(operation.Case(
                    path_parameters={name: ids[name] for name in case.path_parameters}, query=case.query,
                    body=case.body, media_type=case.media_type,
                ))

        run()
    return list(found.values())


async def test_schemathesis_finds_no_server_error_and_every_answer_is_documented(world: VoiceWorld) -> None:
    team_id = await new_team(world.data)
    user = await new_user(world.data, team_id=team_id, role="admin")
    ids = await owned_ids(world, user, team_id)
    problems = await asyncio.to_thread(fuzz, world.base_url, user.headers, ids)
    assert problems == [], "\n".join(problems)
