"""`/history`: every action of the signed-in person (its newest step) with filters, search, cursor paging and
export links; thumbs up/down with reason tags and undo as small forms (htmx swaps the row in place; without
JavaScript, Post/Redirect/Get). `/history/{action_id}`: one action's steps, decision, arguments, result and
trace steps. The pages read through `db.history` and undo through `tools.undo`, as the JSON routes do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import accounts
from db import history as history_rows
from db.history import HistoryFilter
from db.models import AgentActionHistory
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from server.paging import encode_cursor, query_cursor
from server.routes.actions import record_feedback, undo_error
from server.schemas.actions import FEEDBACK_TAGS, FeedbackRequest
from server.web.history_view import (
    SOURCES,
    STATUSES,
    HistoryRow,
    history_row,
    pretty,
    tool_words,
)
from server.web.pages import page, see_other
from server.web.rendering import is_fragment_request, render
from tools.catalogue import PENDING_TOOLS, TOOL_ARGS
from tools.undo import UndoRefused, undo

PAGE_SIZE = 50
SEARCH_MAX = 200
TOOLS = tuple(tool for tool in TOOL_ARGS if tool not in PENDING_TOOLS)
WEB = "web"  # the source of what a person does on these pages


@dataclass
class Filters:
    """The filter form as the person filled it in (kept as typed, to show again), and what it means."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    narrowed: HistoryFilter = HistoryFilter(latest_only=True)

    def query(self, **extra: str) -> str:
        """The filters as a query string (for the Older link and the exports)."""
        return urlencode({**{key: value for key, value in self.values.items() if value}, **extra})


def _read_filters(request: Request, zone: ZoneInfo) -> Filters:
    params = request.query_params
    values = {name: params.get(name, "").strip() for name in ("tool", "status", "source", "from", "to", "q")}
    filters = Filters(values)
    choices = {"tool": TOOLS, "status": STATUSES, "source": tuple(SOURCES)}
    for name, allowed in choices.items():
        if values[name] and values[name] not in allowed:
            filters.errors[name] = f"Choose one of the listed {name}s."
    if len(values["q"]) > SEARCH_MAX:
        filters.errors["q"] = f"Search for at most {SEARCH_MAX} characters."
    since, until = _day_start(filters, "from", zone), _day_start(filters, "to", zone, days_after=1)
    if since and until and since >= until:
        filters.errors["to"] = "The end date is before the start date."
    if not filters.errors:
        filters.narrowed = HistoryFilter(
            tool=values["tool"] or None, status=values["status"] or None, source=values["source"] or None,
            since=since, until=until, text=values["q"] or None, latest_only=True,
        )
    return filters


def _day_start(filters: Filters, name: str, zone: ZoneInfo, days_after: int = 0) -> datetime | None:
    """The start of the date typed into `name` (plus `days_after` days) in the person's zone."""
    raw = filters.values[name]
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        filters.errors[name] = "Enter a date as YYYY-MM-DD."
        return None
    return datetime.combine(day + timedelta(days=days_after), time(0), zone)


async def _zone(session: AsyncSession, viewer: Principal) -> ZoneInfo:
    return ZoneInfo((await accounts.user_settings(session, viewer.user_id)).timezone)


async def _rows(
    session: AsyncSession, viewer: Principal, steps: list[AgentActionHistory], error: str | None = None
) -> list[HistoryRow]:
    action_ids = [step.action_id for step in steps]
    decisions = await history_rows.decisions(session, viewer.user_id, action_ids)
    thumbs = await history_rows.thumbs(session, viewer.user_id, [step.id for step in steps])
    return [history_row(step, decisions.get(step.action_id), thumbs.get(step.id), error) for step in steps]


def _export_links(filters: Filters) -> dict[str, str]:
    """The JSON route's export of every filtered action, in its own parameter names."""
    narrowed = filters.narrowed
    params = {
        "view": "actions", "type": narrowed.tool, "status": narrowed.status, "source": narrowed.source,
        "since": narrowed.since.isoformat() if narrowed.since else None,
        "until": narrowed.until.isoformat() if narrowed.until else None, "q": narrowed.text,
    }
    kept = {key: value for key, value in params.items() if value}
    return {kind: "/api/actions/history?" + urlencode({**kept, "format": kind}) for kind in ("csv", "json")}


@page
async def history_page(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    filters = _read_filters(request, await _zone(session, viewer))
    steps, after = [], None
    if not filters.errors:
        steps, after = await history_rows.page(session, viewer.user_id, filters.narrowed, PAGE_SIZE, query_cursor(request))
    context = {
        "rows": await _rows(session, viewer, steps),
        "filters": filters,
        "tools": [(tool, tool_words(tool)) for tool in TOOLS],
        "statuses": [(status, status.capitalize()) for status in STATUSES],
        "sources": list(SOURCES.items()),
        "feedback_tags": FEEDBACK_TAGS,
        "older": "/history?" + filters.query(cursor=encode_cursor(after)) if after else None,
        "exports": _export_links(filters),
        "paged": "cursor" in request.query_params,
        "back": f"{request.url.path}?{request.url.query}" if request.url.query else "",
    }
    return render(request, "history.html", context, viewer=viewer, status_code=400 if filters.errors else 200)


async def _newest_step(session: AsyncSession, viewer: Principal, action_id: str) -> AgentActionHistory:
    steps = await history_rows.steps(session, viewer.user_id, action_id)
    if not steps:
        raise not_found("There is no such action in your history.")
    return steps[-1]


async def _row_fragment(
    request: Request, session: AsyncSession, viewer: Principal, action_id: str, error: str | None = None
) -> Response:
    [row] = await _rows(session, viewer, [await _newest_step(session, viewer, action_id)], error)
    return render(request, "history_row.html", {"row": row, "feedback_tags": FEEDBACK_TAGS}, viewer=viewer)


def _back_to_history(request: Request) -> Response:
    """After a plain form: the history page again, with the filters the form came from."""
    back = request.query_params.get("back", "")
    return see_other(back if back.startswith("/history") and "//" not in back else "/history")


def _feedback_body(form: FormData) -> FeedbackRequest:
    try:
        return FeedbackRequest(feedback_type=form.get("feedback_type"), tags=form.getlist("tags"))  # type: ignore[arg-type]
    except ValueError:
        raise ApiError(400, "INVALID_ARGUMENT", "Choose thumbs up or down and reasons from the list.") from None


@page
async def give_feedback(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    action_id = request.path_params["action_id"]
    body = _feedback_body(await request.form())
    step = await _newest_step(session, viewer, action_id)
    if body.feedback_type not in history_rows.THUMBS:
        raise ApiError(400, "INVALID_ARGUMENT", "Choose thumbs up or down.")
    await record_feedback(session, viewer, step, body)
    if is_fragment_request(request):
        return await _row_fragment(request, session, viewer, action_id)
    return _back_to_history(request)


@page
async def undo_action(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    action_id = request.path_params["action_id"]
    await _newest_step(session, viewer, action_id)  # 404 for anyone else's action, before anything runs
    try:
        await undo(app_context(request).services, viewer.actor(WEB), action_id)
    except UndoRefused as refused:
        if not is_fragment_request(request):
            raise undo_error(refused) from None
        return await _row_fragment(request, session, viewer, action_id, error=refused.message)
    if is_fragment_request(request):
        return await _row_fragment(request, session, viewer, action_id)
    return _back_to_history(request)


def _step_view(step: AgentActionHistory) -> dict[str, Any]:
    return {
        "status": step.status.capitalize(), "source": SOURCES.get(step.source, step.source),
        "at": step.created_at, "error": step.error_message,
    }


@page
async def action_detail(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    action_id = request.path_params["action_id"]
    steps = await history_rows.steps(session, viewer.user_id, action_id)
    if not steps:
        raise not_found("There is no such action in your history.")
    [row] = await _rows(session, viewer, [steps[-1]])
    executed = next((step for step in steps if step.status == "executed"), None)
    traces = await history_rows.traces(session, viewer.user_id, action_id)
    context = {
        "row": row,
        "steps": [_step_view(step) for step in steps],
        "arguments": pretty((executed or steps[-1]).payload),
        "result": pretty(executed.result) if executed and executed.result is not None else None,
        "traces": [{"type": trace.trace_type, "latency_ms": trace.latency_ms, "data": pretty(trace.data)} for trace in traces],
        "feedback_tags": FEEDBACK_TAGS,
    }
    return render(request, "history_detail.html", context, viewer=viewer)


routes = [
    Route("/history", history_page, methods=["GET"]),
    Route("/history/{action_id}", action_detail, methods=["GET"]),
    Route("/history/{action_id}/feedback", give_feedback, methods=["POST"]),
    Route("/history/{action_id}/undo", undo_action, methods=["POST"]),
]
