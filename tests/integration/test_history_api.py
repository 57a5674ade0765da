"""History through the REST API: filters, cursor paging, streamed exports, feedback with tags, and undo of
each kind of action that can be undone (Google Calendar through its fake).

Every test runs on both backends. Time is the services' clock, pinned to a weekday afternoon by `ctx`.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from action_requests import act, confirm, propose
from apps import http_client
from backends import Backend, make_settings
from factories import (
    TestUser,
    daytime_clock,
    history_rows,
    new_user,
    update_user_settings,
)
from providers import GoogleWorld, running_google
from sqlalchemy import select
from test_calendar import WEDNESDAY, connect_google, create_event

from db import history
from db.history import HistoryFilter
from db.models import (
    ActionSequence,
    AgentActionFeedback,
    CalendarEvent,
    Goal,
    HabitCompletion,
    Reminder,
    ScheduledJob,
    Task,
)
from server.config import Settings
from server.context import AppContext
from server.routes.actions import HISTORY_COLUMNS


@pytest.fixture
def google() -> Iterator[GoogleWorld]:
    with running_google() as world:
        yield world


@pytest.fixture
def settings(backend: Backend, google: GoogleWorld) -> Settings:
    return make_settings(backend, **google.settings())


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    """At the public https address, so the Google connect flow's Secure cookie is kept."""
    async with http_client(app, base_url=app.state.ctx.settings.PUBLIC_URL) as browser:
        yield browser


@pytest.fixture
def ctx(app) -> AppContext:
    daytime_clock(app.state.ctx)
    return app.state.ctx


# --- helpers ---------------------------------------------------------------------------------


async def doer(ctx: AppContext) -> TestUser:
    """A user whose low and medium-risk actions (tasks, habits, goals, events) run without confirmation."""
    user = await new_user(ctx)
    await update_user_settings(ctx, user, auto_approve_medium_risk=True)
    return user


async def done(client: httpx.AsyncClient, user: TestUser, tool: str, args: dict[str, Any]) -> str:
    """Run an action that executes at once; its action id."""
    response = await act(client, user, tool, args)
    assert response.status_code == 200 and not response.json().get("needs_confirmation"), response.text
    [row] = [row for row in await listing(client, user, type=tool) if row["status"] == "executed"][:1]
    return row["action_id"]


async def confirmed(client: httpx.AsyncClient, user: TestUser, tool: str, args: dict[str, Any]) -> str:
    action_id = await propose(client, user, tool, args)
    assert (await confirm(client, user, action_id)).status_code == 200
    return action_id


async def listing(client: httpx.AsyncClient, user: TestUser, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/api/actions/history", headers=user.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()["history"]


async def undo(client: httpx.AsyncClient, user: TestUser, action_id: str) -> httpx.Response:
    return await client.post(f"/api/actions/{action_id}/undo", headers=user.headers)


async def row_of(ctx: AppContext, model: type, row_id: str) -> Any:
    async with ctx.sessions() as session:
        return await session.get(model, row_id)


async def tasks(client: httpx.AsyncClient, user: TestUser, titles: list[str]) -> list[str]:
    return [await done(client, user, "create_task", {"title": title}) for title in titles]


# --- listing, paging, exporting ---------------------------------------------------------------


async def test_pages_follow_the_cursor_until_every_row_is_seen_once(client, ctx):
    user = await doer(ctx)
    created = await tasks(client, user, [f"task {n}" for n in range(7)])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/actions/history", headers=user.headers, params=params)).json()
        seen += [row["action_id"] for row in body["history"]]
        pages, cursor = pages + 1, body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == list(reversed(created))


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJhIjoxfQ", "W10", "WyIyMDI2LTExLTI0VDE5OjAwOjAwIiwiYWIiXQ"])
async def test_a_cursor_this_server_did_not_give_is_400(client, ctx, cursor):
    user = await doer(ctx)
    response = await client.get("/api/actions/history", headers=user.headers, params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["field"] == "cursor"


async def test_history_filters_by_source(client, ctx):
    user = await doer(ctx)
    [task] = await tasks(client, user, ["from the api"])
    assert (await undo(client, user, task)).status_code == 200
    async with ctx.sessions() as session:
        undone = await session.scalar(select(Task).where(Task.user_id == user.id))
    assert undone is None
    assert [row["status"] for row in await listing(client, user, source="api")] == ["undone", "executed"]
    assert await listing(client, user, source="web") == []


async def test_the_actions_view_shows_each_actions_newest_step(client, ctx):
    user = await doer(ctx)
    sequence = await confirmed(client, user, "create_action_sequence",
                          {"name": "Later", "trigger": "manual", "actions": [{"tool": "create_task", "args": {"title": "x"}}]})
    [task] = await tasks(client, user, ["kept"])
    rows = await listing(client, user, view="actions")
    assert [(row["action_id"], row["status"]) for row in rows] == [(task, "executed"), (sequence, "executed")]
    assert len(await listing(client, user)) == 4  # proposed, confirmed, executed; executed


async def test_the_csv_export_holds_exactly_the_filtered_rows(client, ctx):
    user = await doer(ctx)
    await tasks(client, user, ["one", "two"])
    await propose(client, user, "send_sms", {"message": "Run"})
    response = await client.get("/api/actions/history", headers=user.headers,
                                params={"format": "csv", "type": "create_task"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    rows = list(reader)
    assert reader.fieldnames == HISTORY_COLUMNS
    assert sorted(row["payload"] for row in rows) == ['{"description": "", "due_date": null, "title": "one"}',
                                                      '{"description": "", "due_date": null, "title": "two"}']


async def test_the_json_export_holds_exactly_the_filtered_rows(client, ctx):
    user = await doer(ctx)
    await tasks(client, user, ["one", "two"])
    await propose(client, user, "send_sms", {"message": "Run"})
    response = await client.get("/api/actions/history", headers=user.headers,
                                params={"format": "json", "status": "proposed"})
    body = response.json()
    assert [(row["tool"], row["status"]) for row in body["history"]] == [("send_sms", "proposed")]
    assert body["next_cursor"] is None


async def test_export_batches_cover_every_row_once_in_order(client, ctx):
    user = await doer(ctx)
    created = await tasks(client, user, [f"task {n}" for n in range(5)])
    batches = [batch async for batch in history.batches(ctx.sessions, user.id, HistoryFilter(), size=2)]
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert [row.action_id for batch in batches for row in batch] == list(reversed(created))


async def test_an_export_holds_only_the_callers_rows(client, ctx):
    owner, other = await doer(ctx), await doer(ctx)
    await tasks(client, owner, ["mine"])
    response = await client.get("/api/actions/history", headers=other.headers, params={"format": "csv"})
    assert list(csv.DictReader(io.StringIO(response.text))) == []


# --- feedback ------------------------------------------------------------------------------------


async def feedback(client: httpx.AsyncClient, user: TestUser, history_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/actions/{history_id}/feedback", headers=user.headers, json=body)


async def test_thumbs_down_with_tags_is_recorded(client, ctx):
    user = await doer(ctx)
    await tasks(client, user, ["wrong"])
    [row] = await listing(client, user)
    response = await feedback(client, user, row["id"], feedback_type="thumbs_down", tags=["wrong_time", "wrong_content"])
    assert response.status_code == 201, response.text
    async with ctx.sessions() as session:
        [entry] = (await session.scalars(select(AgentActionFeedback).where(AgentActionFeedback.user_id == user.id))).all()
    assert (entry.feedback_type, entry.tags, entry.history_id) == ("thumbs_down", ["wrong_time", "wrong_content"], row["id"])


async def test_a_second_thumbs_replaces_the_first(client, ctx):
    user = await doer(ctx)
    await tasks(client, user, ["changed my mind"])
    [row] = await listing(client, user)
    await feedback(client, user, row["id"], feedback_type="thumbs_down", tags=["not_needed"])
    await feedback(client, user, row["id"], feedback_type="thumbs_up", tags=["helpful"])
    async with ctx.sessions() as session:
        entries = (await session.scalars(select(AgentActionFeedback).where(AgentActionFeedback.user_id == user.id))).all()
    assert [(entry.feedback_type, entry.tags) for entry in entries] == [("thumbs_up", ["helpful"])]


async def test_an_unknown_tag_is_422(client, ctx):
    user = await doer(ctx)
    await tasks(client, user, ["x"])
    [row] = await listing(client, user)
    assert (await feedback(client, user, row["id"], feedback_type="thumbs_up", tags=["=cmd"])).status_code == 422


async def test_thumbs_on_an_action_that_did_not_run_is_409(client, ctx):
    user = await doer(ctx)
    await propose(client, user, "send_sms", {"message": "Run"})
    [row] = await listing(client, user)
    assert (await feedback(client, user, row["id"], feedback_type="thumbs_up")).status_code == 409


# --- undo, one kind at a time --------------------------------------------------------------------


async def undone_step(ctx: AppContext, action_id: str) -> Any:
    [step] = [row for row in await history_rows(ctx, action_id=action_id) if row.status == "undone"]
    return step


async def test_undo_deletes_a_created_task_and_records_the_undo(client, ctx):
    user = await doer(ctx)
    [action_id] = await tasks(client, user, ["Oops"])
    response = await undo(client, user, action_id)
    assert response.status_code == 200, response.text
    step = await undone_step(ctx, action_id)
    executed = [row for row in await history_rows(ctx, action_id=action_id) if row.status == "executed"][0]
    assert (step.source, step.result["undoes"], step.payload, step.tool) == ("api", executed.id, executed.payload, "create_task")
    assert await row_of(ctx, Task, executed.result["task_id"]) is None


async def test_undo_deletes_a_reminder_and_cancels_its_delivery(client, ctx):
    user = await doer(ctx)
    action_id = await confirmed(client, user, "schedule_reminder", {"message": "Stretch", "remind_at": "in 2 hours"})
    assert (await undo(client, user, action_id)).status_code == 200
    async with ctx.sessions() as session:
        assert (await session.scalars(select(Reminder).where(Reminder.user_id == user.id))).all() == []
        jobs = (await session.scalars(select(ScheduledJob).where(ScheduledJob.user_id == user.id))).all()
    assert [job.status for job in jobs] == ["cancelled"]


async def test_undo_deletes_a_builtin_calendar_event(client, ctx):
    user = await doer(ctx)
    assert (await create_event(client, user)).status_code == 200
    [row] = await listing(client, user, type="create_calendar_event")
    assert (await undo(client, user, row["action_id"])).status_code == 200
    assert await row_of(ctx, CalendarEvent, row["result"]["event_id"]) is None


async def test_undo_deletes_a_google_calendar_event(client, ctx, google):
    user = await doer(ctx)
    await connect_google(client, user)
    assert (await create_event(client, user, start=f"{WEDNESDAY}T11:00")).status_code == 200
    [row] = await listing(client, user, type="create_calendar_event")
    assert (await undo(client, user, row["action_id"])).status_code == 200
    assert google.fake.events[row["result"]["event_id"]]["status"] == "cancelled"


async def test_undo_of_a_google_event_deleted_in_google_since_is_409(client, ctx, google):
    user = await doer(ctx)
    await connect_google(client, user)
    await create_event(client, user, start=f"{WEDNESDAY}T11:00")
    [row] = await listing(client, user, type="create_calendar_event")
    google.fake.events[row["result"]["event_id"]]  # exists
    async with httpx.AsyncClient() as raw:  # the person deletes it in Google Calendar themself
        token = google.fake.issued_tokens[0]
        await raw.delete(f"{google.url}/calendar/v3/calendars/primary/events/{row['result']['event_id']}",
                         headers={"Authorization": f"Bearer {token}"})
    response = await undo(client, user, row["action_id"])
    assert response.status_code == 409 and "Google" in response.json()["error"]["message"]


async def test_undo_removes_a_habit_completion(client, ctx):
    user = await doer(ctx)
    habit = (await client.post("/api/habits", headers=user.headers, json={"name": "Run"})).json()
    action_id = await done(client, user, "mark_habit_complete", {"habit_id": habit["id"]})
    assert (await undo(client, user, action_id)).status_code == 200
    async with ctx.sessions() as session:
        assert (await session.scalars(select(HabitCompletion).where(HabitCompletion.user_id == user.id))).all() == []


async def test_a_habit_already_done_that_day_cannot_be_undone_by_its_second_mark(client, ctx):
    user = await doer(ctx)
    habit = (await client.post("/api/habits", headers=user.headers, json={"name": "Run"})).json()
    await done(client, user, "mark_habit_complete", {"habit_id": habit["id"]})
    await act(client, user, "mark_habit_complete", {"habit_id": habit["id"]})
    [second, _first] = await listing(client, user, type="mark_habit_complete")
    assert second["result"]["already_done"] is True
    assert (await undo(client, user, second["action_id"])).status_code == 400


async def test_undo_restores_a_goals_earlier_progress_status_and_note(client, ctx):
    user = await doer(ctx)
    goal = (await client.post("/api/goals", headers=user.headers, json={"title": "Marathon"})).json()
    await done(client, user, "update_goal_progress", {"goal_id": goal["id"], "progress": 40, "note": "halfway-ish"})
    action_id = await done(client, user, "update_goal_progress", {"goal_id": goal["id"], "progress": 100, "note": "done!"})
    assert (await undo(client, user, action_id)).status_code == 200
    restored = await row_of(ctx, Goal, goal["id"])
    assert (restored.progress, restored.status, restored.last_note) == (40, "active", "halfway-ish")


async def test_undo_of_a_goal_update_whose_progress_changed_since_is_409(client, ctx):
    user = await doer(ctx)
    goal = (await client.post("/api/goals", headers=user.headers, json={"title": "Marathon"})).json()
    action_id = await done(client, user, "update_goal_progress", {"goal_id": goal["id"], "progress": 40})
    await act(client, user, "update_goal_progress", {"goal_id": goal["id"], "progress": 60})
    response = await undo(client, user, action_id)
    assert response.status_code == 409 and "60%" in response.json()["error"]["message"]
    assert (await row_of(ctx, Goal, goal["id"])).progress == 60


async def test_undo_cancels_a_sequence(client, ctx):
    user = await doer(ctx)
    steps = [{"tool": "create_task", "args": {"title": "later"}}]
    action_id = await confirmed(client, user, "create_action_sequence", {"name": "Later", "trigger": "manual", "actions": steps})
    assert (await undo(client, user, action_id)).status_code == 200
    async with ctx.sessions() as session:
        [sequence] = (await session.scalars(select(ActionSequence).where(ActionSequence.user_id == user.id))).all()
    assert sequence.status == "cancelled"


# --- undo refused --------------------------------------------------------------------------------


async def test_undo_twice_is_409_and_changes_nothing_more(client, ctx):
    user = await doer(ctx)
    [action_id] = await tasks(client, user, ["Once"])
    assert (await undo(client, user, action_id)).status_code == 200
    second = await undo(client, user, action_id)
    assert second.status_code == 409 and "already undone" in second.json()["error"]["message"]
    assert [row.status for row in await history_rows(ctx, action_id=action_id)].count("undone") == 1


async def test_concurrent_undos_one_wins(client, ctx):
    user = await doer(ctx)
    [action_id] = await tasks(client, user, ["Race"])
    answers = await asyncio.gather(*(undo(client, user, action_id) for _ in range(4)))
    assert sorted(answer.status_code for answer in answers) == [200, 409, 409, 409]
    assert [row.status for row in await history_rows(ctx, action_id=action_id)].count("undone") == 1


async def test_undo_of_another_persons_action_is_404(client, ctx):
    owner, other = await doer(ctx), await doer(ctx)
    [action_id] = await tasks(client, owner, ["Mine"])
    assert (await undo(client, other, action_id)).status_code == 404
    assert [row.status for row in await history_rows(ctx, action_id=action_id)] == ["executed"]


async def test_undo_of_a_completed_task_is_409(client, ctx):
    user = await doer(ctx)
    [action_id] = await tasks(client, user, ["Done already"])
    [row] = await listing(client, user)
    await client.put(f"/api/tasks/{row['result']['task_id']}", headers=user.headers, json={"status": "done"})
    response = await undo(client, user, action_id)
    assert response.status_code == 409 and "completed" in response.json()["error"]["message"]
    assert await row_of(ctx, Task, row["result"]["task_id"]) is not None


async def test_undo_of_an_action_that_cannot_be_undone_is_400(client, ctx):
    user = await doer(ctx)
    action_id = await done(client, user, "get_user_data", {})
    assert (await undo(client, user, action_id)).status_code == 400


async def test_undo_of_an_action_that_did_not_run_is_400(client, ctx):
    user = await doer(ctx)
    action_id = await propose(client, user, "send_sms", {"message": "Run"})
    assert (await undo(client, user, action_id)).status_code == 400
