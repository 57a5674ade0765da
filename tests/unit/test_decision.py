"""policy.decide: which actions are denied (with which code), which need a human (and why), which run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from settings_rows import team_row, user_row

from policy.decision import ActionFacts, Decision, Outcome, decide
from policy.effective import EffectiveSettings, effective_settings
from policy.risk import TOOL_POLICIES

NOON_UTC = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CARD = "4111 1111 1111 1111"
LA_PHONE = "+14152345678"
LONDON_PHONE = "+442079460000"
MIAMI_PHONE = "+13055550100"
NEW_YORK_PHONE = "+12125551234"

ARGS: dict[str, dict[str, Any]] = {
    "create_task": {"title": "Buy running shoes"},
    "send_sms": {"message": "Time for your run"},
    "send_email": {"subject": "Weekly plan", "body": "Here is your plan"},
    "send_email_to_contact": {"to_email": "coach@example.com", "subject": "Hi", "body": "Progress report"},
    "make_voice_call": {"call_type": "goal_checkin", "message": ""},
    "mark_habit_complete": {"habit_name": "Meditate"},
    "get_user_data": {},
    "record_opt_out": {"channel": "all"},
}


SURE = 0.95  # a confidence above every threshold, for the tests about other rules


def facts(tool: str, *, now: datetime = NOON_UTC, **values: Any) -> ActionFacts:
    args = values.pop("args", ARGS[tool])
    return ActionFacts(tool=tool, policy=TOOL_POLICIES[tool], args=args, confidence=values.pop("confidence", SURE),
                       now=now, **values)


def settings(user: dict[str, Any] | None = None, *teams: dict[str, Any]) -> EffectiveSettings:
    return effective_settings(
        user_row(**(user or {})), [team_row(**team) for team in teams], [f"team-{i}" for i in range(len(teams))]
    )


# Settings under which send_sms would run without asking: no channel confirmation, high risk auto-approved.
SMS_AUTO = ({"require_confirmation_sms": False, "auto_approve_high_risk": True}, {"allow_user_auto_approve_high": True})


def assert_denied(decision: Decision, code: str) -> None:
    assert (decision.outcome, decision.code) == (Outcome.DENY, code), decision


def assert_confirm(decision: Decision, reason: str) -> None:
    assert (decision.outcome, decision.code) == (Outcome.CONFIRM, reason), decision


# --- denials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "user", "team", "extra"),
    [
        pytest.param("create_task", {"agent_actions_enabled": False}, None, {}, id="user-master-toggle-off"),
        pytest.param("create_task", {}, {"agent_actions_enabled": False}, {}, id="team-master-toggle-off"),
        pytest.param("send_sms", {"allow_send_sms": False}, None, {}, id="user-permission-off"),
        pytest.param("send_sms", {}, {"allow_send_sms": False}, {}, id="team-permission-off"),
        pytest.param("send_email_to_contact", {}, None, {}, id="external-email-off-by-default"),
        pytest.param("send_sms", {}, None, {"opt_out_reason": "the recipient opted out of sms via sms_keyword"},
                     id="recipient-opted-out"),
        pytest.param("create_task", {}, None, {"flag_enabled": False}, id="tool-flag-disabled"),
        pytest.param("get_user_data", {}, None, {"flag_enabled": False}, id="flag-disables-read-only-tool-too"),
    ],
)
def test_permission_denied(tool: str, user: dict[str, Any], team: dict[str, Any] | None, extra: dict[str, Any]) -> None:
    effective = settings(user, *([team] if team is not None else []))
    assert_denied(decide(facts(tool, **extra), effective), "PERMISSION_DENIED")


def test_unreachable_recipient_is_invalid_recipient() -> None:
    problem = "stranger@example.org is not one of the user's saved contacts"
    decision = decide(facts("send_email_to_contact", recipient_problem=problem), settings({"allow_external_email": True}))
    assert_denied(decision, "INVALID_RECIPIENT")
    assert decision.message == problem


def test_permission_is_checked_before_the_recipient() -> None:
    decision = decide(facts("send_email_to_contact", recipient_problem="not a contact"), settings())
    assert_denied(decision, "PERMISSION_DENIED")


def test_opt_out_denial_gives_the_reason() -> None:
    decision = decide(facts("send_sms", opt_out_reason="the recipient opted out of sms"), settings())
    assert decision.message == "the recipient opted out of sms"


def test_master_toggle_off_still_allows_reading_own_data() -> None:
    assert decide(facts("get_user_data"), settings({"agent_actions_enabled": False})).outcome is Outcome.EXECUTE


def test_opt_out_request_runs_whatever_the_settings() -> None:
    off = settings({"agent_actions_enabled": False, "auto_approve_low_risk": False})
    assert decide(facts("record_opt_out", flag_enabled=False), off).outcome is Outcome.EXECUTE


def test_card_number_is_content_blocked_without_echoing_it() -> None:
    decision = decide(facts("send_sms", args={"message": f"my card is {CARD}, thanks"}), settings())
    assert_denied(decision, "CONTENT_BLOCKED")
    assert decision.details["patterns"] == ["credit_card"]
    shown = decision.message + repr(decision.details)
    assert "4111" not in shown and "1111" not in shown


def test_content_filter_reads_every_outgoing_field() -> None:
    args = {"subject": "Hello", "body": f"card {CARD}"}
    assert_denied(decide(facts("send_email", args=args), settings()), "CONTENT_BLOCKED")


def test_blocked_topic_is_team_policy_blocked() -> None:
    decision = decide(facts("send_sms", args={"message": "Buy some CRYPTO today"}),
                      settings({}, {"blocked_topics": ["crypto"]}))
    assert_denied(decision, "TEAM_POLICY_BLOCKED")


def test_blocked_topic_of_another_team_does_not_match_unrelated_text() -> None:
    decision = decide(facts("send_sms"), settings({}, {"blocked_topics": ["crypto"]}))
    assert decision.outcome is not Outcome.DENY


def test_sms_at_23_user_local_is_quiet_hours_with_next_allowed_at() -> None:
    at_23_berlin = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # CET = UTC+1
    decision = decide(facts("send_sms", now=at_23_berlin), settings({"timezone": "Europe/Berlin"}))
    assert_denied(decision, "QUIET_HOURS")
    assert decision.details["next_allowed_at"] == "2026-11-25T07:00:00+00:00"  # 08:00 in Berlin


def test_sms_at_noon_user_local_is_not_quiet_hours() -> None:
    at_noon_berlin = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    decision = decide(facts("send_sms", now=at_noon_berlin), settings({"timezone": "Europe/Berlin"}))
    assert decision.outcome is not Outcome.DENY


def test_quiet_hours_do_not_apply_to_email() -> None:
    at_23_berlin = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    decision = decide(facts("send_email", now=at_23_berlin), settings({"timezone": "Europe/Berlin"}))
    assert decision.outcome is not Outcome.DENY


def test_consent_floor_uses_the_recipient_numbers_zone() -> None:
    # 14:00 for a user in UTC, 06:00 for the Los Angeles number: before the 08:00 floor there.
    decision = decide(facts("send_sms", recipient_phone=LA_PHONE), settings({"timezone": "UTC"}))
    assert_denied(decision, "QUIET_HOURS")
    assert decision.details["next_allowed_at"] == "2026-11-24T16:00:00+00:00"  # 08:00 PST


def test_consent_floor_allows_a_recipient_whose_local_time_is_daytime() -> None:
    decision = decide(facts("send_sms", recipient_phone=LONDON_PHONE), settings({"timezone": "UTC"}), at_execution=True)
    assert decision.outcome is Outcome.EXECUTE


def test_consent_floor_closes_at_20_for_florida_numbers() -> None:
    at_2030_eastern = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
    user = {"timezone": "America/New_York", "quiet_hours_start": "23:00", "quiet_hours_end": "07:00"}
    florida = decide(facts("send_sms", now=at_2030_eastern, recipient_phone=MIAMI_PHONE), settings(user))
    new_york = decide(facts("send_sms", now=at_2030_eastern, recipient_phone=NEW_YORK_PHONE), settings(user),
                      at_execution=True)
    assert_denied(florida, "QUIET_HOURS")
    assert new_york.outcome is Outcome.EXECUTE


def test_denials_come_before_confirmation() -> None:
    decision = decide(facts("send_email_to_contact", args={**ARGS["send_email_to_contact"], "body": CARD}),
                      settings({"allow_external_email": True}))
    assert_denied(decision, "CONTENT_BLOCKED")


# --- confirmations ---------------------------------------------------------------------------


def test_low_confidence_needs_confirmation() -> None:
    assert_confirm(decide(facts("create_task", confidence=0.5), settings()), "LOW_CONFIDENCE")


def test_confidence_below_team_minimum_needs_confirmation() -> None:
    decision = decide(facts("create_task", confidence=0.75), settings({"confidence_threshold": 0.7},
                                                                       {"min_confidence_threshold": 0.8}))
    assert_confirm(decision, "LOW_CONFIDENCE")


def test_low_confidence_ignored_when_high_confidence_not_required() -> None:
    decision = decide(facts("create_task", confidence=0.5), settings({"require_high_confidence": False}))
    assert decision.outcome is Outcome.EXECUTE


def test_confidence_at_threshold_is_enough() -> None:
    assert decide(facts("create_task", confidence=0.7), settings()).outcome is Outcome.EXECUTE


def test_a_missing_confidence_is_below_the_threshold() -> None:
    assert_confirm(decide(facts("create_task", confidence=None), settings()), "LOW_CONFIDENCE")


def test_a_missing_confidence_does_not_hold_up_reading_own_data() -> None:
    assert decide(facts("get_user_data", confidence=None), settings()).outcome is Outcome.EXECUTE


def test_a_scheduled_delivery_is_not_held_up_for_confidence() -> None:
    sms = facts("send_sms", confidence=None, interpreted=False)
    assert decide(sms, settings(*SMS_AUTO)).outcome is Outcome.EXECUTE


def test_the_team_minimum_applies_when_the_user_switched_the_confidence_check_off() -> None:
    decision = decide(facts("create_task", confidence=0.55),
                      settings({"require_high_confidence": False}, {"min_confidence_threshold": 0.6}))
    assert_confirm(decision, "LOW_CONFIDENCE")


def test_the_users_own_threshold_is_off_with_their_check() -> None:
    decision = decide(facts("create_task", confidence=0.55),
                      settings({"require_high_confidence": False, "confidence_threshold": 0.9},
                               {"min_confidence_threshold": 0.5}))
    assert decision.outcome is Outcome.EXECUTE


def test_email_to_contact_always_needs_confirmation() -> None:
    everything_auto = {
        "allow_external_email": True, "require_confirmation_email": False, "auto_approve_high_risk": True,
        "require_high_confidence": False,
    }
    decision = decide(facts("send_email_to_contact", confidence=1.0),
                      settings(everything_auto, {"allow_user_auto_approve_high": True}))
    assert_confirm(decision, "CRITICAL_RISK")
    assert decision.requires_admin is False


def test_critical_needs_an_admin_when_the_team_says_so() -> None:
    decision = decide(facts("send_email_to_contact"),
                      settings({"allow_external_email": True}, {"require_admin_approval_critical": True}))
    assert_confirm(decision, "CRITICAL_RISK")
    assert decision.approving_team_ids == ("team-0",)


def test_every_team_that_asks_for_admin_approval_must_give_it() -> None:
    decision = decide(facts("send_email_to_contact"),
                      settings({"allow_external_email": True}, {"require_admin_approval_critical": True}, {},
                               {"require_admin_approval_critical": True}))
    assert decision.approving_team_ids == ("team-0", "team-2")


def test_admin_approval_setting_does_not_touch_non_critical_actions() -> None:
    decision = decide(facts("send_sms"), settings({}, {"require_admin_approval_critical": True}))
    assert decision.requires_admin is False


def test_channel_confirmation_setting_needs_confirmation() -> None:
    assert_confirm(decide(facts("send_sms"), settings()), "CHANNEL_REQUIRES_CONFIRMATION")


def test_team_require_confirmation_overrides_user_channel_setting() -> None:
    user, team = SMS_AUTO
    decision = decide(facts("send_sms"), settings(user, {**team, "require_confirmation": True}))
    assert_confirm(decision, "CHANNEL_REQUIRES_CONFIRMATION")


def test_high_risk_without_a_team_allowing_it_is_not_auto_approved() -> None:
    user, _ = SMS_AUTO
    assert_confirm(decide(facts("send_sms"), settings(user)), "RISK_NOT_AUTO_APPROVED")


def test_medium_risk_not_auto_approved_by_default() -> None:
    assert_confirm(decide(facts("mark_habit_complete"), settings()), "RISK_NOT_AUTO_APPROVED")


def test_high_risk_auto_approved_when_team_and_user_allow_it() -> None:
    user, team = SMS_AUTO
    assert decide(facts("send_sms"), settings(user, team)).outcome is Outcome.EXECUTE


def test_low_risk_create_task_executes_by_default() -> None:
    decision = decide(facts("create_task"), settings())
    assert decision == Decision(Outcome.EXECUTE)


# --- at execution (after a confirmation, or for a pre-authorised scheduler job) --------------


def test_at_execution_skips_confirmation() -> None:
    assert decide(facts("send_sms"), settings(), at_execution=True).outcome is Outcome.EXECUTE


def test_at_execution_skips_critical_confirmation() -> None:
    decision = decide(facts("send_email_to_contact"), settings({"allow_external_email": True}), at_execution=True)
    assert decision.outcome is Outcome.EXECUTE


@pytest.mark.parametrize(
    ("tool", "user", "extra", "code"),
    [
        pytest.param("send_sms", {"allow_send_sms": False}, {}, "PERMISSION_DENIED", id="permission"),
        pytest.param("send_sms", {}, {"opt_out_reason": "opted out"}, "PERMISSION_DENIED", id="opt-out"),
        pytest.param("send_sms", {}, {"flag_enabled": False}, "PERMISSION_DENIED", id="flag"),
        pytest.param("send_sms", {}, {"args": {"message": CARD}}, "CONTENT_BLOCKED", id="content"),
        pytest.param("send_sms", {"timezone": "Asia/Tokyo"}, {}, "QUIET_HOURS", id="quiet-hours"),  # 21:00 in Tokyo
    ],
)
def test_at_execution_keeps_denials(tool: str, user: dict[str, Any], extra: dict[str, Any], code: str) -> None:
    assert_denied(decide(facts(tool, **extra), settings(user), at_execution=True), code)
