"""Pages as a person uses them: Debian's Chromium, driven by Playwright, against the real server (uvicorn on a
real socket) wired to the provider fakes. Helpers for the tests are in `tests/browser_pages.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from backends import Backend
from browser_pages import chromium_path
from playwright.async_api import Browser, async_playwright
from worlds import VoiceWorld, voice_world


@pytest.fixture
async def world(backend: Backend, tmp_path: Path) -> AsyncIterator[VoiceWorld]:
    """The server and its provider fakes. PUBLIC_URL is plain http, as for a developer's `make run`, so the
    session cookie is not Secure and the browser at http://127.0.0.1 keeps it."""
    async with voice_world(backend, tmp_path, PUBLIC_URL="http://127.0.0.1") as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield launched
        finally:
            await launched.close()
