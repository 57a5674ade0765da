"""The action API: run a tool, resolve pending actions, read and export history, give feedback."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.models import AgentActionFeedback, AgentActionHistory, PendingAgentAction
from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from server.paging import query_limit, query_time
from server.schemas import parse_body
from server.schemas.actions import ActionRequest, CancelRequest, ConfirmRequest, FeedbackRequest
from tools import pending
from tools.dispatch import dispatch
from tools.results import AgentToolResult

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
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
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


@authenticated
async def history(request: Request, session: AsyncSession, principal: Principal) -> Response:
    params = request.query_params
    output = params.get("format", "json")
    if output not in {"json", "csv"}:
        raise ApiError(422, "INVALID_ARGUMENT", "format must be json or csv")
    query = select(AgentActionHistory).where(AgentActionHistory.user_id == principal.user_id)
    if params.get("type"):
        query = query.where(AgentActionHistory.tool == params["type"])
    if params.get("status"):
        query = query.where(AgentActionHistory.status == params["status"])
    if since := query_time(request, "since"):
        query = query.where(AgentActionHistory.created_at >= since)
    if until := query_time(request, "until"):
        query = query.where(AgentActionHistory.created_at < until)
    if params.get("q"):
        query = query.where(cast(AgentActionHistory.payload, String).ilike(f"%{params['q']}%"))
    limit = query_limit(request, default=HISTORY_LIMIT, maximum=MAX_HISTORY_LIMIT)
    rows = (await session.execute(query.order_by(AgentActionHistory.created_at.desc()).limit(limit))).scalars().all()
    items = [history_json(row) for row in rows]
    if output == "json":
        return JSONResponse({"history": items})
    return Response(_csv(items), media_type="text/csv", headers={"Content-Disposition": "attachment; filename=history.csv"})


def _csv(items: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS)
    writer.writeheader()
    for item in items:
        writer.writerow({key: _cell(value) for key, value in item.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    """A CSV cell: objects as JSON; text a spreadsheet would run as a formula gets a leading single quote."""
    text = _json(value) if isinstance(value, dict) else value
    if isinstance(text, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@authenticated
async def feedback(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, FeedbackRequest)
    row = await session.get(AgentActionHistory, request.path_params["history_id"])
    if row is None or row.user_id != principal.user_id:
        raise not_found("no such history entry")
    entry = AgentActionFeedback(
        user_id=principal.user_id, action_id=row.action_id, history_id=row.id,
        feedback_type=body.feedback_type, rating=body.rating, comment=body.comment,
    )
    session.add(entry)
    await session.flush()
    return JSONResponse({"id": entry.id, "action_id": row.action_id, "feedback_type": entry.feedback_type}, status_code=201)


routes = [
    Route("/api/actions", run_action, methods=["POST"]),
    Route("/api/actions/pending", list_pending, methods=["GET"]),
    Route("/api/actions/pending/{action_id}/confirm", confirm_pending, methods=["POST"]),
    Route("/api/actions/pending/{action_id}/cancel", cancel_pending, methods=["POST"]),
    Route("/api/actions/history", history, methods=["GET"]),
    Route("/api/actions/{history_id}/feedback", feedback, methods=["POST"]),
]
