"""/openapi.json: an OpenAPI 3.1 document of every /api route of the route table, public, built once; request
bodies are the pydantic models themselves; the bounds it states are the server's. (That every answer matches
it, and that no request makes a 5xx, is tests/integration/test_openapi_fuzz.py.)"""

from __future__ import annotations

import jsonschema_rs
import pytest
from app_routes import app_endpoints
from factories import new_user
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR
from starlette.responses import Response
from starlette.routing import Route

from server.openapi import REGISTRY, UndocumentedRoute, build_document, document_of
from server.routes.actions import MAX_HISTORY_LIMIT
from server.schemas.coaching import ContactCreate


def api_keys() -> set[str]:
    return {endpoint.key for endpoint in app_endpoints() if endpoint.kind == "http" and endpoint.path.startswith("/api/")}


def document_keys(document: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, methods in document["paths"].items() for method in methods}


async def test_the_document_is_served_to_anyone_without_credentials(client) -> None:
    response = await client.get("/openapi.json")
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.json()["openapi"] == "3.1.0"


async def test_the_document_validates_as_openapi_3_1(client) -> None:
    document = (await client.get("/openapi.json")).json()
    OPENAPI_31_VALIDATOR.validate(document)


async def test_every_component_schema_is_a_valid_json_schema(client) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    invalid = [name for name, schema in schemas.items() if not jsonschema_rs.meta.is_valid(schema)]
    assert invalid == []


def test_every_api_route_of_the_table_has_a_registry_entry() -> None:
    missing = api_keys() - REGISTRY.keys()
    assert not missing, f"add an entry to server.openapi.REGISTRY for: {sorted(missing)}"


def test_every_registry_entry_names_a_route_of_the_table() -> None:
    stale = REGISTRY.keys() - api_keys()
    assert not stale, f"entries of server.openapi.REGISTRY without a route (remove them): {sorted(stale)}"


async def test_every_api_route_of_the_table_is_in_the_served_document(client) -> None:
    assert document_keys((await client.get("/openapi.json")).json()) == api_keys()


def test_an_api_route_without_an_entry_fails_the_build() -> None:
    async def new_route(request) -> Response:
        return Response()

    with pytest.raises(UndocumentedRoute, match="GET /api/something-new"):
        build_document([Route("/api/something-new", new_route, methods=["GET"])])


async def test_every_operation_documents_the_error_shape_for_a_caller_without_credentials(client) -> None:
    document = (await client.get("/openapi.json")).json()
    shapes = {
        f"{method.upper()} {path}": operation["responses"]["401"]["content"]["application/json"]["schema"]
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert shapes == dict.fromkeys(shapes, {"$ref": "#/components/schemas/ErrorAnswer"})


async def test_every_operation_names_both_ways_in_and_the_csrf_header_for_changes(client) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            cookie = {"sessionCookie": []} if method == "get" else {"sessionCookie": [], "csrfHeader": []}
            assert operation["security"] == [{"bearerToken": []}, cookie], (method, path)


async def test_a_request_body_is_its_pydantic_model_hoisted_to_the_components(client) -> None:
    document = (await client.get("/openapi.json")).json()
    body = document["paths"]["/api/contacts"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ContactCreate"}
    assert document["components"]["schemas"]["ContactCreate"] == ContactCreate.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )


async def test_a_query_bound_in_the_document_is_the_one_the_server_enforces(client, app) -> None:
    document = (await client.get("/openapi.json")).json()
    [limit] = [p for p in document["paths"]["/api/actions/history"]["get"]["parameters"] if p["name"] == "limit"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, MAX_HISTORY_LIMIT)
    user = await new_user(app.state.ctx)
    answers = [
        (await client.get("/api/actions/history", params={"limit": value}, headers=user.headers)).status_code
        for value in (MAX_HISTORY_LIMIT, MAX_HISTORY_LIMIT + 1)
    ]
    assert answers == [200, 400]


async def test_the_document_is_built_once_per_app(client, app) -> None:
    first, second = await client.get("/openapi.json"), await client.get("/openapi.json")
    assert first.content == second.content
    assert document_of(app) is document_of(app)
