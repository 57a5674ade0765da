"""policy.effective: platform defaults, restricted by every team, restricted further by the user.

One table row per rule and combination: (user overrides, team overrides per team, what to read, expected).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from settings_rows import team_row, user_row

from policy.effective import CONFIRMATIONS, EffectiveSettings, effective_settings
from policy.risk import Risk

Read = Callable[[EffectiveSettings], Any]


def threshold(s: EffectiveSettings) -> float:
    return s.confidence_threshold


def auto(risk: Risk) -> Read:
    return lambda s: s.auto_approve[risk]


def allows(permission: str) -> Read:
    return lambda s: s.allows(permission)


def confirmations(s: EffectiveSettings) -> dict[str, bool]:
    return s.confirmations


def limit(channel: str) -> Read:
    return lambda s: s.daily_limits[channel]


ALL_CONFIRMATIONS_ON = dict.fromkeys(CONFIRMATIONS, True)
ALL_CONFIRMATIONS_OFF = dict.fromkeys(CONFIRMATIONS, False)

CASES = [
    # --- confidence threshold: max(user, team minimum) ---
    pytest.param({"confidence_threshold": 0.7}, [], threshold, 0.7, id="threshold-user-only"),
    pytest.param({"confidence_threshold": 0.6}, [{"min_confidence_threshold": 0.8}], threshold, 0.8,
                 id="threshold-team-minimum-raises-user"),
    pytest.param({"confidence_threshold": 0.9}, [{"min_confidence_threshold": 0.5}], threshold, 0.9,
                 id="threshold-user-stricter-than-team"),
    pytest.param({"confidence_threshold": 0.6},
                 [{"min_confidence_threshold": 0.65}, {"min_confidence_threshold": 0.85}], threshold, 0.85,
                 id="threshold-several-teams-highest-minimum"),
    # --- auto-approval: team allows AND user enabled ---
    pytest.param({"auto_approve_low_risk": True}, [], auto(Risk.LOW), True, id="low-user-on-no-team"),
    pytest.param({"auto_approve_low_risk": False}, [], auto(Risk.LOW), False, id="low-user-off-no-team"),
    pytest.param({"auto_approve_low_risk": True}, [{"allow_user_auto_approve_low": False}], auto(Risk.LOW), False,
                 id="low-team-forbids"),
    pytest.param({"auto_approve_low_risk": False}, [{"allow_user_auto_approve_low": True}], auto(Risk.LOW), False,
                 id="low-team-allows-user-off"),
    pytest.param({"auto_approve_medium_risk": True}, [], auto(Risk.MEDIUM), True, id="medium-user-on-no-team"),
    pytest.param({"auto_approve_medium_risk": True}, [{"allow_user_auto_approve_medium": True}], auto(Risk.MEDIUM),
                 True, id="medium-team-allows-user-on"),
    pytest.param({"auto_approve_medium_risk": True}, [{"allow_user_auto_approve_medium": False}], auto(Risk.MEDIUM),
                 False, id="medium-team-forbids"),
    pytest.param({"auto_approve_medium_risk": False}, [{"allow_user_auto_approve_medium": True}], auto(Risk.MEDIUM),
                 False, id="medium-user-off"),
    pytest.param({"auto_approve_high_risk": True}, [], auto(Risk.HIGH), False, id="high-off-without-a-team"),
    pytest.param({"auto_approve_high_risk": True}, [{"allow_user_auto_approve_high": True}], auto(Risk.HIGH), True,
                 id="high-team-allows-user-on"),
    pytest.param({"auto_approve_high_risk": True}, [{"allow_user_auto_approve_high": False}], auto(Risk.HIGH), False,
                 id="high-team-default-forbids"),
    pytest.param({"auto_approve_high_risk": False}, [{"allow_user_auto_approve_high": True}], auto(Risk.HIGH), False,
                 id="high-team-allows-user-off"),
    pytest.param({"auto_approve_high_risk": True},
                 [{"allow_user_auto_approve_high": True}, {"allow_user_auto_approve_high": False}], auto(Risk.HIGH),
                 False, id="high-one-of-two-teams-forbids"),
    pytest.param({"auto_approve_high_risk": True}, [{"allow_user_auto_approve_high": True}], auto(Risk.CRITICAL),
                 False, id="critical-never-auto-approved"),
    # --- permissions: permission and master toggle on at both levels ---
    pytest.param({}, [{}], allows("allow_send_sms"), True, id="permission-on-everywhere"),
    pytest.param({}, [], allows("allow_send_sms"), True, id="permission-user-on-no-team"),
    pytest.param({"allow_send_sms": False}, [{}], allows("allow_send_sms"), False, id="permission-user-off"),
    pytest.param({}, [{"allow_send_sms": False}], allows("allow_send_sms"), False, id="permission-team-off"),
    pytest.param({"agent_actions_enabled": False}, [{}], allows("allow_send_sms"), False, id="user-master-off"),
    pytest.param({}, [{"agent_actions_enabled": False}], allows("allow_send_sms"), False, id="team-master-off"),
    pytest.param({}, [{}, {"allow_send_sms": False}], allows("allow_send_sms"), False,
                 id="permission-off-in-one-of-two-teams"),
    pytest.param({}, [{}, {"agent_actions_enabled": False}], allows("allow_create_tasks"), False,
                 id="master-off-in-one-of-two-teams"),
    pytest.param({"allow_external_email": False}, [{"allow_external_email": True}], allows("allow_external_email"),
                 False, id="external-email-off-by-user-default"),
    # --- confirmations: the user's own, or all of them when a team requires confirmation ---
    pytest.param(ALL_CONFIRMATIONS_OFF, [], confirmations, ALL_CONFIRMATIONS_OFF, id="confirmations-user-off"),
    pytest.param({"require_confirmation_sms": True, "require_confirmation_email": False,
                  "require_confirmation_voice": False, "require_confirmation_calendar": False},
                 [{"require_confirmation": False}], confirmations,
                 {**ALL_CONFIRMATIONS_OFF, "require_confirmation_sms": True}, id="confirmations-user-choice-kept"),
    pytest.param(ALL_CONFIRMATIONS_OFF, [{"require_confirmation": True}], confirmations, ALL_CONFIRMATIONS_ON,
                 id="team-require-confirmation-forces-every-channel"),
    pytest.param(ALL_CONFIRMATIONS_OFF, [{}, {"require_confirmation": True}], confirmations, ALL_CONFIRMATIONS_ON,
                 id="one-of-two-teams-requires-confirmation"),
    # --- daily limits: min(user, team) ---
    pytest.param({"max_sms_per_day": 20}, [], limit("sms"), 20, id="limit-user-only"),
    pytest.param({"max_sms_per_day": 20}, [{"max_sms_per_day": 10}], limit("sms"), 10, id="limit-team-lower"),
    pytest.param({"max_sms_per_day": 3}, [{"max_sms_per_day": 10}], limit("sms"), 3, id="limit-user-lower"),
    pytest.param({"max_emails_per_day": 10}, [{"max_emails_per_day": 8}, {"max_emails_per_day": 4}], limit("email"),
                 4, id="limit-several-teams-lowest"),
    pytest.param({"max_calls_per_day": 5}, [{"max_calls_per_day": 2}], limit("call"), 2, id="limit-calls"),
    pytest.param({"max_external_emails_per_day": 1}, [{}], limit("external_email"), 1, id="limit-external-email"),
    # --- the rest of the strictest combination ---
    pytest.param({}, [], lambda s: s.require_admin_approval_critical, False, id="admin-approval-off-without-team"),
    pytest.param({}, [{}, {"require_admin_approval_critical": True}], lambda s: s.require_admin_approval_critical,
                 True, id="admin-approval-if-any-team-requires-it"),
    pytest.param({}, [{"blocked_topics": ["crypto"]}, {"blocked_topics": ["politics"]}],
                 lambda s: set(s.blocked_topics), {"crypto", "politics"}, id="blocked-topics-of-every-team"),
    pytest.param({"require_high_confidence": False}, [], lambda s: s.require_high_confidence, False,
                 id="require-high-confidence-is-the-users-without-a-team"),
    pytest.param({"require_high_confidence": False}, [{"min_confidence_threshold": 0.5}],
                 lambda s: (s.require_high_confidence, s.confidence_threshold), (True, 0.5),
                 id="a-team-minimum-cannot-be-switched-off"),
    pytest.param({"require_high_confidence": False}, [{"min_confidence_threshold": 0.0}],
                 lambda s: s.require_high_confidence, False, id="a-team-without-a-minimum-leaves-it-to-the-user"),
    pytest.param({"timezone": "Europe/Berlin", "quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}, [{}],
                 lambda s: (s.timezone, s.quiet_hours_start, s.quiet_hours_end),
                 ("Europe/Berlin", "22:00", "07:00"), id="zone-and-quiet-hours-are-the-users"),
]


@pytest.mark.parametrize(("user", "teams", "read", "expected"), CASES)
def test_effective_settings_rule(
    user: dict[str, Any], teams: list[dict[str, Any]], read: Read, expected: Any
) -> None:
    settings = effective_settings(
        user_row(**user), [team_row(**team) for team in teams], [f"team-{i}" for i in range(len(teams))]
    )
    assert read(settings) == expected


def test_team_ids_are_kept_in_membership_order() -> None:
    settings = effective_settings(user_row(), [team_row(), team_row()], ["t-1", "t-2"])
    assert settings.team_ids == ("t-1", "t-2")
