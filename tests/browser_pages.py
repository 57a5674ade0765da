"""Helpers for the page tests (tests/pages): Chromium, a signed-in browser, the accessibility scan (axe-core),
screenshots to look at (written to `.artifacts/screenshots/`, not committed)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from factories import TestUser, session_cookie
from playwright.async_api import Browser, BrowserContext, Page
from worlds import VoiceWorld

from server.web.cookies import SESSION_COOKIE

SCREENSHOTS = Path(__file__).resolve().parents[1] / ".artifacts" / "screenshots"
PHONE_WIDTH = {"width": 360, "height": 740}
SERIOUS = {"serious", "critical"}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is needed for the page tests (make test installs it)")
        pytest.skip("chromium is not installed")
    return found


async def signed_in_context(browser: Browser, world: VoiceWorld, user: TestUser, **options: object) -> BrowserContext:
    """A browser context holding a session cookie for `user`, as after signing in (the sign-in pages have
    their own tests: tests/pages/test_signin.py)."""
    cookie = await session_cookie(world.data, user)
    context = await browser.new_context(base_url=world.base_url, **options)
    await context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": world.base_url}])
    return context


async def signed_in_page(browser: Browser, world: VoiceWorld, user: TestUser, **options: object) -> Page:
    return await (await signed_in_context(browser, world, user, **options)).new_page()


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now: '<rule>: <target>' each."""
    results = await Axe().run(page)
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation.get("impact") in SERIOUS
    ]


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: nothing to scroll sideways)."""
    return await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
