"""JSON from untrusted callers (request bodies, model output): what cannot be stored, and the bounded form
in which a payload is recorded in history and traces.

PostgreSQL refuses NUL characters in text and NaN or Infinity in json; a payload as large as its caller
cares to send would be stored whole, in history and again in the traces. So dispatch refuses arguments
`unstorable` finds a problem in, and records `recordable(payload)`: the payload itself when it is storable
and small, otherwise a summary with its size, its SHA-256 digest and the start of its JSON text.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from db.engine import json_text

MAX_DEPTH = 32  # deeper than any tool's arguments (a sequence's step's arguments are 4 levels down)
RECORD_MAX_BYTES = 16 * 1024  # a recorded payload's JSON text; larger ones are summarised
# A tool call's arguments as stored (UTF-8 JSON): with the other columns, every row an action writes
# (history, pending action) stays under 64 KB, whatever the script its text is written in.
ARGUMENTS_MAX_BYTES = 32 * 1024
PREVIEW_CHARS = 2000  # how much of a summarised payload's JSON text is kept


def unstorable(value: Any, max_depth: int = MAX_DEPTH, skip: frozenset[str] = frozenset()) -> str | None:
    """What makes decoded JSON `value` unfit to store, or None: nesting deeper than `max_depth`, a NUL
    character in a string or key, an unpaired surrogate (JSON's `\\ud800` decodes to one; it is not text
    and has no UTF-8), a NaN or infinite number. Under top-level keys in `skip` only the depth
    is checked. Iterative, so no nesting can exhaust the stack."""
    stack: list[tuple[Any, int, bool]] = [(value, 1, True)]
    while stack:
        item, depth, checked = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                if checked and any(isinstance(key, str) and "\x00" in key for key in item):
                    return "a key contains a NUL character"
                stack.extend((child, depth + 1, checked and not (depth == 1 and key in skip)) for key, child in item.items())
            else:
                stack.extend((child, depth + 1, checked) for child in item)
        elif checked and isinstance(item, str) and "\x00" in item:
            return "a string contains a NUL character"
        elif checked and isinstance(item, str) and not _encodable(item):
            return "a string contains an unpaired surrogate (not text)"
        elif checked and isinstance(item, float) and not math.isfinite(item):
            return "a number is NaN or infinite"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stored_bytes(value: Any) -> int:
    """How many bytes `value` takes in a JSON column (`db.engine.json_text`)."""
    return len(json_text(value).encode("utf-8", "surrogatepass"))


def recordable(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` as history and traces may hold it: itself when storable and at most RECORD_MAX_BYTES of
    JSON, otherwise {"truncated": true, "size_bytes", "sha256", "preview"} over its JSON text (in which NaN
    and NUL are plain text, so the summary is always storable)."""
    try:
        text = json.dumps(payload, sort_keys=True, default=str)
    except (RecursionError, ValueError):
        return {"truncated": True, "problem": f"nested deeper than {MAX_DEPTH} levels"}
    encoded = text.encode()
    if len(encoded) <= RECORD_MAX_BYTES and unstorable(payload) is None:
        return payload
    return {
        "truncated": True,
        "size_bytes": len(encoded),
        "sha256": hashlib.sha256(encoded).hexdigest(),
        "preview": text[:PREVIEW_CHARS],
    }
