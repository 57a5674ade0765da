"""API tokens can be listed, created (the secret shown once, optional expiry) and revoked (DESIGN section 9).

A revoked or expired token stops working at once, on the API and on the browser's voice websocket; a user
sees and revokes their own tokens only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette

from backends import Backend
from factories import DAYTIME, TestUser, new_user
from fakes.server import running_server_async
from server.app import create_app
from server.config import Settings
from server.context import AppContext

TOKENS = "/api/me/tokens"
SOME_API_ROUTE = "/api/me/settings"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def set_clock(app: Starlette, now: datetime) -> None:
    """Move the app's clock (the `ToolServices.clock` seam) to `now`."""
    app.state.ctx.services.clock = lambda: now


async def create_token(client: httpx.AsyncClient, user: TestUser, **body: Any) -> dict[str, Any]:
    response = await client.post(TOKENS, json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(client: httpx.AsyncClient, secret: str) -> dict[str, dict[str, Any]]:
    response = await client.get(TOKENS, headers=bearer(secret))
    assert response.status_code == 200, response.text
    return {token["id"]: token for token in response.json()["tokens"]}


@pytest.fixture
async def user(app: Starlette) -> TestUser:
    return await new_user(app.state.ctx)


async def test_a_created_token_is_shown_once_and_works(client, user):
    created = await create_token(client, user, name="laptop")
    assert created["token"].startswith("vc_")
    assert created["name"] == "laptop"
    assert created["status"] == "active"
    assert (await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))).status_code == 200


async def test_the_creation_answer_is_not_cached(client, user):
    response = await client.post(TOKENS, json={}, headers=user.headers)
    assert response.headers["cache-control"] == "no-store"


async def test_the_token_list_never_shows_a_secret(client, user):
    created = await create_token(client, user, name="laptop")
    response = await client.get(TOKENS, headers=user.headers)
    assert created["token"] not in response.text
    assert user.token not in response.text
    tokens = response.json()["tokens"]
    assert {token["name"] for token in tokens} == {"default", "laptop"}
    assert all("token" not in token for token in tokens)


async def test_creating_a_token_requires_an_authenticated_caller(client):
    response = await client.post(TOKENS, json={"name": "mine"})
    assert response.status_code == 401


async def test_a_revoked_token_is_refused_at_once(client, user):
    created = await create_token(client, user)
    assert (await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))).status_code == 200
    revoked = await client.delete(f"{TOKENS}/{created['id']}", headers=user.headers)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    response = await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_a_token_may_revoke_itself(client, user):
    own_id = next(iter(await listed(client, user.token)))
    assert (await client.delete(f"{TOKENS}/{own_id}", headers=user.headers)).status_code == 200
    assert (await client.get(SOME_API_ROUTE, headers=user.headers)).status_code == 401


async def test_an_expired_token_is_refused(client, app, user):
    set_clock(app, DAYTIME)
    created = await create_token(client, user, expires_at=(DAYTIME + timedelta(hours=1)).isoformat())
    assert (await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))).status_code == 200
    set_clock(app, DAYTIME + timedelta(hours=1))
    assert (await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))).status_code == 401
    assert (await listed(client, user.token))[created["id"]]["status"] == "expired"


@pytest.mark.parametrize(
    "expires_at",
    [
        (DAYTIME - timedelta(seconds=1)).isoformat(),
        (DAYTIME + timedelta(days=367)).isoformat(),
        "2026-12-24T10:00:00",  # no zone
        "next tuesday",
    ],
    ids=["past", "over-a-year-ahead", "naive", "not-a-time"],
)
async def test_an_unusable_expiry_is_refused_with_422_and_creates_nothing(client, app, user, expires_at):
    set_clock(app, DAYTIME)
    response = await client.post(TOKENS, json={"expires_at": expires_at}, headers=user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"][0]["field"] == "expires_at"
    assert len(await listed(client, user.token)) == 1


async def test_last_used_at_is_set_when_a_token_is_used(client, app, user):
    created = await create_token(client, user)
    assert (await listed(client, user.token))[created["id"]]["last_used_at"] is None
    set_clock(app, DAYTIME)
    await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))
    assert (await listed(client, user.token))[created["id"]]["last_used_at"] == DAYTIME.isoformat()


async def test_last_used_at_is_written_at_most_once_a_minute(client, app, user):
    created = await create_token(client, user)
    for seconds in (0, 59):
        set_clock(app, DAYTIME + timedelta(seconds=seconds))
        await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))
    assert (await listed(client, user.token))[created["id"]]["last_used_at"] == DAYTIME.isoformat()
    set_clock(app, DAYTIME + timedelta(seconds=60))
    await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))
    last_used = (await listed(client, user.token))[created["id"]]["last_used_at"]
    assert last_used == (DAYTIME + timedelta(seconds=60)).isoformat()


async def test_another_users_token_id_answers_like_an_unknown_one(client, app, user):
    other = await new_user(app.state.ctx)
    other_token_id = next(iter(await listed(client, other.token)))
    theirs = await client.delete(f"{TOKENS}/{other_token_id}", headers=user.headers)
    unknown = await client.delete(f"{TOKENS}/{'0' * 32}", headers=user.headers)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()


async def test_a_token_cannot_revoke_another_users_token(client, app, user):
    other = await new_user(app.state.ctx)
    other_token_id = next(iter(await listed(client, other.token)))
    await client.delete(f"{TOKENS}/{other_token_id}", headers=user.headers)
    assert (await client.get(SOME_API_ROUTE, headers=other.headers)).status_code == 200
    assert (await listed(client, other.token))[other_token_id]["revoked_at"] is None


async def test_a_user_lists_only_their_own_tokens(client, app, user):
    other = await new_user(app.state.ctx)
    await create_token(client, other, name="other's laptop")
    assert [token["name"] for token in (await listed(client, user.token)).values()] == ["default"]


async def test_a_token_beyond_twenty_working_ones_is_refused_with_409(client, user):
    for number in range(19):  # the user holds one already
        await create_token(client, user, name=f"token {number}")
    response = await client.post(TOKENS, json={"name": "one too many"}, headers=user.headers)
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"limit": 20}
    assert len(await listed(client, user.token)) == 20


async def test_a_revoked_token_makes_room_for_a_new_one(client, user):
    ids = [(await create_token(client, user, name=f"token {number}"))["id"] for number in range(19)]
    await client.delete(f"{TOKENS}/{ids[0]}", headers=user.headers)
    assert (await client.post(TOKENS, json={"name": "replacement"}, headers=user.headers)).status_code == 201


# --- the browser's voice websocket -------------------------------------------------------------------


@dataclass
class Served:
    """The app behind a real uvicorn server (a refused websocket handshake asks no model), and a context on
    the test's loop for arranging rows (the app's own lives on the server's loop)."""

    app: Starlette
    base_url: str
    data: AppContext


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    application = create_app(settings)
    async with running_server_async(application) as base_url:
        data = AppContext.open(settings)
        try:
            yield Served(application, base_url, data)
        finally:
            await data.close()


async def voice_handshake_status(base_url: str, secret: str) -> int:
    ws_url = "ws://" + base_url.split("://", 1)[1] + f"/ws/voice?token={secret}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(ws_url, proxy=None)
    return refused.value.response.status_code


async def test_the_voice_websocket_refuses_a_revoked_token(served):
    user = await new_user(served.data)
    async with httpx.AsyncClient(base_url=served.base_url, trust_env=False) as http:
        own_id = next(iter(await listed(http, user.token)))
        assert (await http.delete(f"{TOKENS}/{own_id}", headers=user.headers)).status_code == 200
    assert await voice_handshake_status(served.base_url, user.token) == 403


async def test_the_voice_websocket_refuses_an_expired_token(served):
    user = await new_user(served.data)
    set_clock(served.app, DAYTIME)
    async with httpx.AsyncClient(base_url=served.base_url, trust_env=False) as http:
        created = await create_token(http, user, expires_at=(DAYTIME + timedelta(minutes=5)).isoformat())
    set_clock(served.app, DAYTIME + timedelta(minutes=5))
    assert await voice_handshake_status(served.base_url, created["token"]) == 403


# --- the command line -----------------------------------------------------------------------------------


def coach(backend: Backend, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `coach` command on the test's database."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "COACH_SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=cwd,
        env={**env, "DATABASE_URL": backend.database_url, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )


def coach_user(backend: Backend, cwd: Path, name: str) -> dict[str, Any]:
    """A user made by `coach users create` (an address of its own: the database is shared by the session)."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:12]}@example.com"
    return coach_json(backend, cwd, "users", "create", "--name", name, "--email", email)


def coach_json(backend: Backend, cwd: Path, *args: str) -> dict[str, Any]:
    result = coach(backend, cwd, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_the_cli_creates_lists_and_revokes_a_token(backend, tmp_path, client):
    user = coach_user(backend, tmp_path, "Ann")
    created = coach_json(
        backend, tmp_path, "tokens", "create", "--user", user["id"], "--name", "laptop",
        "--expires-at", (datetime.now().astimezone() + timedelta(days=30)).isoformat(),
    )
    assert (await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))).status_code == 200

    listing = coach(backend, tmp_path, "tokens", "list", "--user", user["id"])
    assert created["token"] not in listing.stdout and user["token"] not in listing.stdout
    assert {token["name"] for token in json.loads(listing.stdout)["tokens"]} == {"default", "laptop"}

    revoked = coach_json(backend, tmp_path, "tokens", "revoke", "--user", user["id"], "--id", created["id"])
    assert revoked["status"] == "revoked"
    assert (await client.get(SOME_API_ROUTE, headers=bearer(created["token"]))).status_code == 401
    assert (await client.get(SOME_API_ROUTE, headers=bearer(user["token"]))).status_code == 200


async def test_the_cli_does_not_revoke_another_users_token(backend, tmp_path, client):
    ann = coach_user(backend, tmp_path, "Ann")
    bob = coach_user(backend, tmp_path, "Bob")
    bobs_token_id = coach_json(backend, tmp_path, "tokens", "list", "--user", bob["id"])["tokens"][0]["id"]
    refused = coach(backend, tmp_path, "tokens", "revoke", "--user", ann["id"], "--id", bobs_token_id)
    assert refused.returncode == 2
    assert "no token" in refused.stderr and "Traceback" not in refused.stderr
    assert (await client.get(SOME_API_ROUTE, headers=bearer(bob["token"]))).status_code == 200


def test_the_cli_refuses_an_expiry_without_a_zone(backend, tmp_path):
    user = coach_user(backend, tmp_path, "Ann")
    refused = coach(backend, tmp_path, "tokens", "create", "--user", user["id"], "--expires-at", "2027-01-31T18:00:00")
    assert refused.returncode == 2
    assert "zone" in refused.stderr
