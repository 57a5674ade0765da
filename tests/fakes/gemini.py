"""Gemini text and Live fakes behind one TLS base URL, as the server sees them.

The server has one `GEMINI_BASE_URL` for both APIs, and the SDK dials Live over `wss://` only, so
both fakes share one TLS server whose CA the server trusts through `GEMINI_CA_FILE`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fakes.gemini_live import FakeGeminiLive
from fakes.gemini_text import FakeGeminiText
from fakes.server import combined_app, running_server_async
from fakes.tls import make_tls_files


@dataclass(frozen=True)
class GeminiFakes:
    text: FakeGeminiText
    live: FakeGeminiLive
    base_url: str  # GEMINI_BASE_URL, https://127.0.0.1:PORT
    ca_file: Path  # GEMINI_CA_FILE


@asynccontextmanager
async def running_gemini(api_key: str, tls_dir: Path) -> AsyncIterator[GeminiFakes]:
    """Serve both fakes over TLS; certificates are written under `tls_dir` (e.g. `tmp_path`)."""
    tls = make_tls_files(tls_dir)
    text, live = FakeGeminiText(api_key), FakeGeminiLive(api_key)
    app = combined_app(text.routes, live.routes)
    async with running_server_async(app, tls.cert_file, tls.key_file) as base_url:
        yield GeminiFakes(text, live, base_url, tls.ca_file)
