"""Every endpoint of the real app, read from its route table, for the suites that must cover all of them.

A new route then shows up in tests/security without anyone remembering to add it: each suite keeps an
explicit table keyed by `Endpoint.key`, and an endpoint missing from it fails that suite.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from backends import Backend, make_settings
from server.app import create_app

_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@dataclass(frozen=True)
class Endpoint:
    kind: str  # "http", "websocket", or "mount" (an app mounted under a prefix, such as static files)
    method: str  # "GET", "POST", ... for http; "WS" for a websocket; "*" for a mount
    path: str  # the path template, e.g. "/api/sequences/{sequence_id}/run"

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return _PARAMETER.findall(self.path)

    def url(self, **values: str) -> str:
        """The path with each parameter filled from `values`, or with a random id where none is given."""
        return _PARAMETER.sub(lambda match: values.get(match.group(1), uuid.uuid4().hex), self.path)


def app_endpoints() -> list[Endpoint]:
    """The endpoints of `create_app` (its lifespan is not entered, so nothing is connected to)."""
    settings = make_settings(Backend("sqlite", "sqlite+aiosqlite:///:memory:", None))
    return list(_endpoints(create_app(settings).routes, prefix=""))


def _endpoints(routes: Iterable[BaseRoute], prefix: str) -> Iterable[Endpoint]:
    for route in routes:
        if isinstance(route, Route):
            # HEAD is the GET endpoint answering without a body: the same handler, so probing GET covers it
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield Endpoint("http", method, prefix + route.path)
        elif isinstance(route, WebSocketRoute):
            yield Endpoint("websocket", "WS", prefix + route.path)
        elif isinstance(route, Mount):
            if route.routes:
                yield from _endpoints(route.routes, prefix + route.path)
            else:
                yield Endpoint("mount", "*", prefix + route.path)
        else:
            raise AssertionError(f"a route of a kind this table does not know: {route!r}")
