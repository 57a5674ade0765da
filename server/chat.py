"""Text chat with Gemini function calling: the same tools, the same dispatch, a bounded tool loop."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from google import genai
from google.genai import types

from db.models import new_id, utcnow
from server.schemas.actions import ChatRequest
from tools import telemetry, usage
from tools.catalogue import function_declarations
from tools.dispatch import dispatch
from tools.execution import Actor
from tools.prompts import system_instruction
from tools.results import AgentToolResult
from tools.services import ToolServices
from tools.tool_listing import available_tools

MAX_TOOL_STEPS = 5
log = logging.getLogger("coach.chat")


async def chat(
    services: ToolServices, client: genai.Client, model: str, actor: Actor, request: ChatRequest
) -> dict[str, Any]:
    """One user message in, the coach's reply out, with the actions taken and those awaiting a yes.

    Actions proposed while answering this message cannot be confirmed in the same answer: the user must
    write again (the model cannot confirm on its own, whatever the message told it).

    Each message is a conversation of its own (the client holds the history), recorded with its model turns'
    usage once the answer is ready, or the model failed.
    """
    conversation = usage.ConversationStart(new_id(), actor.user_id, "chat", actor.team_ids, utcnow())
    turns: list[usage.Turn] = []
    try:
        return await _converse(services, client, model, actor, request, conversation.conversation_id, turns)
    except Exception as exc:
        conversation = replace(conversation, error=type(exc).__name__)
        raise
    finally:
        await usage.record_turns(services, turns, replace(conversation, ended_at=utcnow()))


async def _converse(
    services: ToolServices, client: genai.Client, model: str, actor: Actor, request: ChatRequest,
    conversation_id: str, turns: list[usage.Turn],
) -> dict[str, Any]:
    proposed_now: set[str] = set()
    chat_actor = Actor(
        actor.user_id, "chat", actor.team_roles, answered_since_proposal=lambda action_id: action_id not in proposed_now,
        conversation_id=conversation_id,
    )
    config = types.GenerateContentConfig(
        system_instruction=await system_instruction(services, actor.user_id, "chat"),
        tools=[types.Tool(function_declarations=function_declarations(await available_tools(services, actor)))],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    contents = [types.Content(role=turn.role, parts=[types.Part.from_text(text=turn.text)]) for turn in request.history]
    contents.append(types.Content(role="user", parts=[types.Part.from_text(text=request.message)]))
    actions_taken: list[dict[str, Any]] = []
    pending_actions: list[dict[str, Any]] = []
    for _ in range(MAX_TOOL_STEPS):
        started = time.time_ns()
        response = await client.aio.models.generate_content(model=model, contents=contents, config=config)
        if response.usage_metadata is not None:
            reported = usage.TokenUsage.of(response.usage_metadata)
            turns.append(usage.Turn(conversation_id, actor.user_id, model, reported, started, time.time_ns()))
        calls = response.function_calls or []
        if not calls:
            return _reply(response.text or "", actions_taken, pending_actions)
        contents.append(response.candidates[0].content)
        parts = []
        for call in calls:
            with telemetry.tool_span(call.name or "", call.id, conversation_id):
                result = await dispatch(services, chat_actor, call.name or "", dict(call.args or {}))
            _collect(call.name or "", result, actions_taken, pending_actions)
            if result.pending_action_id:
                proposed_now.add(result.pending_action_id)
            parts.append(types.Part.from_function_response(name=call.name or "", response=result.to_json()))
        contents.append(types.Content(role="user", parts=parts))
    log.warning("chat tool loop hit its step limit", extra={"steps": MAX_TOOL_STEPS})
    return _reply("I've done what I can for now; tell me how you'd like to continue.", actions_taken, pending_actions)


def _collect(tool: str, result: AgentToolResult, taken: list[dict[str, Any]], pending: list[dict[str, Any]]) -> None:
    entry = {"tool": tool, **result.to_json()}
    if result.needs_confirmation:
        pending.append(entry)
    else:
        taken.append(entry)


def _reply(text: str, taken: list[dict[str, Any]], pending: list[dict[str, Any]]) -> dict[str, Any]:
    return {"response": text, "actions_taken": taken, "pending_actions": pending}
