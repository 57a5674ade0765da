"""The scheduler's fixtures (a database per module, provider fakes, a clock the test moves, one worker),
for the attacks that need a scheduled delivery to run."""

from integration.scheduler.conftest import clock, ctx, postgres_backend, settings, sqlite_backend, worker  # noqa: F401
