"""OpenTelemetry export of the model's work, with the GenAI semantic-convention names.

Only when `OTEL_EXPORTER_OTLP_ENDPOINT` is configured: `configure` then builds a tracer and a meter that
export over OTLP/HTTP (protobuf) in the background (batched spans, periodic metrics). Without it nothing
is built, and `model_turn_span` / `tool_span` return at once: no cost on the call path.

Spans: `chat {model}` per model turn (`gen_ai.operation.name` = chat, `gen_ai.request.model`,
`gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, `gen_ai.conversation.id`), and
`execute_tool {name}` per tool call (`gen_ai.tool.name`, `gen_ai.tool.call.id`, `gen_ai.conversation.id`).
Metric: `gen_ai.client.token.usage` (histogram of tokens per turn, by `gen_ai.token.type` input|output).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PROVIDER = "gcp.gemini"
SERVICE_NAME = "vision-coach-voice"


@dataclass(frozen=True)
class _Exporting:
    tracer_provider: Any
    meter_provider: Any
    tracer: Any
    token_usage: Any  # the gen_ai.client.token.usage histogram


_exporting: _Exporting | None = None


def configure(endpoint: str | None) -> None:
    """Start exporting to `endpoint` (the OTLP/HTTP base URL, e.g. http://collector:4318); None: nothing."""
    global _exporting
    if not endpoint or _exporting is not None:
        return
    # Imported here: a process without an endpoint never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    base = endpoint.rstrip("/")
    resource = Resource.create({"service.name": SERVICE_NAME})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    token_usage = meter_provider.get_meter("coach.gen_ai").create_histogram(
        "gen_ai.client.token.usage", unit="{token}", description="Tokens used per model turn"
    )
    _exporting = _Exporting(tracer_provider, meter_provider, tracer_provider.get_tracer("coach.gen_ai"), token_usage)


def shutdown() -> None:
    """Flush what is pending and stop exporting."""
    global _exporting
    exporting, _exporting = _exporting, None
    if exporting is not None:
        exporting.tracer_provider.shutdown()
        exporting.meter_provider.shutdown()


def model_turn_span(
    *, model: str, conversation_id: str, input_tokens: int, output_tokens: int, started_ns: int, ended_ns: int
) -> None:
    """Export one model turn that has ended (a span with its own start and end) and its token counts."""
    if _exporting is None:
        return
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": PROVIDER, "gen_ai.request.model": model}
    span = _exporting.tracer.start_span(
        f"chat {model}",
        start_time=started_ns,
        attributes={
            **common,
            "gen_ai.conversation.id": conversation_id,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
        },
    )
    span.end(end_time=ended_ns)
    _exporting.token_usage.record(input_tokens, {**common, "gen_ai.token.type": "input"})
    _exporting.token_usage.record(output_tokens, {**common, "gen_ai.token.type": "output"})


@contextmanager
def tool_span(name: str, call_id: str | None, conversation_id: str | None) -> Iterator[None]:
    """A span around one tool call of the model."""
    if _exporting is None:
        yield
        return
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if call_id:
        attributes["gen_ai.tool.call.id"] = call_id
    if conversation_id:
        attributes["gen_ai.conversation.id"] = conversation_id
    span = _exporting.tracer.start_span(f"execute_tool {name}", start_time=time.time_ns(), attributes=attributes)
    try:
        yield
    finally:
        span.end()
