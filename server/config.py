"""Settings: exactly the environment variables of the design contract (DESIGN section 4)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.channels.secret_keys import secret_keys
from tools.pricing import DEFAULT_MODEL_PRICES, ModelPrice

SECRET_FILE = Path(".coach-secret")
DEFAULT_LIVE_MODEL = "gemini-3.1-flash-live-preview"
DEFAULT_TEXT_MODEL = "gemini-2.5-flash"


class Settings(BaseSettings):
    """Process configuration. Unset provider credentials disable that channel, never the server."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True)

    DATABASE_URL: str = "sqlite+aiosqlite:///./coach.db"
    REDIS_URL: str | None = None
    PUBLIC_URL: str = "http://localhost:8000"
    COACH_SECRET_KEY: str = Field(default="", repr=False)

    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = Field(default=None, repr=False)
    TWILIO_PHONE_NUMBER: str | None = None
    TWILIO_API_BASE_URL: str | None = None

    GEMINI_API_KEY: str | None = Field(default=None, repr=False)
    GEMINI_BASE_URL: str | None = None
    GEMINI_CA_FILE: str | None = None
    GEMINI_LIVE_MODEL: str = DEFAULT_LIVE_MODEL
    GEMINI_TEXT_MODEL: str = DEFAULT_TEXT_MODEL

    RESEND_API_KEY: str | None = Field(default=None, repr=False)
    RESEND_BASE_URL: str = "https://api.resend.com"
    EMAIL_FROM: str | None = None

    GOOGLE_CLIENT_ID: str | None = None
    GOOGLE_CLIENT_SECRET: str | None = Field(default=None, repr=False)
    GOOGLE_OAUTH_BASE_URL: str | None = None
    GOOGLE_CALENDAR_BASE_URL: str | None = None

    # Model prices for the cost estimate (tools.pricing): JSON, model -> {"input"|"output": {"default": USD per
    # million tokens, "text"|"audio"|...: per modality}}. Applied when usage is read, so a fix reprices history.
    COACH_MODEL_PRICES: dict[str, ModelPrice] = Field(
        default_factory=lambda: {model: ModelPrice.model_validate(p) for model, p in DEFAULT_MODEL_PRICES.items()}
    )
    # OpenTelemetry (tools.telemetry): with an OTLP/HTTP endpoint, GenAI spans and metrics are exported there.
    OTEL_EXPORTER_OTLP_ENDPOINT: str | None = None

    COACH_VALIDATE_TWILIO_SIGNATURE: bool = True
    # Development: a channel without credentials (SMS and calls without Twilio, email without Resend) stores
    # its messages in the outbox (`GET /api/outbox`) instead of failing. A channel with credentials is real.
    COACH_OUTBOX: bool = False

    # Request bodies are bounded before they are read (server.middleware.BodyLimitMiddleware), per route
    # family: Twilio's webhooks are a few KB; the API's largest legitimate body (a sequence of emails) is
    # well under a megabyte; every other route (pages, forms, whatever is added next) gets the API's bound.
    COACH_MAX_TWILIO_BODY_BYTES: int = Field(default=64 * 1024, gt=0)
    COACH_MAX_API_BODY_BYTES: int = Field(default=1024 * 1024, gt=0)
    COACH_MAX_BODY_BYTES: int = Field(default=1024 * 1024, gt=0)
    # The largest websocket message uvicorn accepts (`coach serve`): Twilio's media frames are ~400 bytes, the
    # browser's audio frames a few KB.
    COACH_MAX_WS_MESSAGE_BYTES: int = Field(default=256 * 1024, gt=0)
    # `GET /api/events` sends a comment this often when nothing happens, so proxies (which close a response
    # idle for 60 s or so) keep the stream open and a gone client is noticed.
    COACH_EVENTS_HEARTBEAT_SECONDS: float = Field(default=15.0, gt=0)

    @field_validator("COACH_SECRET_KEY")
    @classmethod
    def _lists_a_secret(cls, value: str) -> str:
        """Empty means "read ./.coach-secret"; otherwise one secret, or several during a rotation."""
        if value:
            secret_keys(value)
        return value

    def secret_values(self) -> list[str]:
        """The configured credentials (the fields kept out of repr), and each secret of a key rotation."""
        values = [getattr(self, name) for name, field in type(self).model_fields.items() if not field.repr]
        rotation = list(secret_keys(self.COACH_SECRET_KEY)) if self.COACH_SECRET_KEY else []
        return [value for value in values if value] + rotation


def load_or_create_secret(path: Path = SECRET_FILE) -> str:
    """Read the secret key file, creating it (mode 0600) on first run."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def load_settings() -> Settings:
    """Settings from the environment; a missing secret key comes from `./.coach-secret`."""
    settings = Settings()
    if not settings.COACH_SECRET_KEY:
        settings.COACH_SECRET_KEY = load_or_create_secret()
    return settings
