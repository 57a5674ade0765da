"""CSV cells a spreadsheet opens safely: every export (history, a team's audit log) writes its cells through here."""

from __future__ import annotations

import json
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell: objects as JSON; text a spreadsheet would run as a formula gets a leading single quote."""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
    if isinstance(text, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
