"""Prometheus metrics of the action core and the scheduler."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ACTIONS = Counter("coach_actions_total", "Tool calls by tool and outcome", ["tool", "outcome"])
DISPATCH_SECONDS = Histogram(
    "coach_dispatch_seconds", "Time in dispatch, provider time included", ["tool"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SCHEDULER_JOBS = Counter("coach_scheduler_jobs_total", "Scheduled jobs run, by kind and outcome", ["kind", "outcome"])
SCHEDULER_LAG = Histogram(
    "coach_scheduler_lag_seconds", "Time between a job's due time and the start of its run", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
