"""Repository for a person's own coaching data (habits, goals, tasks, contacts, reminders), always scoped to
the owner: a row of another user reads as absent, so a caller cannot tell it from an unknown id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contact, Goal, Habit, HabitCompletion, Reminder, Task

Owned = TypeVar("Owned", Habit, Goal, Task, Contact, Reminder)


async def owned(session: AsyncSession, model: type[Owned], user_id: str, row_id: str) -> Owned | None:
    """The row `row_id` of `model` if `user_id` owns it, else None."""
    row = await session.get(model, row_id)
    return row if row is not None and row.user_id == user_id else None


async def newest(session: AsyncSession, model: type[Owned], user_id: str, limit: int) -> Sequence[Owned]:
    """The user's rows of `model`, newest first (id breaks ties of one instant, so pages are stable)."""
    query = (
        select(model).where(model.user_id == user_id).order_by(model.created_at.desc(), model.id.desc()).limit(limit)
    )
    return (await session.scalars(query)).all()


async def completions_since(session: AsyncSession, habit_ids: Sequence[str], since: date) -> dict[str, list[date]]:
    """The dates each habit was completed on `since` or later, newest first, in one query."""
    if not habit_ids:
        return {}
    rows = await session.execute(
        select(HabitCompletion.habit_id, HabitCompletion.completed_on)
        .where(HabitCompletion.habit_id.in_(habit_ids), HabitCompletion.completed_on >= since)
        .order_by(HabitCompletion.completed_on.desc())
    )
    dates: dict[str, list[date]] = {habit_id: [] for habit_id in habit_ids}
    for habit_id, completed_on in rows:
        dates[habit_id].append(completed_on)
    return dates


async def saved_contact(session: AsyncSession, user_id: str, address: str) -> Contact | None:
    """The user's saved contact with this email address (case-insensitive), if any: the only recipients
    `send_email_to_contact` may use, and at most one per address."""
    query = select(Contact).where(Contact.user_id == user_id, func.lower(Contact.email) == address.lower()).limit(1)
    return await session.scalar(query)
