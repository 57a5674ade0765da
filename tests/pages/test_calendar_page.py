"""`/calendar` in a real browser: connect Google through the Google fake (the flow's cookie lands in this browser)
and see it connected, disconnect (revoked at Google); the built-in calendar's upcoming events; the ICS feed
created, copied, rotated (the old URL is dead) and deleted; 360 px; the accessibility scan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from backends import Backend
from browser_pages import (
    PHONE_WIDTH,
    horizontal_overflow,
    screenshot,
    serious_violations,
    signed_in_page,
)
from factories import DAYTIME, TestUser, new_user
from playwright.async_api import Browser, Page, expect
from providers import GoogleWorld, running_google
from worlds import VoiceWorld, voice_world

from db.models import CalendarEvent
from tools.calendar.oauth import CALLBACK_PATH
from tools.calendar.providers import google_connection


@pytest.fixture
def google() -> Iterator[GoogleWorld]:
    with running_google() as running:
        yield running


@pytest.fixture
async def world(backend: Backend, tmp_path: Path, google: GoogleWorld) -> AsyncIterator[VoiceWorld]:
    """The pages' world with Google configured (its fake), PUBLIC_URL plain http as for `make run`."""
    async with voice_world(backend, tmp_path, PUBLIC_URL="http://127.0.0.1", **google.settings()) as running:
        yield running


async def calendar_page(browser: Browser, world: VoiceWorld, user: TestUser, **options: object) -> Page:
    page = await signed_in_page(browser, world, user, **options)
    await page.goto("/calendar")
    return page


async def connect_google(page: Page, world: VoiceWorld) -> None:
    """Click Connect: this browser goes to our connect route, then to Google (the fake consents at once), which
    sends it to PUBLIC_URL's callback. PUBLIC_URL has no port (the public address in front of the server), so
    the test plays that front: it takes the callback URL the browser was sent to and opens it on the server."""
    async with page.expect_request(lambda request: CALLBACK_PATH in request.url) as sent_back:
        await page.get_by_role("link", name="Connect Google Calendar").click()
    callback = urlsplit((await sent_back.value).url)
    await page.goto(f"{world.base_url}{callback.path}?{callback.query}")


async def fetch_feed(world: VoiceWorld, url: str) -> int:
    return (await world.http.get(urlsplit(url).path)).status_code


async def create_feed(page: Page) -> str:
    await page.get_by_role("button", name="Create feed URL").click()
    return await page.get_by_test_id("feed-url").input_value()


async def test_a_person_connects_google_calendar_and_sees_it_connected(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user)
    await expect(page.get_by_test_id("google-state")).to_have_text("Not connected")
    await connect_google(page, world)
    await expect(page).to_have_url(world.base_url + "/calendar?google=connected")
    await expect(page.get_by_role("status")).to_contain_text("Google Calendar is connected")
    await expect(page.get_by_test_id("google-state")).to_have_text("Connected")
    async with world.data.sessions() as session:
        assert await google_connection(session, user.id) is not None
    assert [cookie for cookie in await page.context.cookies() if cookie["name"] == "coach_oauth_browser"] == []


async def test_a_callback_in_a_browser_that_did_not_start_the_flow_connects_nothing(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user)
    async with page.expect_request(lambda request: CALLBACK_PATH in request.url) as sent_back:
        await page.get_by_role("link", name="Connect Google Calendar").click()
    callback = urlsplit((await sent_back.value).url)
    other_browser = await calendar_page(browser, world, user)  # signed in, but without the flow's cookie
    await other_browser.goto(f"{world.base_url}{callback.path}?{callback.query}")
    await expect(other_browser.get_by_role("alert")).to_contain_text("started in another browser")
    await expect(other_browser.get_by_test_id("google-state")).to_have_text("Not connected")


async def test_without_google_credentials_the_page_says_google_cannot_be_connected(
    browser: Browser, backend: Backend, tmp_path: Path
) -> None:
    async with voice_world(backend, tmp_path, PUBLIC_URL="http://127.0.0.1") as without_google:
        page = await calendar_page(browser, without_google, await new_user(without_google.data))
        await expect(page.get_by_test_id("google-calendar")).to_contain_text("cannot be connected")
        await expect(page.get_by_role("link", name="Connect Google Calendar")).to_have_count(0)


async def test_a_person_disconnects_google_calendar(browser: Browser, world: VoiceWorld, google: GoogleWorld) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user)
    await connect_google(page, world)
    await page.get_by_role("button", name="Disconnect Google Calendar").click()
    await expect(page.get_by_role("status")).to_contain_text("Google Calendar is disconnected")
    await expect(page.get_by_test_id("google-state")).to_have_text("Not connected")
    assert len(google.fake.revoked) == 1
    async with world.data.sessions() as session:
        assert await google_connection(session, user.id) is None


async def test_the_built_in_calendars_upcoming_events_are_listed_in_the_persons_time_zone(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await new_user(world.data, timezone="Europe/Berlin")
    async with world.data.sessions() as session:
        session.add_all([
            CalendarEvent(user_id=user.id, title="Over already", start_at=DAYTIME - timedelta(hours=3),
                          end_at=DAYTIME - timedelta(hours=2)),
            CalendarEvent(user_id=user.id, title="Deep work", location="Library",
                          start_at=DAYTIME + timedelta(hours=1), end_at=DAYTIME + timedelta(hours=2)),
        ])
        await session.commit()
    page = await calendar_page(browser, world, user)
    events = page.get_by_test_id("calendar-event")
    await expect(events).to_have_count(1)
    start = (DAYTIME + timedelta(hours=1)).astimezone(ZoneInfo("Europe/Berlin"))
    await expect(events).to_contain_text(["Deep work"])
    await expect(events.first).to_contain_text(f"{start:%H:%M}")
    await expect(events.first).to_contain_text("Library")


async def test_a_feed_url_is_created_and_copied(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user, permissions=["clipboard-read", "clipboard-write"])
    url = await create_feed(page)
    assert url.endswith(".ics")
    assert await fetch_feed(world, url) == 200
    await page.get_by_role("button", name="Copy").click()
    await expect(page.locator("#feed-url-copied")).to_have_text("Copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == url


async def test_rotating_the_feed_kills_the_old_url(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user)
    old = await create_feed(page)
    await page.get_by_role("button", name="Rotate feed URL").click()
    new = await page.get_by_test_id("feed-url").input_value()
    assert new != old
    assert await fetch_feed(world, old) == 404
    assert await fetch_feed(world, new) == 200


async def test_deleting_the_feed_kills_its_url(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user)
    url = await create_feed(page)
    await page.get_by_role("button", name="Delete feed").click()
    await expect(page.get_by_role("status")).to_contain_text("The calendar feed is deleted")
    await expect(page.get_by_test_id("feed-state")).to_have_text("No feed.")
    assert await fetch_feed(world, url) == 404


async def test_the_calendar_page_fits_360_px_and_has_no_serious_accessibility_violation(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user, viewport=PHONE_WIDTH)
    assert await serious_violations(page) == []
    await create_feed(page)
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []
    await screenshot(page, "calendar-360-feed")
    await connect_google(page, world)
    await expect(page.get_by_test_id("google-state")).to_have_text("Connected")
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []
    await screenshot(page, "calendar-360-connected")


async def test_the_calendar_page_at_desktop_width_has_no_serious_accessibility_violation(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await new_user(world.data)
    page = await calendar_page(browser, world, user, viewport={"width": 1280, "height": 900})
    await create_feed(page)
    assert await serious_violations(page) == []
    await screenshot(page, "calendar-1280")
