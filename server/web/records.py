"""One pattern for the pages that list a person's own rows and create, edit and delete them (`/habits`, `/goals`,
`/tasks`, `/contacts`, `/reminders`: the five collections are described in server/web/coaching.py).

Every action is a plain form that works without JavaScript (Post/Redirect/Get), validated by the JSON route's
own pydantic schema: a refused value is shown next to its field, with every value the person typed kept, and
nothing is written. Rows are shown as the JSON routes show them (their `*_json` functions), so a page and the
API cannot disagree. Another person's id answers a 404 page, like an unknown one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import coaching
from server.auth import Principal
from server.errors import not_found
from server.web.pages import page, see_other
from server.web.rendering import render
from tools.payloads import unstorable
from tools.results import AgentToolResult

FORM_ERROR = "form"  # the key of an error that belongs to the whole form, not one field
Outcome = Literal["done", "waiting"]  # written, or proposed and waiting for the person's yes on the home page
FormValues = dict[str, str | bool]
SchemaT = TypeVar("SchemaT", bound=BaseModel)


@dataclass(frozen=True)
class Field:
    """One form control; `name` is the schema's field (and the JSON route's)."""

    name: str
    label: str
    control: str = "text"  # an <input> type, or "textarea", "select", "checkbox"
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) of a select
    hint: str = ""
    blank_is_none: bool = False  # an empty value means "none" (an optional date, time or phone number)
    maxlength: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: str | bool = ""


class Invalid(Exception):
    """Values refused by a schema or the action core: a message per field name (or FORM_ERROR)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class PageCall:
    request: Request
    session: AsyncSession
    viewer: Principal


@dataclass(frozen=True)
class RowAction:
    """A form on each listed row (`POST /<collection>/{id}/<name>`), e.g. "mark done today"."""

    name: str
    run: Callable[[PageCall, Any, FormValues], Awaitable[Outcome]]
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class RowForm:
    """A row action's form as the person sent it, shown again on its row with its errors."""

    row_id: str
    action: str
    values: FormValues
    errors: dict[str, str]


@dataclass(frozen=True)
class Collection:
    name: str  # the path and the table: "habits"
    noun: str  # "habit"; the id's path parameter is `<noun>_id`
    intro: str
    label_key: str  # the shown row's key that names it ("name", "title", ...)
    model: type[Any]
    create_schema: type[BaseModel]
    create_fields: tuple[Field, ...]
    update_schema: type[BaseModel]
    edit_fields: tuple[Field, ...]
    shown: Callable[[PageCall, list[Any]], Awaitable[list[dict[str, Any]]]]
    create: Callable[[PageCall, Any], Awaitable[Outcome]]
    update: Callable[[PageCall, Any, Any], Awaitable[None]]
    delete: Callable[[AsyncSession, Any], Awaitable[None]]
    row_actions: tuple[RowAction, ...] = ()
    more: Callable[[PageCall], Awaitable[dict[str, Any]]] | None = None  # more context for the list page
    list_limit: int = 100

    @property
    def path(self) -> str:
        return f"/{self.name}"

    @property
    def title(self) -> str:
        return self.name.capitalize()


# --- forms ------------------------------------------------------------------------------------------


def form_values(form: FormData, fields: tuple[Field, ...]) -> FormValues:
    """The values of `fields` as sent (a checkbox: whether it was ticked), for the schema and to show again."""
    values: FormValues = {}
    for field in fields:
        raw = form.get(field.name)
        values[field.name] = field.name in form if field.control == "checkbox" else raw if isinstance(raw, str) else ""
    return values


def validated(schema: type[SchemaT], values: FormValues, fields: tuple[Field, ...], **fixed: Any) -> SchemaT:
    """`values` (and `fixed`) checked by `schema`, exactly as the JSON route checks a body; Invalid otherwise."""
    data: dict[str, Any] = dict(fixed)
    for field in fields:
        value = values[field.name]
        data[field.name] = None if field.blank_is_none and isinstance(value, str) and not value.strip() else value
    if problem := unstorable(data):
        raise Invalid({FORM_ERROR: f"This form cannot be saved: {problem}."})
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise Invalid(_field_errors(exc, fields)) from None


def _field_errors(exc: ValidationError, fields: tuple[Field, ...]) -> dict[str, str]:
    names = {field.name for field in fields}
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        name = str(error["loc"][0]) if error["loc"] and error["loc"][0] in names else FORM_ERROR
        errors.setdefault(name, _in_words(error))
    return errors


def _in_words(error: Any) -> str:
    """The schema's message, said for people where pydantic's own wording is a programmer's."""
    if error["type"] == "missing" or (error["type"] == "string_too_short" and error["ctx"]["min_length"] == 1):
        return "Fill this in."
    return str(error["msg"]).removeprefix("Value error, ")


def tool_outcome(result: AgentToolResult, field: str = FORM_ERROR) -> Outcome:
    """What a page says of a tool's result: done, waiting for a yes, or refused (shown next to `field`)."""
    if result.needs_confirmation:
        return "waiting"
    if not result.success:
        raise Invalid({field: result.error.message if result.error else "This was refused."})
    return "done"


def _shown_values(shown: dict[str, Any], fields: tuple[Field, ...]) -> FormValues:
    return {
        field.name: bool(shown[field.name]) if field.control == "checkbox" else "" if shown[field.name] is None
        else str(shown[field.name])
        for field in fields
    }


# --- pages ------------------------------------------------------------------------------------------


async def _owned_row(call: PageCall, collection: Collection) -> Any:
    row = await coaching.owned(
        call.session, collection.model, call.viewer.user_id, call.request.path_params[f"{collection.noun}_id"]
    )
    if row is None:
        raise not_found(f"No such {collection.noun}.")
    return row


async def _list_page(
    call: PageCall, collection: Collection, *, values: FormValues | None = None, errors: dict[str, str] | None = None,
    row_form: RowForm | None = None, status_code: int = 200,
) -> Response:
    rows = list(await coaching.newest(call.session, collection.model, call.viewer.user_id, collection.list_limit))
    context = {
        "collection": collection,
        "rows": await collection.shown(call, rows),
        "values": values or {field.name: field.default for field in collection.create_fields},
        "errors": errors or {},
        "row_form": row_form,
        "waiting": call.request.query_params.get("waiting") == "1",
        **(await collection.more(call) if collection.more else {}),
    }
    return render(call.request, "records.html", context, viewer=call.viewer, status_code=status_code)


async def _edit_page(
    call: PageCall, collection: Collection, row: Any, *, values: FormValues | None = None,
    errors: dict[str, str] | None = None, status_code: int = 200,
) -> Response:
    [shown] = await collection.shown(call, [row])
    context = {
        "collection": collection, "row": shown, "values": values or _shown_values(shown, collection.edit_fields),
        "errors": errors or {},
    }
    return render(call.request, "record_edit.html", context, viewer=call.viewer, status_code=status_code)


async def _refused(call: PageCall, shown_again: Awaitable[Response]) -> Response:
    """The form again with its errors, and nothing written: a refusal comes before any write, and the rollback
    (after rendering: rolling back expires the rows the page shows) is the net under that rule."""
    response = await shown_again
    await call.session.rollback()
    return response


def _after(collection: Collection, outcome: Outcome) -> Response:
    return see_other(collection.path + ("?waiting=1" if outcome == "waiting" else ""))


def collection_routes(collection: Collection) -> list[Route]:
    """`GET|POST /<name>`, `GET /<name>/{id}/edit`, `POST /<name>/{id}` (save), `POST /<name>/{id}/delete`, and
    `POST /<name>/{id}/<action>` for each row action."""

    @page
    async def list_rows(request: Request, session: AsyncSession, viewer: Principal) -> Response:
        return await _list_page(PageCall(request, session, viewer), collection)

    @page
    async def create(request: Request, session: AsyncSession, viewer: Principal) -> Response:
        call = PageCall(request, session, viewer)
        values = form_values(await request.form(), collection.create_fields)
        try:
            outcome = await collection.create(call, validated(collection.create_schema, values, collection.create_fields))
        except Invalid as refused:
            return await _refused(call, _list_page(call, collection, values=values, errors=refused.errors, status_code=422))
        return _after(collection, outcome)

    @page
    async def edit(request: Request, session: AsyncSession, viewer: Principal) -> Response:
        call = PageCall(request, session, viewer)
        return await _edit_page(call, collection, await _owned_row(call, collection))

    @page
    async def save(request: Request, session: AsyncSession, viewer: Principal) -> Response:
        call = PageCall(request, session, viewer)
        row = await _owned_row(call, collection)
        values = form_values(await request.form(), collection.edit_fields)
        try:
            await collection.update(call, row, validated(collection.update_schema, values, collection.edit_fields))
        except Invalid as refused:
            return await _refused(call, _edit_page(call, collection, row, values=values, errors=refused.errors, status_code=422))
        return see_other(collection.path)

    @page
    async def delete(request: Request, session: AsyncSession, viewer: Principal) -> Response:
        call = PageCall(request, session, viewer)
        await collection.delete(session, await _owned_row(call, collection))
        return see_other(collection.path)

    one = f"{collection.path}/{{{collection.noun}_id}}"
    return [
        Route(collection.path, list_rows, methods=["GET"]),
        Route(collection.path, create, methods=["POST"]),
        Route(f"{one}/edit", edit, methods=["GET"]),
        Route(one, save, methods=["POST"]),
        Route(f"{one}/delete", delete, methods=["POST"]),
        *(Route(f"{one}/{action.name}", _row_action(collection, action), methods=["POST"]) for action in collection.row_actions),
    ]


def _row_action(collection: Collection, action: RowAction) -> Callable[[Request], Awaitable[Response]]:
    @page
    async def run(request: Request, session: AsyncSession, viewer: Principal) -> Response:
        call = PageCall(request, session, viewer)
        row = await _owned_row(call, collection)
        values = form_values(await request.form(), action.fields)
        try:
            outcome = await action.run(call, row, values)
        except Invalid as refused:
            shown_again = RowForm(row.id, action.name, values, refused.errors)
            return await _refused(call, _list_page(call, collection, row_form=shown_again, status_code=422))
        return _after(collection, outcome)

    return run
