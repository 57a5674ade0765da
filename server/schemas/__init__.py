"""Parsing of JSON request bodies into pydantic models, with 422 errors that name the field."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from server.errors import ApiError

ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(422, "INVALID_ARGUMENT", f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "INVALID_ARGUMENT", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


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
