"""The history page as a person uses it in a real browser: a row per action, filters and search, the Older
link, exports that carry the filters, thumbs with reasons, undo (with htmx, by keyboard, and without
JavaScript), an action's detail with its trace steps, 360 px wide, and the accessibility scan."""

from __future__ import annotations

import csv
import io
from typing import Any

from action_requests import SURE
from browser_pages import (
    PHONE_WIDTH,
    horizontal_overflow,
    screenshot,
    serious_violations,
    signed_in_page,
)
from factories import TestUser, new_user, update_user_settings
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from worlds import VoiceWorld

from db.models import AgentActionFeedback, Task


async def act(world: VoiceWorld, user: TestUser, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    response = await world.http.post("/api/actions", headers=user.headers,
                                     json={"tool": tool, "args": args, "confidence": SURE})
    assert response.status_code == 200, response.text
    return response.json()


async def person_with_actions(world: VoiceWorld) -> TestUser:
    """Two created tasks (executed) and a proposed text message (waiting)."""
    user = await new_user(world.data, name="Ann")
    await update_user_settings(world.data, user, auto_approve_medium_risk=True)
    for title in ("Buy running shoes", "Book a physio"):
        await act(world, user, "create_task", {"title": title})
    await act(world, user, "send_sms", {"message": "Hydrate before the long run"})
    return user


async def history_page(browser: Browser, world: VoiceWorld, user: TestUser, path: str = "/history", **options: Any) -> Page:
    page = await signed_in_page(browser, world, user, **options)
    await page.goto(world.base_url + path)
    return page


def rows(page: Page):
    return page.get_by_test_id("history-row")


def row_titled(page: Page, text: str):
    return rows(page).filter(has_text=text)


async def tasks_of(world: VoiceWorld, user: TestUser) -> list[str]:
    async with world.data.sessions() as session:
        return list((await session.scalars(select(Task.title).where(Task.user_id == user.id))).all())


async def test_each_action_is_one_row_with_its_status_word(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user)
    await expect(rows(page)).to_have_count(3)
    statuses = await page.get_by_test_id("action-status").all_inner_texts()
    assert statuses == ["Proposed", "Executed", "Executed"]
    sms = rows(page).first
    await expect(sms.get_by_test_id("undo-action")).to_have_count(0)
    await expect(sms.get_by_test_id("feedback-up")).to_have_count(0)
    await expect(sms).to_contain_text("Asked you first")
    await expect(rows(page).nth(1)).to_contain_text("90%")
    await screenshot(page, "history-1280")
    assert await serious_violations(page) == []


async def test_filters_and_search_narrow_the_rows(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user)
    await page.get_by_label("Status").select_option("executed")
    await page.get_by_label("Search").fill("physio")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page)).to_contain_text("Book a physio")
    await expect(page.get_by_label("Search")).to_have_value("physio")


async def test_a_date_that_is_not_a_date_is_shown_next_to_the_field(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user, "/history?from=yesterday&q=shoes")
    await expect(page.get_by_text("Enter a date as YYYY-MM-DD.")).to_be_visible()
    await expect(page.get_by_label("From")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Search")).to_have_value("shoes")


async def test_the_older_link_pages_through_more_rows_than_a_page(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    for number in range(53):
        await act(world, user, "create_task", {"title": f"Task {number}"})
    page = await history_page(browser, world, user)
    await expect(rows(page)).to_have_count(50)
    await expect(rows(page).first).to_contain_text("Task 52")
    await page.get_by_test_id("older-page").click()
    await expect(rows(page)).to_have_count(3)
    await expect(rows(page).last).to_contain_text("Task 0")
    await expect(page.get_by_test_id("older-page")).to_have_count(0)


async def test_the_exports_hold_exactly_the_filtered_actions(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user, "/history?tool=create_task")
    exported = await page.request.get(world.base_url + await page.get_by_test_id("export-csv").get_attribute("href"))
    titles = sorted(row["payload"] for row in csv.DictReader(io.StringIO(await exported.text())))
    assert [title.split('"title": ')[1] for title in titles] == ['"Book a physio"}', '"Buy running shoes"}']
    as_json = await page.request.get(world.base_url + await page.get_by_test_id("export-json").get_attribute("href"))
    assert sorted(row["payload"]["title"] for row in (await as_json.json())["history"]) == ["Book a physio", "Buy running shoes"]


async def test_thumbs_down_with_a_reason_is_recorded_and_shown(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user)
    row = row_titled(page, "Buy running shoes")
    await row.get_by_text("Reasons", exact=True).click()
    await row.get_by_label("Wrong time").check()
    await row.get_by_test_id("feedback-down").click()
    await expect(row_titled(page, "Buy running shoes").get_by_test_id("feedback-down")).to_have_attribute("aria-pressed", "true")
    async with world.data.sessions() as session:
        [entry] = (await session.scalars(select(AgentActionFeedback).where(AgentActionFeedback.user_id == user.id))).all()
    assert (entry.feedback_type, entry.tags) == ("thumbs_down", ["wrong_time"])


async def test_undo_updates_the_row_in_place(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user)
    row = row_titled(page, "Buy running shoes")
    await row.get_by_test_id("undo-action").click()
    undone = row_titled(page, "Buy running shoes")
    await expect(undone.get_by_test_id("action-status")).to_have_text("Undone")
    await expect(undone.get_by_test_id("undo-action")).to_have_count(0)
    await expect(page).to_have_url(world.base_url + "/history")  # swapped in place, no navigation
    assert await tasks_of(world, user) == ["Book a physio"]


async def test_undo_by_keyboard_only(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user)
    for _ in range(200):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.dataset.testid") == "undo-action":
            break
    else:
        raise AssertionError("Tab never reached an Undo button")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("action-status").filter(has_text="Undone")).to_have_count(1)
    assert len(await tasks_of(world, user)) == 1


async def test_undo_works_without_javascript(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user, "/history?tool=create_task", java_script_enabled=False)
    await row_titled(page, "Book a physio").get_by_test_id("undo-action").click()
    await expect(page).to_have_url(world.base_url + "/history?tool=create_task")
    await expect(row_titled(page, "Book a physio").get_by_test_id("action-status")).to_have_text("Undone")


async def test_a_refused_undo_says_why_in_the_row(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user)
    async with world.data.sessions() as session:
        for task in (await session.scalars(select(Task).where(Task.user_id == user.id))).all():
            task.status = "done"
        await session.commit()
    row = row_titled(page, "Buy running shoes")
    await row.get_by_test_id("undo-action").click()
    await expect(row_titled(page, "Buy running shoes").get_by_role("alert")).to_contain_text("the task was completed since")


async def test_the_detail_shows_the_decision_arguments_result_and_trace_steps(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user)
    await page.get_by_role("link", name="Create task").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Create task")
    await expect(page.get_by_test_id("decision")).to_have_text("Ran without asking: your settings allow it")
    await expect(page.get_by_test_id("action-arguments")).to_contain_text('"title": "Book a physio"')
    await expect(page.get_by_test_id("action-result")).to_contain_text('"task_id"')
    traces = await page.get_by_test_id("trace-step").all_inner_texts()
    assert [trace.split(" ")[0].strip() for trace in traces] == ["tool_call", "decision_point", "tool_result"]
    await screenshot(page, "history-detail-1280")
    assert await serious_violations(page) == []


async def test_another_persons_action_detail_is_404(browser: Browser, world: VoiceWorld) -> None:
    owner, other = await person_with_actions(world), await new_user(world.data)
    owners = await history_page(browser, world, owner)
    action_id = await rows(owners).first.get_attribute("data-action-id")
    page = await signed_in_page(browser, world, other)
    response = await page.goto(f"{world.base_url}/history/{action_id}")
    assert response is not None and response.status == 404


async def test_the_history_fits_a_phone(browser: Browser, world: VoiceWorld) -> None:
    user = await person_with_actions(world)
    page = await history_page(browser, world, user, viewport=PHONE_WIDTH)
    await expect(rows(page)).to_have_count(3)
    assert await horizontal_overflow(page) == 0
    await screenshot(page, "history-360")
    detail = await history_page(browser, world, user, f"/history/{await rows(page).last.get_attribute('data-action-id')}",
                                viewport=PHONE_WIDTH)
    assert await horizontal_overflow(detail) == 0
    await screenshot(detail, "history-detail-360")
    assert await serious_violations(page) == []
