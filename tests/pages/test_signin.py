"""Signing in and out in a real browser: a one-time code by SMS or email (caught by the provider fakes), an API
token, the way back to the page asked for, sign-out, and the account page's sessions and tokens."""

from __future__ import annotations

import re

from browser_pages import (
    PHONE_WIDTH,
    horizontal_overflow,
    screenshot,
    serious_violations,
    signed_in_page,
)
from factories import new_user
from playwright.async_api import Browser, Page, expect
from worlds import VoiceWorld


def _code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found is not None, text
    return found.group(1)


async def _sms_code(world: VoiceWorld, phone: str) -> str:
    sent = [message for message in world.twilio.messages if message.param("To") == phone]
    assert len(sent) == 1
    return _code_in(sent[0].param("Body") or "")


async def _ask_for_code(page: Page, world: VoiceWorld, identifier: str, path: str = "/signin") -> None:
    await page.goto(world.base_url + path)
    await page.get_by_label("Phone number or email address").fill(identifier)
    await page.get_by_role("button", name="Send me a code").click()


async def test_a_person_signs_in_with_a_code_sent_by_sms(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data, name="Ann")
    page = await browser.new_page()
    await _ask_for_code(page, world, user.phone)
    await page.get_by_label("Sign-in code").fill(await _sms_code(world, user.phone))
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page).to_have_url(world.base_url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ann")


async def test_a_person_signs_in_with_a_code_sent_by_email(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data, name="Ben")
    page = await browser.new_page()
    await _ask_for_code(page, world, user.email.upper())
    [email] = [sent for sent in world.resend.emails if user.email in str(sent)]
    await page.get_by_label("Sign-in code").fill(_code_in(str(email)))
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ben")


async def test_a_signed_out_visitor_is_sent_to_sign_in_and_back_to_the_page_asked_for(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await browser.new_page()
    await page.goto(world.base_url + "/account")
    await expect(page).to_have_url(re.compile(r"/signin\?next=/account$"))
    await page.get_by_label("Phone number or email address").fill(user.phone)
    await page.get_by_role("button", name="Send me a code").click()
    await page.get_by_label("Sign-in code").fill(await _sms_code(world, user.phone))
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page).to_have_url(world.base_url + "/account")


async def test_a_wrong_code_is_refused_next_to_the_field(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await browser.new_page()
    await _ask_for_code(page, world, user.phone)
    right = await _sms_code(world, user.phone)
    await page.get_by_label("Sign-in code").fill("000000" if right != "000000" else "111111")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    await expect(page.get_by_label("Sign-in code")).to_have_attribute("aria-invalid", "true")


async def test_a_code_stops_working_after_five_wrong_guesses(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await browser.new_page()
    await _ask_for_code(page, world, user.phone)
    right = await _sms_code(world, user.phone)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await page.get_by_label("Sign-in code").fill(wrong)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await expect(page.get_by_role("alert")).to_be_visible()
    await page.get_by_label("Sign-in code").fill(right)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("That code is not right")


async def test_an_unknown_number_reads_the_same_and_sends_nothing(browser: Browser, world: VoiceWorld) -> None:
    page = await browser.new_page()
    await _ask_for_code(page, world, "+14155550142")
    await expect(page.get_by_text("If +14155550142 is yours")).to_be_visible()
    assert world.twilio.messages == []


async def test_a_developer_signs_in_with_an_api_token(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data, name="Dev")
    page = await browser.new_page()
    await page.goto(world.base_url + "/signin")
    await page.get_by_label("API token").fill(user.token)
    await page.get_by_role("button", name="Sign in with token").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Dev")


async def test_sign_in_works_with_the_keyboard_alone(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data, name="Kay")
    page = await browser.new_page()
    await page.goto(world.base_url + "/signin")
    await expect(page.get_by_label("Phone number or email address")).to_be_focused()  # autofocus
    await page.keyboard.type(user.phone)
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Sign-in code")).to_be_focused()  # autofocus
    await page.keyboard.type(await _sms_code(world, user.phone))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Kay")


async def test_signing_out_ends_the_session(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await signed_in_page(browser, world, user)
    await page.goto("/account")
    cookies = await page.context.cookies()
    await page.get_by_role("button", name="Sign out", exact=True).first.click()
    await expect(page).to_have_url(re.compile(r"/signin$"))
    other = await browser.new_context(base_url=world.base_url)
    await other.add_cookies(cookies)  # the old cookie, replayed
    replayed = await other.new_page()
    await replayed.goto("/account")
    await expect(replayed).to_have_url(re.compile(r"/signin\?next=/account$"))


async def test_a_person_signs_out_another_browser_from_the_account_page(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    elsewhere = await signed_in_page(browser, world, user)
    page = await signed_in_page(browser, world, user)
    await page.goto("/account")
    rows = page.get_by_test_id("web-session")
    await expect(rows).to_have_count(2)
    other_row = rows.filter(has_not_text="this browser")
    await other_row.get_by_role("button", name=re.compile("^Sign out")).click()
    await expect(page.get_by_test_id("web-session")).to_have_count(1)
    await elsewhere.goto("/account")
    await expect(elsewhere).to_have_url(re.compile(r"/signin"))


async def test_a_person_creates_and_revokes_an_api_token(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await signed_in_page(browser, world, user)
    await page.goto("/account")
    await page.get_by_label("New token's name").fill("laptop script")
    await page.get_by_role("button", name="Create token").click()
    secret = await page.get_by_test_id("new-token").text_content()
    assert secret and secret.startswith("vc_")
    assert (await world.http.get("/api/me/settings", headers={"Authorization": f"Bearer {secret}"})).status_code == 200
    await page.goto("/account")
    await page.get_by_role("button", name="Revoke token laptop script").click()
    await expect(page.get_by_text("laptop script")).to_have_count(0)
    assert (await world.http.get("/api/me/settings", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


async def test_a_form_without_its_csrf_token_changes_nothing(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await signed_in_page(browser, world, user)
    await page.goto("/account")
    answer = await page.request.post(world.base_url + "/account/tokens", form={"name": "forged", "expires_in_days": ""})
    assert answer.status == 403
    await page.goto("/account")
    await expect(page.get_by_text("forged")).to_have_count(0)


async def test_sign_in_and_account_pages_pass_the_accessibility_scan(browser: Browser, world: VoiceWorld) -> None:
    page = await browser.new_page()
    await page.goto(world.base_url + "/signin")
    assert await serious_violations(page) == []
    user = await new_user(world.data)
    page = await signed_in_page(browser, world, user)
    await page.goto("/account")
    assert await serious_violations(page) == []


async def test_sign_in_and_account_pages_fit_360_px(browser: Browser, world: VoiceWorld) -> None:
    page = await browser.new_page(viewport=PHONE_WIDTH)
    await page.goto(world.base_url + "/signin")
    assert await horizontal_overflow(page) == 0
    await screenshot(page, f"signin-360-{world.settings.DATABASE_URL.split(':')[0]}")
    user = await new_user(world.data)
    page = await signed_in_page(browser, world, user, viewport=PHONE_WIDTH)
    await page.goto("/account")
    assert await horizontal_overflow(page) == 0
    await screenshot(page, "account-360")
