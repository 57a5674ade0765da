"""Prometheus metrics, defined once per process (the client library keeps a global registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("coach_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("coach_http_request_seconds", "HTTP request latency", ["method", "route"])
