"""The shape every signed-in page shares: one database session, the signed-in person, CSRF on every form,
commit; a signed-out visitor is sent to `/signin`, a refused request gets an error page (nothing written)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    Principal,
    csrf_matches,
    signed_in,
)
from server.context import app_context
from server.errors import ApiError
from server.web.rendering import is_fragment_request, render

PageHandler = Callable[[Request, AsyncSession, Principal], Awaitable[Response]]


def signin_redirect(request: Request) -> Response:
    """To the sign-in page, coming back here afterwards (htmx follows `HX-Redirect` with a full page load)."""
    target = "/signin?next=" + quote(request.url.path, safe="/")
    if is_fragment_request(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def see_other(path: str) -> RedirectResponse:
    """After a plain form's POST: show the page again (Post/Redirect/Get)."""
    return RedirectResponse(path, status_code=303)


def page(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap `handler` so it runs for a signed-in person only, with a session that commits on success."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        ctx = app_context(request)
        async with ctx.sessions() as session:
            viewer = await signed_in(session, request, ctx.settings.COACH_SECRET_KEY, ctx.services.clock())
            await session.commit()  # records last_seen_at
            if viewer is None:
                return signin_redirect(request)
            if request.method not in SAFE_METHODS:
                presented = request.headers.get(CSRF_HEADER) or (await request.form()).get(CSRF_FIELD)
                if not csrf_matches(viewer, presented if isinstance(presented, str) else None):
                    return error_page(request, viewer, 403, "This form has expired. Reload the page and try again.")
            try:
                response = await handler(request, session, viewer)
            except ApiError as refused:
                page_shown = error_page(request, viewer, refused.status, refused.message)  # rendered now
                await session.rollback()  # after: rolling back expires the viewer's rows
                return page_shown
            await session.commit()
            return response

    return endpoint


def error_page(request: Request, viewer: Principal | None, status_code: int, message: str) -> Response:
    return render(request, "error.html", {"status_code": status_code, "message": message}, viewer=viewer,
                  status_code=status_code)
