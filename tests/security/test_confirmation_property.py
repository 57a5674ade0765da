"""Property: no combination of user settings x team settings x tool x channel x confidence x source
delivers through a channel that a setting says needs a yes, unless a human yes is on record.

The oracle below is written from the settings rows themselves (DESIGN section 3 and the issue's rule), not
from `policy.effective`, so a mistake in how settings are combined fails it. The decision under test is the
one dispatch asks (`policy.decision.decide`), given the facts dispatch gathers (`delivered_policies`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from settings_rows import team_row, user_row

from policy.decision import ActionFacts, Outcome, decide
from policy.effective import effective_settings
from policy.risk import DELIVERY_TOOLS, TOOL_POLICIES, Risk
from tools.catalogue import TOOL_ARGS
from tools.execution import delivered_policies

NOON_UTC = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)  # outside the default quiet hours
CHANNEL_OF = {tool: channel for channel, tool in DELIVERY_TOOLS.items()} | {"send_email_to_contact": "email"}
CONFIRMATION_OF = {"sms": "require_confirmation_sms", "email": "require_confirmation_email", "call": "require_confirmation_voice"}
AUTO_APPROVE = {Risk.LOW: "low", Risk.MEDIUM: "medium", Risk.HIGH: "high"}
EXAMPLES = 3000  # `pytest --hypothesis-show-statistics` reports how many ran

flags = st.booleans()
user_settings = st.fixed_dictionaries({
    "require_confirmation_sms": flags, "require_confirmation_email": flags, "require_confirmation_voice": flags,
    "require_high_confidence": flags, "confidence_threshold": st.sampled_from([0.0, 0.5, 0.7, 0.95]),
    "auto_approve_low_risk": flags, "auto_approve_medium_risk": flags, "auto_approve_high_risk": flags,
    "allow_external_email": st.just(True), "quiet_hours_start": st.just("23:00"), "quiet_hours_end": st.just("06:00"),
})
team_settings = st.fixed_dictionaries({
    "require_confirmation": flags, "min_confidence_threshold": st.sampled_from([0.0, 0.5, 0.8]),
    "allow_user_auto_approve_low": flags, "allow_user_auto_approve_medium": flags,
    "allow_user_auto_approve_high": flags, "require_admin_approval_critical": flags,
})
message = {"message": "Time for your run"}
email = {"subject": "Plan", "body": "Here is your plan"}
step_args = {"send_sms": message, "send_email": email, "make_voice_call": {"call_type": "custom", "message": "Hi"},
             "create_task": {"title": "Stretch"}}
reminder = st.sampled_from(sorted(DELIVERY_TOOLS)).map(
    lambda channel: ("schedule_reminder", {**message, "remind_at": "2026-11-25T09:00", "channel": channel})
)
sequence = st.lists(st.sampled_from(sorted(step_args)), min_size=1, max_size=3).map(
    lambda tools: ("create_action_sequence", {
        "name": "Plan", "trigger": "manual",
        "actions": [{"delay_minutes": 0, "tool": tool, "args": step_args[tool]} for tool in tools],
    })
)
direct = st.sampled_from([
    ("send_sms", message), ("send_email", email), ("make_voice_call", step_args["make_voice_call"]),
    ("send_email_to_contact", {"to_email": "pat@example.com", **email}), ("create_task", step_args["create_task"]),
])
# (source, whether a recorded human yes covers the action): a person or model asking now has none; a
# scheduled delivery has one when the reminder or sequence behind it was confirmed; an operator's command is one.
sources = st.sampled_from([("voice", None), ("chat", None), ("api", None), ("scheduler", None),
                           ("scheduler", "a" * 32), ("operator", "b" * 32)])


def needs_a_yes(tool: str, user: dict[str, Any], teams: list[dict[str, Any]]) -> bool:
    """Whether the settings say that delivering through `tool` needs a human yes."""
    risk = TOOL_POLICIES[tool].risk
    if risk is Risk.CRITICAL:
        return True
    if user[CONFIRMATION_OF[CHANNEL_OF[tool]]] or any(team["require_confirmation"] for team in teams):
        return True
    level = AUTO_APPROVE[risk]
    team_allows = all(team[f"allow_user_auto_approve_{level}"] for team in teams) if teams else level != "high"
    return not (user[f"auto_approve_{level}_risk"] and team_allows)


def deliveries(tool: str, args: dict[str, Any]) -> list[str]:
    """The channel tools this action sends through, now or later, read from its arguments."""
    if tool in CHANNEL_OF:
        return [tool]
    if tool == "schedule_reminder":
        return [DELIVERY_TOOLS[args["channel"]]]
    if tool == "create_action_sequence":
        return [step["tool"] for step in args["actions"] if step["tool"] in CHANNEL_OF]
    return []


@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    user=user_settings,
    teams=st.lists(team_settings, max_size=2),
    action=st.one_of(direct, reminder, sequence),
    confidence=st.one_of(st.none(), st.floats(0, 1)),
    source=sources,
)
def test_nothing_is_delivered_through_a_channel_needing_a_yes_without_one(
    user: dict[str, Any], teams: list[dict[str, Any]], action: tuple[str, dict[str, Any]], confidence: float | None,
    source: tuple[str, str | None],
) -> None:
    tool, args = action
    name, approved_by = source
    parsed = TOOL_ARGS[tool].model_validate(args)
    facts = ActionFacts(
        tool=tool, policy=TOOL_POLICIES[tool], args=args, confidence=confidence, now=NOON_UTC,
        delivers=delivered_policies(tool, parsed), interpreted=name != "scheduler",
    )
    effective = effective_settings(user_row(**user), [team_row(**team) for team in teams], [f"t{i}" for i in range(len(teams))])
    decision = decide(facts, effective, approved_by=approved_by)
    if decision.outcome is not Outcome.EXECUTE:
        return
    needing = [sent for sent in deliveries(tool, args) if needs_a_yes(sent, user, teams)]
    assert not needing or approved_by is not None, (needing, decision)
    assert TOOL_POLICIES[tool].risk is not Risk.CRITICAL, "a critical action ran without a human"
