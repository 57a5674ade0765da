"""Feature flags: operators manage them with `coach flags` (a subprocess on its own SQLite file, as an operator
runs it); a team's admins read which flags reach their team and which members each is on for
(`GET /api/admin/teams/{team_id}/flags`, both backends)."""

from __future__ import annotations

from pathlib import Path

from factories import new_team, new_user
from test_cli_outbox import coach, lines

from db.models import FeatureFlag
from policy.flags import flag_enabled, rule_of


def test_an_operator_creates_a_flag_off_for_everyone(tmp_path: Path) -> None:
    [created] = lines(coach(tmp_path, "flags", "create", "tool:send_sms", "--description", "texts"))
    assert created == {"name": "tool:send_sms", "description": "texts", "enabled": False, "team_ids": [],
                       "user_ids": [], "rollout_percentage": 0}
    assert lines(coach(tmp_path, "flags", "list")) == [created]


def test_an_operator_targets_a_flag_and_what_is_not_given_stays(tmp_path: Path) -> None:
    coach(tmp_path, "flags", "create", "beta")
    [first] = lines(coach(tmp_path, "flags", "set", "beta", "--add-team", "t1", "--add-user", "u1", "--rollout", "30"))
    assert (first["team_ids"], first["user_ids"], first["rollout_percentage"], first["enabled"]) == (["t1"], ["u1"], 30, False)
    [second] = lines(coach(tmp_path, "flags", "set", "beta", "--on", "--remove-team", "t1"))
    assert (second["team_ids"], second["user_ids"], second["rollout_percentage"], second["enabled"]) == ([], ["u1"], 30, True)


def test_a_bad_flag_change_is_refused_with_a_reason(tmp_path: Path) -> None:
    coach(tmp_path, "flags", "create", "beta")
    refused = coach(tmp_path, "flags", "set", "beta", "--rollout", "101")
    assert refused.returncode == 2 and "0 to 100" in refused.stderr
    assert "exists already" in coach(tmp_path, "flags", "create", "beta").stderr
    assert "no flag named" in coach(tmp_path, "flags", "set", "missing", "--on").stderr


def test_who_lists_the_teams_members_the_flag_is_on_for(tmp_path: Path) -> None:
    [team] = lines(coach(tmp_path, "teams", "create", "--name", "Acme"))
    ids = [lines(coach(tmp_path, "users", "create", "--name", f"M{n}", "--phone", f"+1415555012{n}", "--team", team["id"]))[0]["id"]
           for n in range(2)]
    coach(tmp_path, "flags", "create", "beta")
    coach(tmp_path, "flags", "set", "beta", "--add-user", ids[0])
    assert {line["user_id"]: line["on"] for line in lines(coach(tmp_path, "flags", "who", "beta", "--team", team["id"]))} == {
        ids[0]: True, ids[1]: False}


def view_of(answer, name: str) -> dict:
    """The flag named `name` in a team's flags (flags are global: other tests' flags share the database)."""
    [view] = [flag for flag in answer.json()["flags"] if flag["name"] == name]
    return view


async def add_flag(ctx, **values) -> FeatureFlag:
    async with ctx.sessions() as session:
        flag = FeatureFlag(**{"team_ids": [], "user_ids": [], "rollout_percentage": 0, "enabled": False, **values})
        session.add(flag)
        await session.commit()
        return flag


async def test_a_flag_at_50_percent_covers_about_half_of_200_members(client, app) -> None:
    ctx = app.state.ctx
    team = await new_team(ctx)
    admin = await new_user(ctx, team_id=team, role="admin")
    members = [admin] + [await new_user(ctx, team_id=team) for _ in range(199)]
    flag = await add_flag(ctx, name=f"half-{team}", rollout_percentage=50)
    view = view_of(await client.get(f"/api/admin/teams/{team}/flags", headers=admin.headers), flag.name)
    expected = {m.id for m in members if flag_enabled(rule_of(flag), m.id, [team])}
    assert set(view["members_on"]) == expected
    assert (view["members_count"], 80 <= view["members_on_count"] <= 120) == (200, True)


async def test_a_team_flag_is_on_for_every_member_and_shows_no_other_teams_ids(client, app) -> None:
    ctx = app.state.ctx
    team, other = await new_team(ctx), await new_team(ctx)
    admin = await new_user(ctx, team_id=team, role="owner")
    member = await new_user(ctx, team_id=team)
    flag = await add_flag(ctx, name=f"team-beta-{team}", team_ids=[team, other])
    view = view_of(await client.get(f"/api/admin/teams/{team}/flags", headers=admin.headers), flag.name)
    assert (view["on_for_this_team"], sorted(view["members_on"])) == (True, sorted([admin.id, member.id]))
    assert other not in str(view)


async def test_a_member_cannot_read_the_teams_flags(client, app) -> None:
    ctx = app.state.ctx
    team = await new_team(ctx)
    member = await new_user(ctx, team_id=team)
    assert (await client.get(f"/api/admin/teams/{team}/flags", headers=member.headers)).status_code == 403
