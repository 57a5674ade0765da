"""Email through Resend's HTTP API. The action id is the Idempotency-Key, so a retry never sends twice."""

from __future__ import annotations

import httpx

from tools.channels.retry import RetryPolicy, with_retries
from tools.results import ErrorCode, ToolFailure


class ResendError(Exception):
    def __init__(self, status: int | None, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


class ResendChannel:
    def __init__(
        self, api_key: str, base_url: str, from_address: str, retry: RetryPolicy = RetryPolicy(), timeout: float = 15.0
    ) -> None:
        self.from_address = from_address
        self.retry = retry
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            trust_env=False,
        )

    async def send(self, *, to: str, subject: str, text: str, idempotency_key: str, reply_to: str | None = None) -> str:
        """Send one email; returns Resend's email id."""
        body: dict[str, object] = {"from": self.from_address, "to": [to], "subject": subject, "text": text}
        if reply_to:
            body["reply_to"] = reply_to

        async def attempt() -> str:
            try:
                response = await self.http.post("/emails", json=body, headers={"Idempotency-Key": idempotency_key})
            except httpx.TransportError as exc:
                raise ResendError(503, "transport_error", f"could not reach Resend: {type(exc).__name__}") from None
            if response.status_code >= 400:
                raise _error(response)
            return str(response.json()["id"])

        try:
            return await with_retries(attempt, lambda exc: getattr(exc, "status", None), self.retry, "resend.emails")
        except ResendError as exc:
            raise _failure(exc) from None

    async def close(self) -> None:
        await self.http.aclose()


def _error(response: httpx.Response) -> ResendError:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    return ResendError(response.status_code, str(payload.get("name", "error")), str(payload.get("message", response.text)))


def _failure(exc: ResendError) -> ToolFailure:
    details = {"provider": "resend", "provider_status": exc.status, "provider_error": exc.name}
    if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
        return ToolFailure(ErrorCode.INVALID_ARGUMENT, f"Resend refused the email: {exc.message}", details)
    return ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, f"Resend is not available: {exc.message}", details)
