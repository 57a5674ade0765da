"""Fake Gemini text API: `POST /{version}/models/{model}:generateContent` (google-genai REST path).

Answers come from a script: a queue of responses, then an optional handler that sees the request
body (to answer depending on the `functionResponse` it got). An empty script answers 500, so a test
that forgot to script a turn fails loudly.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Body = dict[str, Any]
Handler = Callable[[Body], Body | Awaitable[Body]]
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class TextRequest:
    """One generateContent call as received."""

    version: str
    model: str
    body: Body
    headers: dict[str, str]
    status: int

    def function_responses(self) -> list[Body]:
        """Every `functionResponse` part in the request's contents, oldest first."""
        return [
            part["functionResponse"]
            for content in self.body.get("contents", [])
            for part in content.get("parts", [])
            if "functionResponse" in part
        ]

    def tool_names(self) -> list[str]:
        """Names of the function declarations offered to the model."""
        return [
            declaration["name"]
            for tool in self.body.get("tools", [])
            for declaration in tool.get("functionDeclarations", [])
        ]


@dataclass
class _State:
    requests: list[TextRequest] = field(default_factory=list)
    script: deque[Body] = field(default_factory=deque)
    failures: deque[int] = field(default_factory=deque)
    handler: Handler | None = None


def google_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}},
        status_code=status,
    )


MINIMAL_USAGE: Body = {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}


def text_usage(prompt: dict[str, int], candidates: int, thoughts: int | None = None) -> Body:
    """A generateContent `usageMetadata`: prompt counts per modality (`{"TEXT": 40}`), the answer's tokens
    (reported as TEXT) and optional thinking tokens, with their totals."""
    usage: Body = {
        "promptTokenCount": sum(prompt.values()),
        "candidatesTokenCount": candidates,
        "totalTokenCount": sum(prompt.values()) + candidates + (thoughts or 0),
        "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in prompt.items()],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": candidates}],
    }
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _candidate_response(parts: list[Body], usage: Body | None = None) -> Body:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage or MINIMAL_USAGE,
    }


def text_response(text: str, usage: Body | None = None) -> Body:
    """A generateContent answer with one text part."""
    return _candidate_response([{"text": text}], usage)


def function_call_response(*calls: tuple[str, Body], usage: Body | None = None) -> Body:
    """A generateContent answer with one `functionCall` part per `(name, args)`."""
    return _candidate_response([{"functionCall": {"name": name, "args": args}} for name, args in calls], usage)


class FakeGeminiText:
    """generateContent fake checking `x-goog-api-key` and recording every request body."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._state = _State()
        self.routes = [Route("/{version}/models/{model}:generateContent", self._generate, methods=["POST"])]
        self.app = Starlette(routes=self.routes)

    @property
    def requests(self) -> list[TextRequest]:
        with self._lock:
            return list(self._state.requests)

    def queue_response(self, response: Body) -> None:
        """Answer a later request with this raw generateContent JSON (queued in order)."""
        with self._lock:
            self._state.script.append(response)

    def queue_text(self, text: str) -> None:
        self.queue_response(text_response(text))

    def queue_function_calls(self, *calls: tuple[str, Body]) -> None:
        """Queue one answer holding these `(name, args)` function calls."""
        self.queue_response(function_call_response(*calls))

    def set_handler(self, handler: Handler | None) -> None:
        """Answer with `handler(request_body)` (sync or async) once the queue is empty."""
        with self._lock:
            self._state.handler = handler

    def fail_next(self, n: int, status: int) -> None:
        """Answer the next `n` authorized requests with a Google error of this status (429, 503...)."""
        with self._lock:
            self._state.failures.extend([status] * n)

    async def _generate(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        response = await self._answer(request, body)
        recorded = TextRequest(
            version=request.path_params["version"],
            model=request.path_params["model"],
            body=body,
            headers=dict(request.headers),
            status=response.status_code,
        )
        with self._lock:
            self._state.requests.append(recorded)
        return response

    async def _answer(self, request: Request, body: Body) -> JSONResponse:
        key = request.headers.get("x-goog-api-key")
        if key is None:
            return google_error(
                403, "Method doesn't allow unregistered callers (callers without established identity)."
            )
        if key != self.api_key:
            return google_error(400, "API key not valid. Please pass a valid API key.")
        with self._lock:
            failure = self._state.failures.popleft() if self._state.failures else None
            scripted = self._state.script.popleft() if self._state.script and failure is None else None
            handler = self._state.handler
        if failure is not None:
            return google_error(failure, f"Injected {failure}.")
        if scripted is not None:
            return JSONResponse(scripted)
        if handler is None:
            return google_error(500, "FakeGeminiText: no scripted response left for this request.")
        answer = handler(body)
        return JSONResponse(await answer if inspect.isawaitable(answer) else answer)
