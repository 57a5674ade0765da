"""The attacker with an account of their own (IDOR): B, an admin of team B, acts on the ids of A, a member
of team A. Every id-bearing route of the real app, and every tool argument that names a row, refuses:
404 for a row of another user (so ids cannot be probed), 403 for a team B does not administer. A's rows
are unchanged afterwards and nothing is sent.

The routes are read from the app's route table and the tool arguments from the catalogue: a new path
parameter or `*_id` argument without a probe in ROUTE_PROBES / TOOL_PROBES fails this module, naming it.
Both backends (SQLite; PostgreSQL + Redis).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from action_requests import (
    CONTACT_EMAIL,
    act,
    cancel,
    confirm,
    error_code,
    feedback_rows,
    pending_status,
    propose,
    team_needing_admin_for_critical,
)
from app_routes import Endpoint, app_endpoints
from factories import (
    DAYTIME,
    TestUser,
    daytime_clock,
    history_rows,
    new_team,
    new_user,
    update_user_settings,
)
from providers import Providers
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase

from db import web_sessions
from db.models import (
    ActionSequence,
    AgentActionFeedback,
    Contact,
    Goal,
    Habit,
    HabitCompletion,
    Reminder,
    Task,
    TeamAISettings,
    new_id,
)
from server.context import AppContext
from server.web.cookies import SESSION_COOKIE, signed
from tools import usage
from tools.catalogue import TOOL_ARGS


@dataclass(frozen=True)
class Scene:
    client: httpx.AsyncClient
    ctx: AppContext
    providers: Providers
    team_a: str
    team_b: str
    a: TestUser  # the victim, a member of team A
    b: TestUser  # the attacker, an admin of team B

    async def as_b(self, endpoint: Endpoint, body: dict[str, Any] | None = None, **ids: str) -> httpx.Response:
        """B's request to `endpoint` with the path's ids filled in from `ids`: to an API route with B's token and
        `body` as JSON, to a page as B's signed-in browser would send it (session cookie, CSRF token, a form)."""
        if endpoint.path.startswith("/api/") or endpoint.path.endswith(".ics"):
            return await self.client.request(endpoint.method, endpoint.url(**ids), headers=self.b.headers, json=body or {})
        cookie, csrf = await browser_session(self.ctx, self.b)
        return await self.client.request(
            endpoint.method, endpoint.url(**ids), data=body or {}, headers={"X-CSRF-Token": csrf},
            cookies={SESSION_COOKIE: cookie},
        )


async def browser_session(ctx: AppContext, user: TestUser) -> tuple[str, str]:
    """A new signed-in browser session of `user`: its cookie value and CSRF token."""
    async with ctx.sessions() as session:
        started = await web_sessions.start(session, user_id=user.id, signed_in_with="token", user_agent="", now=ctx.services.clock())
        await session.commit()
    return signed(started.secret, ctx.settings.COACH_SECRET_KEY), started.row.csrf_token


Probe = Callable[[Scene, Endpoint], Awaitable[None]]


@pytest.fixture
async def scene(app, client, providers) -> Scene:
    ctx = app.state.ctx
    daytime_clock(ctx)
    team_a, team_b = await new_team(ctx, "A"), await new_team(ctx, "B")
    a = await new_user(ctx, team_id=team_a, name="Ann A")
    b = await new_user(ctx, team_id=team_b, role="admin", name="Bob B")
    await update_user_settings(ctx, b, auto_approve_medium_risk=True)  # B's tool calls run at once
    return Scene(client, ctx, providers, team_a, team_b, a, b)


def assert_not_found(response: httpx.Response) -> None:
    """404: the API's NOT_FOUND error, or a page's "Not found"."""
    assert response.status_code == 404, response.text
    if response.headers["content-type"].startswith("text/html"):
        assert "Not found" in response.text
    else:
        assert error_code(response) == "NOT_FOUND"


async def row(ctx: AppContext, model: type[DeclarativeBase], key: str) -> Any:
    async with ctx.sessions() as session:
        return await session.get(model, key)


# --- probes: the arrangement of A's row, B's attempt, and what must not have changed ------------


async def resolve_a_pending_action(scene: Scene, endpoint: Endpoint) -> None:
    action_id = await propose(scene.client, scene.a)
    assert_not_found(await scene.as_b(endpoint, action_id=action_id))
    assert await pending_status(scene.ctx, action_id) == "pending_confirmation"
    assert scene.providers.twilio.requests == []


async def undo_or_read_an_action(scene: Scene, endpoint: Endpoint) -> None:
    """B undoes, reads or rates A's executed action by its id (API or page): 404, and A's task stays."""
    await act(scene.client, scene.a, "create_task", {"title": "Private plan"})
    [entry] = await history_rows(scene.ctx, user_id=scene.a.id)
    body = {"feedback_type": "thumbs_down"} if endpoint.path.endswith("/feedback") else None
    assert_not_found(await scene.as_b(endpoint, body, action_id=entry.action_id))
    assert [step.status for step in await history_rows(scene.ctx, action_id=entry.action_id)] == ["executed"]
    assert await row(scene.ctx, Task, entry.result["task_id"]) is not None
    assert await feedback_rows(scene.ctx, entry.action_id) == []


async def feedback_on_a_history_entry(scene: Scene, endpoint: Endpoint) -> None:
    await act(scene.client, scene.a, "create_task", {"title": "Private plan"})
    [entry] = await history_rows(scene.ctx, user_id=scene.a.id)
    assert_not_found(await scene.as_b(endpoint, history_id=entry.id))
    async with scene.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).where(AgentActionFeedback.history_id == entry.id)) == 0


async def a_sequence(scene: Scene) -> str:
    """A manual sequence of A's, proposed and confirmed by A."""
    step = {"delay_minutes": 0, "tool": "send_sms", "args": {"message": "Go"}}
    args = {"name": "Mine", "trigger": "manual", "actions": [step]}
    action_id = await propose(scene.client, scene.a, "create_action_sequence", args)
    return (await confirm(scene.client, scene.a, action_id)).json()["data"]["sequence_id"]


async def act_on_a_sequence(scene: Scene, endpoint: Endpoint) -> None:
    sequence_id = await a_sequence(scene)
    assert_not_found(await scene.as_b(endpoint, sequence_id=sequence_id))
    assert (await row(scene.ctx, ActionSequence, sequence_id)).status == "active"


async def administer_another_team(scene: Scene, endpoint: Endpoint) -> None:
    """B administers team B only: team A's settings and audit views are 403, and show or change nothing."""
    await act(scene.client, scene.a, "create_task", {"title": "Private plan"})  # something the views would show
    before = await row(scene.ctx, TeamAISettings, scene.team_a)
    change = {"blocked_topics": ["hijacked"], "require_admin_approval_critical": True}
    response = await scene.as_b(endpoint, change, team_id=scene.team_a)
    assert (response.status_code, error_code(response)) == (403, "PERMISSION_DENIED")
    assert list(response.json()) == ["error"]
    after = await row(scene.ctx, TeamAISettings, scene.team_a)
    assert (after.blocked_topics, after.require_admin_approval_critical) == (
        before.blocked_topics, before.require_admin_approval_critical,
    )


async def read_another_teams_session(scene: Scene, endpoint: Endpoint) -> None:
    """A's conversation is team A's: B gets 403 under team A, and 404 asking for it under B's own team."""
    started = datetime.now(timezone.utc)
    conversation = usage.ConversationStart(new_id(), scene.a.id, "chat", (scene.team_a,), started, ended_at=started)
    turn = usage.Turn(conversation.conversation_id, scene.a.id, "gemini-2.5-flash", usage.TokenUsage(10, 2), 0, 1)
    await usage.record_turns(scene.ctx.services, [turn], conversation)
    denied = await scene.as_b(endpoint, team_id=scene.team_a, session_id=conversation.conversation_id)
    assert (denied.status_code, error_code(denied)) == (403, "PERMISSION_DENIED")
    assert_not_found(await scene.as_b(endpoint, team_id=scene.team_b, session_id=conversation.conversation_id))


async def read_a_calendar_feed(scene: Scene, endpoint: Endpoint) -> None:
    """The feed's secret path is its capability: A's ids, or a made-up secret, open nothing."""
    created = await scene.client.post("/api/calendar/feed", headers=scene.a.headers)
    assert (await scene.client.get(urlsplit(created.json()["url"]).path)).status_code == 200  # A's own opens
    for guess in ({"secret": scene.a.id}, {"secret": scene.team_a}, {}):
        assert_not_found(await scene.as_b(endpoint, **guess))


async def revoke_another_users_token(scene: Scene, endpoint: Endpoint) -> None:
    """B cannot revoke A's token (404, like an unknown id), and A's token goes on working."""
    created = await scene.client.post("/api/me/tokens", headers=scene.a.headers, json={"name": "laptop"})
    token_id, secret = created.json()["id"], created.json()["token"]
    assert_not_found(await scene.as_b(endpoint, token_id=token_id))
    assert (await scene.client.get("/api/me/settings", headers={"Authorization": f"Bearer {secret}"})).status_code == 200



async def sign_out_another_users_browser(scene: Scene, endpoint: Endpoint) -> None:
    """B cannot end A's browser session (404, like an unknown id), and A stays signed in."""
    cookie, _ = await browser_session(scene.ctx, scene.a)
    secret = cookie.rpartition(".")[0]
    async with scene.ctx.sessions() as session:
        found = await web_sessions.find(session, secret, scene.ctx.services.clock())
    assert found is not None
    assert_not_found(await scene.as_b(endpoint, session_id=found[1].id))
    assert (await scene.client.get("/account", cookies={SESSION_COOKIE: cookie})).status_code == 200


# A's row of each kind of coaching data, and the edit B attempts on it.
COACHING_ROWS: dict[str, tuple[Callable[[str], DeclarativeBase], dict[str, Any]]] = {
    "habit": (lambda user_id: Habit(user_id=user_id, name="Meditate"), {"name": "hijacked"}),
    "goal": (lambda user_id: Goal(user_id=user_id, title="Run a marathon", progress=40), {"progress": 100}),
    "task": (lambda user_id: Task(user_id=user_id, title="Private plan"), {"status": "done"}),
    "contact": (lambda user_id: Contact(user_id=user_id, name="Pat", email="pat@example.org"), {"email": "b@example.org"}),
    "reminder": (
        lambda user_id: Reminder(user_id=user_id, message="Stretch", remind_at=DAYTIME + timedelta(days=1)),
        {"message": "hijacked"},
    ),
}


async def act_on_a_coaching_row(scene: Scene, endpoint: Endpoint) -> None:
    """B reads, edits or deletes A's habit, goal, task, contact or reminder: 404, and A's row is as it was."""
    [parameter] = endpoint.parameters
    kind = parameter.removesuffix("_id")
    make, change = COACHING_ROWS[kind]
    async with scene.ctx.sessions() as session:
        mine = make(scene.a.id)
        session.add(mine)
        await session.commit()
    own = f"/api/{kind}s/{mine.id}"
    before = (await scene.client.get(own, headers=scene.a.headers)).json()
    assert_not_found(await scene.as_b(endpoint, change, **{parameter: mine.id}))
    assert (await scene.client.get(own, headers=scene.a.headers)).json() == before

ROUTE_PROBES: dict[str, Probe] = {
    "DELETE /api/me/tokens/{token_id}": revoke_another_users_token,
    "POST /account/tokens/{token_id}/revoke": revoke_another_users_token,
    "POST /account/sessions/{session_id}/revoke": sign_out_another_users_browser,
    "GET /pending-actions/{action_id}": resolve_a_pending_action,
    "POST /pending-actions/{action_id}/approve": resolve_a_pending_action,
    "GET /pending-actions/{action_id}/edit": resolve_a_pending_action,
    "POST /pending-actions/{action_id}/edit": resolve_a_pending_action,
    "GET /pending-actions/{action_id}/reject": resolve_a_pending_action,
    "POST /pending-actions/{action_id}/reject": resolve_a_pending_action,
    "POST /api/actions/pending/{action_id}/confirm": resolve_a_pending_action,
    "POST /api/actions/pending/{action_id}/cancel": resolve_a_pending_action,
    "POST /api/actions/{history_id}/feedback": feedback_on_a_history_entry,
    "POST /api/actions/{action_id}/undo": undo_or_read_an_action,
    "GET /history/{action_id}": undo_or_read_an_action,
    "POST /history/{action_id}/undo": undo_or_read_an_action,
    "POST /history/{action_id}/feedback": undo_or_read_an_action,
    "POST /api/sequences/{sequence_id}/cancel": act_on_a_sequence,
    "POST /api/sequences/{sequence_id}/run": act_on_a_sequence,
    "GET /api/teams/{team_id}/settings": administer_another_team,
    "PUT /api/teams/{team_id}/settings": administer_another_team,
    "GET /api/admin/teams/{team_id}/activity": administer_another_team,
    "GET /api/admin/teams/{team_id}/traces": administer_another_team,
    "GET /api/admin/teams/{team_id}/feedback": administer_another_team,
    "GET /api/admin/teams/{team_id}/summary": administer_another_team,
    "GET /api/admin/teams/{team_id}/feedback/summary": administer_another_team,
    "GET /api/admin/teams/{team_id}/export": administer_another_team,
    "GET /api/admin/teams/{team_id}/sessions": administer_another_team,
    "GET /api/admin/teams/{team_id}/usage": administer_another_team,
    "GET /api/admin/teams/{team_id}/flags": administer_another_team,
    "GET /api/admin/teams/{team_id}/sessions/{session_id}": read_another_teams_session,
    "GET /calendar/{secret}.ics": read_a_calendar_feed,
    "GET /api/habits/{habit_id}": act_on_a_coaching_row,
    "PUT /api/habits/{habit_id}": act_on_a_coaching_row,
    "DELETE /api/habits/{habit_id}": act_on_a_coaching_row,
    "GET /api/goals/{goal_id}": act_on_a_coaching_row,
    "PUT /api/goals/{goal_id}": act_on_a_coaching_row,
    "DELETE /api/goals/{goal_id}": act_on_a_coaching_row,
    "GET /api/tasks/{task_id}": act_on_a_coaching_row,
    "PUT /api/tasks/{task_id}": act_on_a_coaching_row,
    "DELETE /api/tasks/{task_id}": act_on_a_coaching_row,
    "GET /api/contacts/{contact_id}": act_on_a_coaching_row,
    "PUT /api/contacts/{contact_id}": act_on_a_coaching_row,
    "DELETE /api/contacts/{contact_id}": act_on_a_coaching_row,
    "GET /api/reminders/{reminder_id}": act_on_a_coaching_row,
    "PUT /api/reminders/{reminder_id}": act_on_a_coaching_row,
    "DELETE /api/reminders/{reminder_id}": act_on_a_coaching_row,
    # the coaching-data pages (server/web/coaching.py): B's signed-in browser posting a form
    "GET /habits/{habit_id}/edit": act_on_a_coaching_row,
    "POST /habits/{habit_id}": act_on_a_coaching_row,
    "POST /habits/{habit_id}/delete": act_on_a_coaching_row,
    "POST /habits/{habit_id}/done": act_on_a_coaching_row,
    "GET /goals/{goal_id}/edit": act_on_a_coaching_row,
    "POST /goals/{goal_id}": act_on_a_coaching_row,
    "POST /goals/{goal_id}/delete": act_on_a_coaching_row,
    "POST /goals/{goal_id}/progress": act_on_a_coaching_row,
    "GET /tasks/{task_id}/edit": act_on_a_coaching_row,
    "POST /tasks/{task_id}": act_on_a_coaching_row,
    "POST /tasks/{task_id}/delete": act_on_a_coaching_row,
    "POST /tasks/{task_id}/complete": act_on_a_coaching_row,
    "GET /contacts/{contact_id}/edit": act_on_a_coaching_row,
    "POST /contacts/{contact_id}": act_on_a_coaching_row,
    "POST /contacts/{contact_id}/delete": act_on_a_coaching_row,
    "GET /reminders/{reminder_id}/edit": act_on_a_coaching_row,
    "POST /reminders/{reminder_id}": act_on_a_coaching_row,
    "POST /reminders/{reminder_id}/delete": act_on_a_coaching_row,
    "POST /reminders/sequences/{sequence_id}/cancel": act_on_a_sequence,
}


def id_bearing_endpoints() -> dict[str, Endpoint]:
    return {endpoint.key: endpoint for endpoint in app_endpoints() if endpoint.parameters}


def test_every_id_bearing_route_has_an_ownership_probe() -> None:
    unprobed = id_bearing_endpoints().keys() - ROUTE_PROBES.keys()
    assert not unprobed, f"id-bearing routes with no ownership probe (add one to ROUTE_PROBES): {sorted(unprobed)}"
    assert ROUTE_PROBES.keys() <= id_bearing_endpoints().keys(), "a probe for a route that no longer exists"


@pytest.mark.parametrize("route", ROUTE_PROBES)
async def test_another_user_acting_on_an_id_is_refused_and_the_row_is_unchanged(scene, route):
    await ROUTE_PROBES[route](scene, id_bearing_endpoints()[route])


# --- ids in tool arguments (POST /api/actions, and every voice or chat tool call) ---------------


async def resolve_a_pending_action_by_tool(scene: Scene, tool: str) -> None:
    action_id = await propose(scene.client, scene.a)
    assert_not_found(await act(scene.client, scene.b, tool, {"action_id": action_id}))
    assert await pending_status(scene.ctx, action_id) == "pending_confirmation"
    assert scene.providers.twilio.requests == []


async def complete_a_habit(scene: Scene, tool: str) -> None:
    async with scene.ctx.sessions() as session:
        habit = Habit(user_id=scene.a.id, name="Meditate")
        session.add(habit)
        await session.commit()
    assert_not_found(await act(scene.client, scene.b, tool, {"habit_id": habit.id}))
    async with scene.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).where(HabitCompletion.habit_id == habit.id)) == 0


async def move_a_goal(scene: Scene, tool: str) -> None:
    async with scene.ctx.sessions() as session:
        goal = Goal(user_id=scene.a.id, title="Run a marathon", progress=40)
        session.add(goal)
        await session.commit()
    assert_not_found(await act(scene.client, scene.b, tool, {"goal_id": goal.id, "progress": 100, "note": "done"}))
    after = await row(scene.ctx, Goal, goal.id)
    assert (after.progress, after.last_note, after.status) == (40, "", "active")


TOOL_PROBES: dict[tuple[str, str], Callable[[Scene, str], Awaitable[None]]] = {
    ("confirm_pending_action", "action_id"): resolve_a_pending_action_by_tool,
    ("cancel_pending_action", "action_id"): resolve_a_pending_action_by_tool,
    ("mark_habit_complete", "habit_id"): complete_a_habit,
    ("update_goal_progress", "goal_id"): move_a_goal,
}


def test_every_id_naming_tool_argument_has_an_ownership_probe() -> None:
    arguments = {
        (tool, field) for tool, model in TOOL_ARGS.items() for field in model.model_fields if field.endswith("_id")
    }
    unprobed = arguments - TOOL_PROBES.keys()
    assert not unprobed, f"tool arguments naming a row with no probe (add one to TOOL_PROBES): {sorted(unprobed)}"
    assert TOOL_PROBES.keys() <= arguments, "a probe for a tool argument that no longer exists"


@pytest.mark.parametrize(("tool", "argument"), TOOL_PROBES)
async def test_a_tool_call_naming_another_users_row_is_not_found_and_the_row_is_unchanged(scene, tool, argument):
    await TOOL_PROBES[tool, argument](scene, tool)


# --- what the routes above do not show on their own --------------------------------------------


async def test_an_admin_of_another_team_cannot_approve_a_critical_action_awaiting_its_teams_admin(scene):
    member, _ = await team_needing_admin_for_critical(scene.ctx)
    action_id = await propose(scene.client, member, "send_email_to_contact", CONTACT_EMAIL)
    assert_not_found(await confirm(scene.client, scene.b, action_id))
    assert_not_found(await cancel(scene.client, scene.b, action_id))
    assert await pending_status(scene.ctx, action_id) == "pending_confirmation"
    assert scene.providers.resend.requests == []


async def test_an_admin_filtering_their_own_teams_traces_by_another_teams_action_id_gets_none(scene):
    await act(scene.client, scene.a, "create_task", {"title": "Private plan"})
    [entry] = await history_rows(scene.ctx, user_id=scene.a.id)
    response = await scene.client.get(
        f"/api/admin/teams/{scene.team_b}/traces", params={"action_id": entry.action_id}, headers=scene.b.headers,
    )
    assert response.status_code == 200 and response.json() == {"traces": []}


async def test_another_users_lists_show_none_of_the_victims_rows(scene):
    await act(scene.client, scene.a, "create_task", {"title": "Private plan"})
    await propose(scene.client, scene.a)
    await a_sequence(scene)
    lists = {"/api/actions/pending": "pending", "/api/actions/history": "history", "/api/sequences": "sequences"}
    seen = {path: (await scene.client.get(path, headers=scene.b.headers)).json()[key] for path, key in lists.items()}
    assert seen == dict.fromkeys(lists, [])
