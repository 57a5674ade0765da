"""The storage backends the suite runs on, and the app settings for one of them."""

from __future__ import annotations

from dataclasses import dataclass

from server.config import Settings


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None


def make_settings(backend: Backend, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "COACH_SECRET_KEY": "test-secret-key-not-for-production",
        "PUBLIC_URL": "https://coach.example.test",
    }
    values.update(overrides)
    return Settings.model_validate(values)
