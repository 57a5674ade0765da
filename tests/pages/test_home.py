"""The home page in a real browser: pending-action cards that appear and leave live, approve, edit and approve,
reject with a reason, keyboard only, at 360 px, and the accessibility scan."""

from __future__ import annotations

import pytest
from action_requests import confirm, feedback_rows, pending_status, propose
from browser_pages import (
    PHONE_WIDTH,
    horizontal_overflow,
    screenshot,
    serious_violations,
    signed_in_page,
)
from factories import TestUser, daytime_clock, new_user
from fakes.server import running_server_async
from playwright.async_api import Browser, Locator, Page, expect
from worlds import VoiceWorld

from server.app import create_app

LIVE_MS = 1000  # a card appears or leaves within a second


async def _home(browser: Browser, world: VoiceWorld, user: TestUser, **options: object) -> Page:
    page = await signed_in_page(browser, world, user, **options)
    await page.goto("/")
    await page.wait_for_function("window.htmx !== undefined")
    return page


async def _live(page: Page) -> None:
    """Wait until the page's event stream is open (so what happens next reaches it)."""
    await page.wait_for_function(
        "document.querySelector('#pending-section')['htmx-internal-data']?.sseEventSource?.readyState === 1"
    )


def _card(page: Page, action_id: str) -> Locator:
    return page.locator(f'[data-testid="pending-action"][data-action-id="{action_id}"]')


async def _user_with_card(browser: Browser, world: VoiceWorld, **options: object) -> tuple[TestUser, Page, str, Locator]:
    user = await new_user(world.data, name="Ann")
    action_id = await propose(world.http, user, args={"message": "Run at 7 tomorrow"})
    page = await _home(browser, world, user, **options)
    return user, page, action_id, _card(page, action_id)


async def test_a_card_appears_live_when_the_api_proposes_an_sms(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await _home(browser, world, user)
    await _live(page)
    action_id = await propose(world.http, user, args={"message": "Drink water"})
    card = _card(page, action_id)
    await expect(card).to_be_visible(timeout=LIVE_MS)
    await expect(card).to_contain_text("Send a text message")
    await expect(card).to_contain_text("Drink water")
    await expect(card).to_contain_text("90%")
    await expect(page.locator("#pending-announcer")).to_contain_text("1 action is waiting for your approval")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # events cross processes over Redis
async def test_a_card_appears_live_when_another_server_process_proposes(
    browser: Browser, world: VoiceWorld, backend
) -> None:
    user = await new_user(world.data)
    page = await _home(browser, world, user)
    await _live(page)
    other = create_app(world.settings)
    async with running_server_async(other) as other_url:
        daytime_clock(other.state.ctx)
        response = await world.http.post(
            f"{other_url}/api/actions", headers=user.headers,
            json={"tool": "send_sms", "args": {"message": "From B"}, "confidence": 0.9},
        )
        action_id = response.json()["pending_action_id"]
        await expect(_card(page, action_id)).to_be_visible(timeout=LIVE_MS)


async def test_a_card_leaves_live_when_the_action_is_confirmed_elsewhere(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world)
    await expect(card).to_be_visible()
    await _live(page)
    assert (await confirm(world.http, user, action_id)).status_code == 200
    await expect(card).to_have_count(0, timeout=LIVE_MS)


async def test_approve_sends_the_sms_and_the_card_leaves(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world)
    await card.get_by_test_id("confirm-action").click()
    await expect(card).to_have_count(0)
    await expect(page.get_by_test_id("decision-notice")).to_contain_text("Approved: Send a text message.")
    assert [m.param("Body") for m in world.twilio.messages] == ["Run at 7 tomorrow"]


async def test_edit_and_approve_sends_the_edited_text_exactly_once(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world)
    await card.get_by_test_id("edit-action").click()
    await card.get_by_label("Message").fill("Run at 8 tomorrow")
    await card.get_by_role("button", name="Save and approve").click()
    await expect(card).to_have_count(0)
    assert [m.param("Body") for m in world.twilio.messages] == ["Run at 8 tomorrow"]
    [approval] = await feedback_rows(world.data, action_id)
    assert approval.feedback_type == "edited" and approval.edited_payload == {"message": "Run at 8 tomorrow"}


async def test_an_edit_the_tool_refuses_shows_next_to_the_field_and_keeps_the_values(
    browser: Browser, world: VoiceWorld
) -> None:
    user, page, action_id, card = await _user_with_card(browser, world)
    await card.get_by_test_id("edit-action").click()
    await card.get_by_label("Message").fill("   ")
    await card.get_by_role("button", name="Save and approve").click()
    await expect(card.get_by_label("Message")).to_have_attribute("aria-invalid", "true")
    await expect(card.locator(".field-error")).to_contain_text("at least 1 character")
    assert world.twilio.messages == [] and await pending_status(world.data, action_id) == "pending_confirmation"


async def test_reject_with_a_reason_is_recorded_as_feedback(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world)
    await card.get_by_test_id("cancel-action").click()
    await card.get_by_label("Wrong time").check()
    await card.get_by_label("In your words").fill("Tomorrow is a rest day")
    await card.get_by_role("button", name="Reject").click()
    await expect(card).to_have_count(0)
    [rejection] = await feedback_rows(world.data, action_id)
    assert (rejection.feedback_type, rejection.reason_code, rejection.comment) == (
        "rejected", "wrong_time", "Tomorrow is a rest day"
    )
    assert await pending_status(world.data, action_id) == "cancelled" and world.twilio.messages == []


async def test_other_as_a_reason_needs_words(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world)
    await card.get_by_test_id("cancel-action").click()
    await card.get_by_role("radio", name="Other").check()
    await card.get_by_role("button", name="Reject").click()
    await expect(card.get_by_label("In your words")).to_have_attribute("aria-invalid", "true")
    await expect(card.get_by_role("radio", name="Other")).to_be_checked()
    assert await pending_status(world.data, action_id) == "pending_confirmation"


async def test_a_card_is_approved_with_the_keyboard_alone(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world)
    approve = card.get_by_test_id("confirm-action")
    for _ in range(40):
        if await approve.evaluate("button => document.activeElement === button"):
            break
        await page.keyboard.press("Tab")
    else:
        raise AssertionError("Tab never reached the Approve button")
    await page.keyboard.press("Enter")
    await expect(card).to_have_count(0)
    assert [m.param("Body") for m in world.twilio.messages] == ["Run at 7 tomorrow"]


async def test_the_home_page_fits_a_phone_and_passes_the_accessibility_scan(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world, viewport=PHONE_WIDTH)
    await expect(card).to_be_visible()
    await screenshot(page, "home-360")
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []
    await card.get_by_test_id("edit-action").click()
    await expect(card.get_by_label("Message")).to_be_visible()
    await screenshot(page, "home-edit-360")
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []


async def test_the_home_page_at_desktop_width_passes_the_accessibility_scan(browser: Browser, world: VoiceWorld) -> None:
    user, page, action_id, card = await _user_with_card(browser, world, viewport={"width": 1280, "height": 900})
    await card.get_by_test_id("cancel-action").click()
    await expect(card.get_by_label("Wrong time")).to_be_visible()
    await screenshot(page, "home-reject-1280")
    assert await serious_violations(page) == []
