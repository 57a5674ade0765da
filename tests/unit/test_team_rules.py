"""policy.team_rules: what a user's teams hold on the user's own settings; the strictest team names the rule."""

from __future__ import annotations

from settings_rows import team_row

from policy.team_rules import refusals, team_rules


def test_no_team_holds_nothing() -> None:
    assert team_rules([]) == {}


def test_the_highest_minimum_and_the_lowest_limit_win_with_their_teams_name() -> None:
    rules = team_rules([
        ("Low", team_row(min_confidence_threshold=0.6, max_sms_per_day=3)),
        ("High", team_row(min_confidence_threshold=0.8, max_sms_per_day=9)),
    ])
    assert (rules["confidence_threshold"].team_name, rules["confidence_threshold"].minimum) == ("High", 0.8)
    assert (rules["max_sms_per_day"].team_name, rules["max_sms_per_day"].maximum) == ("Low", 3)


def test_a_switch_a_team_holds_is_fixed_and_what_applies_is_clamped() -> None:
    rules = team_rules([("Acme", team_row(allow_send_sms=False, require_confirmation=True))])
    assert rules["allow_send_sms"].fixed is False and rules["allow_send_sms"].clamp(True) is False
    assert rules["require_confirmation_sms"].fixed is True
    assert rules["confidence_threshold"].clamp(0.55) == 0.55 and rules["max_sms_per_day"].clamp(50) == 20


def test_refusals_name_each_change_a_rule_does_not_allow_and_pass_stricter_ones() -> None:
    rules = team_rules([("Acme", team_row(min_confidence_threshold=0.8, allow_send_sms=False))])
    changes = {"confidence_threshold": 0.7, "allow_send_sms": True, "allow_send_email": False, "max_sms_per_day": 1}
    assert refusals(changes, rules) == [
        {"field": "confidence_threshold", "message": "Set by your team Acme: the threshold is at least 80%."},
        {"field": "allow_send_sms", "message": "Set by your team Acme: the team does not allow this action."},
    ]
    assert refusals({"confidence_threshold": 0.9, "allow_send_sms": False}, rules) == []
