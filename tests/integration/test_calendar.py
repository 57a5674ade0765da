"""Calendars through the REST API: Google OAuth (state, PKCE, sealed tokens, refresh, disconnect), calendar
tools on Google and the built-in calendar, the private ICS feed, and `find_optimal_time`.

Every test runs on both backends. The app's own httpx client talks to FakeGoogle over real sockets; the
test plays the browser (it follows the consent redirect back to our callback). The clock is pinned to
DAYTIME (Tuesday 2026-11-24 19:00 UTC); users are in UTC with the default working hours 09:00-17:00.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import icalendar
import pytest
from apps import http_client, running_app
from backends import Backend, make_settings
from action_requests import act
from factories import DAYTIME, TestUser, daytime_clock, new_user, update_user_settings
from providers import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GoogleWorld, running_google
from sqlalchemy import select

from db.models import (
    AgentActionHistory,
    CalendarEvent,
    CalendarFeed,
    Habit,
    HabitCompletion,
    OAuthState,
    UserCalendarConnection,
)
from server.config import Settings
from server.context import AppContext
from tools.channels.google_calendar import event_id_for, pkce_challenge
from tools.channels.sealing import SealError, sealer_for

WEDNESDAY = "2026-11-25"
SATURDAY = "2026-11-28"
MONDAY_TO_FRIDAY = [0, 1, 2, 3, 4]


@pytest.fixture
def google() -> Iterator[GoogleWorld]:
    with running_google() as world:
        yield world


@pytest.fixture
def settings(backend: Backend, google: GoogleWorld) -> Settings:
    return make_settings(backend, **google.settings())


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser at the public https address: it keeps the OAuth flow's Secure cookie."""
    async with http_client(app, base_url=app.state.ctx.settings.PUBLIC_URL) as browser:
        yield browser


@pytest.fixture
def ctx(app) -> AppContext:
    daytime_clock(app.state.ctx)
    return app.state.ctx


# --- helpers ---------------------------------------------------------------------------------


def advance(ctx: AppContext, by: timedelta) -> None:
    moment = DAYTIME + by
    ctx.services.clock = lambda: moment


def error_code(response: httpx.Response) -> str | None:
    return (response.json().get("error") or {}).get("code")


async def calendar_user(ctx: AppContext, **settings: Any) -> TestUser:
    """A user whose medium-risk actions (calendar events) run without confirmation."""
    user = await new_user(ctx)
    await update_user_settings(ctx, user, auto_approve_medium_risk=True, **settings)
    return user




async def create_event(client: httpx.AsyncClient, user: TestUser, start: str = f"{WEDNESDAY}T10:00",
                       minutes: int = 60, title: str = "Deep work") -> httpx.Response:
    return await act(client, user, "create_calendar_event",
                     {"title": title, "start_time": start, "duration_minutes": minutes})


async def start_connect(client: httpx.AsyncClient, user: TestUser) -> dict[str, str]:
    response = await client.get("/api/calendar/google/connect", headers=user.headers)
    assert response.status_code == 200, response.text
    url = response.json()["authorization_url"]
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()} | {"url": url}


async def connect_google(client: httpx.AsyncClient, user: TestUser) -> None:
    callback = await GoogleWorld.consent((await start_connect(client, user))["url"])
    response = await client.get(callback)
    assert response.status_code == 200, response.text


async def connection_of(ctx: AppContext, user: TestUser) -> UserCalendarConnection | None:
    async with ctx.sessions() as session:
        return await session.scalar(select(UserCalendarConnection).where(UserCalendarConnection.user_id == user.id))


async def builtin_events(ctx: AppContext, user: TestUser) -> list[CalendarEvent]:
    async with ctx.sessions() as session:
        return list((await session.execute(select(CalendarEvent).where(CalendarEvent.user_id == user.id))).scalars())


def inserts(google: GoogleWorld) -> list[int]:
    return [call.status for call in google.fake.api_calls if call.path.endswith("/events")]


def feed_path(url: str) -> str:
    return urlsplit(url).path


# --- connecting ------------------------------------------------------------------------------


async def test_connect_gives_the_google_consent_url_with_state_and_s256_challenge(client, ctx, google):
    user = await new_user(ctx)
    params = await start_connect(client, user)
    assert params["url"].startswith(f"{google.url}/o/oauth2/v2/auth?")
    assert (params["client_id"], params["response_type"], params["code_challenge_method"]) == (GOOGLE_CLIENT_ID, "code", "S256")
    assert params["redirect_uri"] == "https://coach.example.test/oauth/google/callback"
    assert params["access_type"] == "offline" and "calendar.events" in params["scope"]
    async with ctx.sessions() as session:
        state = await session.get(OAuthState, params["state"])
    assert state is not None and state.user_id == user.id
    verifier = sealer_for(ctx.settings.COACH_SECRET_KEY).open(user.id, "google.pkce_verifier", state.code_verifier_sealed)
    assert pkce_challenge(verifier) == params["code_challenge"]


async def test_status_says_which_calendar_the_tools_use(client, ctx, google):
    user = await new_user(ctx)
    before = (await client.get("/api/calendar", headers=user.headers)).json()
    await connect_google(client, user)
    await make_feed(client, user)
    after = (await client.get("/api/calendar", headers=user.headers)).json()
    assert (before["provider"], before["google_connected"], before["feed"]) == ("builtin", False, False)
    assert (after["provider"], after["google_connected"], after["feed"]) == ("google", True, True)


async def test_connect_without_google_credentials_is_service_unavailable(backend):
    async with running_app(make_settings(backend)) as application, http_client(application) as http:
        user = await new_user(application.state.ctx)
        response = await http.get("/api/calendar/google/connect", headers=user.headers)
    assert (response.status_code, error_code(response)) == (503, "SERVICE_UNAVAILABLE")


async def test_callback_with_an_unknown_state_is_refused(client, ctx, google):
    user = await new_user(ctx)
    callback = await GoogleWorld.consent((await start_connect(client, user))["url"])
    forged = callback.replace("state=", "state=forged")
    response = await client.get(forged)
    assert (response.status_code, error_code(response)) == (400, "INVALID_ARGUMENT")
    assert await connection_of(ctx, user) is None


async def test_callback_after_ten_minutes_is_refused(client, ctx, google):
    user = await new_user(ctx)
    callback = await GoogleWorld.consent((await start_connect(client, user))["url"])
    advance(ctx, timedelta(minutes=10, seconds=1))
    response = await client.get(callback)
    assert (response.status_code, error_code(response)) == (400, "INVALID_ARGUMENT")
    assert "expired" in response.json()["error"]["message"]
    assert await connection_of(ctx, user) is None and google.fake.token_requests == []


async def test_a_denied_consent_connects_nothing_and_uses_up_the_state(client, ctx, google):
    user = await new_user(ctx)
    state = (await start_connect(client, user))["state"]
    response = await client.get(f"/oauth/google/callback?state={state}&error=access_denied")
    assert (response.status_code, error_code(response)) == (400, "INVALID_ARGUMENT")
    assert "access_denied" in response.json()["error"]["message"]
    async with ctx.sessions() as session:
        assert await session.get(OAuthState, state) is None
    assert await connection_of(ctx, user) is None and google.fake.token_requests == []


async def test_a_state_is_used_once(client, ctx, google):
    user = await new_user(ctx)
    callback = await GoogleWorld.consent((await start_connect(client, user))["url"])
    assert (await client.get(callback)).status_code == 200
    replay = await client.get(callback)
    assert (replay.status_code, error_code(replay)) == (400, "INVALID_ARGUMENT")
    assert len(google.fake.token_requests) == 1


async def test_a_wrong_pkce_verifier_is_refused_by_the_token_endpoint(client, ctx, google):
    user = await new_user(ctx)
    params = await start_connect(client, user)
    async with ctx.sessions() as session:
        state = await session.get(OAuthState, params["state"])
        state.code_verifier_sealed = sealer_for(ctx.settings.COACH_SECRET_KEY).seal(user.id, "google.pkce_verifier", "x" * 50)
        await session.commit()
    response = await client.get(await GoogleWorld.consent(params["url"]))
    assert (response.status_code, error_code(response)) == (400, "INVALID_ARGUMENT")
    assert [request.status for request in google.fake.token_requests] == [400]
    assert await connection_of(ctx, user) is None


async def test_tokens_are_stored_sealed_and_bound_to_the_user(client, ctx, google):
    user, other = await new_user(ctx), await new_user(ctx)
    await connect_google(client, user)
    connection = await connection_of(ctx, user)
    row_text = repr({column: getattr(connection, column) for column in UserCalendarConnection.__table__.columns.keys()})
    assert google.fake.issued_tokens and not any(token in row_text for token in google.fake.issued_tokens)
    sealer = sealer_for(ctx.settings.COACH_SECRET_KEY)
    assert sealer.open(user.id, "google.refresh_token", connection.refresh_token_encrypted) in google.fake.issued_tokens
    with pytest.raises(SealError):
        sealer.open(other.id, "google.refresh_token", connection.refresh_token_encrypted)


async def test_tokens_copied_to_another_users_connection_are_not_used(client, ctx, google):
    owner, thief = await new_user(ctx), await calendar_user(ctx)
    await connect_google(client, owner)
    stolen = await connection_of(ctx, owner)
    async with ctx.sessions() as session:
        session.add(UserCalendarConnection(
            user_id=thief.id, access_token_encrypted=stolen.access_token_encrypted,
            refresh_token_encrypted=stolen.refresh_token_encrypted, token_expires_at=stolen.token_expires_at,
        ))
        await session.commit()
    response = await create_event(client, thief)
    assert (response.status_code, error_code(response)) == (503, "SERVICE_UNAVAILABLE")
    assert "reconnect" in response.json()["error"]["message"]
    assert google.fake.api_calls == [] and google.fake.events == {}


# --- tokens ----------------------------------------------------------------------------------


async def test_a_401_from_calendar_refreshes_the_token_and_retries(client, ctx, google):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    google.fake.expire_access_tokens()
    response = await create_event(client, user)
    assert response.status_code == 200, response.text
    assert [request.grant_type for request in google.fake.token_requests] == ["authorization_code", "refresh_token"]
    assert [call.status for call in google.fake.api_calls] == [401, 200, 200]
    assert len(google.fake.events) == 1


async def test_an_access_token_about_to_expire_is_refreshed_before_the_call(client, ctx, google):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    advance(ctx, timedelta(minutes=59))  # Google's token lives 3599 s; we refresh 2 minutes early
    response = await create_event(client, user)
    assert response.status_code == 200, response.text
    assert [request.grant_type for request in google.fake.token_requests] == ["authorization_code", "refresh_token"]
    assert all(call.status == 200 for call in google.fake.api_calls)
    connection = await connection_of(ctx, user)
    assert connection.token_expires_at == DAYTIME + timedelta(minutes=59, seconds=3599)


async def test_a_connection_sealed_before_a_secret_rotation_keeps_working_and_moves_to_the_new_secret(
    client, ctx, google, settings
):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    old = ctx.settings.COACH_SECRET_KEY
    rotated = settings.model_copy(update={"COACH_SECRET_KEY": f"rotated-secret-for-tests,{old}"})
    async with running_app(rotated) as application, http_client(application) as rotated_client:
        daytime_clock(application.state.ctx)
        advance(application.state.ctx, timedelta(minutes=59))  # the access token is refreshed, both re-sealed
        response = await create_event(rotated_client, user)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["provider"] == "google"
    sealed = (await connection_of(ctx, user)).refresh_token_encrypted
    assert sealer_for("rotated-secret-for-tests").open(user.id, "google.refresh_token", sealed)
    with pytest.raises(SealError):
        sealer_for(old).open(user.id, "google.refresh_token", sealed)


# --- creating events -------------------------------------------------------------------------


async def test_create_calendar_event_inserts_at_google_with_an_id_from_the_action(client, ctx, google):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    response = await create_event(client, user, title="Write the plan")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    [(event_id, event)] = google.fake.events.items()
    async with ctx.sessions() as session:
        history = await session.scalar(select(AgentActionHistory).where(AgentActionHistory.user_id == user.id))
    assert event_id == event_id_for(history.action_id) == data["event_id"]
    assert (data["provider"], event["summary"]) == ("google", "Write the plan")
    assert datetime.fromisoformat(event["start"]["dateTime"]) == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    assert await builtin_events(ctx, user) == []


async def test_an_insert_retried_after_a_lost_answer_creates_one_event(client, ctx, google):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    google.fake.lose_next_insert_answer()
    response = await create_event(client, user)
    assert response.status_code == 200, response.text
    assert inserts(google) == [503, 409]
    assert list(google.fake.events) == [response.json()["data"]["event_id"]]


async def test_an_event_outside_working_hours_is_refused_when_the_setting_is_on(client, ctx):
    user = await calendar_user(ctx)
    response = await create_event(client, user, start=f"{WEDNESDAY}T16:30", minutes=60)
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert response.json()["error"]["details"]["working_hours_end"] == "17:00"
    assert await builtin_events(ctx, user) == []


async def test_an_event_on_a_day_off_is_refused_when_working_days_are_set(client, ctx):
    user = await calendar_user(ctx, working_days=MONDAY_TO_FRIDAY)
    response = await create_event(client, user, start=f"{SATURDAY}T10:00")
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    error = response.json()["error"]
    assert error["details"]["working_days"] == MONDAY_TO_FRIDAY
    assert "09:00-17:00 on Mon, Tue, Wed, Thu, Fri" in error["message"]
    assert await builtin_events(ctx, user) == []


async def test_an_event_on_a_working_day_inside_working_hours_is_created(client, ctx):
    user = await calendar_user(ctx, working_days=MONDAY_TO_FRIDAY)
    response = await create_event(client, user, start=f"{WEDNESDAY}T10:00")
    assert response.status_code == 200, response.text


async def test_an_event_outside_working_hours_is_created_when_the_setting_is_off(client, ctx):
    user = await calendar_user(ctx, calendar_working_hours_only=False)
    response = await create_event(client, user, start=f"{WEDNESDAY}T19:00")
    assert response.status_code == 200, response.text
    assert len(await builtin_events(ctx, user)) == 1


async def test_a_start_time_in_the_past_is_refused(client, ctx):
    user = await calendar_user(ctx)
    response = await create_event(client, user, start="2026-11-24T10:00")
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert "passed" in response.json()["error"]["message"]


async def test_calendar_confirmation_setting_holds_the_event_until_confirmed(client, ctx):
    user = await calendar_user(ctx, require_confirmation_calendar=True)
    proposed = (await create_event(client, user)).json()
    assert proposed["needs_confirmation"] is True and await builtin_events(ctx, user) == []
    confirmed = await client.post(f"/api/actions/pending/{proposed['pending_action_id']}/confirm",
                                  headers=user.headers, json={})
    assert confirmed.status_code == 200, confirmed.text
    assert len(await builtin_events(ctx, user)) == 1


async def test_builtin_calendar_stores_the_event_and_refuses_a_conflict(client, ctx):
    user = await calendar_user(ctx)
    first = await create_event(client, user, title="Dentist")
    assert first.status_code == 200 and first.json()["data"]["provider"] == "builtin"
    clash = await create_event(client, user, start=f"{WEDNESDAY}T10:30", title="Gym")
    assert (clash.status_code, error_code(clash)) == (422, "INVALID_ARGUMENT")
    assert clash.json()["error"]["details"]["conflicts"] == [
        {"start": f"{WEDNESDAY}T10:00+00:00", "end": f"{WEDNESDAY}T11:00+00:00", "title": "Dentist"}
    ]
    assert [event.title for event in await builtin_events(ctx, user)] == ["Dentist"]


async def test_a_google_conflict_is_refused_without_inserting(client, ctx, google):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    google.fake.add_busy(datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc), datetime(2026, 11, 25, 10, 30, tzinfo=timezone.utc))
    response = await create_event(client, user)
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert inserts(google) == [] and google.fake.events == {}


# --- availability ----------------------------------------------------------------------------


async def test_availability_on_the_builtin_calendar(client, ctx):
    user = await calendar_user(ctx)
    await create_event(client, user, title="Dentist")
    response = await act(client, user, "check_calendar_availability",
                         {"date": WEDNESDAY, "time_range_start": "09:00", "time_range_end": "12:00"})
    data = response.json()["data"]
    assert (data["provider"], data["is_free"]) == ("builtin", False)
    assert data["busy"] == [{"start": f"{WEDNESDAY}T10:00+00:00", "end": f"{WEDNESDAY}T11:00+00:00", "title": "Dentist"}]
    assert data["free"] == [{"start": f"{WEDNESDAY}T09:00+00:00", "end": f"{WEDNESDAY}T10:00+00:00"},
                            {"start": f"{WEDNESDAY}T11:00+00:00", "end": f"{WEDNESDAY}T12:00+00:00"}]


async def test_availability_on_google_comes_from_free_busy(client, ctx, google):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    google.fake.add_busy(datetime(2026, 11, 25, 14, tzinfo=timezone.utc), datetime(2026, 11, 25, 15, tzinfo=timezone.utc))
    response = await act(client, user, "check_calendar_availability", {"date": WEDNESDAY})
    data = response.json()["data"]
    assert (data["provider"], data["busy"]) == ("google", [{"start": f"{WEDNESDAY}T14:00+00:00", "end": f"{WEDNESDAY}T15:00+00:00"}])
    assert any(call.path.endswith("/freeBusy") and call.status == 200 for call in google.fake.api_calls)


# --- the ICS feed ----------------------------------------------------------------------------


async def make_feed(client: httpx.AsyncClient, user: TestUser) -> str:
    response = await client.post("/api/calendar/feed", headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()["url"]


async def test_the_ics_feed_parses_and_contains_the_event(client, ctx):
    user = await calendar_user(ctx)
    title = "Review; goals, with Ana\u00efs \u2014 " + "long " * 20
    await create_event(client, user, title=title.strip())
    response = await client.get(feed_path(await make_feed(client, user)))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    assert str(event["SUMMARY"]) == title.strip() and event["UID"] and event["DTSTAMP"]
    assert event.decoded("DTSTART") == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    assert event.decoded("DTEND") == datetime(2026, 11, 25, 11, tzinfo=timezone.utc)
    assert all(len(line) <= 75 for line in response.content.split(b"\r\n"))


async def test_a_wrong_feed_secret_is_not_found(client, ctx):
    user = await calendar_user(ctx)
    url = await make_feed(client, user)
    response = await client.get(feed_path(url).replace("/calendar/", "/calendar/x"))
    assert (response.status_code, error_code(response)) == (404, "NOT_FOUND")


async def test_rotating_the_feed_kills_the_old_url_and_stores_only_a_hash(client, ctx):
    user = await calendar_user(ctx)
    old, new = await make_feed(client, user), await make_feed(client, user)
    assert (await client.get(feed_path(old))).status_code == 404
    assert (await client.get(feed_path(new))).status_code == 200
    secret = feed_path(new).removeprefix("/calendar/").removesuffix(".ics")
    async with ctx.sessions() as session:
        row = await session.get(CalendarFeed, user.id)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


async def test_a_feed_shows_only_its_owners_events(client, ctx):
    owner, other = await calendar_user(ctx), await calendar_user(ctx)
    await create_event(client, owner, title="Owner's meeting")
    await create_event(client, other, title="Other's meeting")
    calendar = icalendar.Calendar.from_ical((await client.get(feed_path(await make_feed(client, other)))).content)
    assert [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")] == ["Other's meeting"]


# --- find_optimal_time -----------------------------------------------------------------------


async def add_completions(ctx: AppContext, user: TestUser, days_ago: list[int], hour: int, minute: int = 15) -> None:
    async with ctx.sessions() as session:
        habit = Habit(user_id=user.id, name="Meditate")
        session.add(habit)
        await session.flush()
        for ago in days_ago:
            moment = DAYTIME.replace(hour=hour, minute=minute) - timedelta(days=ago)
            session.add(HabitCompletion(habit_id=habit.id, user_id=user.id, completed_on=moment.date(), completed_at=moment))
        await session.commit()


async def test_find_optimal_time_ranks_the_usual_hour_first_and_never_offers_busy_time(client, ctx):
    user = await calendar_user(ctx, calendar_working_hours_only=False)
    await add_completions(ctx, user, [1, 2, 3, 4, 5, 7, 9, 11, 13], hour=10)
    await add_completions(ctx, user, [20, 21, 22], hour=15)  # older than two weeks: not counted
    for day in range(2, 8):  # 10:00-11:00 is busy every day but Wednesday
        await create_event(client, user, start=f"{(DAYTIME + timedelta(days=day)).date()}T10:00", title=f"Standup {day}")
    response = await act(client, user, "find_optimal_time",
                         {"activity_type": "habit", "duration_minutes": 30, "preferred_time_of_day": "morning"})
    assert response.status_code == 200, response.text
    slots = response.json()["data"]["slots"]
    assert slots[0]["start"] == f"{WEDNESDAY}T10:00+00:00"
    assert slots[0]["reason"] == "free, and you completed habits at this time on 9 of the last 14 days"
    assert [slot["history_days"] for slot in slots] == sorted((slot["history_days"] for slot in slots), reverse=True)
    assert slots[-1]["history_days"] == 0
    busy = [(event.start_at, event.end_at) for event in await builtin_events(ctx, user)]
    for slot in slots:
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert not any(b_start < end and start < b_end for b_start, b_end in busy), slot
        assert time(8) <= start.time() and end.time() <= time(12)  # morning, after quiet hours


async def test_find_optimal_time_for_goal_work_stays_in_working_hours(client, ctx):
    user = await calendar_user(ctx, calendar_working_hours_only=False)
    await add_completions(ctx, user, [1, 2, 3], hour=20)
    response = await act(client, user, "find_optimal_time", {"activity_type": "goal_work", "duration_minutes": 60})
    slots = response.json()["data"]["slots"]
    assert slots
    for slot in slots:
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert time(9) <= start.time() and end.time() <= time(17) and start.date() == end.date()


async def test_find_optimal_time_offers_no_slot_on_a_day_off(client, ctx):
    weekend = [5, 6]  # it is Tuesday: without working days, the first slots would be this week's
    user = await calendar_user(ctx, working_days=weekend)
    response = await act(client, user, "find_optimal_time", {"activity_type": "habit", "duration_minutes": 30})
    slots = response.json()["data"]["slots"]
    assert slots
    assert {datetime.fromisoformat(slot["start"]).weekday() for slot in slots} <= set(weekend)


# --- disconnecting and isolation -------------------------------------------------------------


async def test_disconnect_revokes_at_google_and_deletes_the_connection(client, ctx, google):
    user = await calendar_user(ctx)
    await connect_google(client, user)
    refresh_token = sealer_for(ctx.settings.COACH_SECRET_KEY).open(
        user.id, "google.refresh_token", (await connection_of(ctx, user)).refresh_token_encrypted)
    response = await client.delete("/api/calendar/google", headers=user.headers)
    assert response.status_code == 200 and response.json() == {"disconnected": True, "revoked": True}
    assert google.fake.revoked == [refresh_token]
    assert await connection_of(ctx, user) is None
    assert (await create_event(client, user)).json()["data"]["provider"] == "builtin"


async def test_another_user_cannot_use_or_disconnect_a_connection(client, ctx, google):
    owner, other = await calendar_user(ctx), await calendar_user(ctx)
    await connect_google(client, owner)
    assert (await create_event(client, other)).json()["data"]["provider"] == "builtin"
    assert google.fake.events == {}
    response = await client.delete("/api/calendar/google", headers=other.headers)
    assert (response.status_code, error_code(response)) == (404, "NOT_FOUND")
    assert await connection_of(ctx, owner) is not None and google.fake.revoked == []


async def test_tokens_client_secret_and_feed_secret_are_never_logged(client, ctx, google, caplog):
    caplog.set_level("DEBUG")
    user = await calendar_user(ctx)
    await connect_google(client, user)
    google.fake.expire_access_tokens()
    await create_event(client, user)
    url = await make_feed(client, user)
    await client.get(feed_path(url))
    # the test's own client (the browser at PUBLIC_URL) logs the URLs it requests; the server must not
    browser = ctx.settings.PUBLIC_URL
    records = [r for r in caplog.records if not (r.name == "httpx" and browser in r.getMessage())]
    logged = repr([record.__dict__ for record in records]) + "".join(record.getMessage() for record in records)
    secrets = [*google.fake.issued_tokens, GOOGLE_CLIENT_SECRET, feed_path(url).removeprefix("/calendar/").removesuffix(".ics")]
    assert len(secrets) >= 5 and not [secret for secret in secrets if secret in logged]
