"""Feedback analytics of a team: approval rate by action type, thumbs ratio, time to decision, rejection
reasons ranked, and for each reason common enough the plan's kind of suggestion.

Suggestions come from one table (`SUGGESTIONS`): a reason earns its suggestion when at least `min_count`
rejections and at least `min_share` of all rejections in the range give it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from db.team_feedback import FeedbackEntry


@dataclass(frozen=True)
class Suggestion:
    advice: str
    min_count: int = 3
    min_share: float = 0.10


SUGGESTIONS: dict[str, Suggestion] = {
    "wrong_recipient": Suggestion(
        "add a recipient read-back before sending: the coach names who it will reach and waits for a yes"
    ),
    "wrong_time": Suggestion(
        "read the date, time and time zone back before scheduling, and check the member's working and quiet hours"
    ),
    "wrong_content": Suggestion(
        "read the message back before sending, and adjust the coach's instructions or tone for this action type"
    ),
    "not_now": Suggestion(
        "propose this less often: raise the confidence threshold for it or narrow proactive outreach"
    ),
    "other": Suggestion("read the rejection comments: no common cause stands out yet", min_share=0.25),
    "unspecified": Suggestion("ask for a reason when a member rejects (the reject form's choices)", min_share=0.25),
}

# Free-text reasons (a rejection without a code: made before codes existed, or through the API with words
# only) by the reason code they mean; the first match wins.
_REASON_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("wrong_recipient", re.compile(r"recipient|wrong (person|contact|number|address|email)|not (him|her|them)")),
    ("wrong_time", re.compile(r"wrong (time|day|date)|too (early|late)|\btime\b|\bdate\b")),
    ("wrong_content", re.compile(r"content|wording|words|message|typo|tone")),
    ("not_now", re.compile(r"not (now|needed|necessary)|no need|later|don'?t need")),
)


def rejection_reason(entry: FeedbackEntry) -> str:
    """The reason code of a rejection: the one the person chose, else what its words mean."""
    if entry.reason_code:
        return entry.reason_code
    text = (entry.reason_text or "").strip().lower().replace("_", " ")
    if not text:
        return "unspecified"
    return next((code for code, words in _REASON_WORDS if words.search(text)), "other")


def percentile(ordered: list[int], fraction: float) -> int | None:
    """The nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _approval_by_tool(entries: list[FeedbackEntry]) -> dict[str, dict[str, Any]]:
    decisions: dict[str, Counter[str]] = {}
    for entry in entries:
        if entry.feedback_type in ("approved", "edited", "rejected"):
            decisions.setdefault(entry.tool, Counter())[entry.feedback_type] += 1
    by_tool = {}
    for tool, counts in sorted(decisions.items()):
        total = sum(counts.values())
        approved = counts["approved"] + counts["edited"]
        by_tool[tool] = {
            "decisions": total, "approved": counts["approved"], "edited": counts["edited"],
            "rejected": counts["rejected"], "approval_rate": _share(approved, total),
        }
    return by_tool


def _ranked_reasons(rejections: list[FeedbackEntry]) -> list[dict[str, Any]]:
    by_reason: dict[str, Counter[str]] = {}
    for entry in rejections:
        by_reason.setdefault(rejection_reason(entry), Counter())[entry.tool] += 1
    ranked = sorted(by_reason.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    reasons = []
    for reason, tools in ranked:
        count = sum(tools.values())
        share = count / len(rejections)
        rule = SUGGESTIONS.get(reason)
        earned = rule is not None and count >= rule.min_count and share >= rule.min_share
        reasons.append({
            "reason": reason, "count": count, "share": round(share, 4), "tools": dict(tools.most_common()),
            "suggestion": rule.advice if earned and rule else None,
        })
    return reasons


def feedback_summary(entries: list[FeedbackEntry]) -> dict[str, Any]:
    """The analytics of a range's feedback entries (see the module's docstring)."""
    thumbs = Counter(entry.feedback_type for entry in entries if entry.feedback_type in ("thumbs_up", "thumbs_down"))
    waits = sorted(
        entry.time_to_decision_ms for entry in entries
        if entry.feedback_type in ("approved", "edited", "rejected") and entry.time_to_decision_ms is not None
    )
    rejections = [entry for entry in entries if entry.feedback_type == "rejected"]
    return {
        "approval_by_tool": _approval_by_tool(entries),
        "thumbs": {
            "up": thumbs["thumbs_up"], "down": thumbs["thumbs_down"],
            "up_ratio": _share(thumbs["thumbs_up"], thumbs["thumbs_up"] + thumbs["thumbs_down"]),
        },
        "time_to_decision_ms": {"count": len(waits), "p50": percentile(waits, 0.5), "p90": percentile(waits, 0.9)},
        "rejection_reasons": _ranked_reasons(rejections),
    }
