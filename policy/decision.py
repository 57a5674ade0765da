"""The one function dispatch asks: execute, confirm (with the reason) or deny (with an error code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from policy.content import scan_outgoing_text
from policy.effective import EffectiveSettings
from policy.quiet_hours import (
    EVERY_DAY, LocalWindow, consent_floor_windows, parse_hhmm, quiet_hours_window, window_status,
)
from policy.risk import Risk, ToolPolicy


class Outcome(str, Enum):
    EXECUTE = "execute"
    CONFIRM = "confirm"
    DENY = "deny"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    code: str | None = None  # the error code of a denial, or the reason a confirmation is needed
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    approving_team_ids: tuple[str, ...] = ()  # teams whose admins must each approve (a critical action)

    @property
    def requires_admin(self) -> bool:
        return bool(self.approving_team_ids)


@dataclass(frozen=True)
class ActionFacts:
    """What dispatch looked up about one proposed action before asking."""

    tool: str
    policy: ToolPolicy
    args: dict[str, Any]
    confidence: float | None
    now: datetime
    recipient_phone: str | None = None
    recipient_problem: str | None = None  # why the action cannot reach its recipient (INVALID_RECIPIENT)
    opt_out_reason: str | None = None
    flag_enabled: bool = True
    event_window: tuple[datetime, datetime] | None = None  # [start, end) of a calendar event, aware UTC
    argument_problem: str | None = None  # arguments that validate but cannot be used (a time already past)
    delivers: tuple[ToolPolicy, ...] = ()
    """The tools this action will run later: a reminder's delivery, a sequence's steps (and theirs)."""
    interpreted: bool = True
    """Whether a model or a person chose this action now, so how sure they were matters. False for a
    scheduled delivery, whose content was fixed (and confirmed or approved) when it was set up."""


def decide(facts: ActionFacts, settings: EffectiveSettings, *, at_execution: bool = False) -> Decision:
    """Deny checks first (they also run again at execution time), then whether a human must confirm.

    A revocation (an opt-out) is always executed: nobody's settings may stand between a person and "stop".
    """
    if facts.policy.revocation:
        return Decision(Outcome.EXECUTE)
    denial = _denial(facts, settings)
    if denial is not None:
        return denial
    if at_execution:
        return Decision(Outcome.EXECUTE)
    return _confirmation(facts, settings) or Decision(Outcome.EXECUTE)


def _deny(code: str, message: str, **details: Any) -> Decision:
    return Decision(Outcome.DENY, code, message, details)


def _denial(facts: ActionFacts, settings: EffectiveSettings) -> Decision | None:
    policy = facts.policy
    if not facts.flag_enabled:
        return _deny("PERMISSION_DENIED", f"{facts.tool} is not enabled for this account")
    if not policy.read_only and not settings.actions_enabled:
        return _deny("PERMISSION_DENIED", "agent actions are turned off in the settings")
    for permission in policy.permissions:
        if not settings.allows(permission):
            return _deny("PERMISSION_DENIED", f"{permission} is off in the user's or the team's settings")
    if facts.argument_problem:
        return _deny("INVALID_ARGUMENT", facts.argument_problem)
    if facts.recipient_problem:
        return _deny("INVALID_RECIPIENT", facts.recipient_problem)
    if facts.opt_out_reason:
        return _deny("PERMISSION_DENIED", facts.opt_out_reason)
    return _content_denial(facts, settings) or _time_denial(facts, settings) or _working_hours_denial(facts, settings)


def _outgoing_text(facts: ActionFacts) -> str:
    return "\n".join(str(facts.args.get(name) or "") for name in facts.policy.text_fields)


def _content_denial(facts: ActionFacts, settings: EffectiveSettings) -> Decision | None:
    text = _outgoing_text(facts)
    if not text.strip():
        return None
    verdict = scan_outgoing_text(text)
    if verdict is not None:
        return _deny("CONTENT_BLOCKED", verdict.message, patterns=sorted(verdict.kinds))
    lowered = text.lower()
    for topic in settings.blocked_topics:
        if topic.lower() in lowered:
            return _deny("TEAM_POLICY_BLOCKED", f"the team does not allow messages about {topic!r}")
    return None


def _time_denial(facts: ActionFacts, settings: EffectiveSettings) -> Decision | None:
    """Quiet hours (user's zone) and the consent floor (recipient's zone) as one set of windows, so the
    next allowed time offered is allowed by both."""
    if not facts.policy.outbound_phone:
        return None
    windows = [quiet_hours_window(settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end)]
    if facts.recipient_phone:
        windows.extend(consent_floor_windows(facts.recipient_phone, settings.timezone))
    status = window_status(windows, facts.now)
    if status.allowed:
        return None
    return _quiet_denial("inside quiet hours or outside 08:00-21:00 for the recipient", status.next_allowed_at)


DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def working_hours_window(settings: EffectiveSettings) -> LocalWindow:
    """The user's working hours on their working days, as a window of their local wall-clock time."""
    return LocalWindow(
        settings.timezone, parse_hhmm(settings.working_hours_start), parse_hhmm(settings.working_hours_end),
        settings.working_days,
    )


def _working_time(settings: EffectiveSettings) -> str:
    hours = f"{settings.working_hours_start}-{settings.working_hours_end}"
    if settings.working_days == EVERY_DAY:
        return hours
    return f"{hours} on {', '.join(DAY_NAMES[day] for day in sorted(settings.working_days))}"


def _working_hours_denial(facts: ActionFacts, settings: EffectiveSettings) -> Decision | None:
    """"Only schedule during working hours": the whole event must lie inside them. INVALID_ARGUMENT
    (recoverable), because the fix is another time, which the coach can offer at once."""
    if facts.event_window is None or not settings.calendar_working_hours_only:
        return None
    if working_hours_window(settings).covers(*facts.event_window):
        return None
    return _deny(
        "INVALID_ARGUMENT",
        f"outside working hours: your settings only allow calendar events during {_working_time(settings)} ({settings.timezone})",
        working_hours_start=settings.working_hours_start,
        working_hours_end=settings.working_hours_end,
        working_days=sorted(settings.working_days),
        timezone=settings.timezone,
    )


def _quiet_denial(why: str, next_allowed_at: datetime | None) -> Decision:
    when = next_allowed_at.isoformat() if next_allowed_at else None
    message = f"not now: {why}" + (f"; next allowed at {when}" if when else "")
    return _deny("QUIET_HOURS", message, next_allowed_at=when)


def _confirmation(facts: ActionFacts, settings: EffectiveSettings) -> Decision | None:
    """An action is confirmed as strictly as the strictest tool it contains (itself and what it delivers
    later), under the user's and every team's settings."""
    policies = (facts.policy, *facts.delivers)
    risk = max((policy.risk for policy in policies), key=lambda level: level.rank)
    approving_teams = settings.admin_approval_team_ids if risk is Risk.CRITICAL else ()
    reason: str | None = None
    if _unsure(facts, settings):
        reason = "LOW_CONFIDENCE"
    elif risk is Risk.CRITICAL:
        reason = "CRITICAL_RISK"
    elif any(settings.confirmations.get(policy.confirmation_setting or "") for policy in policies):
        reason = "CHANNEL_REQUIRES_CONFIRMATION"
    elif not settings.auto_approve[risk]:
        reason = "RISK_NOT_AUTO_APPROVED"
    if reason is None:
        return None
    return Decision(Outcome.CONFIRM, reason, _CONFIRM_MESSAGES[reason], approving_team_ids=approving_teams)


def _unsure(facts: ActionFacts, settings: EffectiveSettings) -> bool:
    """Below the threshold. A missing confidence is unknown, and unknown is below any threshold, except for
    a read-only tool: it changes nothing, so it is not held up for a number nobody gave."""
    if not facts.interpreted or not settings.require_high_confidence:
        return False
    if facts.confidence is None:
        return not facts.policy.read_only
    return facts.confidence < settings.confidence_threshold


_CONFIRM_MESSAGES = {
    "LOW_CONFIDENCE": "I'm not fully sure I understood; please confirm before I do this.",
    "CRITICAL_RISK": "This acts on your behalf towards someone else; it needs explicit approval.",
    "CHANNEL_REQUIRES_CONFIRMATION": "Your settings ask me to confirm before using this channel.",
    "RISK_NOT_AUTO_APPROVED": "Your settings ask me to confirm actions of this kind.",
}
