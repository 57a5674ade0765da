"""`dispatch()`: the single path every tool call takes — voice, browser, text chat, REST API, scheduler.

    validate -> prepare (pin down e.g. a reminder's time) -> look up facts -> policy.decide
             -> deny | propose (pending) | execute
    execute  -> reserve quota -> executor -> commit or release quota -> history

Every step is recorded in `agent_action_history` and `agent_execution_traces`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db import accounts
from db.models import PendingAgentAction, new_id
from policy.decision import ActionFacts, Outcome, decide
from policy.risk import TOOL_POLICIES
from tools import pending
from tools.audit import ActionRecord
from tools.catalogue import PENDING_TOOLS, TOOL_ARGS
from tools.execution import (
    SCHEDULER, Actor, OnFinish, Subject, checked_confidence, execute, gather_facts, parse_args, prepare, record_denial,
    subject_of,
)
from tools.executors import Prepared
from tools.log_context import action_context
from tools.metrics import ACTIONS, DISPATCH_SECONDS
from tools.payloads import recordable
from tools.reads import Reads
from tools.results import AgentToolResult, ErrorCode, ToolFailure
from tools.services import ToolServices

__all__ = ["Actor", "OnFinish", "dispatch"]

# An operator's command (`coach call`) is a person's explicit yes, recorded as such (source "operator").
OPERATOR = "operator"


async def dispatch(
    services: ToolServices,
    actor: Actor,
    tool: str,
    raw_args: dict[str, Any],
    confidence: float | None = None,
    action_id: str | None = None,
    on_finish: OnFinish | None = None,
    attempted_since: datetime | None = None,
    reads: Reads | None = None,
    approved_by: str | None = None,
) -> AgentToolResult:
    """Run one tool call for `actor` through policy; never raises for a refused or failed action.

    `action_id` is an idempotency key (32 characters at most): when history already holds that action as
    executed, or it is waiting as a pending action, the recorded outcome is returned and nothing runs
    again. The scheduler derives it from the job, so a job retried after a crash never sends twice.
    `attempted_since`: an earlier attempt of this action may have reached a provider without its outcome
    being recorded (a scheduled job run again after a crash or a lost lease), at that time or later.
    Channels with no idempotency key of their own (Twilio) then look for what it sent before sending.
    `reads`: where dispatch reads (`tools.reads`): a session of the caller's, still open (one transaction
    for the caller's reads and dispatch's instead of two), or reads loaded ahead for a batch of actions;
    dispatch closes its session before it writes or sends. Without it, dispatch opens a session of its own.
    `approved_by`: what stands for the human yes of a scheduled delivery — the id of the action whose
    recorded confirmation (or operator's command) set it up, or `settings:<field>` for outreach the person
    switched on themself. Nobody is asked again; every denial still applies (quiet hours, consent, limits,
    content), and critical actions always wait for a human. Without it, a scheduled delivery is confirmed
    like any other action, except that nobody's confidence is in question.
    `on_finish(session, result)` runs in the transaction that writes the action's outcome to history
    (denied, proposed, executed or failed); it does not run when nothing is written (an unknown tool or
    user, an outcome already recorded, confirming or cancelling a pending action).
    """
    started = time.perf_counter()
    if tool in PENDING_TOOLS:
        action_id = str((raw_args or {}).get("action_id", ""))
        if tool == "confirm_pending_action":
            result = await pending.confirm(services, actor, action_id)
        else:
            result = await pending.cancel(services, actor, action_id, reason="declined in conversation")
    else:
        request = _Request(actor, tool, raw_args, confidence, action_id, attempted_since, approved_by)
        result = await _dispatch_action(services, request, on_finish, reads or Reads(services.sessions))
    ACTIONS.labels(tool if tool in TOOL_ARGS else "unknown", _outcome(result)).inc()
    DISPATCH_SECONDS.labels(tool if tool in TOOL_ARGS else "unknown").observe(time.perf_counter() - started)
    return result


def _outcome(result: AgentToolResult) -> str:
    if result.needs_confirmation:
        return "confirm"
    return "executed" if result.success else (result.error.code if result.error else "failed")


async def _recorded_outcome(reads: Reads, actor: Actor, tool: str, action_id: str) -> AgentToolResult | None:
    """What already happened to `action_id`: executed (its recorded result), or proposed (its pending state).
    None when it never ran or only failed or was denied, so running it now is a retry. One query on the
    common path (nothing recorded); the pending row is read only for a proposed action."""
    rows = await reads.recorded(action_id)
    if not rows:
        return None
    if any((row.user_id, row.tool) != (actor.user_id, tool) for row in rows):
        return AgentToolResult.fail(ErrorCode.INVALID_ARGUMENT, "this action id belongs to another action")
    executed = next((row for row in rows if row.status == "executed"), None)
    if executed is not None:
        return AgentToolResult.ok(executed.result, message=f"{tool} already done")
    proposal = await reads.session().get(PendingAgentAction, action_id)
    status = proposal.status if proposal is not None else "proposed"
    return AgentToolResult(
        success=True,
        needs_confirmation=status == "pending_confirmation",
        pending_action_id=action_id,
        data={"status": status},
        message=f"{tool} was already proposed; it is {status}",
    )


@dataclass(frozen=True)
class _Request:
    """One tool call as dispatch was given it."""

    actor: Actor
    tool: str
    raw_args: dict[str, Any]
    confidence: float | None
    action_id: str | None
    attempted_since: datetime | None
    approved_by: str | None


async def _dispatch_action(
    services: ToolServices, request: _Request, on_finish: OnFinish | None, reads: Reads
) -> AgentToolResult:
    """Everything dispatch reads before deciding (the user, a recorded outcome, settings, facts) comes
    from `reads`, whose session is closed before anything is written."""
    actor, tool = request.actor, request.tool
    try:
        if tool not in TOOL_POLICIES or tool not in TOOL_ARGS:
            return AgentToolResult.fail(ErrorCode.NOT_FOUND, f"unknown tool {tool!r}")
        if (user := await reads.user_and_teams(actor.user_id)) is None:
            return AgentToolResult.fail(ErrorCode.NOT_FOUND, "no such user")
        if request.action_id is not None and (
            recorded := await _recorded_outcome(reads, actor, tool, request.action_id)
        ) is not None:
            return recorded
        record = ActionRecord(
            request.action_id or new_id(), actor.user_id, actor.primary_team_id, tool, actor.source,
            TOOL_POLICIES[tool].risk.value, None, request.attempted_since, tuple(user.team_ids), actor.conversation_id,
        )
        with action_context(record.action_id):
            record.trace("tool_call", args=recordable(request.raw_args or {}), source=actor.source)
            try:
                found: _Found | ToolFailure = await _look_up(
                    reads, services, actor, user, record, request.raw_args, request.confidence
                )
            except ToolFailure as failure:
                found = failure
    finally:
        await reads.close()
    with action_context(record.action_id):
        if isinstance(found, ToolFailure):
            return await record_denial(
                services, record, dict(request.raw_args or {}), found.code, found.message, found.details, on_finish
            )
        return await _decide_and_act(services, actor, record, found, request.approved_by, on_finish)


@dataclass(frozen=True)
class _Found:
    """What policy decides on: the subject, the prepared arguments and the facts."""

    subject: Subject
    prepared: Prepared
    facts: ActionFacts


async def _look_up(
    reads: Reads,
    services: ToolServices,
    actor: Actor,
    user: accounts.UserAndTeams,
    record: ActionRecord,
    raw_args: dict[str, Any],
    confidence: float | None,
) -> _Found:
    """Parse, load the subject, prepare and gather facts; ToolFailure when the arguments cannot work."""
    args, parsed_confidence = parse_args(record.tool, raw_args)
    record.confidence = checked_confidence(confidence) if confidence is not None else parsed_confidence
    now = services.clock()
    subject = await subject_of(reads, user)
    prepared = prepare(record.tool, args, subject, now, actor.source)
    facts = await gather_facts(
        reads, subject, record.tool, prepared.args, record.confidence, now, interpreted=actor.source != SCHEDULER
    )
    return _Found(subject, prepared, facts)


async def _decide_and_act(
    services: ToolServices, actor: Actor, record: ActionRecord, found: _Found, approved_by: str | None,
    on_finish: OnFinish | None,
) -> AgentToolResult:
    if actor.source == OPERATOR:
        approved_by = record.action_id
    decision = decide(found.facts, found.subject.settings, approved_by=approved_by)
    record.trace("decision_point", outcome=decision.outcome.value, code=decision.code, approved_by=approved_by)
    if decision.outcome is Outcome.DENY:
        return await record_denial(
            services, record, found.facts.args, decision.code, decision.message, decision.details, on_finish
        )
    if decision.outcome is Outcome.CONFIRM:
        return await pending.propose(services, actor, record, found.facts, decision, found.prepared.summary, on_finish)
    return await execute(services, record, found.subject, found.prepared.args, found.facts.args, on_finish, approved_by)
