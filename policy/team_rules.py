"""What a user's teams enforce on the user's own settings, and which changes those rules refuse.

`effective_settings` already makes a team's rule win at decision time, whatever the user stored. These rules
say the same thing before a change is stored, so a user (the settings page or `PUT /api/me/settings`) is never
told a value is saved that would not apply: a switch a team holds off (or on), a confidence threshold under a
team's minimum, a daily limit over a team's. The strictest team wins; its name goes into the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy.effective import CONFIRMATIONS, DAILY_LIMITS, PERMISSIONS

AUTO_APPROVALS = {
    "auto_approve_low_risk": "allow_user_auto_approve_low",
    "auto_approve_medium_risk": "allow_user_auto_approve_medium",
    "auto_approve_high_risk": "allow_user_auto_approve_high",
}


@dataclass(frozen=True)
class TeamRule:
    """One user setting as the strictest of the user's teams holds it: a fixed switch value, or a bound."""

    team_name: str
    reason: str
    fixed: bool | None = None
    minimum: float | None = None
    maximum: int | None = None

    @property
    def note(self) -> str:
        return f"Set by your team {self.team_name}: {self.reason}."

    def allows(self, value: Any) -> bool:
        if self.fixed is not None:
            return value == self.fixed
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)

    def clamp(self, value: Any) -> Any:
        """The value that applies when `value` is stored under this rule."""
        if self.fixed is not None:
            return self.fixed
        if self.minimum is not None:
            value = max(value, self.minimum)
        return min(value, self.maximum) if self.maximum is not None else value


def team_rules(teams: Sequence[tuple[str, Any]]) -> dict[str, TeamRule]:
    """The rule on each user setting that `teams` (name and settings row each) restrict."""
    rules: dict[str, TeamRule] = {}
    for name, team in teams:
        for setting, rule in _rules_of_one_team(name, team).items():
            rules[setting] = _stricter(rules.get(setting), rule)
    return rules


def _rules_of_one_team(name: str, team: Any) -> dict[str, TeamRule]:
    rules: dict[str, TeamRule] = {}
    if not team.agent_actions_enabled:
        rules["agent_actions_enabled"] = TeamRule(name, "the coach may not act for its members", fixed=False)
    for permission in PERMISSIONS:
        if not getattr(team, permission):
            rules[permission] = TeamRule(name, "the team does not allow this action", fixed=False)
    if team.require_confirmation:
        for confirmation in CONFIRMATIONS:
            rules[confirmation] = TeamRule(name, "every action needs your confirmation", fixed=True)
    if team.min_confidence_threshold > 0:
        percent = f"{team.min_confidence_threshold:.0%}"
        rules["require_high_confidence"] = TeamRule(name, f"the coach must be at least {percent} sure", fixed=True)
        rules["confidence_threshold"] = TeamRule(
            name, f"the threshold is at least {percent}", minimum=team.min_confidence_threshold
        )
    for setting, team_switch in AUTO_APPROVALS.items():
        if not getattr(team, team_switch):
            rules[setting] = TeamRule(name, "the team does not allow automatic approval at this risk", fixed=False)
    for column in DAILY_LIMITS.values():
        limit = getattr(team, column)
        rules[column] = TeamRule(name, f"at most {limit} a day", maximum=limit)
    return rules


def _stricter(held: TeamRule | None, new: TeamRule) -> TeamRule:
    if held is None:
        return new
    if new.minimum is not None and held.minimum is not None:
        return new if new.minimum > held.minimum else held
    if new.maximum is not None and held.maximum is not None:
        return new if new.maximum < held.maximum else held
    return held  # a fixed switch: every team that fixes it fixes it to the same value


def refusals(changes: Mapping[str, Any], rules: Mapping[str, TeamRule]) -> list[dict[str, str]]:
    """`{field, message}` for each change a team's rule does not allow."""
    return [
        {"field": setting, "message": rules[setting].note}
        for setting, value in changes.items()
        if setting in rules and not rules[setting].allows(value)
    ]
