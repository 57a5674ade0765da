"""Plain settings rows for the pure policy tests: the columns `policy.effective` reads, nothing else.

The defaults are the platform defaults of `db.models.UserAgentSettings` / `TeamAISettings`, written out
here so that a test states every value it depends on.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

USER_DEFAULTS: dict[str, Any] = {
    "agent_actions_enabled": True,
    "allow_send_email": True,
    "allow_send_sms": True,
    "allow_voice_calls": True,
    "allow_create_tasks": True,
    "allow_schedule_reminders": True,
    "allow_calendar_events": True,
    "allow_external_email": False,
    "require_confirmation_email": True,
    "require_confirmation_sms": True,
    "require_confirmation_voice": True,
    "require_confirmation_calendar": False,
    "require_high_confidence": True,
    "confidence_threshold": 0.7,
    "auto_approve_low_risk": True,
    "auto_approve_medium_risk": False,
    "auto_approve_high_risk": False,
    "timezone": "UTC",
    "quiet_hours_start": "21:00",
    "quiet_hours_end": "08:00",
    "calendar_working_hours_only": True,
    "working_hours_start": "09:00",
    "working_hours_end": "17:00",
    "working_days": [0, 1, 2, 3, 4, 5, 6],
    "proactive_outreach_day_of_week": 2,
    "proactive_outreach_time": "10:00",
    "proactive_outreach_channel": "sms",
    "max_emails_per_day": 10,
    "max_sms_per_day": 20,
    "max_calls_per_day": 5,
    "max_external_emails_per_day": 5,
}

TEAM_DEFAULTS: dict[str, Any] = {
    "agent_actions_enabled": True,
    "allow_send_email": True,
    "allow_send_sms": True,
    "allow_voice_calls": True,
    "allow_create_tasks": True,
    "allow_schedule_reminders": True,
    "allow_calendar_events": True,
    "allow_external_email": True,
    "require_confirmation": False,
    "min_confidence_threshold": 0.5,
    "allow_user_auto_approve_low": True,
    "allow_user_auto_approve_medium": True,
    "allow_user_auto_approve_high": False,
    "require_admin_approval_critical": False,
    "blocked_topics": [],
    "max_emails_per_day": 10,
    "max_sms_per_day": 20,
    "max_calls_per_day": 5,
    "max_external_emails_per_day": 5,
}


def user_row(**overrides: Any) -> SimpleNamespace:
    unknown = overrides.keys() - USER_DEFAULTS.keys()
    assert not unknown, f"not a user settings column: {unknown}"
    return SimpleNamespace(**{**USER_DEFAULTS, **overrides})


def team_row(**overrides: Any) -> SimpleNamespace:
    unknown = overrides.keys() - TEAM_DEFAULTS.keys()
    assert not unknown, f"not a team settings column: {unknown}"
    return SimpleNamespace(**{**TEAM_DEFAULTS, **overrides})
