"""The running world every end-to-end test talks to: the coach server and the provider fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends import Backend
from worlds import VoiceWorld, voice_world


@pytest.fixture
async def world(backend: Backend, tmp_path: Path) -> AsyncIterator[VoiceWorld]:
    async with voice_world(backend, tmp_path) as running:
        yield running
