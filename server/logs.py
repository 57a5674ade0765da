"""Structured JSON logs. Request, call and action ids travel in context variables, not arguments.

Secrets never reach a log line, whatever their shape and wherever they are in the record (the message
with its arguments, extra fields, the traceback), and for every logger that reaches the root handler
(uvicorn's too: `coach serve` leaves its logging to us, so the path and query string of its access and
websocket lines pass here). Replaced by "[redacted]":
- the values of extra fields whose names look like credentials (`auth_token`, `Authorization`, ...);
- the configured secrets themselves (`configure_logging(secrets=...)`), wherever they appear;
- credentials after an auth scheme (`Bearer ...`, `Basic ...`);
- query parameters whose names look like credentials (`?token=`, `&code=`, `signature=`, ...) and
  `name=value` / `name: value` pairs with such names (`password`, `secret`, `api_key`, ...);
- our API tokens (`vc_...`);
- random-looking strings: 20 or more of [A-Za-z0-9_+-] mixing upper case, lower case and digits, and hex
  strings of 40 or more (hex secrets). Our ids (32 hex digits) and Twilio SIDs (two capitals and 32 hex
  digits) stay readable; `/` and `=` end a run, so URL paths and `name=value` pairs keep their ids.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from tools.log_context import action_id_var, call_id_var, job_id_var, request_id_var

REDACTED = "[redacted]"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Configured secrets shorter than this are not searched for: they would mask common words.
MIN_LITERAL_SECRET = 6

_CONTEXT = {
    "request_id": request_id_var, "call_id": call_id_var, "action_id": action_id_var, "job_id": job_id_var,
}
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# `tokens` alone is a count (`input_tokens`), not a credential.
_SECRET_NAME = r"token(?!s\b)|secret|passw(?:or)?d|authorization|api[_-]?key|auth|signature|credential|cookie"
_SECRET_KEY = re.compile(_SECRET_NAME, re.IGNORECASE)
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Digest)\s+[^\s\"',;]+", re.IGNORECASE)
# In a query string even a `code` or a `key` is a credential (OAuth codes, signed URLs).
_QUERY_PARAMETER = re.compile(rf"([?&;][\w.\-]*(?:{_SECRET_NAME}|key|code|sig)[\w.\-]*=)[^&\s\"'#]+", re.IGNORECASE)
_NAMED_VALUE = re.compile(rf"([\w.\-]*(?:{_SECRET_NAME})[\w.\-]*[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}}#]+", re.IGNORECASE)
_API_TOKEN = re.compile(r"\bvc_[A-Za-z0-9_\-]{8,}")
_RUN = re.compile(r"[A-Za-z0-9_\-+]{20,}")
_TWILIO_SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
_LONG_HEX = re.compile(r"[0-9a-fA-F]{40,}")


class Redactor:
    """Masks secrets in log values: by the name they are stored under and by their shape."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        literal = sorted({s for s in secrets if len(s) >= MIN_LITERAL_SECRET}, key=len, reverse=True)
        self._literal = re.compile("|".join(map(re.escape, literal))) if literal else None

    def value(self, value: Any, key: str = "") -> Any:
        """`value` as it may be logged under the name `key`."""
        if key and _SECRET_KEY.search(key):
            return REDACTED
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.value(item) for item in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self.text(value if isinstance(value, str) else str(value))

    def text(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        text = _AUTH_SCHEME.sub(rf"\1 {REDACTED}", text)
        text = _QUERY_PARAMETER.sub(rf"\1{REDACTED}", text)
        text = _NAMED_VALUE.sub(rf"\1{REDACTED}", text)
        text = _API_TOKEN.sub(REDACTED, text)
        return _RUN.sub(_mask_random, text)


def _mask_random(match: re.Match[str]) -> str:
    run = match.group()
    return REDACTED if _looks_random(run) else run


def _looks_random(run: str) -> bool:
    if _LONG_HEX.fullmatch(run):
        return True
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    return mixed and not _TWILIO_SID.fullmatch(run)


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.redactor = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        redact = self.redactor
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact.text(record.getMessage()),
        }
        for name, var in _CONTEXT.items():
            value = var.get()
            if value:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = redact.value(value, key)
        if record.exc_info:
            entry["exc"] = redact.text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact.text(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """JSON lines on stderr for every logger; `secrets` (the configured credentials) never appear in them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's lines carry paths with query strings: they go through the handler above (so are redacted)
    # even if something configured these loggers before.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # our own request line names the route
