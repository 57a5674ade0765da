"""The action API: run a tool, resolve pending actions, read and export history, give feedback, undo."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from db import history as history_rows
from db.history import HistoryFilter
from db.models import AgentActionFeedback, AgentActionHistory, PendingAgentAction
from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from server.csv_cells import csv_cell
from server.errors import ApiError, not_found
from server.paging import encode_cursor, query_cursor, query_limit, query_time
from server.schemas import parse_body
from server.schemas.actions import (
    ActionRequest,
    CancelRequest,
    ConfirmRequest,
    FeedbackRequest,
)
from tools import pending
from tools.dispatch import dispatch
from tools.results import AgentToolResult
from tools.undo import UndoRefused, undo

HTTP_STATUS = {
    "PERMISSION_DENIED": 403,
    "TEAM_POLICY_BLOCKED": 403,
    "CONTENT_BLOCKED": 422,
    "INVALID_ARGUMENT": 422,
    "INVALID_RECIPIENT": 422,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
    "QUIET_HOURS": 409,
    "ACTION_EXPIRED": 410,
    "SERVICE_UNAVAILABLE": 503,
}
HISTORY_LIMIT, MAX_HISTORY_LIMIT = 500, 5000
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection").
HISTORY_VIEWS = ("steps", "actions")
Sessions = Callable[[], AsyncSession]
HISTORY_COLUMNS = [
    "id", "action_id", "tool", "status", "source", "risk_level", "confidence", "error_code", "error_message",
    "payload", "result", "created_at",
]


def tool_response(result: AgentToolResult) -> JSONResponse:
    status = 200 if result.success else HTTP_STATUS.get(result.error.code if result.error else "", 400)
    return JSONResponse(result.to_json(), status_code=status)


def pending_json(row: PendingAgentAction) -> dict[str, Any]:
    return {
        "id": row.id, "user_id": row.user_id, "tool": row.tool, "args": row.args, "risk_level": row.risk_level,
        "reason": row.reason, "confidence": row.confidence, "requires_admin": row.requires_admin,
        "source": row.source, "prompt": row.prompt, "status": row.status,
        "created_at": row.created_at.isoformat(), "expires_at": row.expires_at.isoformat(),
    }


def history_json(row: AgentActionHistory) -> dict[str, Any]:
    return {
        column: (value.isoformat() if isinstance(value, datetime) else value)
        for column in HISTORY_COLUMNS
        for value in [getattr(row, column)]
    }


@authenticated
async def run_action(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, ActionRequest)
    services = app_context(request).services
    return tool_response(await dispatch(services, principal.actor(), body.tool, body.args, body.confidence))


@authenticated
async def list_pending(request: Request, session: AsyncSession, principal: Principal) -> Response:
    rows = await pending.list_pending(app_context(request).services, principal.actor())
    return JSONResponse({"pending": [pending_json(row) for row in rows]})


@authenticated
async def confirm_pending(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, ConfirmRequest)
    services = app_context(request).services
    return tool_response(await pending.confirm(services, principal.actor(), request.path_params["action_id"], body.args))


@authenticated
async def cancel_pending(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, CancelRequest)
    services = app_context(request).services
    return tool_response(
        await pending.cancel(services, principal.actor(), request.path_params["action_id"], body.reason, body.reason_code)
    )


def history_filter(request: Request) -> HistoryFilter:
    """The filters of `GET /api/actions/history`: `type` (the tool), `status`, `source`, `since`, `until`,
    `q` (text in the arguments) and `view` (`steps`, every row; `actions`, each action's newest step)."""
    params = request.query_params
    view = params.get("view", "steps")
    if view not in HISTORY_VIEWS:
        raise ApiError(422, "INVALID_ARGUMENT", "view must be steps or actions")
    return HistoryFilter(
        tool=params.get("type") or None, status=params.get("status") or None, source=params.get("source") or None,
        since=query_time(request, "since"), until=query_time(request, "until"), text=params.get("q") or None,
        latest_only=view == "actions",
    )


@authenticated
async def history(request: Request, session: AsyncSession, principal: Principal) -> Response:
    """A page of history (`limit`, `cursor` -> `next_cursor`), or with `format=csv|json` every filtered row,
    streamed."""
    output = request.query_params.get("format")
    if output not in {None, "json", "csv"}:
        raise ApiError(422, "INVALID_ARGUMENT", "format must be json or csv")
    narrowed = history_filter(request)
    if output is not None:
        return export_response(app_context(request).services.sessions, principal.user_id, narrowed, output)
    limit = query_limit(request, default=HISTORY_LIMIT, maximum=MAX_HISTORY_LIMIT)
    rows, after = await history_rows.page(session, principal.user_id, narrowed, limit, query_cursor(request))
    return JSONResponse(
        {"history": [history_json(row) for row in rows], "next_cursor": encode_cursor(after) if after else None}
    )


def export_response(sessions: Sessions, user_id: str, narrowed: HistoryFilter, output: str) -> StreamingResponse:
    """Every row that passes `narrowed`, streamed as CSV or JSON while it is read in keyset batches."""
    chunks = _csv_chunks if output == "csv" else _json_chunks
    media_type = "text/csv" if output == "csv" else "application/json"
    return StreamingResponse(
        chunks(history_rows.batches(sessions, user_id, narrowed)), media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename=history.{output}"},
    )


async def _csv_chunks(batches: AsyncIterator[list[AgentActionHistory]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS)
    writer.writeheader()
    async for batch in batches:
        for row in batch:
            writer.writerow({key: csv_cell(value) for key, value in history_json(row).items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


async def _json_chunks(batches: AsyncIterator[list[AgentActionHistory]]) -> AsyncIterator[str]:
    """`{"history": [...], "next_cursor": null}`, the shape of a page that holds every row."""
    yield '{"history": ['
    separator = ""
    async for batch in batches:
        yield separator + ", ".join(json.dumps(history_json(row)) for row in batch)
        separator = ", "
    yield '], "next_cursor": null}'


@authenticated
async def feedback(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, FeedbackRequest)
    row = await session.get(AgentActionHistory, request.path_params["history_id"])
    if row is None or row.user_id != principal.user_id:
        raise not_found("no such history entry")
    entry = await record_feedback(session, principal, row, body)
    return JSONResponse(
        {"id": entry.id, "action_id": row.action_id, "feedback_type": entry.feedback_type, "tags": entry.tags},
        status_code=201,
    )


async def record_feedback(
    session: AsyncSession, principal: Principal, row: AgentActionHistory, body: FeedbackRequest
) -> AgentActionFeedback:
    """Record the person's feedback on their history row `row`; thumbs are for executed actions only (409)."""
    if body.feedback_type in history_rows.THUMBS and row.status != "executed":
        raise ApiError(409, "INVALID_ARGUMENT", "thumbs up or down are for executed actions")
    entry = AgentActionFeedback(
        user_id=principal.user_id, action_id=row.action_id, history_id=row.id, feedback_type=body.feedback_type,
        rating=body.rating, tags=list(dict.fromkeys(body.tags)), comment=body.comment,
    )
    return await history_rows.add_feedback(session, entry)


@authenticated
async def undo_action(request: Request, session: AsyncSession, principal: Principal) -> Response:
    """Undo the caller's executed action (tools.undo decides per tool); the `undone` step it recorded."""
    services = app_context(request).services
    try:
        undone = await undo(services, principal.actor(), request.path_params["action_id"])
    except UndoRefused as refused:
        raise undo_error(refused) from None
    return JSONResponse(history_json(undone))


def undo_error(refused: UndoRefused) -> ApiError:
    code = {404: "NOT_FOUND", 503: "SERVICE_UNAVAILABLE"}.get(refused.status, "INVALID_ARGUMENT")
    return ApiError(refused.status, code, refused.message)


routes = [
    Route("/api/actions", run_action, methods=["POST"]),
    Route("/api/actions/pending", list_pending, methods=["GET"]),
    Route("/api/actions/pending/{action_id}/confirm", confirm_pending, methods=["POST"]),
    Route("/api/actions/pending/{action_id}/cancel", cancel_pending, methods=["POST"]),
    Route("/api/actions/history", history, methods=["GET"]),
    Route("/api/actions/{history_id}/feedback", feedback, methods=["POST"]),
    Route("/api/actions/{action_id}/undo", undo_action, methods=["POST"]),
]
