"""GET /api/admin/teams/{team_id}/export: the team's audit log (history steps, traces, feedback) for a range,
streamed in keyset batches as NDJSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from activity_rows import seed_action
from factories import new_team, new_user

from db.audit_export import audit_batches

BASE = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=3)
SINCE, UNTIL = BASE, BASE + timedelta(days=1)


async def arranged(app):
    """Two actions of the team in the range (one with feedback whose comment is a formula), one before and
    one after it, and one of another team in it."""
    ctx = app.state.ctx
    team, other = await new_team(ctx), await new_team(ctx)
    admin, member = await new_user(ctx, team_id=team, role="admin"), await new_user(ctx, team_id=team)
    outsider = await new_user(ctx, team_id=other)
    formula = [{"feedback_type": "rejected", "comment": "=HYPERLINK(\"http://evil\")"}]
    inside = [
        await seed_action(ctx, member.id, [team], "send_sms", ["proposed", "cancelled"], BASE, feedback=formula),
        await seed_action(ctx, member.id, [team], "create_task", ["executed"], BASE + timedelta(hours=5)),
    ]
    await seed_action(ctx, member.id, [team], "create_task", ["executed"], SINCE - timedelta(minutes=1))
    await seed_action(ctx, member.id, [team], "create_task", ["executed"], UNTIL)
    await seed_action(ctx, outsider.id, [other], "create_task", ["executed"], BASE)
    return team, admin, set(inside)


async def export(client, team, admin, output):
    params = {"since": SINCE.isoformat(), "until": UNTIL.isoformat(), "format": output}
    response = await client.get(f"/api/admin/teams/{team}/export", headers=admin.headers, params=params)
    assert response.status_code == 200, response.text
    return response


async def test_ndjson_export_holds_exactly_the_teams_records_of_the_range(client, app):
    team, admin, inside = await arranged(app)
    response = await export(client, team, admin, "ndjson")
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["record"] for line in lines] == ["history"] * 3 + ["trace"] * 3 + ["feedback"]
    assert {line["action_id"] for line in lines} == inside
    assert all(SINCE <= datetime.fromisoformat(line["created_at"]) < UNTIL for line in lines)


async def test_csv_export_holds_the_same_records_with_formulas_neutralised(client, app):
    team, admin, inside = await arranged(app)
    response = await export(client, team, admin, "csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["record"] for row in rows] == ["history"] * 3 + ["trace"] * 3 + ["feedback"]
    assert {row["action_id"] for row in rows} == inside
    assert rows[-1]["comment"] == "'=HYPERLINK(\"http://evil\")"


async def test_export_reads_in_keyset_batches_of_the_given_size(app):
    team, _, _ = await arranged(app)
    batches = [(record, len(rows)) async for record, rows in audit_batches(app.state.ctx.sessions, team, SINCE, UNTIL, size=2)]
    assert batches == [("history", 2), ("history", 1), ("trace", 2), ("trace", 1), ("feedback", 1)]


async def test_export_is_for_the_teams_admins_only(client, app):
    team, _, _ = await arranged(app)
    member = await new_user(app.state.ctx, team_id=team)
    assert (await client.get(f"/api/admin/teams/{team}/export", headers=member.headers)).status_code == 403


async def test_export_refuses_an_unknown_format(client, app):
    team, admin, _ = await arranged(app)
    response = await client.get(f"/api/admin/teams/{team}/export", headers=admin.headers, params={"format": "xlsx"})
    assert response.status_code == 422
