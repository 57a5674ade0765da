"""Effective settings: platform defaults, restricted by every team of the user, restricted further by the user.

A team can only restrict and a user can only be stricter than the team:
- a permission is on only if the master toggle and the permission are on at both levels;
- the confidence check applies when the user asks for it or any team sets a minimum (a user cannot switch
  a team's minimum off); the threshold is max(user threshold if the user's check is on, team minimum);
- auto-approval of a risk level needs the team to allow it AND the user to enable it;
- a team's `require_confirmation` forces every channel's confirmation on;
- daily limits are the minimum of user and team limits.
A user in several teams gets the strictest combination of all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from policy.risk import Risk

PERMISSIONS = (
    "allow_send_email",
    "allow_send_sms",
    "allow_voice_calls",
    "allow_create_tasks",
    "allow_schedule_reminders",
    "allow_calendar_events",
    "allow_external_email",
)
CONFIRMATIONS = (
    "require_confirmation_email",
    "require_confirmation_sms",
    "require_confirmation_voice",
    "require_confirmation_calendar",
)
DAILY_LIMITS = {
    "email": "max_emails_per_day",
    "sms": "max_sms_per_day",
    "call": "max_calls_per_day",
    "external_email": "max_external_emails_per_day",
}


class UserSettingsRow(Protocol):
    agent_actions_enabled: bool
    require_high_confidence: bool
    confidence_threshold: float
    auto_approve_low_risk: bool
    auto_approve_medium_risk: bool
    auto_approve_high_risk: bool
    timezone: str
    quiet_hours_start: str
    quiet_hours_end: str
    calendar_working_hours_only: bool
    working_hours_start: str
    working_hours_end: str
    working_days: list[int]


class TeamSettingsRow(Protocol):
    agent_actions_enabled: bool
    require_confirmation: bool
    min_confidence_threshold: float
    allow_user_auto_approve_low: bool
    allow_user_auto_approve_medium: bool
    allow_user_auto_approve_high: bool
    require_admin_approval_critical: bool
    blocked_topics: list[str]


@dataclass(frozen=True)
class EffectiveSettings:
    actions_enabled: bool
    permissions: dict[str, bool]
    confirmations: dict[str, bool]
    require_high_confidence: bool
    confidence_threshold: float
    auto_approve: dict[Risk, bool]
    admin_approval_team_ids: tuple[str, ...]  # teams whose admins must each approve a critical action
    daily_limits: dict[str, int]
    blocked_topics: tuple[str, ...]
    timezone: str
    quiet_hours_start: str
    quiet_hours_end: str
    calendar_working_hours_only: bool  # calendar events only inside the working hours below
    working_hours_start: str
    working_hours_end: str
    working_days: frozenset[int]  # 0 = Monday
    team_ids: tuple[str, ...] = field(default=())

    def allows(self, permission: str) -> bool:
        return self.actions_enabled and self.permissions.get(permission, False)

    @property
    def require_admin_approval_critical(self) -> bool:
        return bool(self.admin_approval_team_ids)


def effective_settings(
    user: UserSettingsRow, teams: Sequence[TeamSettingsRow] = (), team_ids: Sequence[str] = ()
) -> EffectiveSettings:
    """`team_ids[i]` is the id of `teams[i]`."""
    if len(team_ids) != len(teams):
        raise ValueError("every team's settings need the team's id")

    def every_team(name: str, default: bool = True) -> bool:
        return all(getattr(team, name) for team in teams) if teams else default

    team_minimum = max((team.min_confidence_threshold for team in teams), default=0.0)
    user_threshold = user.confidence_threshold if user.require_high_confidence else 0.0
    forced_confirmation = any(team.require_confirmation for team in teams)
    return EffectiveSettings(
        actions_enabled=user.agent_actions_enabled and every_team("agent_actions_enabled"),
        permissions={name: getattr(user, name) and every_team(name) for name in PERMISSIONS},
        confirmations={name: getattr(user, name) or forced_confirmation for name in CONFIRMATIONS},
        require_high_confidence=user.require_high_confidence or team_minimum > 0,
        confidence_threshold=max(user_threshold, team_minimum),
        auto_approve={
            Risk.LOW: user.auto_approve_low_risk and every_team("allow_user_auto_approve_low"),
            Risk.MEDIUM: user.auto_approve_medium_risk and every_team("allow_user_auto_approve_medium"),
            Risk.HIGH: user.auto_approve_high_risk and every_team("allow_user_auto_approve_high", default=False),
            Risk.CRITICAL: False,
        },
        admin_approval_team_ids=tuple(
            team_id for team, team_id in zip(teams, team_ids) if team.require_admin_approval_critical
        ),
        daily_limits={
            channel: min([getattr(user, column), *(getattr(team, column) for team in teams)])
            for channel, column in DAILY_LIMITS.items()
        },
        blocked_topics=tuple(topic for team in teams for topic in team.blocked_topics),
        timezone=user.timezone,
        quiet_hours_start=user.quiet_hours_start,
        quiet_hours_end=user.quiet_hours_end,
        calendar_working_hours_only=user.calendar_working_hours_only,
        working_hours_start=user.working_hours_start,
        working_hours_end=user.working_hours_end,
        working_days=frozenset(user.working_days),
        team_ids=tuple(team_ids),
    )
