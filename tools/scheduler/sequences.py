"""Action sequences: start on a trigger, one job per step, advance when a step ends, cancel.

States: active (armed, waiting for its trigger) -> running -> completed (time trigger) or back to active
(habit_complete, goal_progress and manual triggers re-arm); cancelled and failed are final. Steps run one
after another: step i+1 is due `delay_minutes` after step i ended (step 0: after the start), so a step
deferred by quiet hours pushes the later ones back instead of letting them overtake it. Every state
change is compare-and-set, so a trigger that fires twice, or a step job retried after a crash, starts or
advances a sequence once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ActionSequence
from tools.scheduler.outcomes import Outcome
from tools.scheduler.queue import insert_jobs, new_job

STEP_KIND = "sequence_step"
# Tools whose execution fires a trigger: tool -> (trigger, result key of the id, result key of the name).
TRIGGERING_TOOLS = {
    "mark_habit_complete": ("habit_complete", "habit_id", "habit"),
    "update_goal_progress": ("goal_progress", "goal_id", "goal"),
}


def _step_job(sequence: ActionSequence, index: int, after: datetime) -> dict[str, Any]:
    due = after + timedelta(minutes=int(sequence.steps[index].get("delay_minutes", 0)))
    return new_job(
        STEP_KIND, sequence.user_id, {"sequence_id": sequence.id, "step": index}, due,
        dedupe_key=f"sequence:{sequence.id}:{index}:{due.isoformat()}",
    )


async def _move(session: AsyncSession, sequence_id: str, from_status: str | tuple[str, ...], **values: Any) -> bool:
    """Compare-and-set: update the sequence only while its status is (one of) `from_status`."""
    from_statuses = (from_status,) if isinstance(from_status, str) else from_status
    result = await session.execute(
        update(ActionSequence)
        .where(ActionSequence.id == sequence_id, ActionSequence.status.in_(from_statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def start(session: AsyncSession, sequence: ActionSequence, at: datetime) -> bool:
    """Start an armed sequence: its first step becomes due at `at` + its delay. False if not armed."""
    if not await _move(session, sequence.id, "active", status="running", next_step=0, last_error=None):
        return False
    await insert_jobs(session, [_step_job(sequence, 0, at)])
    return True


async def fire_triggers(session: AsyncSession, user_id: str, tool: str, result: dict[str, Any], now: datetime) -> int:
    """Start the user's armed sequences that `tool`'s execution (with its `result`) triggers; how many."""
    if tool not in TRIGGERING_TOOLS or result.get("already_done"):
        return 0
    trigger, id_key, name_key = TRIGGERING_TOOLS[tool]
    armed = await session.scalars(
        select(ActionSequence).where(
            ActionSequence.user_id == user_id, ActionSequence.trigger == trigger, ActionSequence.status == "active"
        )
    )
    wanted = {str(result.get(id_key)), str(result.get(name_key, "")).lower()}
    started = 0
    for sequence in armed.all():
        target = sequence.trigger_config.get("target")
        if (target is None or target.lower() in wanted) and await start(session, sequence, now):
            started += 1
    return started


async def cancel(session: AsyncSession, sequence: ActionSequence) -> bool:
    """Cancel for good; steps already planned find it cancelled and do nothing. False if already over."""
    return await _move(session, sequence.id, ("active", "running"), status="cancelled")


async def advance(session: AsyncSession, sequence_id: str, step: int, outcome: Outcome, now: datetime) -> None:
    """After step `step` ended: plan the next step, finish the run, or fail the sequence with the reason."""
    sequence = await session.get(ActionSequence, sequence_id)
    if sequence is None or sequence.status != "running" or sequence.next_step != step:
        return
    if not outcome.succeeded:
        await _move(session, sequence.id, "running", status="failed", last_error=f"step {step + 1}: {outcome.error}")
        return
    following = step + 1
    if following < len(sequence.steps):
        if await _move(session, sequence.id, "running", next_step=following):
            await insert_jobs(session, [_step_job(sequence, following, now)])
        return
    await _move(session, sequence.id, "running", status="completed" if sequence.trigger == "time" else "active")
