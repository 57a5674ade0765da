"""The coaching-data pages as a person uses them, in Chromium against the real server: `/habits`, `/goals`,
`/tasks`, `/contacts`, `/reminders` (with sequences). Each is a create -> edit -> delete round trip by label
and role; bad input is refused next to its field with the other values kept; writes that have a tool go
through the action core (history records them; a reminder that needs a yes waits for it on the home page)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from action_requests import auto_sms_user, confirm, propose
from browser_pages import (
    PHONE_WIDTH,
    horizontal_overflow,
    screenshot,
    serious_violations,
    signed_in_page,
)
from factories import DAYTIME, TestUser, history_rows, new_user, update_user_settings
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy import func, select
from worlds import VoiceWorld

from db import consent
from db.models import (
    ActionSequence,
    Contact,
    Goal,
    Habit,
    HabitCompletion,
    PendingAgentAction,
    Reminder,
    Task,
)

PAGES = ("/habits", "/goals", "/tasks", "/contacts", "/reminders")


async def _page(browser: Browser, world: VoiceWorld, user: TestUser, path: str, **options: object) -> Page:
    page = await signed_in_page(browser, world, user, **options)
    await page.goto(path)
    return page


def _add_form(page: Page, noun: str) -> Locator:
    return page.get_by_role("region", name=f"Add a {noun}")


async def _count(world: VoiceWorld, model: type, user: TestUser) -> int:
    async with world.data.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(model.user_id == user.id))


async def _add(world: VoiceWorld, user: TestUser, *rows: object) -> None:
    async with world.data.sessions() as session:
        session.add_all(rows)
        await session.commit()


# --- round trips ------------------------------------------------------------------------------------


async def test_a_habit_is_created_edited_and_deleted(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await _page(browser, world, user, "/habits")
    add = _add_form(page, "habit")
    await add.get_by_label("Name").fill("Meditate")
    await add.get_by_label("Daily reminder at").fill("07:30")
    await add.get_by_role("button", name="Add habit").click()
    card = page.get_by_test_id("habit").filter(has_text="Meditate")
    await expect(card).to_contain_text("reminder at 07:30")
    await card.get_by_role("link", name="Edit habit Meditate").click()
    await page.get_by_label("Name").fill("Meditate 10 minutes")
    await page.get_by_label("Daily reminder at").fill("")
    await page.get_by_role("button", name="Save").click()
    card = page.get_by_test_id("habit").filter(has_text="Meditate 10 minutes")
    await expect(card).to_contain_text("no reminder")
    await card.get_by_role("button", name="Delete habit Meditate 10 minutes").click()
    await expect(page.get_by_test_id("habit")).to_have_count(0)
    assert await _count(world, Habit, user) == 0


async def test_marking_a_habit_done_today_records_it_in_history(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    await update_user_settings(world.data, user, auto_approve_medium_risk=True)  # else it waits for a yes
    await _add(world, user, Habit(user_id=user.id, name="Stretch"))
    page = await _page(browser, world, user, "/habits")
    await page.get_by_role("button", name="Mark Stretch done today").click()
    card = page.get_by_test_id("habit").filter(has_text="Stretch")
    await expect(card.get_by_text("Done today", exact=True)).to_be_visible()
    await expect(card.get_by_test_id("completions")).to_contain_text(DAYTIME.date().isoformat())
    assert [row.tool for row in await history_rows(world.data, user_id=user.id)] == ["mark_habit_complete"]
    assert await _count(world, HabitCompletion, user) == 1


async def test_a_goal_is_created_edited_and_deleted(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await _page(browser, world, user, "/goals")
    add = _add_form(page, "goal")
    await add.get_by_label("Title").fill("Run a marathon")
    await add.get_by_label("Target date").fill("2027-05-01")
    await add.get_by_role("button", name="Add goal").click()
    card = page.get_by_test_id("goal").filter(has_text="Run a marathon")
    await expect(card).to_contain_text("2027-05-01")
    await card.get_by_role("link", name="Edit goal Run a marathon").click()
    await page.get_by_label("Title").fill("Run a half marathon")
    await page.get_by_label("Status").select_option("paused")
    await page.get_by_role("button", name="Save").click()
    card = page.get_by_test_id("goal").filter(has_text="Run a half marathon")
    await expect(card).to_contain_text("paused")
    await card.get_by_role("button", name="Delete goal Run a half marathon").click()
    await expect(page.get_by_test_id("goal")).to_have_count(0)
    assert await _count(world, Goal, user) == 0


async def test_a_goals_progress_is_updated_through_history(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    await update_user_settings(world.data, user, auto_approve_medium_risk=True)  # else it waits for a yes
    await _add(world, user, Goal(user_id=user.id, title="Read 12 books", progress=10))
    page = await _page(browser, world, user, "/goals")
    progress = page.get_by_role("form", name="Update progress of Read 12 books")
    await progress.get_by_label("Progress (%)").fill("40")
    await progress.get_by_label("Note").fill("Finished book 5")
    await progress.get_by_role("button", name="Update progress").click()
    card = page.get_by_test_id("goal").filter(has_text="Read 12 books")
    await expect(card.get_by_test_id("goal-progress")).to_have_text("40%")
    await expect(card).to_contain_text("Finished book 5")
    assert [row.tool for row in await history_rows(world.data, user_id=user.id)] == ["update_goal_progress"]


async def test_a_task_is_created_edited_and_deleted(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await _page(browser, world, user, "/tasks")
    add = _add_form(page, "task")
    await add.get_by_label("Title").fill("Book the physio")
    await add.get_by_label("Due date").fill("2026-11-30")
    await add.get_by_role("button", name="Add task").click()
    card = page.get_by_test_id("task").filter(has_text="Book the physio")
    await expect(card).to_contain_text("2026-11-30")
    assert [row.tool for row in await history_rows(world.data, user_id=user.id)] == ["create_task"]
    await card.get_by_role("link", name="Edit task Book the physio").click()
    await page.get_by_label("Title").fill("Book the physio for Monday")
    await page.get_by_role("button", name="Save").click()
    card = page.get_by_test_id("task").filter(has_text="Book the physio for Monday")
    await card.get_by_role("button", name="Delete task Book the physio for Monday").click()
    await expect(page.get_by_test_id("task")).to_have_count(0)
    assert await _count(world, Task, user) == 0


async def test_completing_a_task_marks_it_done(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    await _add(world, user, Task(user_id=user.id, title="Call the bank"))
    page = await _page(browser, world, user, "/tasks")
    await page.get_by_role("button", name="Complete task Call the bank").click()
    await expect(page.get_by_test_id("task-status")).to_have_text("Done")
    async with world.data.sessions() as session:
        task = await session.scalar(select(Task).where(Task.user_id == user.id))
    assert (task.status, task.completed_at is not None) == ("done", True)


async def test_a_task_is_created_with_the_keyboard_alone(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await _page(browser, world, user, "/tasks")
    await page.keyboard.press("Tab")  # the skip link
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Title")).to_be_focused()
    await page.keyboard.type("Water the plants")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Description")).to_be_focused()
    await page.keyboard.type("The ferns first")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Enter")  # Enter in a text field submits its form
    await expect(page.get_by_test_id("task").filter(has_text="Water the plants")).to_contain_text("The ferns first")


async def test_a_contact_is_created_edited_and_deleted(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await _page(browser, world, user, "/contacts")
    await expect(page.get_by_text("the only recipients send_email_to_contact may use")).to_be_visible()
    add = _add_form(page, "contact")
    await add.get_by_label("Name").fill("Pat")
    await add.get_by_label("Email address").fill("Pat@Example.org")
    await add.get_by_label("Relationship").fill("coach")
    await add.get_by_role("button", name="Add contact").click()
    card = page.get_by_test_id("contact").filter(has_text="Pat")
    await expect(card).to_contain_text("Pat@example.org")  # the domain normalised, not the mailbox
    await card.get_by_role("link", name="Edit contact Pat").click()
    await page.get_by_label("Phone number").fill("+1 415 555 0100")
    await page.get_by_role("button", name="Save").click()
    card = page.get_by_test_id("contact").filter(has_text="Pat")
    await expect(card).to_contain_text("+14155550100")
    await card.get_by_role("button", name="Delete contact Pat").click()
    await expect(page.get_by_test_id("contact")).to_have_count(0)
    assert await _count(world, Contact, user) == 0


async def test_contacts_show_their_consent(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    await _add(world, user, Contact(user_id=user.id, name="Pat", email="pat@example.org"),
               Contact(user_id=user.id, name="Sam", email="sam@example.org"))
    async with world.data.sessions() as session:
        await consent.record(session, address="sam@example.org", channel="email", opted_out=True, source="api")
        await session.commit()
    page = await _page(browser, world, user, "/contacts")
    pat = page.get_by_test_id("contact").filter(has_text="Pat")
    sam = page.get_by_test_id("contact").filter(has_text="Sam")
    await expect(pat.get_by_test_id("contact-consent")).to_have_text("May be emailed")
    await expect(sam.get_by_test_id("contact-consent")).to_contain_text("Opted out of email")


async def test_a_reminder_is_created_edited_and_deleted(browser: Browser, world: VoiceWorld) -> None:
    user = await auto_sms_user(world.data)
    page = await _page(browser, world, user, "/reminders")
    add = _add_form(page, "reminder")
    await add.get_by_label("Message").fill("Stretch")
    await add.get_by_label("When").fill("2026-11-25T09:00")
    await add.get_by_label("Repeat").select_option(label="Every weekday")
    await add.get_by_role("button", name="Add reminder").click()
    card = page.get_by_test_id("reminder").filter(has_text="Stretch")
    await expect(card).to_contain_text("Wed 25 Nov 2026, 09:00 (UTC)")
    await expect(card).to_contain_text("Every weekday")
    await card.get_by_role("link", name="Edit reminder Stretch").click()
    await page.get_by_label("Message").fill("Stretch your back")
    await page.get_by_role("button", name="Save").click()
    card = page.get_by_test_id("reminder").filter(has_text="Stretch your back")
    await card.get_by_role("button", name="Delete reminder Stretch your back").click()
    await expect(page.get_by_test_id("reminder")).to_have_count(0)
    assert await _count(world, Reminder, user) == 0


async def test_a_reminder_needing_a_yes_waits_for_it_on_the_home_page(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)  # default settings: a text reminder is confirmed first
    page = await _page(browser, world, user, "/reminders")
    add = _add_form(page, "reminder")
    await add.get_by_label("Message").fill("Stretch")
    await add.get_by_label("When").fill("2026-11-25T09:00")
    await add.get_by_role("button", name="Add reminder").click()
    note = page.get_by_test_id("waiting-for-yes")
    await expect(note).to_contain_text("waiting for your yes on the home page")
    await expect(note.get_by_role("link", name="Go to the home page")).to_have_attribute("href", "/")
    await expect(page.get_by_test_id("reminder")).to_have_count(0)
    assert await _count(world, PendingAgentAction, user) == 1


async def test_a_sequence_is_cancelled_from_the_reminders_page(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    step = {"delay_minutes": 0, "tool": "send_sms", "args": {"message": "Go"}}
    action_id = await propose(world.http, user, "create_action_sequence", {"name": "Morning", "trigger": "manual", "actions": [step]})
    assert (await confirm(world.http, user, action_id)).status_code == 200
    page = await _page(browser, world, user, "/reminders")
    card = page.get_by_test_id("sequence").filter(has_text="Morning")
    await card.get_by_role("button", name="Cancel sequence Morning").click()
    await expect(page.get_by_test_id("sequence").filter(has_text="Morning")).to_contain_text("cancelled")
    async with world.data.sessions() as session:
        assert await session.scalar(select(ActionSequence.status).where(ActionSequence.user_id == user.id)) == "cancelled"


# --- refused input ----------------------------------------------------------------------------------


async def test_an_invalid_value_is_shown_next_to_its_field_and_the_other_values_are_kept(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    page = await _page(browser, world, user, "/contacts")
    add = _add_form(page, "contact")
    await add.get_by_label("Name").fill("Pat")
    await add.get_by_label("Email address").fill("not an address")
    await add.get_by_label("Relationship").fill("coach")
    await add.get_by_role("button", name="Add contact").click()
    add = _add_form(page, "contact")
    email = add.get_by_label("Email address")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#new-email-error")).to_be_visible()
    await expect(email).to_have_value("not an address")
    await expect(add.get_by_label("Name")).to_have_value("Pat")
    await expect(add.get_by_label("Relationship")).to_have_value("coach")
    assert await _count(world, Contact, user) == 0


async def test_a_second_contact_with_one_address_is_refused_next_to_the_field(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    await _add(world, user, Contact(user_id=user.id, name="Pat", email="pat@example.org"))
    page = await _page(browser, world, user, "/contacts")
    add = _add_form(page, "contact")
    await add.get_by_label("Name").fill("Patricia")
    await add.get_by_label("Email address").fill("PAT@example.org")
    await add.get_by_role("button", name="Add contact").click()
    await expect(page.locator("#new-email-error")).to_contain_text("already one of your contacts")
    await expect(_add_form(page, "contact").get_by_label("Name")).to_have_value("Patricia")
    assert await _count(world, Contact, user) == 1


async def test_a_progress_out_of_range_is_refused_next_to_the_field(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    await _add(world, user, Goal(user_id=user.id, title="Read 12 books", progress=10))
    page = await _page(browser, world, user, "/goals")
    progress = page.get_by_role("form", name="Update progress of Read 12 books")
    await progress.get_by_label("Progress (%)").fill("150")
    await progress.get_by_label("Note").fill("Wishful")
    await progress.get_by_role("button", name="Update progress").click()
    progress = page.get_by_role("form", name="Update progress of Read 12 books")
    await expect(progress.get_by_role("alert")).to_contain_text("less than or equal to 100")
    await expect(progress.get_by_label("Note")).to_have_value("Wishful")
    assert await history_rows(world.data, user_id=user.id) == []


async def test_an_invalid_edit_keeps_the_values_and_changes_nothing(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    await _add(world, user, Task(user_id=user.id, title="Call the bank"))
    page = await _page(browser, world, user, "/tasks")
    await page.get_by_role("link", name="Edit task Call the bank").click()
    await page.get_by_label("Title").fill("   ")
    await page.get_by_label("Description").fill("About the mortgage")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Description")).to_have_value("About the mortgage")
    async with world.data.sessions() as session:
        task = await session.scalar(select(Task).where(Task.user_id == user.id))
    assert (task.title, task.description) == ("Call the bank", "")


async def test_another_users_row_is_a_not_found_page(browser: Browser, world: VoiceWorld) -> None:
    owner, stranger = await new_user(world.data), await new_user(world.data)
    habit = Habit(user_id=owner.id, name="Private")
    await _add(world, owner, habit)
    page = await signed_in_page(browser, world, stranger)
    answer = await page.goto(f"/habits/{habit.id}/edit")
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


# --- every page: 360 px and the accessibility scan, empty and with rows -------------------------------


async def _rows_of_every_kind(world: VoiceWorld, user: TestUser) -> None:
    await _add(
        world, user,
        Habit(user_id=user.id, name="Meditate every single morning before breakfast", reminder_time="07:30"),
        Goal(user_id=user.id, title="Run a marathon", progress=40, last_note="Long run went well"),
        Task(user_id=user.id, title="Book the physio appointment for the knee", description="Ask about Monday"),
        Contact(user_id=user.id, name="Pat", email="patricia.longname@example.org", phone="+14155550100"),
        Reminder(user_id=user.id, message="Stretch", remind_at=DAYTIME + timedelta(days=1), recurrence="FREQ=DAILY"),
    )
    step = {"delay_minutes": 0, "tool": "send_sms", "args": {"message": "Go"}}
    action_id = await propose(world.http, user, "create_action_sequence", {"name": "Morning", "trigger": "manual", "actions": [step]})
    await confirm(world.http, user, action_id)


@pytest.mark.parametrize("with_rows", [False, True], ids=["empty", "rows"])
@pytest.mark.parametrize("path", PAGES)
async def test_every_coaching_page_fits_360_px_and_passes_the_accessibility_scan(
    browser: Browser, world: VoiceWorld, path: str, with_rows: bool,
) -> None:
    user = await new_user(world.data)
    if with_rows:
        await _rows_of_every_kind(world, user)
    page = await _page(browser, world, user, path, viewport=PHONE_WIDTH)
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []
    name = f"{path.strip('/')}-{'rows' if with_rows else 'empty'}"
    await screenshot(page, f"{name}-360")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await screenshot(page, f"{name}-1280")


async def test_an_edit_page_fits_360_px_and_passes_the_accessibility_scan(browser: Browser, world: VoiceWorld) -> None:
    user = await new_user(world.data)
    habit = Habit(user_id=user.id, name="Meditate")
    await _add(world, user, habit)
    page = await _page(browser, world, user, f"/habits/{habit.id}/edit", viewport=PHONE_WIDTH)
    await page.get_by_label("Name").fill("")
    await page.get_by_role("button", name="Save").click()  # the refused form, with its error
    await expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    assert await horizontal_overflow(page) == 0
    assert await serious_violations(page) == []
    await screenshot(page, "habit-edit-error-360")
