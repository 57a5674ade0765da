"""The one JSON error shape of the API (DESIGN section 5): {"error": {code, message, recoverable, details?}}."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error that becomes a JSON response with `status` and the contract's error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        recoverable: bool = False,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.recoverable = recoverable
        self.details = details

    def to_response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.recoverable, self.details)


def error_response(
    status: int,
    code: str,
    message: str,
    recoverable: bool = False,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "recoverable": recoverable}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def unauthenticated(message: str = "missing or invalid API token") -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "PERMISSION_DENIED", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)
