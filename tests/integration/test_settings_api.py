"""`/api/me/settings` and `/api/teams/{id}/settings`: defaults, partial updates, bad input, roles."""

from __future__ import annotations

import pytest

from factories import new_team, new_user, update_team_settings


@pytest.fixture
def ctx(app):
    return app.state.ctx


async def test_my_settings_default_to_the_platform_defaults(client, ctx):
    user = await new_user(ctx, timezone="Europe/Berlin")
    response = await client.get("/api/me/settings", headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["agent_actions_enabled"] is True
    assert body["confidence_threshold"] == 0.7
    assert body["auto_approve_low_risk"] is True and body["auto_approve_medium_risk"] is False
    assert body["require_confirmation_sms"] is True
    assert (body["quiet_hours_start"], body["quiet_hours_end"]) == ("21:00", "08:00")
    assert (body["max_emails_per_day"], body["max_sms_per_day"], body["max_calls_per_day"]) == (10, 20, 5)
    assert body["max_external_emails_per_day"] == 5
    assert body["timezone"] == "Europe/Berlin"


async def test_put_my_settings_changes_only_the_fields_sent(client, ctx):
    user = await new_user(ctx)
    response = await client.put(
        "/api/me/settings", headers=user.headers, json={"confidence_threshold": 0.85, "allow_send_sms": False}
    )
    assert response.status_code == 200
    again = (await client.get("/api/me/settings", headers=user.headers)).json()
    assert again["confidence_threshold"] == 0.85
    assert again["allow_send_sms"] is False
    assert again["allow_send_email"] is True


async def test_working_days_default_to_every_day_and_are_stored_in_order(client, ctx):
    user = await new_user(ctx)
    assert (await client.get("/api/me/settings", headers=user.headers)).json()["working_days"] == [0, 1, 2, 3, 4, 5, 6]
    response = await client.put("/api/me/settings", headers=user.headers, json={"working_days": [4, 0, 1]})
    assert response.status_code == 200, response.text
    assert (await client.get("/api/me/settings", headers=user.headers)).json()["working_days"] == [0, 1, 4]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"confidence_threshold": 0.3}, "confidence_threshold"),
        ({"confidence_threshold": 0.99}, "confidence_threshold"),
        ({"max_sms_per_day": -1}, "max_sms_per_day"),
        ({"quiet_hours_start": "25:00"}, "quiet_hours_start"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"no_such_setting": True}, "no_such_setting"),
        ({"allow_send_sms": None}, "allow_send_sms"),
        ({"working_days": []}, "working_days"),
        ({"working_days": [7]}, "working_days.0"),
        ({"working_days": [1, 1]}, "working_days"),
    ],
)
async def test_invalid_settings_are_refused_with_the_field_named_and_nothing_written(client, ctx, body, field):
    user = await new_user(ctx)
    before = (await client.get("/api/me/settings", headers=user.headers)).json()
    response = await client.put("/api/me/settings", headers=user.headers, json={"allow_send_email": False, **body})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert field in [f["field"] for f in error["details"]["fields"]]
    assert (await client.get("/api/me/settings", headers=user.headers)).json() == before


async def test_malformed_json_is_a_422(client, ctx):
    user = await new_user(ctx)
    response = await client.put("/api/me/settings", headers=user.headers, content=b"{not json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"


async def test_team_admin_reads_and_updates_team_settings(client, ctx):
    team_id = await new_team(ctx)
    admin = await new_user(ctx, team_id=team_id, role="admin")
    response = await client.put(
        f"/api/teams/{team_id}/settings",
        headers=admin.headers,
        json={"min_confidence_threshold": 0.8, "blocked_topics": ["politics"], "require_admin_approval_critical": True},
    )
    assert response.status_code == 200
    body = (await client.get(f"/api/teams/{team_id}/settings", headers=admin.headers)).json()
    assert body["min_confidence_threshold"] == 0.8
    assert body["blocked_topics"] == ["politics"]
    assert body["require_admin_approval_critical"] is True


async def test_team_owner_counts_as_admin(client, ctx):
    team_id = await new_team(ctx)
    owner = await new_user(ctx, team_id=team_id, role="owner")
    assert (await client.get(f"/api/teams/{team_id}/settings", headers=owner.headers)).status_code == 200


async def test_member_cannot_change_team_settings(client, ctx):
    team_id = await new_team(ctx)
    member = await new_user(ctx, team_id=team_id, role="member")
    response = await client.put(f"/api/teams/{team_id}/settings", headers=member.headers, json={"coach_name": "X"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


async def test_admin_of_another_team_gets_403(client, ctx):
    team_a = await new_team(ctx, "A")
    team_b = await new_team(ctx, "B")
    admin_b = await new_user(ctx, team_id=team_b, role="admin")
    response = await client.get(f"/api/teams/{team_a}/settings", headers=admin_b.headers)
    assert response.status_code == 403


async def test_invalid_team_settings_name_the_field(client, ctx):
    team_id = await new_team(ctx)
    admin = await new_user(ctx, team_id=team_id, role="admin")
    response = await client.put(
        f"/api/teams/{team_id}/settings", headers=admin.headers, json={"crisis_escalation_email": "not-an-email"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"][0]["field"] == "crisis_escalation_email"


async def test_a_threshold_under_the_team_minimum_is_refused_naming_the_team_and_nothing_is_written(client, ctx):
    team_id = await new_team(ctx, "Acme")
    await update_team_settings(ctx, team_id, min_confidence_threshold=0.8)
    user = await new_user(ctx, team_id=team_id)
    before = (await client.get("/api/me/settings", headers=user.headers)).json()
    response = await client.put(
        "/api/me/settings", headers=user.headers, json={"confidence_threshold": 0.5, "max_sms_per_day": 3}
    )
    assert response.status_code == 422
    [problem] = response.json()["error"]["details"]["fields"]
    assert problem == {"field": "confidence_threshold", "message": "Set by your team Acme: the threshold is at least 80%."}
    assert (await client.get("/api/me/settings", headers=user.headers)).json() == before
    allowed = await client.put("/api/me/settings", headers=user.headers, json={"confidence_threshold": 0.85})
    assert allowed.status_code == 200 and allowed.json()["confidence_threshold"] == 0.85


@pytest.mark.parametrize(
    ("team", "body"),
    [
        ({"allow_send_sms": False}, {"allow_send_sms": True}),
        ({"allow_user_auto_approve_medium": False}, {"auto_approve_medium_risk": True}),
        ({"require_confirmation": True}, {"require_confirmation_email": False}),
        ({"max_sms_per_day": 5}, {"max_sms_per_day": 6}),
    ],
)
async def test_a_setting_a_team_holds_cannot_be_set_past_its_rule(client, ctx, team, body):
    team_id = await new_team(ctx)
    await update_team_settings(ctx, team_id, **team)
    user = await new_user(ctx, team_id=team_id)
    response = await client.put("/api/me/settings", headers=user.headers, json=body)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["details"]["fields"]] == list(body)


async def test_a_member_may_be_stricter_than_the_team(client, ctx):
    team_id = await new_team(ctx)
    await update_team_settings(ctx, team_id, allow_send_sms=False, max_sms_per_day=5)
    user = await new_user(ctx, team_id=team_id)
    response = await client.put(
        "/api/me/settings", headers=user.headers, json={"allow_send_sms": False, "max_sms_per_day": 2}
    )
    assert response.status_code == 200
