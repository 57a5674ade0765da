"""The attacks run against the app wired to the provider fakes (where anything that leaks or is sent
twice shows), at a weekday afternoon outside quiet hours. A module overrides `settings` where it needs
other wiring."""

from __future__ import annotations

import pytest
from backends import Backend, make_settings
from factories import daytime_clock
from providers import Providers

from server.config import Settings
from server.context import AppContext


@pytest.fixture
def settings(backend: Backend, providers: Providers) -> Settings:
    return make_settings(backend, **providers.settings())


@pytest.fixture
def ctx(app) -> AppContext:
    daytime_clock(app.state.ctx)
    return app.state.ctx
