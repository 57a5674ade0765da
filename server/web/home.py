"""`/`: the home page, the coach (the voice client, signed in by the session) and the actions waiting for the
person's yes, as cards that come and go live (`GET /api/events` makes the list re-read `/pending-actions`).

A card is approved, edited and approved, or rejected with a reason through `tools.pending` exactly as the JSON
API does it. Every form is a plain form first (Post/Redirect/Get to `/`); with htmx, a card's body is swapped
for its edit or reject form and the list is swapped when a decision is made, so a call in progress goes on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.models import PendingAgentAction, User
from server.auth import Principal
from server.context import app_context
from server.errors import not_found
from server.routes.actions import HTTP_STATUS
from server.web.action_forms import EditForm, blank_form, filled_form, with_refusal
from server.web.pages import page, see_other
from server.web.pending_cards import Card, card_for, cards_for, viewer_zone, what
from server.web.rendering import is_fragment_request, render
from tools import pending
from tools.execution import Actor
from tools.results import AgentToolResult

SOURCE = "web"  # the history's source of a decision made on these pages
REJECTION_LABELS = {
    "wrong_recipient": "Wrong recipient",
    "wrong_time": "Wrong time",
    "wrong_content": "Wrong content",
    "not_now": "Not now",
    "other": "Other",
}
assert tuple(REJECTION_LABELS) == pending.REJECTION_REASONS
NOTICES = {  # after a plain form's redirect: `/?notice=...` (fixed words, nothing of the request echoed)
    "approved": "Approved.",
    "rejected": "Rejected. Thank you for saying why.",
}


def _actor(viewer: Principal) -> Actor:
    return viewer.actor(SOURCE)


async def _list_context(
    request: Request, session: AsyncSession, viewer: Principal, notice: str | None = None, failed: bool = False
) -> dict[str, Any]:
    services = app_context(request).services
    actions = await pending.list_pending(services, _actor(viewer))
    cards = await cards_for(session, viewer, actions, services.clock())
    return {"cards": cards, "notice": notice, "notice_failed": failed, "announcement": _announcement(cards)}


def _announcement(cards: list[Card]) -> str:
    """What the live region says when the list changes: how many wait, and the newest."""
    if not cards:
        return "Nothing is waiting for your approval."
    waiting = "1 action is" if len(cards) == 1 else f"{len(cards)} actions are"
    return f"{waiting} waiting for your approval. Newest: {cards[-1].what}, to {cards[-1].to_whom}."


async def _home(
    request: Request, session: AsyncSession, viewer: Principal, notice: str | None = None, failed: bool = False,
    status_code: int = 200,
) -> Response:
    context = await _list_context(request, session, viewer, notice, failed)
    return render(request, "home.html", context, viewer=viewer, status_code=status_code)


@page
async def home(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    return await _home(request, session, viewer, NOTICES.get(request.query_params.get("notice", "")))


@page
async def pending_list(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    """The cards alone, for the live list (a plain browser gets the home page)."""
    if not is_fragment_request(request):
        return see_other("/")
    return render(request, "_pending_list.html", await _list_context(request, session, viewer), viewer=viewer)


async def _card(request: Request, session: AsyncSession, viewer: Principal) -> tuple[PendingAgentAction, Card]:
    """The card of the path's action, while it waits for the viewer's decision; 404 otherwise."""
    services = app_context(request).services
    action = await pending.visible_pending(services, _actor(viewer), request.path_params["action_id"])
    owner = await session.get(User, action.user_id) if action is not None else None
    if action is None or owner is None:
        raise not_found("This action is not waiting for your decision (it was decided, expired, or is not yours).")
    return action, card_for(action, owner, viewer, await viewer_zone(session, viewer), services.clock())


def _card_body(
    request: Request, viewer: Principal, card: Card, mode: str, status_code: int = 200, **context: Any
) -> Response:
    """The card in `mode` (view, edit or reject): its body for htmx, else a page of its own."""
    context = {"card": card, "mode": mode, "rejection_labels": REJECTION_LABELS, **context}
    if is_fragment_request(request):  # htmx swaps 2xx answers only: a form with its errors is a 200 here
        return render(request, "_card_body.html", context, viewer=viewer)
    return render(request, "pending_action.html", context, viewer=viewer, status_code=status_code)


async def _decided(
    request: Request, session: AsyncSession, viewer: Principal, result: AgentToolResult, done: str, notice_key: str
) -> Response:
    """After a decision: the list with what happened (htmx), or back to the home page (a plain form)."""
    if result.error is not None and result.error.code == "NOT_FOUND":
        raise not_found("This action is not waiting for your decision.")
    notice = _outcome(result, done)
    if is_fragment_request(request):
        context = await _list_context(request, session, viewer, notice, failed=not result.success)
        response = render(request, "_pending_list.html", context, viewer=viewer)
        response.headers["HX-Retarget"] = "#pending-actions"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    if result.success:
        return see_other(f"/?notice={notice_key}")
    status = HTTP_STATUS.get(result.error.code if result.error else "", 400)
    return await _home(request, session, viewer, notice, failed=True, status_code=status)


def _outcome(result: AgentToolResult, done: str) -> str:
    if not result.success:
        return f"Not done: {result.error.message if result.error else result.message}."
    if result.needs_confirmation:  # approved for one team; others must approve too
        return f"{done} {result.message}."
    if (result.data or {}).get("delivery") == "outbox":
        return f"{done} It went to the development outbox: nothing was sent to anyone."
    return done


@page
async def view_card(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    _, card = await _card(request, session, viewer)
    return _card_body(request, viewer, card, "view")


@page
async def approve(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    action, _ = await _card(request, session, viewer)
    result = await pending.confirm(app_context(request).services, _actor(viewer), action.id)
    return await _decided(request, session, viewer, result, f"Approved: {what(action.tool)}.", "approved")


@page
async def edit_form(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    action, card = await _card(request, session, viewer)
    return _card_body(request, viewer, card, "edit", form=blank_form(action.tool, action.args))


@page
async def edit_and_approve(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    action, card = await _card(request, session, viewer)
    submitted = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    form: EditForm = filled_form(action.tool, submitted)
    if not form.valid:
        return _card_body(request, viewer, card, "edit", 422, form=form)
    result = await pending.confirm(app_context(request).services, _actor(viewer), action.id, form.args)
    if not result.success and result.error is not None and result.error.code != "NOT_FOUND":
        status = HTTP_STATUS.get(result.error.code, 400)
        return _card_body(request, viewer, card, "edit", status, form=with_refusal(form, result.error.message))
    return await _decided(request, session, viewer, result, f"Approved as edited: {what(action.tool)}.", "approved")


@page
async def reject_form(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    _, card = await _card(request, session, viewer)
    return _card_body(request, viewer, card, "reject", reason_code="", reason="")


@page
async def reject(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    action, card = await _card(request, session, viewer)
    form = await request.form()
    reason_code = str(form.get("reason_code", "")) or None
    reason = str(form.get("reason", ""))[:500].strip()
    problem = "Choose what was wrong." if reason_code is None else pending.rejection_problem(reason_code, reason)
    if problem is not None:
        fields = {"reason_code": reason_code or "", "reason": reason}
        which = "reason_code_error" if reason_code is None or reason_code not in REJECTION_LABELS else "reason_error"
        return _card_body(request, viewer, card, "reject", 422, **fields, **{which: problem[:1].upper() + problem[1:]})
    result = await pending.cancel(app_context(request).services, _actor(viewer), action.id, reason, reason_code)
    return await _decided(request, session, viewer, result, f"Rejected: {what(action.tool)}.", "rejected")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/pending-actions", pending_list, methods=["GET"]),
    Route("/pending-actions/{action_id}", view_card, methods=["GET"]),
    Route("/pending-actions/{action_id}/approve", approve, methods=["POST"]),
    Route("/pending-actions/{action_id}/edit", edit_form, methods=["GET"]),
    Route("/pending-actions/{action_id}/edit", edit_and_approve, methods=["POST"]),
    Route("/pending-actions/{action_id}/reject", reject_form, methods=["GET"]),
    Route("/pending-actions/{action_id}/reject", reject, methods=["POST"]),
]
