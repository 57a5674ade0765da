"""Health, readiness and metrics endpoints."""

from __future__ import annotations

from backends import Backend, make_settings
from server.app import create_app

import httpx


async def test_healthz_is_ok(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_reports_database_and_redis_when_configured(client, backend):
    response = await client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert ("redis" in checks) == (backend.redis_url is not None)


async def test_readyz_is_503_when_redis_is_unreachable(backend):
    settings = make_settings(Backend("broken", backend.database_url, "redis://127.0.0.1:1/0"))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "unavailable"


async def test_metrics_count_requests_by_route_template(client):
    await client.get("/api/me/settings")
    text = (await client.get("/metrics")).text
    assert 'coach_http_requests_total{method="GET",route="/api/me/settings",status="401"}' in text


async def test_responses_carry_a_request_id(client):
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
