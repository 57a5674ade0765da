"""The one place the server builds its google-genai client (text chat and Live share it)."""

from __future__ import annotations

import ssl

from google import genai
from google.genai import types

LIVE_SOCKET_ARGS: dict[str, object] = {"compression": None}
"""Passed by the SDK to `websockets.connect` for Live (it keeps the `async_client_args` that function takes).
No per-message deflate: compressing base64 audio gains little and cost a tenth of a call's CPU per message."""


def build_genai_client(api_key: str, base_url: str | None = None, ca_file: str | None = None) -> genai.Client:
    """A client for `base_url` (GEMINI_BASE_URL; the SDK always dials wss:// for Live) that also trusts
    the CA bundle in `ca_file` (GEMINI_CA_FILE) on top of the system's, for websockets, aiohttp and httpx."""
    options: dict[str, object] = {"async_client_args": dict(LIVE_SOCKET_ARGS)}
    if base_url:
        options["base_url"] = base_url.rstrip("/")
    if ca_file:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=ca_file)
        options["client_args"] = {"verify": context}
        options["async_client_args"] = {**LIVE_SOCKET_ARGS, "ssl": context, "verify": context}
    return genai.Client(api_key=api_key, http_options=types.HttpOptions(**options))
