"""`/`: the home page, the coach and the actions waiting for the person's yes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import Principal
from server.web.pages import page
from server.web.rendering import render


@page
async def home(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    return render(request, "home.html", {}, viewer=viewer)


routes = [Route("/", home, methods=["GET"])]
