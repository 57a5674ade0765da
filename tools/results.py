"""`AgentToolResult`: what every tool call returns (DESIGN section 5), and the error codes."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel


class ErrorCode(str, Enum):
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RATE_LIMITED = "RATE_LIMITED"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    ACTION_EXPIRED = "ACTION_EXPIRED"
    QUIET_HOURS = "QUIET_HOURS"
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    LOW_CONFIDENCE = "LOW_CONFIDENCE"
    TEAM_POLICY_BLOCKED = "TEAM_POLICY_BLOCKED"
    CONTENT_BLOCKED = "CONTENT_BLOCKED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"


RECOVERABLE = {ErrorCode.RATE_LIMITED, ErrorCode.QUIET_HOURS, ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.INVALID_ARGUMENT}


class ToolError(BaseModel):
    code: str
    message: str
    recoverable: bool = False
    details: dict[str, Any] | None = None


class AgentToolResult(BaseModel):
    success: bool
    data: dict[str, Any] | None = None
    error: ToolError | None = None
    needs_confirmation: bool | None = None
    pending_action_id: str | None = None
    confidence_score: float | None = None
    message: str | None = None

    @classmethod
    def ok(cls, data: dict[str, Any] | None = None, message: str | None = None, **extra: Any) -> AgentToolResult:
        return cls(success=True, data=data, message=message, **extra)

    @classmethod
    def fail(cls, code: str | ErrorCode, message: str, details: dict[str, Any] | None = None) -> AgentToolResult:
        code = ErrorCode(code)
        return cls(
            success=False,
            error=ToolError(code=code.value, message=message, recoverable=code in RECOVERABLE, details=details or None),
            message=message,
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ToolFailure(Exception):
    """Raised by an executor or channel to end an action with an error code."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
