"""Query parameters of the listing endpoints: `limit`, and the opaque `cursor` a page's `next_cursor` gives.

A cursor is the (created_at, id) of a page's last row, encoded; it is not signed: the query it feeds is
restricted to the caller's own rows, so a forged cursor can only move within them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime

from starlette.requests import Request

from server.errors import ApiError

MAX_CURSOR_CHARS = 200
_ROW_ID = re.compile(r"[0-9a-f]{32}")

Position = tuple[datetime, str]


def query_limit(request: Request, *, default: int, maximum: int) -> int:
    """`limit`: ASCII digits from 1 to `maximum` (`default` when absent); anything else is 400."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum)) and 1 <= int(raw) <= maximum:
        return int(raw)
    raise _invalid("limit", f"limit must be a whole number from 1 to {maximum}")


def encode_cursor(position: Position) -> str:
    created_at, row_id = position
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def query_cursor(request: Request) -> Position | None:
    """The position `cursor` names (None when absent); one this server did not give is 400."""
    raw = request.query_params.get("cursor")
    if raw is None:
        return None
    if len(raw) > MAX_CURSOR_CHARS or not raw.isascii():
        raise _invalid("cursor", "cursor is not one this server gave")
    try:
        created, row_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        created_at = datetime.fromisoformat(created)
    except (binascii.Error, ValueError, TypeError):
        raise _invalid("cursor", "cursor is not one this server gave") from None
    if created_at.tzinfo is None or not isinstance(row_id, str) or not _ROW_ID.fullmatch(row_id):
        raise _invalid("cursor", "cursor is not one this server gave")
    return created_at, row_id


def query_time(request: Request, name: str) -> datetime | None:
    """An ISO 8601 datetime with a UTC offset (None when absent); anything else is 422."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "INVALID_ARGUMENT", f"{name} must be an ISO 8601 datetime", details={"fields": [{"field": name, "message": "not a datetime"}]}) from None
    if moment.tzinfo is None:
        raise ApiError(422, "INVALID_ARGUMENT", f"{name} needs a UTC offset, e.g. 2026-11-24T10:00:00Z")
    return moment


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message, details={"fields": [{"field": field, "message": message}]})
