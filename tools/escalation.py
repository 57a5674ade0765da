"""Crisis escalation: when a caller's words match the team's crisis keywords, email the team's contact.

This is the platform acting, not the coach acting for the user, so it bypasses the user's settings; it is
recorded in the action history like everything else.
"""

from __future__ import annotations

import logging

from db import accounts
from db.models import new_id
from tools.audit import ActionRecord
from tools.results import ErrorCode, ToolFailure
from tools.services import ToolServices

log = logging.getLogger("coach.crisis")


async def crisis_contact(services: ToolServices, user_id: str) -> tuple[list[str], str | None, str | None]:
    """(keywords, escalation email, team id) of the user's teams."""
    async with services.sessions() as session:
        memberships = await accounts.memberships(session, user_id)
        for membership in memberships:
            team = await accounts.team_settings(session, membership.team_id)
            if team is not None and team.crisis_keywords:
                return [str(k) for k in team.crisis_keywords], team.crisis_escalation_email, team.id
    return [], None, None


def matches_crisis(text: str, keywords: list[str]) -> str | None:
    lowered = text.lower()
    return next((keyword for keyword in keywords if keyword.lower() in lowered), None)


async def escalate(
    services: ToolServices, *, user_id: str, team_id: str | None, address: str | None, call_session_id: str, keyword: str
) -> bool:
    """Email the escalation address (never the caller's words beyond the matched keyword); record it."""
    record = ActionRecord(new_id(), user_id, team_id, "crisis_escalation", "voice", "critical", None)
    payload = {"call_session_id": call_session_id, "keyword": keyword, "to": address}
    status, error = "executed", None
    try:
        if address is None or services.email is None:
            raise ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, "no escalation address or email channel configured")
        await services.email.send(
            to=address,
            subject="Vision Coach: possible crisis on a coaching call",
            text=(
                f"A caller (user id {user_id}) said something matching the crisis keyword {keyword!r} during "
                f"call {call_session_id}. Please follow your team's escalation procedure."
            ),
            idempotency_key=f"crisis-{call_session_id}",
        )
    except ToolFailure as failure:
        status, error = "failed", failure.message
        log.error("crisis escalation failed", extra={"reason": failure.message})
    async with services.sessions() as session:
        error_code = None if error is None else "SERVICE_UNAVAILABLE"
        await record.rows(status, payload, error_code=error_code, error_message=error).insert(session)
        await session.commit()
    return status == "executed"
