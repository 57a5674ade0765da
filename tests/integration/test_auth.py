"""Bearer-token authentication on `/api/*`."""

from __future__ import annotations

from factories import new_user


async def test_request_without_token_is_401_with_the_error_shape(client):
    response = await client.get("/api/me/settings")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "UNAUTHENTICATED", "message": "sign in, or send an API token as Authorization: Bearer", "recoverable": False}
    }


async def test_unknown_token_is_401(client):
    response = await client.get("/api/me/settings", headers={"Authorization": "Bearer vc_not-a-real-token"})
    assert response.status_code == 401


async def test_non_bearer_scheme_is_401(client, app):
    user = await new_user(app.state.ctx)
    response = await client.get("/api/me/settings", headers={"Authorization": f"Basic {user.token}"})
    assert response.status_code == 401


async def test_token_authenticates_its_own_user_only(client, app):
    alice = await new_user(app.state.ctx, timezone="Asia/Tokyo")
    bob = await new_user(app.state.ctx, timezone="America/Chicago")
    assert (await client.get("/api/me/settings", headers=alice.headers)).json()["timezone"] == "Asia/Tokyo"
    assert (await client.get("/api/me/settings", headers=bob.headers)).json()["timezone"] == "America/Chicago"


async def test_tokens_are_stored_hashed(app):
    from sqlalchemy import select

    from db.models import ApiToken

    user = await new_user(app.state.ctx)
    async with app.state.ctx.sessions() as session:
        stored = (await session.execute(select(ApiToken.token_hash).where(ApiToken.user_id == user.id))).scalar_one()
    assert user.token not in stored
    assert len(stored) == 64
