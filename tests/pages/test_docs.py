"""The API reference page (/docs) as a developer reads it: every operation of /openapi.json, grouped by tag,
with anchors, parameters, bodies and answers; accessible; usable at 360 px."""

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
from playwright.async_api import Browser, expect
from worlds import VoiceWorld


async def _operations(world: VoiceWorld) -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every operation the served document holds."""
    document = (await world.http.get("/openapi.json")).json()
    return [
        (method.upper(), path, operation["operationId"])
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


async def test_the_reference_lists_every_operation_of_the_document_under_its_anchor(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data))
    await page.goto("/docs")
    operations = await _operations(world)
    await expect(page.get_by_test_id("docs-operation")).to_have_count(len(operations))
    for method, path, anchor in operations:
        await expect(page.locator(f"article#{anchor} h3")).to_have_text(f"{method} {path}")


async def test_a_contents_link_leads_to_its_operation(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data))
    await page.goto("/docs")
    await page.get_by_role("link", name="POST /api/me/tokens").click()
    await expect(page).to_have_url(re.compile(r"/docs#post_me_tokens$"))
    await expect(page.get_by_role("heading", name="POST /api/me/tokens")).to_be_in_viewport()


async def test_a_request_body_shows_each_field_with_its_type_and_constraints(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data))
    await page.goto("/docs")
    body = page.get_by_role("table", name="Request body of POST /api/me/tokens")
    name_row = body.get_by_role("row").filter(has=page.get_by_role("cell", name="name", exact=True))
    await expect(name_row).to_contain_text("at most 100 characters")
    await expect(name_row).to_contain_text('default "default"')
    expiry_row = body.get_by_role("row").filter(has=page.get_by_role("cell", name="expires_at", exact=True))
    await expect(expiry_row).to_contain_text("string (date-time) or null")


async def test_query_parameters_show_their_bounds(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data))
    await page.goto("/docs")
    parameters = page.get_by_role("table", name="Parameters of GET /api/actions/history")
    limit_row = parameters.get_by_role("row").filter(has=page.get_by_role("cell", name="limit", exact=True))
    await expect(limit_row).to_contain_text("≥ 1; ≤ 5000; default 500")
    format_row = parameters.get_by_role("row").filter(has=page.get_by_role("cell", name="format", exact=True))
    await expect(format_row).to_contain_text("one of: json, csv")


async def test_an_error_answer_links_to_the_shared_error_shape(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data))
    await page.goto("/docs")
    await page.locator("#get_me_settings").get_by_role("link", name="ErrorAnswer").click()
    await expect(page).to_have_url(re.compile(r"#schema-ErrorAnswer$"))
    shape = page.get_by_role("table", name="ErrorAnswer")
    await expect(shape.get_by_role("cell", name="error.code", exact=True)).to_be_visible()


async def test_the_reference_links_the_machine_readable_document(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data))
    await page.goto("/docs")
    await expect(page.get_by_role("link", name="/openapi.json")).to_have_attribute("href", "/openapi.json")


async def test_the_reference_passes_the_accessibility_scan(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data))
    await page.goto("/docs")
    assert await serious_violations(page) == []


async def test_the_reference_fits_360_px(browser: Browser, world: VoiceWorld) -> None:
    page = await signed_in_page(browser, world, await new_user(world.data), viewport=PHONE_WIDTH)
    await page.goto("/docs")
    assert await horizontal_overflow(page) == 0
    await screenshot(page, "docs-360")
    wide = await signed_in_page(browser, world, await new_user(world.data), viewport={"width": 1280, "height": 900})
    await wide.goto("/docs")
    await screenshot(wide, "docs-1280")
