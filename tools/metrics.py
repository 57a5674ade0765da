"""Prometheus metrics of the action core."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ACTIONS = Counter("coach_actions_total", "Tool calls by tool and outcome", ["tool", "outcome"])
DISPATCH_SECONDS = Histogram(
    "coach_dispatch_seconds", "Time in dispatch, provider time included", ["tool"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
