"""`/settings` in a real browser: every setting of the API has its input; changes in several cards are saved
and the API returns them; a team's minimum bounds the slider and shows as enforced, and a forged value under
it is refused next to the field with nothing at all saved; bad values are shown next to their fields with what
was typed kept; saving by keyboard only; 360 px; the accessibility scan."""

from __future__ import annotations

from typing import Any

from browser_pages import (
    PHONE_WIDTH,
    horizontal_overflow,
    screenshot,
    serious_violations,
    signed_in_page,
)
from factories import TestUser, new_team, new_user, update_team_settings
from playwright.async_api import Browser, Page, expect
from worlds import VoiceWorld


async def api_settings(world: VoiceWorld, user: TestUser) -> dict[str, Any]:
    response = await world.http.get("/api/me/settings", headers=user.headers)
    assert response.status_code == 200
    return response.json()


async def settings_page(browser: Browser, world: VoiceWorld, user: TestUser, **options: Any) -> Page:
    page = await signed_in_page(browser, world, user, **options)
    await page.goto("/settings")
    return page


async def save(page: Page) -> None:
    await page.get_by_role("button", name="Save settings").click()


async def team_member(world: VoiceWorld, **team_settings: Any) -> TestUser:
    team_id = await new_team(world.data, "Acme")
    await update_team_settings(world.data, team_id, **team_settings)
    return await new_user(world.data, team_id=team_id)


async def test_every_setting_of_the_api_has_one_input_named_as_the_api_names_it(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await settings_page(browser, world, user)
    names = await page.eval_on_selector_all(
        "form[action='/settings'] [name]:not([name=csrf_token])", "controls => controls.map(c => c.name)"
    )
    assert set(names) == set(await api_settings(world, user))
    assert len(names) == len(set(names)) + 6  # the seven working-day boxes share one name
    assert await page.get_by_label("Unsure means less sure than").input_value() == "0.7"


async def test_changes_in_several_cards_are_saved_and_the_api_returns_them(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await settings_page(browser, world, user)
    await page.get_by_label("Send text messages").uncheck()
    await page.get_by_label("Unsure means less sure than").fill("0.85")
    await page.get_by_label("Quiet from").fill("22:30")
    await page.get_by_label("Phone calls a day").fill("2")
    await page.get_by_label("Check-in frequency").select_option("Monthly")
    await page.get_by_label("Outreach topics").fill("sleep, focus")
    await page.get_by_role("group", name="Working days").get_by_label("Sunday").uncheck()
    await page.get_by_label("Time zone").fill("Europe/Berlin")
    await save(page)
    await expect(page.get_by_role("status")).to_have_text("Settings saved.")
    saved = await api_settings(world, user)
    assert saved["allow_send_sms"] is False and saved["allow_send_email"] is True
    assert saved["confidence_threshold"] == 0.85
    assert saved["quiet_hours_start"] == "22:30"
    assert saved["max_calls_per_day"] == 2
    assert saved["goal_checkin_frequency"] == "monthly"
    assert saved["proactive_outreach_topics"] == ["sleep", "focus"]
    assert saved["working_days"] == [0, 1, 2, 3, 4, 5]
    assert saved["timezone"] == "Europe/Berlin"
    await expect(page.get_by_label("Send text messages")).not_to_be_checked()


async def test_the_slider_shows_its_value_in_percent_as_it_moves(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await settings_page(browser, world, user)
    slider = page.get_by_label("Unsure means less sure than")
    await slider.focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.locator("#setting-confidence_threshold-percent")).to_have_text("71%")
    await expect(slider).to_have_attribute("aria-valuetext", "71%")


async def test_a_team_minimum_bounds_the_slider_and_shows_as_enforced(browser: Browser, world: VoiceWorld) -> None:
    user = await team_member(world, min_confidence_threshold=0.8, allow_send_sms=False)
    page = await settings_page(browser, world, user)
    slider = page.get_by_label("Unsure means less sure than")
    await expect(slider).to_have_attribute("min", "0.8")
    await expect(slider).to_have_value("0.8")
    await expect(page.locator("#setting-confidence_threshold-enforced")).to_have_text(
        "Set by your team Acme: the threshold is at least 80%."
    )
    sms = page.get_by_label("Send text messages")
    await expect(sms).to_be_disabled()
    await expect(sms).not_to_be_checked()
    await expect(sms).to_have_accessible_description("Set by your team Acme: the team does not allow this action.")
    await expect(page.get_by_label("Approve high-risk actions without asking")).to_be_disabled()
    await screenshot(page, "settings-team-enforced")


async def test_a_forged_threshold_under_the_team_minimum_is_refused_next_to_it_and_nothing_is_saved(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await team_member(world, min_confidence_threshold=0.8)
    before = await api_settings(world, user)
    page = await settings_page(browser, world, user)
    await page.get_by_label("Text messages a day").fill("3")
    await page.get_by_label("Send email to me").uncheck()
    slider = page.get_by_label("Unsure means less sure than")
    await slider.evaluate("slider => { slider.min = '0.5'; slider.value = '0.5'; }")  # as with the browser's devtools
    await save(page)
    await expect(page.get_by_test_id("settings-errors")).to_contain_text("Nothing was saved")
    await expect(slider).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#setting-confidence_threshold-error")).to_have_text(
        "Set by your team Acme: the threshold is at least 80%."
    )
    await expect(slider).to_have_accessible_description("Set by your team Acme: the threshold is at least 80%.")
    await expect(page.get_by_label("Text messages a day")).to_have_value("3")
    assert await api_settings(world, user) == before


async def test_a_malformed_time_and_a_negative_limit_are_shown_next_to_their_fields_keeping_what_was_typed(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await new_user(world.data)
    before = await api_settings(world, user)
    page = await settings_page(browser, world, user)
    await page.get_by_label("Quiet until").fill("")
    await page.get_by_label("Text messages a day").fill("-1")
    await page.get_by_label("Time zone").fill("Asia/Tokyo")
    await save(page)
    quiet_end, sms_limit = page.get_by_label("Quiet until"), page.get_by_label("Text messages a day")
    await expect(quiet_end).to_have_attribute("aria-invalid", "true")
    await expect(quiet_end).to_have_accessible_description("Enter a time as HH:MM, 24-hour (for example 07:30).")
    await expect(sms_limit).to_have_attribute("aria-invalid", "true")
    await expect(sms_limit).to_have_accessible_description("Input should be greater than or equal to 0")
    await expect(sms_limit).to_have_value("-1")
    await expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    await expect(page.get_by_label("Time zone")).not_to_have_attribute("aria-invalid", "true")
    await screenshot(page, "settings-errors")
    assert await api_settings(world, user) == before


async def test_a_person_saves_by_keyboard_only(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await settings_page(browser, world, user)
    await tab_to(page, "[name=allow_voice_calls]")
    await page.keyboard.press("Space")
    await tab_to(page, "button[type=submit].primary")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Settings saved.")
    assert (await api_settings(world, user))["allow_voice_calls"] is False


async def tab_to(page: Page, selector: str, most: int = 80) -> None:
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable by Tab")


async def test_the_settings_page_fits_360_px_and_has_no_serious_accessibility_violation(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await team_member(world, min_confidence_threshold=0.8)
    page = await settings_page(browser, world, user, viewport=PHONE_WIDTH)
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []
    await screenshot(page, "settings-360")
    await page.get_by_label("Text messages a day").fill("-1")
    await save(page)
    await expect(page.get_by_test_id("settings-errors")).to_be_visible()
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []


async def test_the_settings_page_at_desktop_width_has_no_serious_accessibility_violation(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await new_user(world.data)
    page = await settings_page(browser, world, user, viewport={"width": 1280, "height": 900})
    assert await serious_violations(page) == []
    await screenshot(page, "settings-1280")


async def test_a_forged_unknown_field_is_refused_as_the_api_refuses_it_and_nothing_is_saved(
    browser: Browser, world: VoiceWorld
) -> None:
    user = await new_user(world.data)
    before = await api_settings(world, user)
    page = await settings_page(browser, world, user)
    await page.get_by_label("Phone calls a day").fill("1")
    await page.locator("form[action='/settings']").evaluate(
        "form => form.insertAdjacentHTML('beforeend', '<input type=hidden name=is_admin value=true>')"
    )
    await save(page)
    await expect(page.get_by_test_id("settings-errors")).to_contain_text("is_admin: Extra inputs are not permitted")
    assert await api_settings(world, user) == before
