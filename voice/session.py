"""CallSession: one conversation between a caller and the coach, whatever the transport.

It ties together the transport (phone or browser: the wire), the model bridge (Gemini Live), barge-in
detection and the action core. Tool calls go through `tools.dispatch()` like every other caller's; the
session's part is to prove a human answered before a model-made confirmation is accepted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from google.genai import types
from prometheus_client import Counter, Gauge

from db import calls
from db.models import utcnow
from policy.consent import is_spoken_opt_out
from tools import escalation, pending, telemetry, usage
from tools.catalogue import function_declarations
from tools.dispatch import dispatch
from tools.execution import Actor
from tools.log_context import call_id_var
from tools.prompts import system_instruction
from tools.services import ToolServices
from tools.tool_listing import available_tools
from voice.gemini import (
    Interrupted,
    LiveBridge,
    ModelAudio,
    ModelEvent,
    ModelGone,
    ModelUnreachable,
    ModelUsage,
    ToolCall,
    ToolCallsCancelled,
    Transcript,
    TurnComplete,
)
from voice.transports.base import CallEnded, CallTransport, KeyPress
from voice.vad import BargeInConfig, BargeInDetector

log = logging.getLogger("coach.call")
BARGE_INS = Counter("coach_barge_ins_total", "Caller barge-ins that cleared coach audio")
ACTIVE_CALLS = Gauge("coach_active_calls", "Calls in progress")
DUPLICATE_TOOL_CALLS = Counter("coach_duplicate_tool_calls_total", "Tool calls delivered twice by the model")

END_CALL = types.FunctionDeclaration(
    name="end_call",
    description="Hang up, after you have said goodbye, when the conversation is clearly over.",
    parameters_json_schema={"type": "object", "properties": {}},
)
SAFE_MESSAGING = (
    "(Safety note from the platform: the caller may be in crisis. Respond with care: acknowledge their feelings, "
    "ask if they are safe right now, and encourage them to contact emergency services or, in the US, call or "
    "text 988 (Suicide & Crisis Lifeline). Do not give advice about means. Stay with them.)"
)
APOLOGY = "Sorry, your coach can't talk right now because of a technical problem. Please try again in a few minutes."
HANG_UP_AFTER_PLAYBACK_S = 15.0

ModelConnector = Callable[[str, list[types.FunctionDeclaration]], LiveBridge]
Apologize = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class CallInfo:
    user_id: str
    call_session_id: str
    direction: str  # inbound | outbound | browser
    purpose: str = "conversation"
    message: str = ""
    user_name: str = ""
    team_roles: dict[str, str] = field(default_factory=dict)


def opening_prompt(info: CallInfo) -> str:
    if info.direction == "outbound":
        about = f" ({info.message})" if info.message else ""
        return (
            f"(You are placing a coaching call to {info.user_name or 'the user'}; purpose: "
            f"{info.purpose.replace('_', ' ')}{about}. Begin by saying you are their AI coach from Vision Coach, "
            "calling on their behalf, then get to the point.)"
        )
    if info.direction == "browser":
        return "(The user opened voice chat in their browser. Greet them briefly.)"
    return f"(The user {info.user_name} has just phoned you. Greet them by name, briefly.)"


class CallSession:
    def __init__(
        self,
        services: ToolServices,
        transport: CallTransport,
        connect_model: ModelConnector,
        info: CallInfo,
        *,
        barge_in: BargeInConfig | None = None,
        apologize: Apologize | None = None,
    ) -> None:
        self.services = services
        self.transport = transport
        self.connect_model = connect_model
        self.info = info
        self.apologize = apologize
        self.detector = BargeInDetector(barge_in)
        transport.on_played = self.detector.push_outbound
        source = "browser" if info.direction == "browser" else "voice"
        self.actor = Actor(
            info.user_id, source, dict(info.team_roles), info.call_session_id, answered_since_proposal=self._answered,
            conversation_id=info.call_session_id,
        )
        self.bridge: LiveBridge | None = None
        self.end_reason = "call ended"
        self.failed = False
        self.barge_ins = 0
        self._proposals: dict[str, int] = {}  # pending action id -> caller speech onsets when it was proposed
        self._seen_tool_ids: set[str] = set()
        self._cancelled_tool_ids: set[str] = set()
        self._tool_tasks: set[asyncio.Task[None]] = set()
        self._turn_writes: set[asyncio.Task[None]] = set()
        self._muted_turn = False  # the rest of an interrupted model turn is dropped
        self._turn_open = False
        self._transcript_role: str | None = None
        self._transcript_parts: list[str] = []
        self._transcript_seq = 0
        self._crisis_checked = False
        self._opted_out = False
        self._crisis: tuple[list[str], str | None, str | None] = ([], None, None)
        self._stopping = asyncio.Event()

    # --- the call ------------------------------------------------------------------------------

    async def run(self) -> str:
        """Hold the conversation until either side ends it; returns why it ended."""
        token = call_id_var.set(self.info.call_session_id)
        ACTIVE_CALLS.inc()
        try:
            await self._converse()
        finally:
            ACTIVE_CALLS.dec()
            await self._finish()
            call_id_var.reset(token)
        return self.end_reason

    async def _converse(self) -> None:
        self._write_off_the_audio_path(usage.start_conversation(self.services, usage.ConversationStart(
            self.info.call_session_id, self.info.user_id, "browser" if self.info.direction == "browser" else "call",
            tuple(self.info.team_roles), utcnow(),
        )), "conversation-start")
        self._crisis = await escalation.crisis_contact(self.services, self.info.user_id)
        declarations = function_declarations(await available_tools(self.services, self.actor)) + [END_CALL]
        instruction = await system_instruction(self.services, self.info.user_id, "voice")
        self.bridge = self.connect_model(instruction, declarations)
        try:
            await self.bridge.start()
        except ModelUnreachable as exc:
            await self._fail(f"model unreachable: {exc}")
            return
        await self.bridge.send_text(opening_prompt(self.info))
        tasks = {
            asyncio.create_task(self._caller_loop(), name="caller"),
            asyncio.create_task(self._model_loop(), name="model"),
            asyncio.create_task(self._stopping.wait(), name="stop"),
        }
        _, still_running = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in still_running:
            task.cancel()
        await asyncio.gather(*still_running, return_exceptions=True)

    async def _finish(self) -> None:
        for task in list(self._tool_tasks):  # an in-flight action finishes (and is recorded) before we leave
            await asyncio.gather(task, return_exceptions=True)
        if self.bridge is not None:
            await self.bridge.close()
            if (cut_short := self.bridge.take_turn_usage()) is not None:
                self._record_usage(cut_short)
        await self.transport.close()
        await self._flush_transcript()
        await asyncio.gather(*self._turn_writes, return_exceptions=True)
        async with self.services.sessions() as session:
            await calls.finish_call(
                session, self.info.call_session_id, "failed" if self.failed else "completed", self.end_reason
            )
            await usage.end_conversation(session, self.info.call_session_id, self.end_reason if self.failed else None)
            await session.commit()
        log.info("call ended", extra={"reason": self.end_reason, "barge_ins": self.barge_ins})

    async def _fail(self, reason: str) -> None:
        """The model is gone: apologise to the caller, hang up cleanly, and say why in the call record."""
        self.failed = True
        self.end_reason = reason
        log.error("call failed", extra={"reason": reason})
        await self.transport.send_event({"type": "error", "message": APOLOGY})
        if self.apologize is not None:
            try:
                await self.apologize(APOLOGY)
            except Exception as exc:  # the record still says why; the socket close ends the call anyway
                log.error("could not play the apology", extra={"error": type(exc).__name__})
        self._stopping.set()

    # --- caller side ---------------------------------------------------------------------------

    async def _caller_loop(self) -> None:
        assert self.bridge is not None
        while True:
            event = await self.transport.next_event()
            if isinstance(event, CallEnded):
                self.end_reason = event.reason
                return
            if isinstance(event, KeyPress):
                await self._key_press(event.digit)
                continue
            if self.detector.push_inbound(event.pcm8k) and self.transport.playing:
                await self._barge_in()
            await self.bridge.send_audio(event.pcm16k)

    async def _barge_in(self) -> None:
        """The caller talks over the coach: stop playback now and drop the rest of that model turn."""
        self.barge_ins += 1
        BARGE_INS.inc()
        await self.transport.clear()
        if self._turn_open:
            self._muted_turn = True
        await self.transport.send_event({"type": "barge_in"})

    def _answered(self, action_id: str) -> bool:
        """Has the caller started speaking since `action_id` was proposed? (Proposals from before this call:
        has the caller spoken at all.)"""
        onsets_then = self._proposals.get(action_id, 0)
        return self.detector.speech_onsets > onsets_then

    async def _key_press(self, digit: str) -> None:
        """Keypad: 1 confirms and 2 cancels the latest pending action (the latest proposed on this call, if any);
        the coach is told the outcome."""
        if digit not in {"1", "2"}:
            return
        assert self.bridge is not None
        waiting = await pending.list_pending(self.services, self.actor)
        ours = [p for p in waiting if p.user_id == self.info.user_id]
        if not ours:
            await self.bridge.send_text(f"(The caller pressed {digit}, but nothing is waiting for confirmation.)")
            return
        proposed_here = list(self._proposals)  # this call's proposals in order: no clock ties (tests pin clocks)
        latest = max(ours, key=lambda p: (proposed_here.index(p.id) if p.id in proposed_here else -1, p.created_at))
        keypad = replace(self.actor, answered_since_proposal=lambda _action_id: True)  # a keypress is a human act
        if digit == "1":
            result = await pending.confirm(self.services, keypad, latest.id)
        else:
            result = await pending.cancel(self.services, keypad, latest.id, reason="keypad 2 on the call")
        verb = "confirm" if digit == "1" else "cancel"
        await self.transport.send_event({"type": "action_result", "action_id": latest.id, "result": result.to_json()})
        await self.bridge.send_text(
            f"(The caller pressed {digit} to {verb} {latest.tool}. Result: {json.dumps(result.to_json())}. "
            "Tell them briefly.)"
        )

    # --- model side ----------------------------------------------------------------------------

    async def _model_loop(self) -> None:
        assert self.bridge is not None
        while True:
            event = await self.bridge.events.get()
            if isinstance(event, ModelGone):
                await self._fail(event.reason)
                return
            await self._on_model_event(event)

    async def _on_model_event(self, event: ModelEvent) -> None:
        if isinstance(event, ModelAudio):
            if not self._muted_turn:
                self._turn_open = True
                await self.transport.play(event.pcm24k)
        elif isinstance(event, Transcript):
            await self._on_transcript(event)
        elif isinstance(event, ToolCall):
            self._start_tool(event)
        elif isinstance(event, ToolCallsCancelled):
            self._cancelled_tool_ids.update(event.ids)
        elif isinstance(event, Interrupted):
            await self.transport.clear()
            self._muted_turn = True
        elif isinstance(event, TurnComplete):
            if not self._muted_turn:
                await self.transport.end_of_turn()
            self._muted_turn = False
            self._turn_open = False
            await self._flush_transcript()
        elif isinstance(event, ModelUsage):
            self._record_usage(event)

    def _record_usage(self, event: ModelUsage) -> None:
        """Store a turn's token usage from a task of its own (once per turn, never per frame)."""
        assert self.bridge is not None
        turn = usage.Turn(
            self.info.call_session_id, self.info.user_id, self.bridge.model, usage.TokenUsage.of(event.usage),
            event.started_ns, event.ended_ns,
        )
        self._write_off_the_audio_path(usage.record_turns(self.services, [turn]), "model-usage")

    def _write_off_the_audio_path(self, write: Coroutine[Any, Any, None], name: str) -> None:
        """Run a write as a task; `_finish` waits for it before the call's record is closed."""
        task = asyncio.create_task(write, name=name)
        self._turn_writes.add(task)
        task.add_done_callback(self._turn_writes.discard)

    # --- tools ---------------------------------------------------------------------------------

    def _start_tool(self, call: ToolCall) -> None:
        """Run each call once (the model may deliver a call twice), off the audio path."""
        if call.id in self._seen_tool_ids:
            DUPLICATE_TOOL_CALLS.inc()
            log.info("duplicate tool call ignored", extra={"tool": call.name, "tool_call_id": call.id})
            return
        self._seen_tool_ids.add(call.id)
        task = asyncio.create_task(self._run_tool(call), name=f"tool-{call.name}")
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    async def _run_tool(self, call: ToolCall) -> None:
        assert self.bridge is not None
        if call.name == "end_call":
            response: dict[str, Any] = {"success": True, "message": "hanging up after your goodbye"}
            asyncio.create_task(self._hang_up_after_playback())
        else:
            onsets = self.detector.speech_onsets
            with telemetry.tool_span(call.name, call.id, self.info.call_session_id):
                result = await dispatch(self.services, self.actor, call.name, call.args)
            if result.needs_confirmation and result.pending_action_id:
                self._proposals[result.pending_action_id] = onsets
            response = result.to_json()
            event = {"type": "tool_result", "tool": call.name, "args": call.args, "result": response}
            await self.transport.send_event(event)
        if call.id in self._cancelled_tool_ids:
            log.info("tool call was cancelled by the model; response not sent", extra={"tool": call.name})
            return
        await self.bridge.send_tool_responses([types.FunctionResponse(id=call.id, name=call.name, response=response)])

    async def _hang_up_after_playback(self) -> None:
        """Let the goodbye play out, then end the call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_UP_AFTER_PLAYBACK_S
        await asyncio.sleep(0.2)
        while (self.transport.playing or self._turn_open) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        self.end_reason = "coach ended the call"
        self._stopping.set()

    # --- transcripts, crisis, opt-out ----------------------------------------------------------

    async def _on_transcript(self, event: Transcript) -> None:
        if event.role != self._transcript_role:
            await self._flush_transcript()
            self._transcript_role = event.role
        self._transcript_parts.append(event.text)
        await self.transport.send_event({"type": "transcript", "role": event.role, "text": event.text})
        if event.role == "caller":
            await self._watch_caller_words("".join(self._transcript_parts))

    async def _flush_transcript(self) -> None:
        """Store the turn so far. The write runs as its own task: a hang-up cancels the model loop, possibly
        mid-write, and the turn must still be stored (`_finish` waits for it before closing the record)."""
        text, role = "".join(self._transcript_parts).strip(), self._transcript_role
        self._transcript_parts = []
        if not text or role is None:
            return
        self._transcript_seq += 1
        write = asyncio.create_task(self._store_turn(self._transcript_seq, role, text), name="transcript-turn")
        self._turn_writes.add(write)
        write.add_done_callback(self._turn_writes.discard)
        await asyncio.shield(write)

    async def _store_turn(self, seq: int, role: str, text: str) -> None:
        async with self.services.sessions() as session:
            calls.add_turn(session, self.info.call_session_id, seq, role, text)
            await session.commit()

    async def _watch_caller_words(self, text: str) -> None:
        keywords, address, team_id = self._crisis
        keyword = escalation.matches_crisis(text, keywords) if not self._crisis_checked else None
        if keyword is not None and self.bridge is not None:
            self._crisis_checked = True
            log.warning("crisis keyword on call", extra={"keyword": keyword})
            await self.bridge.send_text(SAFE_MESSAGING)
            await escalation.escalate(
                self.services, user_id=self.info.user_id, team_id=team_id, address=address,
                call_session_id=self.info.call_session_id, keyword=keyword,
            )
        if not self._opted_out and is_spoken_opt_out(text):
            self._opted_out = True
            await dispatch(self.services, self.actor, "record_opt_out", {"channel": "call"})
