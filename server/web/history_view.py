"""What the history pages show of a step, computed here so the templates hold markup only: the status word,
the decision's reason, a short result, whether feedback and undo are offered."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from db.models import AgentActionFeedback, AgentActionHistory, AgentExecutionTrace
from tools.undo import can_undo

RESULT_CHARS = 160

# The decision's reason in words: what policy decided (decision_point trace) and why.
CONFIRM_REASONS = {
    "LOW_CONFIDENCE": "Asked you first: the coach was not sure enough",
    "CRITICAL_RISK": "Asked you first: it acts towards someone else",
    "CHANNEL_REQUIRES_CONFIRMATION": "Asked you first: your settings confirm this channel",
    "RISK_NOT_AUTO_APPROVED": "Asked you first: your settings confirm actions of this risk",
}
SOURCES = {
    "api": "API", "web": "Web", "browser": "Browser", "chat": "Chat", "voice": "Voice call",
    "scheduler": "Scheduler", "operator": "Operator", "system": "System",
}
STATUSES = ("proposed", "confirmed", "executed", "undone", "cancelled", "expired", "failed", "denied")


def tool_words(tool: str) -> str:
    return tool.replace("_", " ").capitalize()


def decision_reason(step: AgentActionHistory, decision: dict[str, Any] | None) -> str:
    """Why the action went the way it did, in a sentence."""
    if step.status in ("denied", "failed") and step.error_message:
        return step.error_message
    if step.status == "cancelled":
        return "You said no" + (f": {step.error_message}" if step.error_message else "")
    if step.status == "expired":
        return "Nobody answered in time"
    if decision is None:
        return ""
    if decision.get("outcome") == "confirm":
        return CONFIRM_REASONS.get(str(decision.get("code")), "Asked you first")
    if decision.get("approved_by"):
        return "Ran on an earlier yes"
    return "Ran without asking: your settings allow it"


def short_values(values: Any) -> str:
    """The plain values of a dict (ids left out), shortened: enough to recognise an action by."""
    if not isinstance(values, dict):
        return ""
    parts = [
        f"{key.replace('_', ' ')}: {value}"
        for key, value in values.items()
        if isinstance(value, (str, int, float)) and value != "" and not key.endswith("_id") and key != "undoes"
    ]
    text = "; ".join(parts)
    return text if len(text) <= RESULT_CHARS else text[: RESULT_CHARS - 1] + "…"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class HistoryRow:
    """One action as a row of the history page (its newest step)."""

    step: AgentActionHistory
    reason: str
    thumbs: str | None  # "thumbs_up" | "thumbs_down" | None
    thumbs_tags: tuple[str, ...]
    error: str | None = None

    @property
    def status_word(self) -> str:
        return self.step.status.capitalize()

    @property
    def tool(self) -> str:
        return tool_words(self.step.tool)

    @property
    def source(self) -> str:
        return SOURCES.get(self.step.source, self.step.source)

    @property
    def confidence(self) -> str:
        return "—" if self.step.confidence is None else f"{round(self.step.confidence * 100)}%"

    @property
    def what(self) -> str:
        return short_values(self.step.payload)

    @property
    def result(self) -> str:
        return short_values(self.step.result)

    @property
    def feedback_offered(self) -> bool:
        return self.step.status == "executed"

    @property
    def undo_offered(self) -> bool:
        return can_undo(self.step)


def history_row(
    step: AgentActionHistory, decision: AgentExecutionTrace | None, thumbs: AgentActionFeedback | None,
    error: str | None = None,
) -> HistoryRow:
    return HistoryRow(
        step, decision_reason(step, decision.data if decision else None),
        thumbs.feedback_type if thumbs else None, tuple(thumbs.tags or ()) if thumbs else (), error,
    )
