"""Team admin views: scoped to the team, admins and owners only."""

from __future__ import annotations

from factories import new_team, new_user


async def test_admin_sees_the_teams_activity_traces_and_feedback(client, app):
    team = await new_team(app.state.ctx)
    admin = await new_user(app.state.ctx, team_id=team, role="admin")
    member = await new_user(app.state.ctx, team_id=team)
    done = (await client.post("/api/actions", headers=member.headers, json={"tool": "create_task", "args": {"title": "x"}, "confidence": 0.9})).json()
    assert done["success"]
    history = (await client.get("/api/actions/history", headers=member.headers)).json()["history"]
    await client.post(f"/api/actions/{history[0]['id']}/feedback", headers=member.headers, json={"rating": 4})

    activity = (await client.get(f"/api/admin/teams/{team}/activity", headers=admin.headers)).json()["activity"]
    assert [(a["tool"], a["status"], a["user_id"]) for a in activity] == [("create_task", "executed", member.id)]
    traces = (await client.get(f"/api/admin/teams/{team}/traces", headers=admin.headers)).json()["traces"]
    assert {t["trace_type"] for t in traces} == {"tool_call", "decision_point", "tool_result"}
    feedback = (await client.get(f"/api/admin/teams/{team}/feedback", headers=admin.headers)).json()["feedback"]
    assert [f["rating"] for f in feedback] == [4]


async def test_member_cannot_read_admin_views(client, app):
    team = await new_team(app.state.ctx)
    member = await new_user(app.state.ctx, team_id=team)
    for view in ("activity", "traces", "feedback"):
        assert (await client.get(f"/api/admin/teams/{team}/{view}", headers=member.headers)).status_code == 403


async def test_admin_sees_nothing_of_other_teams(client, app):
    team_a, team_b = await new_team(app.state.ctx), await new_team(app.state.ctx)
    admin_b = await new_user(app.state.ctx, team_id=team_b, role="admin")
    outsider = await new_user(app.state.ctx, team_id=team_a)
    await client.post("/api/actions", headers=outsider.headers, json={"tool": "create_task", "args": {"title": "x"}})
    assert (await client.get(f"/api/admin/teams/{team_a}/activity", headers=admin_b.headers)).status_code == 403
    own = (await client.get(f"/api/admin/teams/{team_b}/activity", headers=admin_b.headers)).json()["activity"]
    assert own == []
