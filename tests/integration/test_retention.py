"""Retention: a team's period (90 to 400 days), and the purge of older action records in small batches,
run once a day by the scheduler worker's maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from activity_rows import seed_action
from factories import new_team, new_user, update_team_settings
from sqlalchemy import func, select

from db.models import ActionTeam, AgentActionFeedback, AgentActionHistory, AgentExecutionTrace, ScheduledJob
from db.retention import purge
from server.worker import Worker
from tools.scheduler.retention import KIND, dedupe_key

NOW = datetime.now(timezone.utc)


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


async def rows_of(ctx, action_id: str) -> dict[str, int]:
    async with ctx.sessions() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).where(model.action_id == action_id))
            for model in (AgentActionHistory, AgentExecutionTrace, AgentActionFeedback, ActionTeam)
        }


async def kept(ctx, action_id: str) -> bool:
    return any((await rows_of(ctx, action_id)).values())


async def test_purge_removes_the_actions_older_than_the_teams_period_and_keeps_the_rest(app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    await update_team_settings(ctx, team, retention_days=90)
    member = await new_user(ctx, team_id=team)
    feedback = [{"feedback_type": "thumbs_up"}]
    old = await seed_action(ctx, member.id, [team], "send_sms", ["proposed", "confirmed", "executed"], days_ago(91), feedback=feedback)
    recent = await seed_action(ctx, member.id, [team], "send_sms", ["executed"], days_ago(89), feedback=feedback)
    assert (await rows_of(ctx, old)) == {"agent_action_history": 3, "agent_execution_traces": 3, "agent_action_feedback": 1, "action_teams": 1}
    await purge(ctx.sessions, NOW)
    assert not await kept(ctx, old)
    assert (await rows_of(ctx, recent)) == {"agent_action_history": 1, "agent_execution_traces": 1, "agent_action_feedback": 1, "action_teams": 1}


async def test_purge_keeps_actions_of_no_team_for_the_platform_period(app):
    ctx = app.state.ctx
    loner = await new_user(ctx)
    old = await seed_action(ctx, loner.id, [], "create_task", ["executed"], days_ago(401))
    recent = await seed_action(ctx, loner.id, [], "create_task", ["executed"], days_ago(300))
    await purge(ctx.sessions, NOW)
    assert not await kept(ctx, old) and await kept(ctx, recent)


async def test_the_shortest_period_of_an_actions_teams_applies(app):
    ctx = app.state.ctx
    strict, lenient = await new_team(ctx), await new_team(ctx)
    await update_team_settings(ctx, strict, retention_days=90)
    member = await new_user(ctx, team_id=strict)
    both = await seed_action(ctx, member.id, [strict, lenient], "create_task", ["executed"], days_ago(100))
    lenient_only = await seed_action(ctx, member.id, [lenient], "create_task", ["executed"], days_ago(100))
    await purge(ctx.sessions, NOW)
    assert not await kept(ctx, both) and await kept(ctx, lenient_only)


async def test_purge_deletes_in_transactions_of_the_batch_size(app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    await update_team_settings(ctx, team, retention_days=90)
    member = await new_user(ctx, team_id=team)
    old = [await seed_action(ctx, member.id, [team], "create_task", ["executed"], days_ago(200)) for _ in range(5)]
    purged = await purge(ctx.sessions, NOW, batch=2)
    assert purged.rows["action_teams"] >= 5 and purged.transactions >= 3  # 2 + 2 + 1 actions, then none left
    assert not any([await kept(ctx, action_id) for action_id in old])


async def test_the_worker_runs_the_purge_once_a_day(app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    await update_team_settings(ctx, team, retention_days=90)
    member = await new_user(ctx, team_id=team)
    old = await seed_action(ctx, member.id, [team], "create_task", ["executed"], days_ago(120))
    worker = Worker(ctx.services)
    await worker.maintain()
    await worker.maintain()
    assert not await kept(ctx, old)
    async with ctx.sessions() as session:
        runs = (await session.scalars(select(ScheduledJob).where(ScheduledJob.kind == KIND))).all()
    today = [job for job in runs if job.dedupe_key == dedupe_key(ctx.services.clock())]
    assert [(job.status, job.locked_by) for job in today] == [("done", None)]


async def test_a_retention_period_under_90_days_is_refused(client, app):
    ctx = app.state.ctx
    team = await new_team(ctx)
    admin = await new_user(ctx, team_id=team, role="admin")
    for days, status in ((89, 422), (401, 422), (90, 200)):
        response = await client.put(f"/api/teams/{team}/settings", headers=admin.headers, json={"retention_days": days})
        assert response.status_code == status, (days, response.text)
    assert (await client.get(f"/api/teams/{team}/settings", headers=admin.headers)).json()["retention_days"] == 90
