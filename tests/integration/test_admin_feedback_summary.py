"""GET /api/admin/teams/{team_id}/feedback/summary: approval rate by action type, thumbs, time to decision,
rejection reasons ranked with the suggestion each earns (tools.feedback_insights)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from activity_rows import seed_action
from factories import new_team, new_user

from tools.feedback_insights import SUGGESTIONS

BASE = datetime.now(timezone.utc) - timedelta(days=1)


async def decided(ctx, user, team, tool, kind, at, *, ms=1000, reason=None, code=None):
    steps = ["proposed", "cancelled" if kind == "rejected" else "confirmed"]
    row = {"feedback_type": kind, "time_to_decision_ms": ms, "comment": reason, "reason_code": code}
    await seed_action(ctx, user.id, [team], tool, steps, at, feedback=[row])


async def test_feedback_summary_ranks_rejection_reasons_and_names_their_suggestions(client, app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    admin, member = await new_user(ctx, team_id=team, role="admin"), await new_user(ctx, team_id=team)
    reasons = ["wrong recipient"] * 4 + ["Wrong time"] * 2 + ["not now"]  # wrong_time: 2, under its minimum of 3
    for index, reason in enumerate(reasons):
        await decided(ctx, member, team, "send_email", "rejected", BASE + timedelta(minutes=index), reason=reason)
    for index in range(3):
        await decided(ctx, member, team, "send_email", "approved", BASE + timedelta(hours=1, minutes=index))
    body = (await client.get(f"/api/admin/teams/{team}/feedback/summary", headers=admin.headers)).json()
    ranked = [(entry["reason"], entry["count"], entry["suggestion"]) for entry in body["rejection_reasons"]]
    assert ranked == [
        ("wrong_recipient", 4, SUGGESTIONS["wrong_recipient"].advice),
        ("wrong_time", 2, None),
        ("not_now", 1, None),
    ]
    assert "read-back" in ranked[0][2]
    assert body["approval_by_tool"]["send_email"] == {
        "decisions": 10, "approved": 3, "edited": 0, "rejected": 7, "approval_rate": 0.3,
    }


async def test_a_rejections_chosen_reason_code_wins_over_its_words(client, app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    admin, member = await new_user(ctx, team_id=team, role="admin"), await new_user(ctx, team_id=team)
    await decided(ctx, member, team, "send_sms", "rejected", BASE, reason="the message was fine", code="wrong_time")
    body = (await client.get(f"/api/admin/teams/{team}/feedback/summary", headers=admin.headers)).json()
    assert [entry["reason"] for entry in body["rejection_reasons"]] == ["wrong_time"]


async def test_feedback_summary_gives_thumbs_ratio_and_time_to_decision(client, app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    admin, member = await new_user(ctx, team_id=team, role="admin"), await new_user(ctx, team_id=team)
    for index, ms in enumerate([1000, 2000, 3000, 4000, 50000]):
        await decided(ctx, member, team, "send_sms", "approved", BASE + timedelta(minutes=index), ms=ms)
    thumbs = [{"feedback_type": "thumbs_up"}] * 3 + [{"feedback_type": "thumbs_down"}]
    await seed_action(ctx, member.id, [team], "create_task", ["executed"], BASE, feedback=thumbs)
    body = (await client.get(f"/api/admin/teams/{team}/feedback/summary", headers=admin.headers)).json()
    assert body["thumbs"] == {"up": 3, "down": 1, "up_ratio": 0.75}
    assert body["time_to_decision_ms"] == {"count": 5, "p50": 3000, "p90": 50000}


async def test_feedback_summary_holds_only_the_teams_feedback_in_the_range(client, app):
    ctx = app.state.ctx
    team, other = await new_team(ctx), await new_team(ctx)
    admin, member = await new_user(ctx, team_id=team, role="admin"), await new_user(ctx, team_id=team)
    outsider = await new_user(ctx, team_id=other)
    await decided(ctx, outsider, other, "send_sms", "rejected", BASE, reason="wrong recipient")
    await decided(ctx, member, team, "send_sms", "rejected", BASE - timedelta(days=40), reason="wrong recipient")
    await decided(ctx, member, team, "send_sms", "approved", BASE)
    body = (await client.get(f"/api/admin/teams/{team}/feedback/summary", headers=admin.headers)).json()
    assert body["rejection_reasons"] == [] and body["approval_by_tool"]["send_sms"]["decisions"] == 1


async def test_feedback_summary_is_for_the_teams_admins_only(client, app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    member = await new_user(ctx, team_id=team)
    assert (await client.get(f"/api/admin/teams/{team}/feedback/summary", headers=member.headers)).status_code == 403
