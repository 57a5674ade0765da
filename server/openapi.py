"""`GET /openapi.json`: the OpenAPI 3.1 document of every `/api` route, built from the app's route table.

What each route takes and answers is written once, in `REGISTRY` (route key -> `Operation`); the request,
query and answer shapes are the pydantic models of `server/schemas/`, whose JSON Schemas are hoisted into
`components.schemas`. Path parameters, the security schemes, the error shape on 4xx and a tool's own
refusals (an `AgentToolResult`) are added here, the same way for every route. Documenting a new route is
one entry; tests/integration/test_openapi.py fails while an `/api` route of the table has none.

The document is built once per app, on first use, and kept in memory (`app.state`): the `/docs` page
(server/web/docs.py) renders the same one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from server.auth import SAFE_METHODS
from server.routes.actions import HISTORY_LIMIT, HTTP_STATUS, MAX_HISTORY_LIMIT
from server.routes.coaching import LIST_LIMIT, MAX_LIST_LIMIT
from server.routes.outbox import MAX_OUTBOX_LIMIT, OUTBOX_LIMIT
from server.schemas import responses as answers
from server.schemas.actions import (
    ActionRequest,
    CancelRequest,
    ChatRequest,
    ConfirmRequest,
    FeedbackRequest,
)
from server.schemas.coaching import (
    ContactCreate,
    ContactUpdate,
    GoalCreate,
    GoalUpdate,
    HabitCreate,
    HabitUpdate,
    ReminderUpdate,
    TaskUpdate,
)
from server.schemas.settings import TeamSettingsUpdate, UserSettingsUpdate
from server.schemas.tokens import CreatedToken, TokenCreate, TokenInfo
from server.web.cookies import SESSION_COOKIE
from tools.catalogue import CreateTask, ScheduleReminder
from tools.results import AgentToolResult

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
_PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")
_STATE_KEY = "openapi_document"

# --- query parameters ------------------------------------------------------------------------------


def _limit(default: int, maximum: int) -> Any:
    return Annotated[int, Field(ge=1, le=maximum, description=f"at most this many rows (default {default})")]


class Query(BaseModel):
    """Query parameters as a model: each field is one parameter."""

    model_config = ConfigDict(extra="forbid")


class CoachingListQuery(Query):
    limit: _limit(LIST_LIMIT, MAX_LIST_LIMIT) = LIST_LIMIT  # type: ignore[valid-type]


class OutboxQuery(Query):
    limit: _limit(OUTBOX_LIMIT, MAX_OUTBOX_LIMIT) = OUTBOX_LIMIT  # type: ignore[valid-type]
    cursor: str | None = Field(default=None, max_length=200, description="the `next_cursor` of the page before")


class HistoryQuery(Query):
    type: str | None = Field(default=None, description="only this tool's actions")
    status: str | None = Field(default=None, description="only actions that ended so (executed, denied, ...)")
    since: AwareDatetime | None = Field(default=None, description="from this moment (ISO 8601 with a zone)")
    until: AwareDatetime | None = Field(default=None, description="before this moment (ISO 8601 with a zone)")
    source: str | None = Field(default=None, description="only steps from this source (voice, chat, api, web, scheduler, ...)")
    q: str | None = Field(default=None, description="text the action's arguments contain")
    view: Literal["steps", "actions"] = Field(default="steps", description="actions: each action's newest step only")
    format: Literal["json", "csv"] | None = Field(
        default=None, description="json or csv: every filtered row, streamed (csv is spreadsheet-safe)")
    limit: _limit(HISTORY_LIMIT, MAX_HISTORY_LIMIT) = HISTORY_LIMIT  # type: ignore[valid-type]
    cursor: str | None = Field(default=None, max_length=200, description="the `next_cursor` of the page before")


class TracesQuery(Query):
    action_id: str | None = Field(default=None, description="only this action's steps")


class TimeRangeQuery(Query):
    since: AwareDatetime | None = Field(default=None, description="from this moment (default: 30 days before `until`)")
    until: AwareDatetime | None = Field(default=None, description="before this moment (default: now)")


class TeamSessionsQuery(TimeRangeQuery):
    limit: _limit(50, 200) = 50  # type: ignore[valid-type]
    cursor: str | None = Field(default=None, max_length=200, description="the `next_cursor` of the page before")


class TeamSummaryQuery(TimeRangeQuery):
    user_id: str | None = Field(default=None, max_length=32, description="only this member's actions")


class AuditExportQuery(TimeRangeQuery):
    format: Literal["ndjson", "csv"] = Field(default="ndjson", description="one JSON object per line, or CSV")


class UsageQuery(TimeRangeQuery):
    group_by: Literal["day", "user", "model"] = Field(default="day", description="one group per UTC day, member or model")


# --- the registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers. `answer` is the success body's model (None: no JSON body, e.g. a
    204, or a stream of `media_type`); `refusals` are the route's own 4xx beyond those every route of its
    kind has (401; 404 with a path id; 400 with a query; 422 with a body), each with the error shape."""

    tag: str
    summary: str
    answer: type[BaseModel] | None = None
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[Query] | None = None
    refusals: Mapping[int, str] = field(default_factory=dict)
    tool_result: bool = False  # the tool's own refusals answer an AgentToolResult (server.routes.actions)
    pending: bool = False  # 202 with an AgentToolResult when policy wants the person's yes first
    media_type: str = JSON
    also_as: tuple[str, ...] = ()  # other media types of the success answer (a CSV export)
    description: str = ""


TEAM_ADMIN = {403: "the caller is not an admin or owner of this team"}


def _coaching(tag: str, noun: str, view: type[BaseModel], listing: type[BaseModel], create: type[BaseModel],
              update: type[BaseModel], *, through_tool: str | None = None) -> dict[str, Operation]:
    """The five routes of one kind of coaching data (server.routes.coaching._kind)."""
    path = f"/api/{noun}s"
    one = f"{path}/{{{noun}_id}}"
    created = (
        Operation(tag, f"Create a {noun} (through the {through_tool} tool: policy decides, history records)", view,
                  201, create, tool_result=True, pending=True)
        if through_tool else Operation(tag, f"Create a {noun}", view, 201, create,
                                       refusals={409: "a contact with this email exists"} if noun == "contact" else {})
    )
    return {
        f"GET {path}": Operation(tag, f"Your {noun}s, newest first", listing, query=CoachingListQuery),
        f"POST {path}": created,
        f"GET {one}": Operation(tag, f"One {noun}", view),
        f"PUT {one}": Operation(tag, f"Change a {noun} (only the fields sent)", view, body=update,
                                refusals={409: "a contact with this email exists"} if noun == "contact" else {}),
        f"DELETE {one}": Operation(tag, f"Delete a {noun}", None, 204),
    }


REGISTRY: dict[str, Operation] = {
    "GET /api/me/settings": Operation("Settings", "Your settings", answers.UserSettings),
    "PUT /api/me/settings": Operation("Settings", "Change your settings (only the fields sent)", answers.UserSettings,
                                      body=UserSettingsUpdate),
    "GET /api/teams/{team_id}/settings": Operation("Settings", "A team's policy", answers.TeamSettings,
                                                   refusals=TEAM_ADMIN),
    "PUT /api/teams/{team_id}/settings": Operation("Settings", "Change a team's policy (only the fields sent)",
                                                   answers.TeamSettings, body=TeamSettingsUpdate, refusals=TEAM_ADMIN),
    "GET /api/me/tokens": Operation("API tokens", "Your API tokens (never their secrets)", answers.TokenList),
    "POST /api/me/tokens": Operation("API tokens", "Create an API token (its secret is in this answer only)",
                                     CreatedToken, 201, TokenCreate,
                                     refusals={409: "too many working tokens; revoke one first"}),
    "DELETE /api/me/tokens/{token_id}": Operation("API tokens", "Revoke an API token", TokenInfo),
    "POST /api/actions": Operation(
        "Actions", "Run a tool as you (the same path a call takes)", AgentToolResult, body=ActionRequest,
        tool_result=True,
        description="Policy decides: the tool runs; or it waits for your yes (200 with `needs_confirmation` and "
                    "`pending_action_id`); or it is refused, with the tool's error code and its HTTP status.",
    ),
    "GET /api/actions/pending": Operation("Actions", "Actions waiting for your yes", answers.PendingList),
    "POST /api/actions/pending/{action_id}/confirm": Operation(
        "Actions", "Approve a pending action, optionally with edited arguments", AgentToolResult, body=ConfirmRequest,
        tool_result=True),
    "POST /api/actions/pending/{action_id}/cancel": Operation(
        "Actions", "Reject a pending action, with a reason", AgentToolResult, body=CancelRequest, tool_result=True),
    "GET /api/actions/history": Operation("Actions", "Your action history, newest first", answers.HistoryList,
                                          query=HistoryQuery, also_as=("text/csv",),
                                          refusals={422: "since, until or format is refused"}),
    "POST /api/actions/{action_id}/undo": Operation(
        "Actions", "Undo an executed action that can be undone (recorded in history as `undone`)", answers.HistoryEntry,
        refusals={400: "this kind of action cannot be undone", 409: "undone already, or its effect has changed since",
                  503: "the calendar provider is unreachable"},
    ),
    "POST /api/actions/{history_id}/feedback": Operation("Actions", "Feedback on an action", answers.FeedbackRecorded,
                                                         201, FeedbackRequest),
    "POST /api/chat": Operation("Chat", "Text chat with the coach (same tools, same policy)", answers.ChatReply,
                                body=ChatRequest, refusals={503: "chat is not configured, or the model is unreachable"}),
    **_coaching("Habits", "habit", answers.HabitView, answers.HabitList, HabitCreate, HabitUpdate),
    **_coaching("Goals", "goal", answers.GoalView, answers.GoalList, GoalCreate, GoalUpdate),
    **_coaching("Tasks", "task", answers.TaskView, answers.TaskList, CreateTask, TaskUpdate, through_tool="create_task"),
    **_coaching("Contacts", "contact", answers.ContactView, answers.ContactList, ContactCreate, ContactUpdate),
    **_coaching("Reminders", "reminder", answers.ReminderView, answers.ReminderList, ScheduleReminder, ReminderUpdate,
                through_tool="schedule_reminder"),
    "GET /api/sequences": Operation("Sequences", "Your action sequences", answers.SequenceList),
    "POST /api/sequences/{sequence_id}/cancel": Operation("Sequences", "Cancel a sequence", answers.SequenceView,
                                                          refusals={409: "the sequence has ended already"}),
    "POST /api/sequences/{sequence_id}/run": Operation("Sequences", "Start a manual sequence", answers.SequenceView,
                                                       refusals={409: "not a manual sequence, or not waiting to run"}),
    "GET /api/calendar": Operation("Calendar", "Which calendar the tools use", answers.CalendarStatus),
    "GET /api/calendar/google/connect": Operation(
        "Calendar", "Start connecting Google Calendar", answers.GoogleAuthorization,
        refusals={503: "Google is not configured on this server"},
        description="Sets a cookie binding the flow to this browser; send the browser to `authorization_url`.",
    ),
    "DELETE /api/calendar/google": Operation("Calendar", "Disconnect Google Calendar", answers.GoogleDisconnected,
                                         refusals={404: "no Google Calendar is connected"}),
    "POST /api/calendar/feed": Operation("Calendar", "Create or rotate the ICS feed (the old URL stops working)",
                                         answers.FeedCreated, 201),
    "DELETE /api/calendar/feed": Operation("Calendar", "Delete the ICS feed", None, 204,
                                           refusals={404: "no feed exists"}),
    "GET /api/events": Operation(
        "Events", "Server-sent events for you: pending_created, pending_resolved, action_recorded", None,
        media_type="text/event-stream",
        description="Each event's data is JSON with `action_id`, `tool` and `status`; a comment every "
                    "COACH_EVENTS_HEARTBEAT_SECONDS keeps the stream open. Reconnect and re-read on a drop.",
    ),
    "GET /api/outbox": Operation("Outbox", "Messages the development outbox holds (not sent)", answers.OutboxPage,
                                 query=OutboxQuery),
    "GET /api/admin/teams/{team_id}/activity": Operation("Team admin", "The team's actions", answers.TeamActivity,
                                                         refusals=TEAM_ADMIN),
    "GET /api/admin/teams/{team_id}/traces": Operation("Team admin", "The team's execution traces", answers.TeamTraces,
                                                       query=TracesQuery, refusals=TEAM_ADMIN),
    "GET /api/admin/teams/{team_id}/feedback": Operation("Team admin", "Feedback on the team's actions",
                                                         answers.TeamFeedback, refusals=TEAM_ADMIN),
    "GET /api/admin/teams/{team_id}/sessions": Operation("Team admin", "The team's conversations, newest first",
                                                         answers.TeamSessions, query=TeamSessionsQuery, refusals=TEAM_ADMIN),
    "GET /api/admin/teams/{team_id}/sessions/{session_id}": Operation(
        "Team admin", "One conversation's steps: model turns and tool calls", answers.TeamSessionSteps,
        refusals=TEAM_ADMIN),
    "GET /api/admin/teams/{team_id}/summary": Operation(
        "Team admin", "Counts of the team's actions requested in a range, by tool and by member", answers.TeamSummary,
        query=TeamSummaryQuery, refusals={**TEAM_ADMIN, 422: "since is not before until"}),
    "GET /api/admin/teams/{team_id}/feedback/summary": Operation(
        "Team admin", "Approval rate by tool, thumbs, time to decision, rejection reasons with suggestions",
        answers.TeamFeedbackSummary, query=TimeRangeQuery, refusals={**TEAM_ADMIN, 422: "since is not before until"}),
    "GET /api/admin/teams/{team_id}/export": Operation(
        "Team admin", "The team's audit log of a range (history steps, traces, feedback), streamed", None,
        query=AuditExportQuery, media_type="application/x-ndjson", also_as=("text/csv",),
        refusals={**TEAM_ADMIN, 422: "since, until or format is refused"}),
    "GET /api/admin/teams/{team_id}/flags": Operation(
        "Team admin", "The feature flags and which of the team's members each is on for", answers.TeamFlags,
        refusals=TEAM_ADMIN),
    "GET /api/admin/teams/{team_id}/usage": Operation("Team admin", "Tokens and estimated cost by day, member or model",
                                                      answers.TeamUsage, query=UsageQuery, refusals=TEAM_ADMIN),
}


# --- the route table -------------------------------------------------------------------------------


def api_route_keys(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[str]:
    """`METHOD /path` of every `/api` HTTP route (HEAD is GET's twin, and not listed)."""
    for route in routes:
        if isinstance(route, Route) and (prefix + route.path).startswith("/api/"):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield f"{method} {prefix + route.path}"
        elif isinstance(route, Mount):
            yield from api_route_keys(route.routes, prefix + route.path)


class UndocumentedRoute(LookupError):
    pass


# --- the document ----------------------------------------------------------------------------------


def build_document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of the `/api` routes in `routes`, in the order of the table."""
    keys = list(api_route_keys(routes))
    if missing := [key for key in keys if key not in REGISTRY]:
        raise UndocumentedRoute(f"routes without an entry in server.openapi.REGISTRY: {missing}")
    schemas = _SchemaCollector()
    paths: dict[str, dict[str, Any]] = {}
    for key in keys:
        method, path = key.split(" ", 1)
        paths.setdefault(_openapi_path(path), {})[method.lower()] = _operation(method, path, REGISTRY[key], schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Vision Coach Voice API",
            "version": "1",
            "description": "The JSON API of the coach: the same tools and policy as a call. Authenticate with "
                           "`Authorization: Bearer <API token>`, or from a signed-in page with the session "
                           "cookie (requests that change something also send `X-CSRF-Token`).",
        },
        "tags": [{"name": tag} for tag in dict.fromkeys(REGISTRY[key].tag for key in keys)],
        "paths": paths,
        "components": {"schemas": schemas.resolve(), "securitySchemes": SECURITY_SCHEMES},
    }


SECURITY_SCHEMES = {
    "bearerToken": {"type": "http", "scheme": "bearer", "description": "an API token (create one at /account)"},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                      "description": "the signed-in browser's session"},
    "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                   "description": "the page's CSRF token: with the cookie, on every request that changes something"},
}


def _openapi_path(path: str) -> str:
    return _PATH_PARAMETER.sub(lambda match: "{" + match.group(1) + "}", path)


def _security(method: str) -> list[dict[str, list[str]]]:
    cookie = {"sessionCookie": []} if method in SAFE_METHODS else {"sessionCookie": [], "csrfHeader": []}
    return [{"bearerToken": []}, cookie]


def _operation(method: str, path: str, op: Operation, schemas: _SchemaCollector) -> dict[str, Any]:
    path_names = _PATH_PARAMETER.findall(path)
    document: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "tags": [op.tag],
        "security": _security(method),
        "parameters": [*_path_parameters(path_names), *_query_parameters(op.query, schemas)],
        "responses": _responses(op, bool(path_names), schemas),
    }
    if op.description:
        document["description"] = op.description
    if not document["parameters"]:
        del document["parameters"]
    if op.body is not None:
        document["requestBody"] = {
            "required": any(info.is_required() for info in op.body.model_fields.values()),
            "content": {JSON: {"schema": schemas.ref(op.body, "validation")}},
        }
    return document


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[a-z0-9]+", path.removeprefix("/api/").replace("{", "by_").lower())
    return "_".join([method.lower(), *words])


def _path_parameters(names: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "description": f"the {name.removesuffix('_id')}'s id",
         "schema": {"type": "string"}}
        for name in names
    ]


def _query_parameters(query: type[Query] | None, schemas: _SchemaCollector) -> list[dict[str, Any]]:
    if query is None:
        return []
    shape = schemas.inline(query)
    required = set(shape.get("required", ()))
    parameters = []
    for name, schema in shape["properties"].items():
        schema = _without_null(schema)
        description = schema.pop("description", None)
        schema.pop("title", None)
        if schema.get("default", ...) is None:
            del schema["default"]
        parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without the `null` of an optional field: leaving the parameter out is its null."""
    schema = dict(schema)
    branches = [branch for branch in schema.pop("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    return schema


def _responses(op: Operation, has_path_id: bool, schemas: _SchemaCollector) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.status): _success(op, schemas)}
    if op.pending:
        responses["202"] = _json("Waits for the person's yes: `pending_action_id` names the pending action",
                                 schemas.ref(AgentToolResult))
    refusals: dict[int, str] = {401: "no or a wrong API token or session (or a wrong CSRF token: 403)"}
    if has_path_id:
        refusals[404] = "no such row of yours"
    if op.query is not None:
        refusals[400] = "a query parameter is refused: `details.fields` names it"
    if op.body is not None:
        refusals[422] = "a field of the body is refused: `details.fields` names each one"
    refusals.update(op.refusals)
    error = schemas.ref(answers.ErrorAnswer)
    shapes = dict.fromkeys(refusals, error)
    if op.tool_result:  # these statuses may also carry the tool's own refusal
        either = {"anyOf": [error, schemas.ref(AgentToolResult)]}
        for status in {*HTTP_STATUS.values(), 400}:
            refusals.setdefault(status, "the tool refused: see `error.code`")
            shapes[status] = either
    for status in sorted(refusals):
        responses[str(status)] = _json(refusals[status], shapes[status])
    return responses


def _success(op: Operation, schemas: _SchemaCollector) -> dict[str, Any]:
    if op.answer is None and op.media_type == JSON:
        return {"description": "done; no body"}
    content = {op.media_type: {"schema": schemas.ref(op.answer) if op.answer else {"type": "string"}}}
    content.update({media: {"schema": {"type": "string"}} for media in op.also_as})
    return {"description": "success", "content": content}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


class _SchemaCollector:
    """The models a document names, turned into `components.schemas` at the end, all at once (pydantic then
    names a model used for input and output alike once, and one whose shapes differ `<Name>-Input` / -Output)."""

    def __init__(self) -> None:
        self._wanted: dict[tuple[type[BaseModel], str], dict[str, Any]] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
        """A placeholder filled with the model's `$ref` by `resolve()`."""
        return self._wanted.setdefault((model, mode), {})

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        return model.model_json_schema(mode="validation")

    def resolve(self) -> dict[str, Any]:
        names, top = models_json_schema(list(self._wanted), ref_template="#/components/schemas/{model}")
        for key, placeholder in self._wanted.items():
            placeholder.update(names[key])
        return dict(sorted(top.get("$defs", {}).items()))


def document_of(app: Starlette) -> dict[str, Any]:
    """The app's document, built on first use and kept for the app's lifetime."""
    cached = getattr(app.state, _STATE_KEY, None)
    if cached is None:
        document = build_document(app.routes)
        cached = (document, json.dumps(document, separators=(",", ":")).encode())
        setattr(app.state, _STATE_KEY, cached)
    return cached[0]


async def openapi_json(request: Request) -> Response:
    """Public: the document describes the API, it holds no data."""
    document_of(request.app)
    return Response(getattr(request.app.state, _STATE_KEY)[1], media_type=JSON)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
