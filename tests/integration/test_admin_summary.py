"""GET /api/admin/teams/{team_id}/summary: counts of a team's actions, by tool and by member, exactly as
db.team_activity defines them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from action_requests import SURE, act, cancel, propose
from activity_rows import seed_action
from factories import daytime_clock, new_team, new_user

NOW = datetime.now(timezone.utc).replace(microsecond=0)
BASE = NOW - timedelta(days=2)
ZERO = {"requested": 0, "executed": 0, "auto_approved": 0, "confirmed": 0, "rejected": 0, "expired": 0,
        "failed": 0, "denied": 0, "pending": 0, "denied_by_code": {}}


def figures(**counts: object) -> dict[str, object]:
    return {**ZERO, **counts}


@pytest.fixture
async def seeded(app):
    """A team with two members whose eleven actions cover every figure, an hour apart from BASE; an action
    of another team; an action of this team older than the default range."""
    ctx = app.state.ctx
    team, other_team = await new_team(ctx), await new_team(ctx)
    admin = await new_user(ctx, team_id=team, role="admin")
    ana, ben = await new_user(ctx, team_id=team), await new_user(ctx, team_id=team)
    outsider = await new_user(ctx, team_id=other_team)
    histories = [
        (ana, "create_task", ["executed"]),
        (ana, "send_email", ["proposed", "confirmed", "executed"]),
        (ana, "send_email", ["proposed", "cancelled"]),
        (ben, "send_sms", ["proposed", "expired"]),
        (ben, "send_sms", [("failed", "SERVICE_UNAVAILABLE")]),
        (ben, "send_sms", [("failed", "SERVICE_UNAVAILABLE"), "executed"]),
        (ben, "send_email", [("denied", "RATE_LIMITED")]),
        (ana, "send_email", ["proposed", ("denied", "PERMISSION_DENIED"), "expired"]),
        (ana, "make_voice_call", [("denied", "QUIET_HOURS")]),
        (ben, "send_email", ["proposed"]),
        (ana, "send_email", ["proposed", "confirmed", ("failed", "SERVICE_UNAVAILABLE")]),
    ]
    for hour, (user, tool, steps) in enumerate(histories):
        await seed_action(ctx, user.id, [team], tool, steps, BASE + timedelta(hours=hour))
    await seed_action(ctx, outsider.id, [other_team], "create_task", ["executed"], BASE)
    await seed_action(ctx, ana.id, [team], "create_task", ["executed"], NOW - timedelta(days=40))
    return team, admin, ana, ben


async def summary_of(client, team, admin, **params):
    response = await client.get(f"/api/admin/teams/{team}/summary", headers=admin.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_summary_counts_each_figure_of_the_seeded_actions(client, seeded):
    team, admin, _, _ = seeded
    body = await summary_of(client, team, admin)
    assert {name: body[name] for name in ZERO} == figures(
        requested=11, executed=3, auto_approved=2, confirmed=2, rejected=1, expired=2, failed=2, denied=2, pending=1,
        denied_by_code={"QUIET_HOURS": 1, "RATE_LIMITED": 1},
    )
    assert body["rates"]["auto_approved_of_executed"] == round(2 / 3, 4)


async def test_summary_counts_by_tool(client, seeded):
    team, admin, _, _ = seeded
    assert (await summary_of(client, team, admin))["by_tool"] == {
        "create_task": figures(requested=1, executed=1, auto_approved=1),
        "make_voice_call": figures(requested=1, denied=1, denied_by_code={"QUIET_HOURS": 1}),
        "send_email": figures(
            requested=6, executed=1, confirmed=2, rejected=1, expired=1, failed=1, denied=1, pending=1,
            denied_by_code={"RATE_LIMITED": 1},
        ),
        "send_sms": figures(requested=3, executed=1, auto_approved=1, expired=1, failed=1),
    }


async def test_summary_counts_by_member(client, seeded):
    team, admin, ana, ben = seeded
    assert (await summary_of(client, team, admin))["by_user"] == {
        ana.id: figures(
            requested=6, executed=2, auto_approved=1, confirmed=2, rejected=1, expired=1, failed=1, denied=1,
            denied_by_code={"QUIET_HOURS": 1},
        ),
        ben.id: figures(
            requested=5, executed=1, auto_approved=1, expired=1, failed=1, denied=1, pending=1,
            denied_by_code={"RATE_LIMITED": 1},
        ),
    }


async def test_summary_of_one_member(client, seeded):
    team, admin, _, ben = seeded
    body = await summary_of(client, team, admin, user_id=ben.id)
    assert body["requested"] == 5 and list(body["by_user"]) == [ben.id]


async def test_summary_counts_actions_requested_in_the_range(client, seeded):
    team, admin, _, _ = seeded
    since, until = BASE + timedelta(hours=4), BASE + timedelta(hours=7)  # actions 5, 6 and 7 (hours 4 to 6)
    body = await summary_of(client, team, admin, since=since.isoformat(), until=until.isoformat())
    assert (body["requested"], body["failed"], body["executed"], body["denied"]) == (3, 1, 1, 1)


async def test_summary_reaches_back_as_far_as_since(client, seeded):
    team, admin, _, _ = seeded
    body = await summary_of(client, team, admin, since=(NOW - timedelta(days=60)).isoformat())
    assert body["requested"] == 12


async def test_summary_never_counts_another_teams_actions(client, app, seeded):
    team, admin, _, _ = seeded
    body = await summary_of(client, team, admin)
    assert body["by_tool"]["create_task"]["requested"] == 1  # the other team's create_task is not here


async def test_summary_is_for_the_teams_admins_only(client, app, seeded):
    team, _, ana, _ = seeded
    response = await client.get(f"/api/admin/teams/{team}/summary", headers=ana.headers)
    assert response.status_code == 403
    stranger = await new_user(app.state.ctx, team_id=await new_team(app.state.ctx), role="admin")
    assert (await client.get(f"/api/admin/teams/{team}/summary", headers=stranger.headers)).status_code == 403


async def test_summary_refuses_a_range_that_ends_before_it_starts(client, seeded):
    team, admin, _, _ = seeded
    params = {"since": NOW.isoformat(), "until": (NOW - timedelta(days=1)).isoformat()}
    response = await client.get(f"/api/admin/teams/{team}/summary", headers=admin.headers, params=params)
    assert response.status_code == 422


async def test_an_action_tried_again_counts_once_by_its_outcome(client, app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    admin, member = await new_user(ctx, team_id=team, role="admin"), await new_user(ctx, team_id=team)
    first = await seed_action(ctx, member.id, [team], "send_sms", [("failed", "SERVICE_UNAVAILABLE")], BASE)
    await seed_action(ctx, member.id, [team], "send_sms", ["executed"], BASE + timedelta(minutes=5), action_id=first)
    body = await summary_of(client, team, admin)
    assert {name: body[name] for name in ZERO} == figures(requested=1, executed=1, auto_approved=1)


async def test_summary_of_actions_taken_through_the_api(client, app):
    ctx = app.state.ctx
    daytime_clock(ctx)  # outside anyone's quiet hours; the rows themselves are stamped with the real time
    team = await new_team(ctx)
    admin = await new_user(ctx, team_id=team, role="admin")
    member = await new_user(ctx, team_id=team)
    assert (await act(client, member, "create_task", {"title": "Stretch"}, confidence=SURE)).json()["success"]
    await cancel(client, member, await propose(client, member), reason="wrong recipient")
    await propose(client, member)
    today = datetime.now(timezone.utc)
    body = await summary_of(
        client, team, admin, since=(today - timedelta(hours=1)).isoformat(), until=(today + timedelta(hours=1)).isoformat()
    )
    assert {name: body[name] for name in ZERO} == figures(
        requested=3, executed=1, auto_approved=1, rejected=1, pending=1,
    )
