"""What a pending-action card shows, computed from the stored action: what (the tool in words), to whom, the
exact text, risk, confidence in %, why it asks (the decision's reason) and the time left."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from db import accounts
from db.models import PendingAgentAction, User
from server.auth import Principal
from tools.timespec import zone_named

TOOL_WORDS = {
    "send_sms": "Send a text message",
    "send_email": "Send an email",
    "make_voice_call": "Phone you",
    "send_email_to_contact": "Email a contact",
    "schedule_reminder": "Schedule a reminder",
    "create_task": "Add a task",
    "create_calendar_event": "Add a calendar event",
    "mark_habit_complete": "Mark a habit done",
    "update_goal_progress": "Update a goal's progress",
    "create_action_sequence": "Start a sequence of actions",
    "record_opt_out": "Stop contacting you",
}
REASON_WORDS = {
    "LOW_CONFIDENCE": "The coach was not sure it understood you.",
    "CRITICAL_RISK": "It acts towards someone else in your name: it always needs a yes.",
    "CHANNEL_REQUIRES_CONFIRMATION": "Your settings ask for a yes before using this channel.",
    "RISK_NOT_AUTO_APPROVED": "Your settings ask for a yes for actions of this kind.",
}
REMINDER_CHANNELS = {"sms": "text message", "email": "email", "call": "phone call"}


@dataclass(frozen=True)
class Card:
    id: str
    what: str
    to_whom: str
    fields: tuple[tuple[str, str], ...]  # (label, exact value) of every argument given
    risk: str
    confidence: str  # "85%", or "not given"
    why: str
    minutes_left: int
    expires_at: datetime  # in the viewer's time zone
    for_someone_else: bool  # an admin approving a member's action: it cannot be edited


def what(tool: str) -> str:
    return TOOL_WORDS.get(tool, tool.replace("_", " ").capitalize())


def to_whom(pending: PendingAgentAction, owner: User, viewer: Principal) -> str:
    """Who the action reaches: the person (named, when an admin sees a member's action), or the contact."""
    args = pending.args
    person = "you" if owner.id == viewer.user_id else owner.name
    if pending.tool == "send_email_to_contact":
        return str(args.get("to_email", ""))
    if pending.tool in {"send_sms", "make_voice_call"}:
        return f"{person} ({owner.phone})" if owner.phone else person
    if pending.tool == "send_email":
        return f"{person} ({owner.email})" if owner.email else person
    if pending.tool == "schedule_reminder":
        return f"{person}, by {REMINDER_CHANNELS.get(str(args.get('channel', 'sms')), args.get('channel'))}"
    return person


def card_for(pending: PendingAgentAction, owner: User, viewer: Principal, zone: ZoneInfo, now: datetime) -> Card:
    confidence = "not given" if pending.confidence is None else f"{round(pending.confidence * 100)}%"
    return Card(
        id=pending.id,
        what=what(pending.tool),
        to_whom=to_whom(pending, owner, viewer),
        fields=tuple(
            (name.replace("_", " ").capitalize(), str(value))
            for name, value in pending.args.items() if value not in (None, "", [], {})
        ),
        risk=pending.risk_level,
        confidence=confidence,
        why=REASON_WORDS.get(pending.reason, pending.reason.replace("_", " ").capitalize()),
        minutes_left=max(0, math.ceil((pending.expires_at - now).total_seconds() / 60)),
        expires_at=pending.expires_at.astimezone(zone),
        for_someone_else=pending.user_id != viewer.user_id,
    )


async def viewer_zone(session: AsyncSession, viewer: Principal) -> ZoneInfo:
    return zone_named((await accounts.user_settings(session, viewer.user_id)).timezone)


async def cards_for(
    session: AsyncSession, viewer: Principal, actions: list[PendingAgentAction], now: datetime
) -> list[Card]:
    zone = await viewer_zone(session, viewer)
    owners = {action.user_id: await session.get(User, action.user_id) for action in actions}
    return [card_for(action, owner, viewer, zone, now) for action in actions if (owner := owners[action.user_id])]
