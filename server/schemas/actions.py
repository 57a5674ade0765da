"""Request bodies of the action endpoints."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.catalogue import TOOL_ARGS
from tools.pending import RejectionReason


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # dispatch checks these itself (NUL, NaN, range) and records the call it refuses; see server.schemas
    UNCHECKED_FIELDS: ClassVar[frozenset[str]] = frozenset({"args", "confidence"})

    tool: str = Field(min_length=1, max_length=64, description="a tool of the catalogue", examples=sorted(TOOL_ARGS))
    args: dict[str, Any] = Field(default_factory=dict)
    confidence: float | None = None


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    args: dict[str, Any] | None = Field(default=None, description="edited arguments; the tool cannot change")


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)
    reason_code: RejectionReason | None = Field(default=None, description="why it was rejected; other needs reason")


# Why a person liked or disliked what an action did (the history page offers these as checkboxes).
FEEDBACK_TAGS = {
    "helpful": "Helpful",
    "right_time": "Right time",
    "wrong_recipient": "Wrong recipient",
    "wrong_time": "Wrong time",
    "wrong_content": "Wrong content",
    "not_needed": "Not needed",
    "other": "Other",
}
FeedbackTag = Literal[tuple(FEEDBACK_TAGS)]  # type: ignore[valid-type]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedback_type: Literal["thumbs_up", "thumbs_down", "comment"] = "comment"
    rating: int | None = Field(default=None, ge=1, le=5)
    tags: list[FeedbackTag] = Field(default_factory=list, max_length=len(FEEDBACK_TAGS), description="reason tags")
    comment: str | None = Field(default=None, max_length=2000)


class ChatTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "model"]
    text: str = Field(max_length=8000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=8000)
    history: list[ChatTurn] = Field(default_factory=list, max_length=50)
