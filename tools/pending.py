"""Pending actions: propose, confirm (optionally with edited arguments), cancel, expire.

State machine: pending_confirmation -> confirmed -> executing -> executed | failed,
               pending_confirmation -> cancelled | expired.
An approval is bound to the owner and to a digest of the exact arguments, lives 5 minutes and is
single-use: every transition is a compare-and-set UPDATE, so two racing confirms execute once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.group_commit import Transaction, commit_writes
from db.models import AgentActionFeedback, PendingAgentAction, PendingApproval
from policy.decision import ActionFacts, Decision, Outcome, decide
from tools.audit import ActionRecord
from tools.execution import (
    Actor, OnFinish, Subject, execute, gather_facts, load_subject, outcome_write, parse_args, prepare, record_denial,
)
from tools.log_context import action_context
from tools.reads import Reads
from tools.results import AgentToolResult, ErrorCode, ToolFailure
from tools.services import ToolServices

LIFETIME = timedelta(minutes=5)
RejectionReason = Literal["wrong_recipient", "wrong_time", "wrong_content", "not_now", "other"]
REJECTION_REASONS: tuple[str, ...] = get_args(RejectionReason)
# Sources where a model, not a person, calls confirm_pending_action: the confirmation is accepted only if
# the human has spoken (voice) or written (chat) after the proposal was made.
MODEL_DRIVEN_SOURCES = frozenset({"voice", "browser", "chat"})


def args_digest(tool: str, args: dict[str, Any]) -> str:
    canonical = json.dumps({"tool": tool, "args": args}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _record_for(pending: PendingAgentAction, source: str) -> ActionRecord:
    return ActionRecord(
        pending.id, pending.user_id, pending.team_id, pending.tool, source, pending.risk_level, pending.confidence
    )


def _prompt(tool: str, args: dict[str, Any], summary: str | None = None) -> str:
    """The question the coach asks; `summary` is the tool's own words for the action (a reminder's read-back)."""
    if summary is None:
        shown = ", ".join(f"{key}: {_shortened(value)}" for key, value in args.items() if value not in (None, ""))
        summary = f"{tool.replace('_', ' ')} ({shown})"
    return f"Shall I {summary}? Please say yes or no."


PROMPT_VALUE_CHARS = 300  # a question is spoken: a long email body is quoted by its start (the card shows it all)


def _shortened(value: Any) -> str:
    text = str(value)
    return text if len(text) <= PROMPT_VALUE_CHARS else text[:PROMPT_VALUE_CHARS] + "…"


async def propose(
    services: ToolServices, actor: Actor, record: ActionRecord, facts: ActionFacts, decision: Decision,
    summary: str | None = None, on_finish: OnFinish | None = None,
) -> AgentToolResult:
    now = services.clock()
    prompt = _prompt(record.tool, facts.args, summary)
    who = "a team admin's approval" if decision.requires_admin else "your confirmation"
    result = AgentToolResult(
        success=True,
        needs_confirmation=True,
        pending_action_id=record.action_id,
        confidence_score=record.confidence,
        data={"reason": decision.code, "requires_admin": decision.requires_admin, "expires_at": (now + LIFETIME).isoformat()},
        message=f"{decision.message} {prompt}" + (f" This needs {who}." if decision.requires_admin else ""),
    )
    async with services.sessions() as session:
        session.add(
            PendingAgentAction(
                id=record.action_id,
                user_id=record.user_id,
                team_id=record.team_id,
                tool=record.tool,
                args=facts.args,
                args_digest=args_digest(record.tool, facts.args),
                risk_level=record.risk_level,
                reason=decision.code or "CONFIRMATION_REQUIRED",
                confidence=record.confidence,
                requires_admin=decision.requires_admin,
                source=actor.source,
                call_session_id=actor.call_session_id,
                prompt=prompt,
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
        session.add_all(PendingApproval(action_id=record.action_id, team_id=team) for team in decision.approving_team_ids)
        record.trace("tool_result", success=True, pending=True)
        await commit_writes(session, [outcome_write(record.rows("proposed", facts.args), result, on_finish)])
    await services.events.publish(
        record.user_id, {"type": "pending_created", "action_id": record.action_id, "tool": record.tool}
    )
    return result


async def _visible_pending(
    session: AsyncSession, actor: Actor, action_id: str
) -> tuple[PendingAgentAction, list[str]] | None:
    """The pending action, if `actor` may see it, with the teams whose approval it needs where `actor` is an
    admin. The owner sees their pending actions; an admin of a team whose approval one needs sees it too."""
    pending = await session.get(PendingAgentAction, action_id) if action_id else None
    if pending is None:
        return None
    approving = await _approving_teams_of(session, actor, pending) if pending.requires_admin else []
    if pending.user_id == actor.user_id or approving:
        return pending, approving
    return None


async def _approving_teams_of(session: AsyncSession, actor: Actor, pending: PendingAgentAction) -> list[str]:
    """The teams whose approval `pending` needs and where `actor` is an admin."""
    teams = await session.scalars(select(PendingApproval.team_id).where(PendingApproval.action_id == pending.id))
    return [team for team in teams if actor.is_admin_of(team)]


async def _approve_for_teams(
    services: ToolServices, actor: Actor, pending: PendingAgentAction, teams: list[str], now: datetime
) -> int:
    """Record `actor`'s approval for each of their teams that must approve; how many teams still must.

    The approval commits before the count is read, so of two admins approving at once for different teams,
    the later one to commit sees both approvals (and the compare-and-set on the action lets one run it)."""
    async with services.sessions() as session:
        await session.execute(
            update(PendingApproval)
            .where(
                PendingApproval.action_id == pending.id,
                PendingApproval.team_id.in_(teams),
                PendingApproval.approved_at.is_(None),
            )
            .values(approved_by=actor.user_id, approved_at=now)
        )
        await session.commit()
        waiting = await session.scalar(
            select(func.count()).where(PendingApproval.action_id == pending.id, PendingApproval.approved_at.is_(None))
        )
    return int(waiting or 0)


async def _transition(
    session: AsyncSession, action_id: str, from_status: str, to_status: str, **values: Any
) -> bool:
    """Compare-and-set: move `action_id` from `from_status` to `to_status`; False if someone else moved it."""
    result = await session.execute(
        update(PendingAgentAction)
        .where(PendingAgentAction.id == action_id, PendingAgentAction.status == from_status)
        .values(status=to_status, **values)
    )
    return result.rowcount == 1


def _not_pending(pending: PendingAgentAction) -> AgentToolResult:
    if pending.status == "expired":
        return AgentToolResult.fail(ErrorCode.ACTION_EXPIRED, "this proposal expired; ask again if you still want it")
    return AgentToolResult.fail(ErrorCode.INVALID_ARGUMENT, f"this action is already {pending.status}")


async def _expire(services: ToolServices, pending: PendingAgentAction, now: datetime) -> AgentToolResult:
    async with services.sessions() as session:
        if await _transition(session, pending.id, "pending_confirmation", "expired", resolved_at=now):
            await _record_for(pending, "system").rows("expired", pending.args).insert(session)
        await session.commit()
    await services.events.publish(pending.user_id, {"type": "pending_resolved", "action_id": pending.id, "status": "expired"})
    return AgentToolResult.fail(ErrorCode.ACTION_EXPIRED, "this proposal expired after 5 minutes; ask again if you still want it")


def _decision_ms(pending: PendingAgentAction, now: datetime) -> int:
    return int((now - pending.created_at).total_seconds() * 1000)


async def confirm(
    services: ToolServices, actor: Actor, action_id: str, edited_args: dict[str, Any] | None = None
) -> AgentToolResult:
    with action_context(action_id):
        now = services.clock()
        async with services.sessions() as session:
            visible = await _visible_pending(session, actor, action_id)
        if visible is None:
            return AgentToolResult.fail(ErrorCode.NOT_FOUND, "no such pending action")
        pending, approving = visible
        record = _record_for(pending, actor.source)
        if pending.status != "pending_confirmation":
            return _not_pending(pending)
        if pending.expires_at <= now:
            return await _expire(services, pending, now)
        refusal = _approver_refusal(actor, pending, approving, edited=edited_args is not None)
        if refusal is not None:
            return await record_denial(services, record, pending.args, ErrorCode.PERMISSION_DENIED, refusal)
        if pending.requires_admin and (waiting := await _approve_for_teams(services, actor, pending, approving, now)):
            record.trace("decision_point", outcome="approved_for_team", teams_waiting=waiting)
            return AgentToolResult(
                success=True, needs_confirmation=True, pending_action_id=pending.id,
                data={"status": "pending_confirmation", "teams_waiting": waiting},
                message=f"approved for your team; the admins of {waiting} more team(s) must approve it too",
            )
        try:
            args, digest, subject, facts = await _checked_arguments(services, pending, edited_args, now, actor.source)
        except ToolFailure as failure:
            return await record_denial(services, record, edited_args or pending.args, failure.code, failure.message)
        recheck = decide(facts, subject.settings, at_execution=True)
        record.trace("decision_point", outcome=recheck.outcome.value, code=recheck.code, at="confirmation")
        if recheck.outcome is Outcome.DENY:
            return await record_denial(services, record, facts.args, recheck.code, recheck.message, recheck.details)
        async with services.sessions() as session:
            won = await _transition(
                session, pending.id, "pending_confirmation", "confirmed",
                resolved_at=now, resolved_by=actor.user_id, args=facts.args, args_digest=digest,
            )
            if not won:
                await session.rollback()
                return AgentToolResult.fail(ErrorCode.INVALID_ARGUMENT, "this action was already resolved")
            await record.rows("confirmed", facts.args).insert(session)
            _feedback(session, pending, actor, now, facts.args)
            await _transition(session, pending.id, "confirmed", "executing")
            await session.commit()
        await services.events.publish(pending.user_id, {"type": "pending_resolved", "action_id": pending.id, "status": "confirmed"})

        async def finish(transaction: Transaction, result: AgentToolResult) -> None:
            status, data = ("executed", result.data) if result.success else ("failed", result.to_json())
            await _transition(transaction.session, pending.id, "executing", status, result=data)

        return await execute(services, record, subject, args, facts.args, on_finish=finish, approved_by=pending.id)


def _approver_refusal(actor: Actor, pending: PendingAgentAction, approving: list[str], *, edited: bool) -> str | None:
    """Why `actor` may not approve `pending`; `approving`: the teams whose approval it needs, of `actor`'s."""
    if edited and actor.user_id != pending.user_id:
        # An admin approves what the member asked for; rewriting it would send the admin's words in the member's name.
        return "only the person this action is for may edit it; approve or reject it as proposed"
    if pending.requires_admin and not approving:
        return "this action needs the approval of an admin of each team that requires it"
    if actor.source in MODEL_DRIVEN_SOURCES:
        answered = actor.answered_since_proposal is not None and actor.answered_since_proposal(pending.id)
        if not answered:
            return "confirmation refused: the user has not answered since the proposal"
    return None


async def _checked_arguments(
    services: ToolServices, pending: PendingAgentAction, edited_args: dict[str, Any] | None, now: datetime,
    source: str,
) -> tuple[Any, str, Subject, ActionFacts]:
    """The arguments to run (edited ones validated for the same tool, all prepared again as of `now`, so a
    reminder whose time passed meanwhile is refused) and fresh facts for the policy check."""
    raw = pending.args if edited_args is None else edited_args
    if edited_args is not None and ("tool" in edited_args):
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, "an edit may change the arguments, never the tool")
    parsed, _ = parse_args(pending.tool, raw)
    reads = Reads(services.sessions)
    try:
        subject = await load_subject(reads, pending.user_id)
        args = prepare(pending.tool, parsed, subject, now, source).args
        facts = await gather_facts(reads, subject, pending.tool, args, pending.confidence, now)
    finally:
        await reads.close()
    if edited_args is not None and facts.args != pending.args:
        proposal = decide(facts, subject.settings)
        if proposal.outcome is Outcome.DENY:
            raise ToolFailure(ErrorCode(proposal.code), proposal.message)
    return args, args_digest(pending.tool, facts.args), subject, facts


def _feedback(
    session: AsyncSession, pending: PendingAgentAction, actor: Actor, now: datetime, final_args: dict[str, Any]
) -> None:
    edited = final_args != pending.args
    session.add(
        AgentActionFeedback(
            user_id=actor.user_id,
            action_id=pending.id,
            feedback_type="edited" if edited else "approved",
            original_payload=pending.args,
            edited_payload=final_args if edited else None,
            time_to_decision_ms=_decision_ms(pending, now),
        )
    )


def rejection_problem(reason_code: str | None, reason: str) -> str | None:
    """What is wrong with a rejection's reason, or None: a code must be one of `REJECTION_REASONS`, and
    "other" needs the person's words."""
    if reason_code is not None and reason_code not in REJECTION_REASONS:
        return f"reason_code must be one of {', '.join(REJECTION_REASONS)}"
    if reason_code == "other" and not reason.strip():
        return "say what was wrong: the reason is required with other"
    return None


async def cancel(
    services: ToolServices, actor: Actor, action_id: str, reason: str = "", reason_code: str | None = None
) -> AgentToolResult:
    """Reject the pending action; `reason_code` and the `reason` text are kept as the rejection's feedback."""
    if problem := rejection_problem(reason_code, reason):
        return AgentToolResult.fail(ErrorCode.INVALID_ARGUMENT, problem)
    with action_context(action_id):
        now = services.clock()
        async with services.sessions() as session:
            visible = await _visible_pending(session, actor, action_id)
            if visible is None:
                return AgentToolResult.fail(ErrorCode.NOT_FOUND, "no such pending action")
            pending, _ = visible
            if pending.status != "pending_confirmation":
                return _not_pending(pending)
            if not await _transition(
                session, pending.id, "pending_confirmation", "cancelled", resolved_at=now, resolved_by=actor.user_id
            ):
                return AgentToolResult.fail(ErrorCode.INVALID_ARGUMENT, "this action was already resolved")
            record = _record_for(pending, actor.source)
            record.trace("decision_point", outcome="cancelled", reason=reason, reason_code=reason_code)
            await record.rows("cancelled", pending.args, error_message=reason or None).insert(session)
            session.add(
                AgentActionFeedback(
                    user_id=actor.user_id, action_id=pending.id, feedback_type="rejected",
                    original_payload=pending.args, comment=reason or None, reason_code=reason_code,
                    time_to_decision_ms=_decision_ms(pending, now),
                )
            )
            await session.commit()
        await services.events.publish(pending.user_id, {"type": "pending_resolved", "action_id": pending.id, "status": "cancelled"})
        return AgentToolResult.ok({"action_id": pending.id, "status": "cancelled"}, message="cancelled")


async def visible_pending(services: ToolServices, actor: Actor, action_id: str) -> PendingAgentAction | None:
    """The action, while it waits for a decision `actor` may take (theirs, or their team must approve it)."""
    async with services.sessions() as session:
        visible = await _visible_pending(session, actor, action_id)
    if visible is None or visible[0].status != "pending_confirmation" or visible[0].expires_at <= services.clock():
        return None
    return visible[0]


async def expire_stale(services: ToolServices, user_id: str | None = None) -> int:
    """Mark every pending action past its expiry as expired (with a history row); returns how many."""
    now = services.clock()
    async with services.sessions() as session:
        query = select(PendingAgentAction).where(
            PendingAgentAction.status == "pending_confirmation", PendingAgentAction.expires_at <= now
        )
        if user_id is not None:
            query = query.where(PendingAgentAction.user_id == user_id)
        stale = (await session.execute(query)).scalars().all()
    for pending in stale:
        await _expire(services, pending, now)
    return len(stale)


async def list_pending(services: ToolServices, actor: Actor) -> list[PendingAgentAction]:
    """The actor's own pending actions, plus those awaiting their team's approval (they are its admin)."""
    await expire_stale(services, actor.user_id)
    admin_teams = [team for team in actor.team_ids if actor.is_admin_of(team)]
    async with services.sessions() as session:
        # Others' stale actions (a member's, seen by an admin) are not expired here, so filter them out.
        query = select(PendingAgentAction).where(
            PendingAgentAction.status == "pending_confirmation", PendingAgentAction.expires_at > services.clock()
        )
        own = PendingAgentAction.user_id == actor.user_id
        if admin_teams:
            awaiting_them = select(PendingApproval.action_id).where(
                PendingApproval.team_id.in_(admin_teams), PendingApproval.approved_at.is_(None)
            )
            query = query.where(or_(own, PendingAgentAction.id.in_(awaiting_them)))
        else:
            query = query.where(own)
        return list((await session.execute(query.order_by(PendingAgentAction.created_at))).scalars())
