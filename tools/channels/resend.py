"""Email through Resend's HTTP API. The action id is the Idempotency-Key, so a retry never sends twice.

aiohttp rather than httpx (which the Google calendar client uses): a scheduler worker sends an email per
job, and httpx spent about 1.3 ms of CPU per request (its connection pool polls every idle connection's
socket on each request) against 0.13 ms for aiohttp, at 16 requests in flight.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

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
        self._url = f"{base_url.rstrip('/')}/emails"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        """The HTTP session, opened on first use: aiohttp binds it to the running event loop."""
        if self._http is None:
            self._http = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._http

    async def send(self, *, to: str, subject: str, text: str, idempotency_key: str, reply_to: str | None = None) -> str:
        """Send one email; returns Resend's email id."""
        body: dict[str, object] = {"from": self.from_address, "to": [to], "subject": subject, "text": text}
        if reply_to:
            body["reply_to"] = reply_to

        async def attempt() -> str:
            try:
                async with self._session().post(self._url, json=body, headers={"Idempotency-Key": idempotency_key}) as response:
                    if response.status >= 400:
                        raise await _error(response)
                    return str((await response.json(content_type=None))["id"])
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise ResendError(503, "transport_error", f"could not reach Resend: {type(exc).__name__}") from None

        try:
            return await with_retries(attempt, lambda exc: getattr(exc, "status", None), self.retry, "resend.emails")
        except ResendError as exc:
            raise _failure(exc) from None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


async def _error(response: aiohttp.ClientResponse) -> ResendError:
    text = await response.text()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = {}
    return ResendError(response.status, str(payload.get("name", "error")), str(payload.get("message", text)))


def _failure(exc: ResendError) -> ToolFailure:
    details = {"provider": "resend", "provider_status": exc.status, "provider_error": exc.name}
    if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
        return ToolFailure(ErrorCode.INVALID_ARGUMENT, f"Resend refused the email: {exc.message}", details)
    return ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, f"Resend is not available: {exc.message}", details)
