"""The `create_action_sequence` executor: store the (already confirmed) sequence and arm or start it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from db.models import ActionSequence, Goal, Habit
from tools.catalogue import CreateActionSequence
from tools.executors.base import Execution
from tools.results import ErrorCode, ToolFailure
from tools.scheduler import sequences
from tools.timespec import TimeSpecError, resolve_local_time


async def _check_target(run: Execution, args: CreateActionSequence) -> str | None:
    """The habit or goal a trigger names, checked to be the user's own (NOT_FOUND otherwise)."""
    name = args.habit_name or args.goal_name
    if name is None:
        return None
    model, column = (Habit, Habit.name) if args.habit_name else (Goal, Goal.title)
    found = await run.session.scalar(
        select(func.count()).where(
            model.user_id == run.user.id, or_(model.id == name, func.lower(column) == name.lower())
        )
    )
    if not found:
        raise ToolFailure(ErrorCode.NOT_FOUND, f"no {model.__tablename__.rstrip('s')} called {name!r}")
    return name


async def create_action_sequence(run: Execution, args: CreateActionSequence) -> dict[str, Any]:
    try:
        start_at = resolve_local_time(args.start_at, run.zone, run.now) if args.start_at else run.now
    except TimeSpecError as exc:
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, str(exc)) from None
    target = await _check_target(run, args)
    sequence = ActionSequence(
        user_id=run.user.id,
        name=args.name,
        trigger=args.trigger,
        trigger_config={"target": target} if target else {},
        steps=[step.model_dump(mode="json") for step in args.actions],
        status="active",
        approved_by=run.approved_by,
    )
    run.session.add(sequence)
    await run.session.flush()
    if args.trigger == "time":
        await sequences.start(run.session, sequence, start_at)
    return {
        "sequence_id": sequence.id,
        "name": sequence.name,
        "trigger": sequence.trigger,
        "steps": len(sequence.steps),
        "starts_at": start_at.isoformat() if args.trigger == "time" else None,
    }


EXECUTORS = {"create_action_sequence": create_action_sequence}
