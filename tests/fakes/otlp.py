"""Fake OpenTelemetry collector: OTLP over HTTP (protobuf), `POST /v1/traces` and `POST /v1/metrics`.

Each request body is decoded with opentelemetry-proto, as a collector would, and kept: `spans` flattens
every received span to (name, attributes); `metric_names` lists every metric received.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class FakeOtlpCollector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self._metric_names: list[str] = []
        self.routes = [
            Route("/v1/traces", self._traces, methods=["POST"]),
            Route("/v1/metrics", self._metrics, methods=["POST"]),
        ]
        self.app = Starlette(routes=self.routes)

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    @property
    def metric_names(self) -> list[str]:
        with self._lock:
            return list(self._metric_names)

    async def _traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        spans = [
            ReceivedSpan(span.name, {a.key: _value(a.value) for a in span.attributes})
            for resource in export.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]
        with self._lock:
            self._spans.extend(spans)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)

    async def _metrics(self, request: Request) -> Response:
        export = ExportMetricsServiceRequest.FromString(await request.body())
        names = [
            metric.name
            for resource in export.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        ]
        with self._lock:
            self._metric_names.extend(names)
        return Response(ExportMetricsServiceResponse().SerializeToString(), media_type=PROTOBUF)
