"""Team admin analytics: the activity summary, the feedback analytics and the streamed audit export
(admins and owners of the team only; the team's own actions only, as `server.routes.admin`).

A range is `since` (inclusive) to `until` (exclusive), ISO 8601 with a UTC offset; without them it is the
last `DEFAULT_RANGE` up to now.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from db.audit_export import RECORDS, audit_batches
from db.team_activity import ActivityFilter, summary
from db.team_feedback import feedback_entries
from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from server.csv_cells import csv_cell
from server.errors import ApiError
from server.paging import query_time
from tools.feedback_insights import feedback_summary

DEFAULT_RANGE = timedelta(days=30)
EXPORT_COLUMNS = ["record", *dict.fromkeys(column.name for table in RECORDS.values() for column in table.columns)]
"""One CSV header for every record kind (`record`: history, trace or feedback): the columns of their tables;
a record leaves the columns of the other kinds empty."""


def _range(request: Request, now: datetime) -> tuple[datetime, datetime]:
    until = query_time(request, "until") or now
    since = query_time(request, "since") or until - DEFAULT_RANGE
    if since >= until:
        raise ApiError(422, "INVALID_ARGUMENT", "since must be before until", details={"fields": [{"field": "since", "message": "not before until"}]})
    return since, until


def _team_of(request: Request, principal: Principal) -> str:
    team_id: str = request.path_params["team_id"]
    principal.require_team_admin(team_id)
    return team_id


@authenticated
async def team_summary(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = _team_of(request, principal)
    since, until = _range(request, app_context(request).services.clock())
    narrowed = ActivityFilter(team_id, since, until, request.query_params.get("user_id") or None)
    figures = await summary(session, narrowed)
    return JSONResponse({**figures.to_json(), "since": since.isoformat(), "until": until.isoformat()})


@authenticated
async def team_feedback_summary(request: Request, session: AsyncSession, principal: Principal) -> JSONResponse:
    team_id = _team_of(request, principal)
    since, until = _range(request, app_context(request).services.clock())
    analytics = feedback_summary(await feedback_entries(session, team_id, since, until))
    return JSONResponse({**analytics, "since": since.isoformat(), "until": until.isoformat()})


@authenticated
async def team_export(request: Request, session: AsyncSession, principal: Principal) -> Response:
    team_id = _team_of(request, principal)
    ctx = app_context(request)
    since, until = _range(request, ctx.services.clock())
    output = request.query_params.get("format", "ndjson")
    if output not in {"ndjson", "csv"}:
        raise ApiError(422, "INVALID_ARGUMENT", "format must be ndjson or csv")
    batches = audit_batches(ctx.sessions, team_id, since, until)
    chunks, media_type = (_ndjson_chunks(batches), "application/x-ndjson") if output == "ndjson" else (_csv_chunks(batches), "text/csv")
    filename = f"audit-{team_id}-{since.date().isoformat()}-{until.date().isoformat()}.{output}"
    return StreamingResponse(chunks, media_type=media_type, headers={"Content-Disposition": f"attachment; filename={filename}"})


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _ndjson_chunks(batches: AsyncIterator[tuple[str, list[dict[str, Any]]]]) -> AsyncIterator[str]:
    """One JSON object per line, a batch per chunk."""
    async for record, rows in batches:
        yield "".join(
            json.dumps({"record": record, **{key: _plain(value) for key, value in row.items()}}) + "\n" for row in rows
        )


async def _csv_chunks(batches: AsyncIterator[tuple[str, list[dict[str, Any]]]]) -> AsyncIterator[str]:
    """The header, then a batch per chunk; every cell neutralised against formula injection (`csv_cell`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    yield buffer.getvalue()
    async for record, rows in batches:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
        for row in rows:
            writer.writerow({"record": record, **{key: _csv_value(value) for key, value in row.items()}})
        yield buffer.getvalue()


def _csv_value(value: Any) -> Any:
    """Lists as JSON like objects (`csv_cell` writes objects as JSON), times in ISO 8601."""
    return csv_cell(json.dumps(value, sort_keys=True) if isinstance(value, list) else _plain(value))


routes = [
    Route("/api/admin/teams/{team_id}/summary", team_summary, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/feedback/summary", team_feedback_summary, methods=["GET"]),
    Route("/api/admin/teams/{team_id}/export", team_export, methods=["GET"]),
]
