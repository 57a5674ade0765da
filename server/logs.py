"""Structured JSON logs. Request, call and action ids travel in context variables, not arguments.

Secrets never reach a log line: values of keys that look like credentials are replaced by "[redacted]",
and API tokens / bearer values inside messages are masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any

from tools.log_context import action_id_var, call_id_var, job_id_var, request_id_var

_CONTEXT = {
    "request_id": request_id_var, "call_id": call_id_var, "action_id": action_id_var, "job_id": job_id_var,
}
_SECRET_KEY = re.compile(r"(token|secret|password|authorization|api_key|apikey|auth)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"(vc_[A-Za-z0-9_\-]{20,}|Bearer\s+\S+)")
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEY.search(key):
        return "[redacted]"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, str):
        return _SECRET_VALUE.sub("[redacted]", value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for name, var in _CONTEXT.items():
            value = var.get()
            if value:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = redact(value, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
