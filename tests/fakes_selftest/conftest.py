"""Fixtures for the fakes' self-tests: each fake served over a real socket on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from google import genai
from google.genai import types

from fakes.gemini import GeminiFakes, running_gemini
from fakes.gemini_text import FakeGeminiText
from fakes.resend import FakeResend
from fakes.server import running_server
from fakes.twilio_api import FakeTwilioAPI

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-token"
RESEND_KEY = "re_test_key"
GEMINI_KEY = "gemini-test-key"


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp (genai REST, `trust_env=True`) and websockets follow proxy variables; loopback must not."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def twilio_fake() -> Iterator[tuple[FakeTwilioAPI, str]]:
    fake = FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN)
    with running_server(fake.app) as url:
        yield fake, url


@pytest.fixture
def resend_fake() -> Iterator[tuple[FakeResend, str]]:
    fake = FakeResend(RESEND_KEY)
    with running_server(fake.app) as url:
        yield fake, url


@pytest.fixture
def gemini_text_http() -> Iterator[tuple[FakeGeminiText, str]]:
    fake = FakeGeminiText(GEMINI_KEY)
    with running_server(fake.app) as url:
        yield fake, url


def gemini_http_options(base_url: str, ca_file: Path) -> types.HttpOptions:
    """How the server should trust GEMINI_CA_FILE: one context for wss, aiohttp and httpx.

    `async_client_args["ssl"]` reaches `websockets.connect(ssl=...)` and aiohttp requests;
    `verify` reaches the httpx clients (sync, and async when aiohttp is absent).
    """
    context = ssl.create_default_context(cafile=str(ca_file))
    return types.HttpOptions(
        base_url=base_url,
        client_args={"verify": context},
        async_client_args={"ssl": context, "verify": context},
    )


@pytest.fixture
async def gemini(tmp_path: Path) -> AsyncIterator[GeminiFakes]:
    async with running_gemini(GEMINI_KEY, tmp_path) as fakes:
        yield fakes


@pytest.fixture
async def genai_client(gemini: GeminiFakes) -> AsyncIterator[genai.Client]:
    """A real genai client for the TLS fakes, trusting only the fake CA."""
    client = genai.Client(api_key=GEMINI_KEY, http_options=gemini_http_options(gemini.base_url, gemini.ca_file))
    yield client
    await client.aio.aclose()
    client.close()
