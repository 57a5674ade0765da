"""`dispatch()`: the single path every tool call takes — voice, browser, text chat, REST API, scheduler.

    validate -> prepare (pin down e.g. a reminder's time) -> look up facts -> policy.decide
             -> deny | propose (pending) | execute
    execute  -> reserve quota -> executor -> commit or release quota -> history

Every step is recorded in `agent_action_history` and `agent_execution_traces`.
"""

from __future__ import annotations

import time
from typing import Any

from db.models import User, new_id
from policy.decision import Outcome, decide
from policy.risk import TOOL_POLICIES, Risk
from tools import pending
from tools.audit import ActionRecord
from tools.catalogue import PENDING_TOOLS, TOOL_ARGS
from tools.execution import Actor, execute, gather_facts, load_subject, parse_args, prepare, record_denial
from tools.log_context import action_context
from tools.metrics import ACTIONS, DISPATCH_SECONDS
from tools.results import AgentToolResult, ErrorCode, ToolFailure
from tools.services import ToolServices

__all__ = ["Actor", "dispatch"]

# Actions these sources run were set up beforehand (a reminder the user asked for, an operator's command):
# every denial still applies — quiet hours, consent, limits, content — but nobody is there to say yes.
# Critical actions (acting towards third parties) are never preauthorized: they always wait for a human.
PREAUTHORIZED_SOURCES = frozenset({"scheduler", "operator"})


async def dispatch(
    services: ToolServices, actor: Actor, tool: str, raw_args: dict[str, Any], confidence: float | None = None
) -> AgentToolResult:
    """Run one tool call for `actor` through policy; never raises for a refused or failed action."""
    started = time.perf_counter()
    if tool in PENDING_TOOLS:
        action_id = str((raw_args or {}).get("action_id", ""))
        if tool == "confirm_pending_action":
            result = await pending.confirm(services, actor, action_id)
        else:
            result = await pending.cancel(services, actor, action_id, reason="declined in conversation")
    else:
        result = await _dispatch_action(services, actor, tool, raw_args, confidence)
    ACTIONS.labels(tool if tool in TOOL_ARGS else "unknown", _outcome(result)).inc()
    DISPATCH_SECONDS.labels(tool if tool in TOOL_ARGS else "unknown").observe(time.perf_counter() - started)
    return result


def _outcome(result: AgentToolResult) -> str:
    if result.needs_confirmation:
        return "confirm"
    return "executed" if result.success else (result.error.code if result.error else "failed")


async def _dispatch_action(
    services: ToolServices, actor: Actor, tool: str, raw_args: dict[str, Any], confidence: float | None
) -> AgentToolResult:
    if tool not in TOOL_POLICIES or tool not in TOOL_ARGS:
        return AgentToolResult.fail(ErrorCode.NOT_FOUND, f"unknown tool {tool!r}")
    async with services.sessions() as session:
        if await session.get(User, actor.user_id) is None:
            return AgentToolResult.fail(ErrorCode.NOT_FOUND, "no such user")
    policy = TOOL_POLICIES[tool]
    record = ActionRecord(new_id(), actor.user_id, actor.primary_team_id, tool, actor.source, policy.risk.value, None)
    with action_context(record.action_id):
        record.trace("tool_call", args=raw_args, source=actor.source)
        try:
            args, parsed_confidence = parse_args(tool, raw_args)
        except ToolFailure as failure:
            return await record_denial(services, record, dict(raw_args or {}), failure.code, failure.message)
        record.confidence = confidence if confidence is not None else parsed_confidence
        now = services.clock()
        try:
            async with services.sessions() as session:
                subject = await load_subject(session, actor.user_id)
                prepared = prepare(tool, args, subject, now, actor.source)
                facts = await gather_facts(session, subject, tool, prepared.args, record.confidence, now)
        except ToolFailure as failure:
            return await record_denial(services, record, dict(raw_args or {}), failure.code, failure.message)
        preauthorized = actor.source in PREAUTHORIZED_SOURCES and policy.risk is not Risk.CRITICAL
        decision = decide(facts, subject.settings, at_execution=preauthorized)
        record.trace("decision_point", outcome=decision.outcome.value, code=decision.code)
        if decision.outcome is Outcome.DENY:
            return await record_denial(services, record, facts.args, decision.code, decision.message, decision.details)
        if decision.outcome is Outcome.CONFIRM:
            return await pending.propose(services, actor, record, facts, decision, prepared.summary)
        return await execute(services, record, subject, prepared.args, facts.args)
