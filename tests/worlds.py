"""A running coach server (uvicorn, real sockets) wired to the local provider fakes, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from backends import Backend, make_settings
from factories import DAYTIME
from fakes.gemini import GeminiFakes, running_gemini
from fakes.resend import FakeResend
from fakes.server import running_server, running_server_async
from fakes.twilio_api import FakeTwilioAPI

from db.migrate import upgrade
from db.models import CallSession
from server.app import create_app
from server.config import Settings
from server.context import AppContext

GEMINI_KEY = "gemini-test-key"
ACCOUNT_SID = "AC" + "2" * 32
AUTH_TOKEN = "twilio-test-token"
RESEND_KEY = "re_test"


@dataclass
class VoiceWorld:
    gemini: GeminiFakes
    twilio: FakeTwilioAPI
    resend: FakeResend
    base_url: str  # http://127.0.0.1:PORT of the coach server
    settings: Settings
    server_app: Any  # the app inside uvicorn (its state.ctx lives on the server's loop)
    data: AppContext  # a context on the test's loop, for arranging and checking rows
    http: httpx.AsyncClient  # real HTTP to the coach server

    @property
    def ws_base(self) -> str:
        return "ws://" + self.base_url.split("://", 1)[1]


@asynccontextmanager
async def voice_world(backend: Backend, tmp_path: Path, **overrides: Any) -> AsyncIterator[VoiceWorld]:
    twilio = FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN)
    resend = FakeResend(RESEND_KEY)
    with running_server(twilio.app) as twilio_url, running_server(resend.app) as resend_url:
        async with running_gemini(GEMINI_KEY, tmp_path) as gemini:
            providers: dict[str, Any] = {
                "GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini.base_url, "GEMINI_CA_FILE": str(gemini.ca_file),
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_PHONE_NUMBER": "+14155550199", "TWILIO_API_BASE_URL": twilio_url,
                "RESEND_API_KEY": RESEND_KEY, "RESEND_BASE_URL": resend_url, "EMAIL_FROM": "coach@example.test",
            }
            settings = make_settings(backend, **{**providers, **overrides})  # an override may unset a provider
            app = create_app(settings)
            async with running_server_async(app) as base_url:
                app.state.ctx.services.clock = lambda: DAYTIME
                data = AppContext.open(settings)
                data.services.clock = lambda: DAYTIME
                async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as http:
                    try:
                        yield VoiceWorld(gemini, twilio, resend, base_url, settings, app, data, http)
                    finally:
                        await data.close()


@asynccontextmanager
async def scratch_voice_world(directory: Path) -> AsyncIterator[VoiceWorld]:
    """A voice world on a fresh SQLite file under `directory`, for use outside pytest (the benchmarks).

    Like the test suite, it keeps proxy settings away from loopback (aiohttp and websockets follow them).
    """
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    url = f"sqlite+aiosqlite:///{directory / 'coach.db'}"
    await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
    async with voice_world(Backend("sqlite", url, None), directory) as world:
        yield world


async def ended_call(world: VoiceWorld, user_id: str, timeout: float = 10.0) -> CallSession:
    """The user's call session once the server has finished it (status and transcript written)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with world.data.sessions() as session:
            call = (await session.execute(select(CallSession).where(CallSession.user_id == user_id))).scalar_one_or_none()
        if call is not None and call.ended_at is not None:
            return call
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the call of user {user_id} did not end within {timeout}s")
        await asyncio.sleep(0.02)
