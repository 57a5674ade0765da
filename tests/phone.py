"""A phone call into the running coach server, as Twilio places it: the signed voice webhook, then the
media stream its TwiML names (played by `TwilioMediaCaller`), then the model connection it opens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from fakes.gemini_live import LiveConnection
from fakes.twilio_caller import TwilioMediaCaller
from twilio_requests import signature, signed_form
from worlds import AUTH_TOKEN, VoiceWorld


@dataclass(frozen=True)
class StreamInstructions:
    """`<Connect><Stream url=...>` and its `<Parameter>`s, from the webhook's TwiML."""

    url: str
    parameters: dict[str, str]


async def inbound_call_twiml(world: VoiceWorld, caller_phone: str, call_sid: str) -> str:
    """POST /twilio/voice as Twilio does for a ringing call; the TwiML it answers."""
    path = "/twilio/voice"
    params = {"CallSid": call_sid, "AccountSid": world.settings.TWILIO_ACCOUNT_SID or "", "From": caller_phone,
              "To": world.settings.TWILIO_PHONE_NUMBER or "", "Direction": "inbound", "CallStatus": "ringing"}
    body, headers = signed_form(AUTH_TOKEN, world.settings.PUBLIC_URL + path, params)
    response = await world.http.post(path, content=body, headers=headers)
    response.raise_for_status()
    return response.text


def stream_of(twiml: str) -> StreamInstructions:
    stream = ElementTree.fromstring(twiml).find("./Connect/Stream")
    if stream is None:
        raise AssertionError(f"no <Connect><Stream> in {twiml}")
    parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return StreamInstructions(stream.attrib["url"], parameters)


def media_caller(world: VoiceWorld, stream: StreamInstructions, call_sid: str, **options: Any) -> TwilioMediaCaller:
    """Twilio dialling the stream: the TwiML's path on the local server, the handshake signed over the TwiML URL."""
    path = "/" + stream.url.split("://", 1)[1].split("/", 1)[1]
    return TwilioMediaCaller(
        world.ws_base + path, stream.parameters, call_sid=call_sid,
        headers={"X-Twilio-Signature": signature(AUTH_TOKEN, stream.url)}, **options,
    )


@asynccontextmanager
async def phone_call(
    world: VoiceWorld, caller_phone: str, **caller_options: Any
) -> AsyncIterator[tuple[TwilioMediaCaller, LiveConnection]]:
    """An answered inbound call: the caller streaming and the model connection it opened.

    On leaving, the caller hangs up; the server must not have sent anything Twilio would reject.
    """
    call_sid = "CA" + uuid.uuid4().hex
    stream = stream_of(await inbound_call_twiml(world, caller_phone, call_sid))
    index = len(world.gemini.live.connections)
    async with media_caller(world, stream, call_sid, **caller_options) as caller:
        model = await world.gemini.live.wait_for_connection(index, timeout=10)
        yield caller, model
    assert caller.violations == [], caller.violations


async def heard_everything(caller: TwilioMediaCaller, model: LiveConnection, timeout: float = 5.0) -> None:
    """Wait until the model has been sent (as 16 kHz PCM) every frame the caller has sent so far."""
    frames = len(caller.sent_audio()) // 160
    await model.wait_for_audio_bytes(frames * 640, timeout)
