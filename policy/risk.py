"""What each tool is: its risk level, the settings that govern it and the quota it spends.

Risk levels are the table of DESIGN section 1. Read-only tools are exempt from the master toggle: turning
agent actions off stops the coach from *doing* things, not from looking at the user's own data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Risk(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RISK_RANKS[self]


_RISK_RANKS = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2, Risk.CRITICAL: 3}


@dataclass(frozen=True)
class ToolPolicy:
    risk: Risk
    permissions: tuple[str, ...] = ()  # settings fields that must be on at user and team level
    confirmation_setting: str | None = None  # the user's require_confirmation_* field for this channel
    quota_channel: str | None = None  # daily quota spent on execution
    outbound_phone: bool = False  # subject to quiet hours and the recipient-time consent floor
    read_only: bool = False
    text_fields: tuple[str, ...] = ()  # arguments that leave the system and pass the content filter
    revocation: bool = False  # honours a person's "stop": never gated by toggles, flags or confirmation


TOOL_POLICIES: dict[str, ToolPolicy] = {
    "get_user_data": ToolPolicy(Risk.LOW, read_only=True),
    "check_calendar_availability": ToolPolicy(Risk.LOW, read_only=True),
    "find_optimal_time": ToolPolicy(Risk.LOW, read_only=True),
    "create_task": ToolPolicy(Risk.LOW, ("allow_create_tasks",)),
    "record_opt_out": ToolPolicy(Risk.LOW, revocation=True),
    "schedule_reminder": ToolPolicy(Risk.MEDIUM, ("allow_schedule_reminders",), text_fields=("message",)),
    "mark_habit_complete": ToolPolicy(Risk.MEDIUM),
    "update_goal_progress": ToolPolicy(Risk.MEDIUM),
    "create_calendar_event": ToolPolicy(
        Risk.MEDIUM, ("allow_calendar_events",), "require_confirmation_calendar", text_fields=("title", "description")
    ),
    "send_email": ToolPolicy(
        Risk.HIGH, ("allow_send_email",), "require_confirmation_email", "email", text_fields=("subject", "body")
    ),
    "send_sms": ToolPolicy(
        Risk.HIGH, ("allow_send_sms",), "require_confirmation_sms", "sms", outbound_phone=True, text_fields=("message",)
    ),
    "make_voice_call": ToolPolicy(
        Risk.HIGH, ("allow_voice_calls",), "require_confirmation_voice", "call", outbound_phone=True,
        text_fields=("message",),
    ),
    "send_email_to_contact": ToolPolicy(
        Risk.CRITICAL, ("allow_send_email", "allow_external_email"), "require_confirmation_email", "external_email",
        text_fields=("subject", "body"),
    ),
    "create_action_sequence": ToolPolicy(Risk.HIGH, ("allow_schedule_reminders",)),
}

# The tool that brings a message to the user on a channel (a reminder's delivery, planned outreach).
DELIVERY_TOOLS: dict[str, str] = {"sms": "send_sms", "email": "send_email", "call": "make_voice_call"}
