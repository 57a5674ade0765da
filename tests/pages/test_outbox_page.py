"""The development outbox in the browser (DESIGN.md section 9): with COACH_OUTBOX and no Twilio credentials a
developer on a fresh machine signs in with a code read by `coach outbox list`; `/outbox` lists what was stored,
newest first and paged, each message marked as not sent; with the outbox off the page is a 404 saying so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from action_requests import act, auto_sms_user
from backends import Backend
from browser_pages import (
    PHONE_WIDTH,
    horizontal_overflow,
    screenshot,
    serious_violations,
    signed_in_page,
)
from factories import new_user
from playwright.async_api import Browser, expect
from worlds import VoiceWorld, voice_world

from db import outbox
from server.web.outbox import PAGE_SIZE

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
async def outbox_world(backend: Backend, tmp_path: Path) -> AsyncIterator[VoiceWorld]:
    """`make run` on a fresh machine: the outbox on, no Twilio account (email still has its fake)."""
    async with voice_world(backend, tmp_path, PUBLIC_URL="http://127.0.0.1", TWILIO_ACCOUNT_SID=None,
                           COACH_OUTBOX=True) as running:
        yield running


def coach_outbox_list(world: VoiceWorld, *options: str) -> list[dict[str, Any]]:
    """`coach outbox list` run as a developer runs it, against the world's database."""
    env = {**os.environ, "DATABASE_URL": world.settings.DATABASE_URL, "PYTHONPATH": str(REPOSITORY)}
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "server.cli", "outbox", "list", *options], env=env, cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_a_developer_signs_in_with_a_code_read_by_coach_outbox_list(browser: Browser, outbox_world: VoiceWorld) -> None:
    world = outbox_world
    user = await new_user(world.data, name="Dev")
    page = await browser.new_page()
    await page.goto(world.base_url + "/signin")
    await page.get_by_label("Phone number or email address").fill(user.phone)
    await page.get_by_role("button", name="Send me a code").click()
    await expect(page.get_by_test_id("outbox-note")).to_have_text(
        "Development outbox: nothing was sent. Read the code with coach outbox list."
    )
    [message] = coach_outbox_list(world, "--user", user.id)
    assert (message["channel"], message["to"], message["sent"]) == ("sms", user.phone, False)
    code = next(word for word in message["body"].split() if word.rstrip(".").isdigit()).rstrip(".")
    await page.get_by_label("Sign-in code").fill(code)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Dev")
    assert world.twilio.messages == []


async def test_an_unknown_number_reads_the_same_outbox_note(browser: Browser, outbox_world: VoiceWorld) -> None:
    page = await browser.new_page()
    await page.goto(outbox_world.base_url + "/signin")
    await page.get_by_label("Phone number or email address").fill("+14155550142")
    await page.get_by_role("button", name="Send me a code").click()
    await expect(page.get_by_test_id("outbox-note")).to_be_visible()


async def test_the_outbox_page_shows_the_sign_in_code_marked_not_sent(browser: Browser, outbox_world: VoiceWorld) -> None:
    world = outbox_world
    user = await new_user(world.data)
    signin = await browser.new_page()
    await signin.goto(world.base_url + "/signin")
    await signin.get_by_label("Phone number or email address").fill(user.phone)
    await signin.get_by_role("button", name="Send me a code").click()
    await expect(signin.get_by_test_id("outbox-note")).to_be_visible()
    page = await signed_in_page(browser, world, user)
    await page.goto("/outbox")
    [message] = await page.get_by_test_id("outbox-message").all()
    await expect(message.get_by_role("heading")).to_have_text(f"Text message to {user.phone}")
    await expect(message.get_by_test_id("not-sent")).to_have_text("Not sent — development outbox")
    await expect(message).to_contain_text("Your Vision Coach sign-in code is")


async def test_a_message_of_an_action_links_to_its_history(browser: Browser, outbox_world: VoiceWorld) -> None:
    world = outbox_world
    user = await auto_sms_user(world.data)
    answer = await act(world.http, user, "send_sms", {"message": "Time for your run"})
    assert answer.status_code == 200 and answer.json()["data"]["delivery"] == "outbox", answer.text
    [stored] = coach_outbox_list(world, "--user", user.id)
    page = await signed_in_page(browser, world, user)
    await page.goto("/outbox")
    link = page.get_by_test_id("outbox-message").get_by_role("link", name="See the action in history")
    await expect(link).to_have_attribute("href", f"/history/{stored['action_id']}")
    await expect(page.get_by_test_id("outbox-message")).to_contain_text("Time for your run")


async def _store_messages(world: VoiceWorld, user_id: str, count: int) -> None:
    async with world.data.sessions() as session:
        for number in range(count):
            await outbox.store(session, user_id=user_id, action_id=None, channel="email", to_address="a@example.com",
                               subject=f"Message {number}", body=f"Body {number}")
            await session.commit()


async def test_the_outbox_is_newest_first_and_paged(browser: Browser, outbox_world: VoiceWorld) -> None:
    world = outbox_world
    user = await new_user(world.data)
    await _store_messages(world, user.id, PAGE_SIZE + 5)
    page = await signed_in_page(browser, world, user)
    await page.goto("/outbox")
    messages = page.get_by_test_id("outbox-message")
    await expect(messages).to_have_count(PAGE_SIZE)
    await expect(messages.first).to_contain_text(f"Message {PAGE_SIZE + 4}")
    await page.get_by_role("link", name="Older messages").click()
    await expect(messages).to_have_count(5)
    await expect(messages.last).to_contain_text("Message 0")
    await expect(page.get_by_role("link", name="Older messages")).to_have_count(0)


async def test_another_persons_messages_are_not_listed(browser: Browser, outbox_world: VoiceWorld) -> None:
    world = outbox_world
    user, other = await new_user(world.data), await new_user(world.data)
    await _store_messages(world, other.id, 1)
    page = await signed_in_page(browser, world, user)
    await page.goto("/outbox")
    await expect(page.get_by_test_id("outbox-message")).to_have_count(0)


async def test_the_outbox_page_is_a_404_saying_the_outbox_is_off(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await signed_in_page(browser, world, user)
    answer = await page.goto("/outbox")
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("alert")).to_contain_text("The development outbox is off")


@pytest.mark.parametrize("with_rows", [False, True], ids=["empty", "rows"])
async def test_the_outbox_page_fits_360_px_and_passes_the_accessibility_scan(
    browser: Browser, outbox_world: VoiceWorld, with_rows: bool,
) -> None:
    world = outbox_world
    user = await new_user(world.data)
    if with_rows:
        await _store_messages(world, user.id, PAGE_SIZE + 1)
    page = await signed_in_page(browser, world, user, viewport=PHONE_WIDTH)
    await page.goto("/outbox")
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []
    await screenshot(page, f"outbox-{'rows' if with_rows else 'empty'}-360")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await screenshot(page, f"outbox-{'rows' if with_rows else 'empty'}-1280")
