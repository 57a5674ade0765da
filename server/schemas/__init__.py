"""Parsing of JSON request bodies into pydantic models, with 422 errors that name the field.

Before a model sees a body, the body must be JSON the database and every reader can hold: nested at most
`MAX_DEPTH` deep, without NUL characters (PostgreSQL's text refuses them) and without NaN or Infinity
(not JSON at all, and PostgreSQL's json refuses them). A model may name top-level fields it leaves
unchecked (`UNCHECKED_FIELDS`) because the code it hands them to checks them itself and records the refusal
(a tool call's arguments: `tools.dispatch` denies them and writes the denial to history).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from server.errors import ApiError
from tools.payloads import MAX_DEPTH, unstorable

ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    return parse_object(_decode(await request.body()), model)


def parse_object(data: Any, model: type[ModelT]) -> ModelT:
    """`data` (a decoded JSON body, or a page's form as the same fields) as `model`, checked as every body is."""
    if not isinstance(data, dict):
        raise ApiError(422, "INVALID_ARGUMENT", "request body must be a JSON object")
    unchecked = getattr(model, "UNCHECKED_FIELDS", frozenset())
    if problem := unstorable(data, skip=unchecked):
        raise ApiError(422, "INVALID_ARGUMENT", f"request body is refused: {problem}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except RecursionError:
        raise ApiError(422, "INVALID_ARGUMENT", f"request body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # not JSON, not UTF-8, or an integer too long to convert
        raise ApiError(422, "INVALID_ARGUMENT", f"request body is not valid JSON: {exc}") from None


def validation_error(exc: ValidationError) -> ApiError:
    return invalid_fields([
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ])


def invalid_field(field: str, message: str) -> ApiError:
    """The 422 of a field that is well-formed but refused by a check the model cannot make (e.g. against the clock)."""
    return invalid_fields([{"field": field, "message": message}])


def invalid_fields(fields: list[dict[str, str]]) -> ApiError:
    names = ", ".join(field["field"] for field in fields)
    return ApiError(422, "INVALID_ARGUMENT", f"invalid fields: {names}", recoverable=True, details={"fields": fields})
