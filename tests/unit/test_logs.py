"""Structured logs: JSON lines with context ids, secrets redacted."""

from __future__ import annotations

import json
import logging

from server.logs import JsonFormatter, action_id_var, call_id_var


def render(message: str, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("coach.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))


def test_log_lines_carry_call_and_action_ids():
    call_token = call_id_var.set("call-1")
    action_token = action_id_var.set("action-9")
    try:
        entry = render("hello")
    finally:
        call_id_var.reset(call_token)
        action_id_var.reset(action_token)
    assert entry["call_id"] == "call-1"
    assert entry["action_id"] == "action-9"


def test_secret_named_fields_are_redacted():
    entry = render("connecting", auth_token="s3cr3t", headers={"Authorization": "Bearer abc"})
    assert entry["auth_token"] == "[redacted]"
    assert entry["headers"] == {"Authorization": "[redacted]"}


def test_api_tokens_inside_messages_are_masked():
    entry = render("token vc_abcdefghijklmnopqrstuvwxyz0123 was used")
    assert "vc_abcdefghijklmnopqrstuvwxyz0123" not in entry["msg"]
