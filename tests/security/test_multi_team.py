"""A member of several teams: every team's policy applies (the strictest wins), a critical action waits for
the admins of each team that asks for it, and a team's admin views show only the actions it governed."""

from __future__ import annotations

from action_requests import CONTACT_EMAIL, act, add_contact, confirm, pending_ids
from factories import TestUser, new_team, new_user, update_team_settings, update_user_settings

from db import accounts
from server.context import AppContext


async def member_of_two_teams_needing_admins(ctx: AppContext) -> tuple[TestUser, TestUser, TestUser]:
    """(member, admin of team A, admin of team B): both teams require admin approval of critical actions."""
    team_a, team_b = await new_team(ctx, "A"), await new_team(ctx, "B")
    for team in (team_a, team_b):
        await update_team_settings(ctx, team, require_admin_approval_critical=True)
    member = await new_user(ctx, team_id=team_a)
    async with ctx.sessions() as session:
        await accounts.add_member(session, team_id=team_b, user_id=member.id, role="member")
        await session.commit()
    await update_user_settings(ctx, member, allow_external_email=True)
    await add_contact(ctx, member, CONTACT_EMAIL["to_email"])
    return member, await new_user(ctx, team_id=team_a, role="admin"), await new_user(ctx, team_id=team_b, role="admin")


async def test_a_critical_action_waits_for_the_admins_of_every_team_that_requires_it(client, ctx, providers):
    member, admin_a, admin_b = await member_of_two_teams_needing_admins(ctx)
    action_id = (await act(client, member, "send_email_to_contact", CONTACT_EMAIL)).json()["pending_action_id"]
    assert action_id in await pending_ids(client, admin_b)  # the second team's admins see it
    first = (await confirm(client, admin_a, action_id)).json()
    assert first["needs_confirmation"] and first["data"]["teams_waiting"] == 1
    assert providers.resend.emails == [] and action_id in await pending_ids(client, admin_b)
    second = (await confirm(client, admin_b, action_id)).json()
    assert second["success"] and not second.get("needs_confirmation"), second
    assert len(providers.resend.emails) == 1


async def test_an_admin_of_a_team_that_does_not_ask_cannot_approve(client, ctx, providers):
    member, _, _ = await member_of_two_teams_needing_admins(ctx)
    relaxed = await new_team(ctx, "C")
    async with ctx.sessions() as session:
        await accounts.add_member(session, team_id=relaxed, user_id=member.id, role="member")
        await session.commit()
    admin_c = await new_user(ctx, team_id=relaxed, role="admin")
    action_id = (await act(client, member, "send_email_to_contact", CONTACT_EMAIL)).json()["pending_action_id"]
    assert action_id not in await pending_ids(client, admin_c)
    assert (await confirm(client, admin_c, action_id)).status_code == 404
    assert providers.resend.emails == []


async def test_a_teams_admin_views_show_only_the_actions_it_governed(client, ctx):
    team_a, team_b = await new_team(ctx, "A"), await new_team(ctx, "B")
    member = await new_user(ctx, team_id=team_a)
    admin_b = await new_user(ctx, team_id=team_b, role="admin")
    before = (await act(client, member, "create_task", {"title": "Before joining B"})).json()
    async with ctx.sessions() as session:
        await accounts.add_member(session, team_id=team_b, user_id=member.id, role="member")
        await session.commit()
    after = (await act(client, member, "create_task", {"title": "After joining B"})).json()
    assert before["success"] and after["success"]
    activity = (await client.get(f"/api/admin/teams/{team_b}/activity", headers=admin_b.headers)).json()["activity"]
    assert [row["payload"]["title"] for row in activity] == ["After joining B"]
    traces = (await client.get(f"/api/admin/teams/{team_b}/traces", headers=admin_b.headers)).json()["traces"]
    assert {trace["action_id"] for trace in traces} == {activity[0]["action_id"]}
