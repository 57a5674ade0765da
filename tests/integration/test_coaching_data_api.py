"""The person's coaching data over JSON: habits, goals, tasks, contacts and reminders (list, create, get, edit,
delete), scoped to the signed-in person. Creating a task or a reminder goes through dispatch (policy and
history); the rest are plain writes. Both backends (SQLite; PostgreSQL + Redis).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from action_requests import auto_sms_user, error_code
from factories import DAYTIME, TestUser, daytime_clock, history_rows, new_user
from scheduling import jobs
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase

from db import consent
from db.models import Contact, Goal, Habit, HabitCompletion, PendingAgentAction, Reminder, Task
from server.context import AppContext

TODAY = DAYTIME.date()


@pytest.fixture
def ctx(app) -> AppContext:
    daytime_clock(app.state.ctx)
    return app.state.ctx


@pytest.fixture
async def user(ctx) -> TestUser:
    return await new_user(ctx)


async def count(ctx: AppContext, model: type[DeclarativeBase], user: TestUser) -> int:
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(model.user_id == user.id))


async def create(client: httpx.AsyncClient, user: TestUser, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/api/{kind}", headers=user.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assert_invalid(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert field in [item["field"] for item in response.json()["error"]["details"]["fields"]]


# --- the same for every kind: create, list newest first, get, edit, delete, validation, ownership ---------

# kind -> (a valid create body, a partial edit, the field the edit changes, a body refused with its field)
KINDS: dict[str, tuple[dict[str, Any], dict[str, Any], str, tuple[dict[str, Any], str]]] = {
    "habits": ({"name": "Meditate", "reminder_time": "07:30"}, {"reminder_time": None}, "reminder_time",
               ({"name": "Meditate", "reminder_time": "25:00"}, "reminder_time")),
    "goals": ({"title": "Run a marathon", "target_date": "2027-05-01"}, {"progress": 40}, "progress",
              ({"title": "Run", "progress": 101}, "progress")),
    "tasks": ({"title": "Book the physio"}, {"status": "done"}, "status", ({"title": ""}, "title")),
    "contacts": ({"name": "Pat Mentor", "email": "pat@example.org"}, {"relationship": "mentor"}, "relationship",
                 ({"name": "Pat", "email": "not an address"}, "email")),
}
MODELS = {"habits": Habit, "goals": Goal, "tasks": Task, "contacts": Contact, "reminders": Reminder}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_created_row_is_listed_newest_first_and_read_back_by_id(client, ctx, user, kind):
    body, _, _, _ = KINDS[kind]
    first = await create(client, user, kind, body)
    second = await create(client, user, kind, {**body, **({"email": "sam@example.org"} if kind == "contacts" else {})})
    listed = (await client.get(f"/api/{kind}", headers=user.headers)).json()[kind]
    assert [row["id"] for row in listed] == [second["id"], first["id"]]
    assert (await client.get(f"/api/{kind}/{first['id']}", headers=user.headers)).json() == first


@pytest.mark.parametrize("kind", KINDS)
async def test_an_edit_changes_only_the_fields_sent(client, ctx, user, kind):
    body, edit, field, _ = KINDS[kind]
    created = await create(client, user, kind, body)
    response = await client.put(f"/api/{kind}/{created['id']}", headers=user.headers, json=edit)
    assert response.status_code == 200, response.text
    again = (await client.get(f"/api/{kind}/{created['id']}", headers=user.headers)).json()
    assert again[field] == edit[field]
    unchanged = {key: value for key, value in created.items() if key not in {field, "updated_at", "completed_at"}}
    assert {key: again[key] for key in unchanged} == unchanged


@pytest.mark.parametrize("kind", KINDS)
async def test_a_deleted_row_is_gone(client, ctx, user, kind):
    created = await create(client, user, kind, KINDS[kind][0])
    assert (await client.delete(f"/api/{kind}/{created['id']}", headers=user.headers)).status_code == 204
    response = await client.get(f"/api/{kind}/{created['id']}", headers=user.headers)
    assert (response.status_code, error_code(response)) == (404, "NOT_FOUND")
    assert await count(ctx, MODELS[kind], user) == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_a_refused_create_names_the_field_and_writes_nothing(client, ctx, user, kind):
    bad, field = KINDS[kind][3]
    assert_invalid(await client.post(f"/api/{kind}", headers=user.headers, json=bad), field)
    assert await count(ctx, MODELS[kind], user) == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_a_refused_edit_names_the_field_and_changes_nothing(client, ctx, user, kind):
    body, _, _, (bad, field) = KINDS[kind]
    created = await create(client, user, kind, body)
    assert_invalid(await client.put(f"/api/{kind}/{created['id']}", headers=user.headers, json=bad), field)
    assert (await client.get(f"/api/{kind}/{created['id']}", headers=user.headers)).json() == created


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("limit", ["0", "501", "ten", "１", "-1"])
async def test_a_limit_outside_1_to_500_is_400(client, ctx, user, kind, limit):
    response = await client.get(f"/api/{kind}", headers=user.headers, params={"limit": limit})
    assert (response.status_code, error_code(response)) == (400, "INVALID_ARGUMENT")


async def test_a_list_returns_at_most_limit_rows(client, ctx, user):
    for title in ("one", "two", "three"):
        await create(client, user, "tasks", {"title": title})
    listed = (await client.get("/api/tasks", headers=user.headers, params={"limit": "2"})).json()["tasks"]
    assert [task["title"] for task in listed] == ["three", "two"]


@pytest.mark.parametrize("kind", KINDS)
async def test_another_users_rows_are_not_listed(client, ctx, user, kind):
    await create(client, user, kind, KINDS[kind][0])
    stranger = await new_user(ctx)
    assert (await client.get(f"/api/{kind}", headers=stranger.headers)).json()[kind] == []


# --- habits ------------------------------------------------------------------------------------------


async def test_a_habit_shows_its_completions_of_the_last_30_days_newest_first(client, ctx, user):
    habit = await create(client, user, "habits", {"name": "Stretch"})
    async with ctx.sessions() as session:
        for days_ago in (0, 2, 29, 30):
            day = TODAY - timedelta(days=days_ago)
            session.add(HabitCompletion(habit_id=habit["id"], user_id=user.id, completed_on=day))
        await session.commit()
    shown = (await client.get(f"/api/habits/{habit['id']}", headers=user.headers)).json()
    assert shown["recent_completions"] == [(TODAY - timedelta(days=n)).isoformat() for n in (0, 2, 29)]



async def test_deleting_a_habit_deletes_its_completions(client, ctx, user):
    habit = await create(client, user, "habits", {"name": "Stretch"})
    async with ctx.sessions() as session:
        session.add(HabitCompletion(habit_id=habit["id"], user_id=user.id, completed_on=TODAY))
        await session.commit()
    assert (await client.delete(f"/api/habits/{habit['id']}", headers=user.headers)).status_code == 204
    assert await count(ctx, HabitCompletion, user) == 0

# --- goals -------------------------------------------------------------------------------------------


async def test_a_goals_progress_is_shown_and_bounded(client, ctx, user):
    goal = await create(client, user, "goals", {"title": "Read 20 books", "progress": 15})
    assert goal["progress"] == 15 and goal["status"] == "active"
    response = await client.put(f"/api/goals/{goal['id']}", headers=user.headers, json={"progress": -1})
    assert_invalid(response, "progress")


# --- tasks -------------------------------------------------------------------------------------------


async def test_a_task_created_over_the_api_is_recorded_in_history_as_create_task(client, ctx, user):
    task = await create(client, user, "tasks", {"title": "Book the physio", "due_date": "2026-11-30"})
    [entry] = await history_rows(ctx, user_id=user.id)
    assert (entry.tool, entry.status, entry.source, entry.confidence) == ("create_task", "executed", "api", 1.0)
    assert (task["title"], task["due_date"], task["status"]) == ("Book the physio", "2026-11-30", "open")


async def test_a_task_marked_done_gets_its_completion_time(client, ctx, user):
    task = await create(client, user, "tasks", {"title": "Book the physio"})
    done = (await client.put(f"/api/tasks/{task['id']}", headers=user.headers, json={"status": "done"})).json()
    assert done["completed_at"] == DAYTIME.isoformat()
    reopened = (await client.put(f"/api/tasks/{task['id']}", headers=user.headers, json={"status": "open"})).json()
    assert reopened["completed_at"] is None


# --- contacts ----------------------------------------------------------------------------------------


async def test_a_contacts_email_is_stored_normalised(client, ctx, user):
    contact = await create(client, user, "contacts", {"name": "Pat", "email": "Pat@EXAMPLE.org"})
    assert (contact["email"], contact["consent"]) == ("Pat@example.org", "ok")


async def test_a_second_contact_with_the_same_email_is_409_and_not_written(client, ctx, user):
    await create(client, user, "contacts", {"name": "Pat", "email": "pat@example.org"})
    response = await client.post("/api/contacts", headers=user.headers, json={"name": "P", "email": "PAT@example.org"})
    assert response.status_code == 409, response.text
    assert await count(ctx, Contact, user) == 1



async def test_two_requests_adding_one_email_at_once_leave_one_contact(client, ctx, user):
    body = {"name": "Pat", "email": "pat@example.org"}
    responses = await asyncio.gather(*(client.post("/api/contacts", headers=user.headers, json=body) for _ in range(2)))
    assert sorted(response.status_code for response in responses) == [201, 409]
    assert await count(ctx, Contact, user) == 1

async def test_editing_a_contact_to_another_contacts_email_is_409_and_changes_nothing(client, ctx, user):
    await create(client, user, "contacts", {"name": "Pat", "email": "pat@example.org"})
    sam = await create(client, user, "contacts", {"name": "Sam", "email": "sam@example.org"})
    response = await client.put(f"/api/contacts/{sam['id']}", headers=user.headers, json={"email": "pat@example.org"})
    assert response.status_code == 409, response.text
    assert (await client.get(f"/api/contacts/{sam['id']}", headers=user.headers)).json()["email"] == "sam@example.org"


async def test_the_same_email_may_be_a_contact_of_two_people(client, ctx, user):
    await create(client, user, "contacts", {"name": "Pat", "email": "pat@example.org"})
    await create(client, await new_user(ctx), "contacts", {"name": "Pat", "email": "pat@example.org"})


async def test_a_contacts_consent_shows_opted_out_after_an_opt_out_is_recorded(client, ctx, user):
    contact = await create(client, user, "contacts", {"name": "Pat", "email": "optout-pat@example.org"})
    async with ctx.sessions() as session:
        await consent.record(session, address=contact["email"], channel="email", opted_out=True, source="api")
        await session.commit()
    shown = (await client.get(f"/api/contacts/{contact['id']}", headers=user.headers)).json()
    assert shown["consent"] == "opted_out"
    [listed] = (await client.get("/api/contacts", headers=user.headers)).json()["contacts"]
    assert listed["consent"] == "opted_out"


# --- reminders ---------------------------------------------------------------------------------------

REMINDER = {"message": "Stretch", "remind_at": "2026-11-25T09:00", "channel": "sms"}


async def test_a_text_reminder_with_default_settings_answers_202_and_waits_for_a_yes(client, ctx, user):
    response = await client.post("/api/reminders", headers=user.headers, json=REMINDER)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["needs_confirmation"] is True
    async with ctx.sessions() as session:
        pending = await session.get(PendingAgentAction, body["pending_action_id"])
    assert (pending.tool, pending.user_id, pending.status) == ("schedule_reminder", user.id, "pending_confirmation")
    assert await count(ctx, Reminder, user) == 0


async def test_a_reminder_policy_allows_at_once_is_created_with_its_job(client, ctx):
    user = await auto_sms_user(ctx)
    reminder = await create(client, user, "reminders", REMINDER)
    assert (reminder["message"], reminder["channel"], reminder["status"]) == ("Stretch", "sms", "scheduled")
    [job] = await jobs(ctx, user_id=user.id, kind="reminder")
    assert (job.payload, job.status) == ({"reminder_id": reminder["id"]}, "pending")


async def test_a_refused_reminder_names_the_field_and_nothing_is_proposed(client, ctx, user):
    response = await client.post("/api/reminders", headers=user.headers, json={**REMINDER, "channel": "pigeon"})
    assert_invalid(response, "channel")
    assert await count(ctx, PendingAgentAction, user) == 0


async def test_deleting_a_reminder_cancels_its_job(client, ctx):
    user = await auto_sms_user(ctx)
    reminder = await create(client, user, "reminders", REMINDER)
    assert (await client.delete(f"/api/reminders/{reminder['id']}", headers=user.headers)).status_code == 204
    [job] = await jobs(ctx, user_id=user.id, kind="reminder")
    assert job.status == "cancelled"
    assert await count(ctx, Reminder, user) == 0


async def test_a_reminders_message_can_be_edited_but_not_its_time(client, ctx):
    user = await auto_sms_user(ctx)
    reminder = await create(client, user, "reminders", REMINDER)
    url = f"/api/reminders/{reminder['id']}"
    edited = (await client.put(url, headers=user.headers, json={"message": "Stretch your back"})).json()
    assert (edited["message"], edited["remind_at"]) == ("Stretch your back", reminder["remind_at"])
    assert_invalid(await client.put(url, headers=user.headers, json={"remind_at": "2026-11-26T09:00"}), "remind_at")


# --- ownership: another user's id is 404 and the row is unchanged ------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("kind", KINDS)
async def test_another_users_id_is_not_found_and_the_row_is_unchanged(client, ctx, user, kind, method):
    body, edit, _, _ = KINDS[kind]
    created = await create(client, user, kind, body)
    stranger = await new_user(ctx)
    response = await client.request(method, f"/api/{kind}/{created['id']}", headers=stranger.headers, json=edit)
    assert (response.status_code, error_code(response)) == (404, "NOT_FOUND")
    assert (await client.get(f"/api/{kind}/{created['id']}", headers=user.headers)).json() == created
