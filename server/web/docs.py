"""`/docs`: the API reference, rendered on the server from the same OpenAPI document `/openapi.json` serves.

The document is turned into plain rows here (operations grouped by tag; each parameter and each field of a
body as name, type, required, constraints), so the template only lays them out. Nested objects are shown
as dotted names (`error.code`, `tokens[].id`); the shapes every route shares (the error, the tool result)
are shown once, at the end, and linked to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import Principal
from server.openapi import document_of
from server.schemas.responses import ErrorAnswer
from server.web.pages import page
from server.web.rendering import render
from tools.results import AgentToolResult

SHARED = (ErrorAnswer.__name__, AgentToolResult.__name__)  # shown once, linked from every answer
MAX_DEPTH = 3
_CONSTRAINTS = (
    ("minLength", "at least {} characters"), ("maxLength", "at most {} characters"), ("minimum", "≥ {}"),
    ("maximum", "≤ {}"), ("exclusiveMinimum", "> {}"), ("exclusiveMaximum", "< {}"), ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"), ("pattern", "matches {}"),
)
_AUTH = {
    "bearerToken": "bearer API token", "sessionCookie": "session cookie", "csrfHeader": "X-CSRF-Token header",
}


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    required: bool
    constraints: str
    description: str
    location: str = ""  # a parameter's place: path or query


@dataclass(frozen=True)
class Shape:
    """A body: its fields, or (not an object) what it is; `links` name shared shapes it is one of."""

    fields: list[FieldRow] = field(default_factory=list)
    summary: str = ""
    links: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AnswerView:
    status: str
    description: str
    media_types: list[str]
    shape: Shape | None


@dataclass(frozen=True)
class OperationView:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    auth: str
    parameters: list[FieldRow]
    body: Shape | None
    body_required: bool
    answers: list[AnswerView]


@dataclass(frozen=True)
class TagView:
    name: str
    anchor: str
    operations: list[OperationView]


@dataclass(frozen=True)
class Reference:
    tags: list[TagView]
    shared: list[tuple[str, Shape]]


def reference(document: dict[str, Any]) -> Reference:
    """The document as the page shows it."""
    schemas = document["components"]["schemas"]
    by_tag: dict[str, list[OperationView]] = {tag["name"]: [] for tag in document.get("tags", [])}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            view = _operation(method.upper(), path, operation, schemas)
            by_tag.setdefault(operation["tags"][0], []).append(view)
    tags = [TagView(name, "tag-" + _slug(name), operations) for name, operations in by_tag.items() if operations]
    shared = [(name, _shape({"$ref": f"#/components/schemas/{name}"}, schemas, shared_ok=False)) for name in SHARED]
    return Reference(tags, shared)


def _operation(method: str, path: str, operation: dict[str, Any], schemas: dict[str, Any]) -> OperationView:
    body = operation.get("requestBody")
    return OperationView(
        anchor=operation["operationId"],
        method=method,
        path=path,
        summary=operation.get("summary", ""),
        description=operation.get("description", ""),
        auth=" or ".join(" + ".join(_AUTH[name] for name in option) for option in operation.get("security", [])),
        parameters=[_parameter(parameter, schemas) for parameter in operation.get("parameters", [])],
        body=_shape(body["content"]["application/json"]["schema"], schemas) if body else None,
        body_required=bool(body and body.get("required")),
        answers=[_answer(status, answer, schemas) for status, answer in operation["responses"].items()],
    )


def _parameter(parameter: dict[str, Any], schemas: dict[str, Any]) -> FieldRow:
    schema = parameter["schema"]
    return FieldRow(
        name=parameter["name"], type=_type(schema, schemas), required=parameter.get("required", False),
        constraints=_constraints(schema), description=parameter.get("description", ""), location=parameter["in"],
    )


def _answer(status: str, answer: dict[str, Any], schemas: dict[str, Any]) -> AnswerView:
    content = answer.get("content", {})
    json_schema = content.get("application/json", {}).get("schema")
    return AnswerView(
        status=status, description=answer.get("description", ""), media_types=list(content),
        shape=_shape(json_schema, schemas) if json_schema else None,
    )


def _shape(schema: dict[str, Any], schemas: dict[str, Any], *, shared_ok: bool = True) -> Shape:
    """A body's rows; a shape shared by many routes (or a choice of them) is a link instead."""
    choices = schema.get("anyOf", [schema])
    names = [_ref_name(choice) for choice in choices]
    if shared_ok and all(name in SHARED for name in names):
        return Shape(links=[name for name in names if name])
    resolved = _resolve(schema, schemas)
    if resolved.get("type") != "object" or "properties" not in resolved:
        return Shape(summary=_type(schema, schemas))
    return Shape(fields=list(_fields(resolved, schemas, prefix="", depth=0)))


def _fields(schema: dict[str, Any], schemas: dict[str, Any], prefix: str, depth: int) -> Any:
    required = set(schema.get("required", ()))
    for name, raw in schema.get("properties", {}).items():
        described = _resolve(raw, schemas)
        yield FieldRow(
            name=prefix + name, type=_type(raw, schemas), required=name in required,
            constraints=_constraints(_non_null(described, schemas)),
            description=raw.get("description") or described.get("description", "") if "$ref" not in raw else "",
        )
        if depth + 1 < MAX_DEPTH:
            inner = _non_null(described, schemas)
            if inner.get("type") == "array" and isinstance(inner.get("items"), dict):
                item = _resolve(inner["items"], schemas)
                if "properties" in item:
                    yield from _fields(item, schemas, f"{prefix}{name}[].", depth + 1)
            elif "properties" in inner and _ref_name(raw) not in SHARED:
                yield from _fields(inner, schemas, f"{prefix}{name}.", depth + 1)


def _type(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    """A schema in words: `string (date-time)`, `one of: sms, email`, `array of integer`, `TokenInfo or null`."""
    if name := _ref_name(schema):
        return name
    if "anyOf" in schema:
        return " or ".join(_type(choice, schemas) for choice in schema["anyOf"])
    if "enum" in schema:
        return "one of: " + ", ".join(str(value) for value in schema["enum"])
    if "const" in schema:
        return f"always {schema['const']}"
    kind = schema.get("type")
    if kind == "array":
        return "array of " + _type(schema.get("items", {}), schemas)
    if kind is None:
        return "any JSON"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _constraints(schema: dict[str, Any]) -> str:
    found = [text.format(schema[key]) for key, text in _CONSTRAINTS if key in schema]
    if "default" in schema and schema["default"] is not None:
        found.append(f"default {json.dumps(schema['default'])}")
    if schema.get("additionalProperties") is False:
        found.append("no other fields")
    return "; ".join(found)


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    name = _ref_name(schema)
    return schemas[name] if name else schema


def _non_null(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its `null` choice (the constraints are on the other one)."""
    choices = [choice for choice in schema.get("anyOf", []) if choice != {"type": "null"}]
    return _resolve(choices[0], schemas) if len(choices) == 1 else schema


def _ref_name(schema: dict[str, Any]) -> str:
    return schema.get("$ref", "").rsplit("/", 1)[-1]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@page
async def docs(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    return render(request, "docs.html", {"reference": reference(document_of(request.app))}, viewer=viewer)


routes = [Route("/docs", docs, methods=["GET"])]
