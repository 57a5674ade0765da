"""The browser client page (`web/`) in a real Chromium: its microphone (a fake capture device playing a
speech recording) reaches the model through `WS /ws/voice`, the coach's words and pending actions show
on the page, and its "Yes, do it" button confirms with the keypad's 1.

Chromium comes from the system (`make test` installs Debian's package); Playwright drives it.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from audio import tone
from browser_pages import chromium_path
from factories import new_user
from fakes.gemini_live import LiveConnection
from playwright.async_api import Browser, Locator, Page, async_playwright, expect
from worlds import VoiceWorld, ended_call

from voice.vad import level_dbfs

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "caller_speech_8k.wav"


@asynccontextmanager
async def _launch(microphone: Path) -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",  # played in a loop
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """Chromium whose microphone hears a quiet room (so nothing the page plays is cut by a barge-in)."""
    quiet = tmp_path / "quiet.wav"
    with wave.open(str(quiet), "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(8000)
        recording.writeframes(bytes(2 * 8000))
    async with _launch(quiet) as launched:
        yield launched


@pytest.fixture
async def talking_browser() -> AsyncIterator[Browser]:
    """Chromium whose microphone hears the caller's recorded speech, over and over."""
    async with _launch(SPEECH) as launched:
        yield launched


# Watches the page's playback through the Web Audio API (the browser's, not ours): every buffer it starts
# (when it is to start, the audio clock's time then, how long, at what rate) and every one it stops.
WATCH_PLAYBACK = """
window.playback = { started: [], stopped: 0 };
const start = AudioBufferSourceNode.prototype.start;
AudioBufferSourceNode.prototype.start = function (when, ...rest) {
  window.playback.started.push({
    when, now: this.context.currentTime, duration: this.buffer.duration, rate: this.buffer.sampleRate,
  });
  return start.call(this, when, ...rest);
};
const stop = AudioBufferSourceNode.prototype.stop;
AudioBufferSourceNode.prototype.stop = function (...args) {
  window.playback.stopped += 1;
  return stop.apply(this, args);
};
"""


async def start_talking(browser: Browser, world: VoiceWorld, token: str) -> Page:
    page = await browser.new_page(bypass_csp=True)  # the probes (wait_for_function) evaluate strings; the page does not
    await page.add_init_script(WATCH_PLAYBACK)
    await page.goto(f"{world.base_url}/web/")
    await page.fill("#token", token)
    await page.click("#start")
    return page


async def in_conversation(browser: Browser, world: VoiceWorld) -> tuple[Page, LiveConnection]:
    """A new user's page, talking: the model's side of its session is connected."""
    user = await new_user(world.data)
    page = await start_talking(browser, world, user.token)
    return page, await world.gemini.live.wait_for_connection(0, timeout=15)


async def test_the_page_streams_the_microphone_to_the_model_as_16_khz_speech(talking_browser, world):
    page, connection = await in_conversation(talking_browser, world)
    await connection.wait_for_audio_bytes(2 * 16000 * 2, timeout=15)  # two seconds of 16 kHz PCM16
    assert set(connection.audio_mime_types) == {"audio/pcm;rate=16000"}
    assert level_dbfs(connection.audio) > -45  # the recording's speech, not silence
    await expect(page.locator("#status")).to_have_text("Connected: start talking.")


async def test_the_coach_reply_shows_in_the_transcript(browser, world):
    page, connection = await in_conversation(browser, world)
    await connection.send_audio(tone(300, 24000))
    await connection.send_output_transcription("Good morning <b>Ann</b>")
    await connection.send_turn_complete()
    line = page.locator("#transcript li[data-role=coach]")
    await expect(line).to_have_text("Coach: Good morning <b>Ann</b>")  # shown as text, never as markup
    assert await page.locator("#transcript b").count() == 0


async def test_the_coach_audio_is_played_back_to_back_at_24_khz(browser, world):
    page, connection = await in_conversation(browser, world)
    await connection.send_audio(tone(600, 24000))
    await connection.send_turn_complete()
    await page.wait_for_function("window.playback.started.reduce((s, b) => s + b.duration, 0) >= 0.6")
    started = await page.evaluate("window.playback.started")
    assert {buffer["rate"] for buffer in started} == {24000}
    assert sum(buffer["duration"] for buffer in started) == pytest.approx(0.6, abs=1e-6)
    queued = [after["now"] < before["when"] + before["duration"] for before, after in zip(started, started[1:])]
    assert any(queued)  # the model streams faster than real time: chunks arrive while earlier ones play
    for before, after in zip(started, started[1:]):
        previous_end = before["when"] + before["duration"]
        if after["now"] < previous_end:  # still playing: this chunk starts where the previous one ends
            assert after["when"] == pytest.approx(previous_end, abs=1e-6)
        else:  # it arrived after playback ran dry (a slow machine): it starts at once, not in the past
            assert after["when"] == pytest.approx(after["now"], abs=0.01)


async def test_an_interruption_stops_the_coach_audio_the_page_has_scheduled(browser, world):
    page, connection = await in_conversation(browser, world)
    await connection.send_audio(tone(2000, 24000))
    await page.wait_for_function("window.playback.started.length > 0")
    assert await page.evaluate("window.playback.stopped") == 0
    await connection.send_interrupted()
    await page.wait_for_function("window.playback.stopped > 0")


async def test_the_caller_talking_over_the_coach_stops_the_page_playing_it(talking_browser, world):
    page, connection = await in_conversation(talking_browser, world)
    await connection.send_audio(tone(6000, 24000))  # longer than the recording: its speech comes round
    await page.wait_for_function("window.playback.stopped > 0", timeout=10_000)  # nothing else sends clear
    scheduled = await page.evaluate("window.playback.started.length")
    await connection.send_audio(tone(200, 24000))  # the interrupted turn goes on: not played
    await connection.send_turn_complete()
    await connection.send_audio(tone(200, 24000))  # the next turn is
    await connection.send_output_transcription("Go ahead.")  # after its audio, on the same socket
    await expect(page.locator("#transcript li[data-role=coach]")).to_have_text("Coach: Go ahead.")
    after_clear = (await page.evaluate("window.playback.started"))[scheduled:]
    assert sum(buffer["duration"] for buffer in after_clear) == pytest.approx(0.2)


async def sms_waiting_on_the_page(browser: Browser, world: VoiceWorld) -> Locator:
    """The model proposes an SMS in a browser conversation; the page's item for it, with its buttons."""
    page, connection = await in_conversation(browser, world)
    await connection.send_tool_call("call-1", "send_sms", {"message": "Run at 7", "confidence": 0.95})
    proposal = (await connection.wait_for_tool_response("call-1"))["response"]
    item = page.locator(f"#pending-{proposal['pending_action_id']}")
    await expect(item.get_by_role("button", name="Yes, do it")).to_be_visible()
    return item


async def test_the_yes_button_confirms_the_pending_action_and_the_sms_is_sent(browser, world):
    item = await sms_waiting_on_the_page(browser, world)
    assert world.twilio.messages == []
    await item.get_by_role("button", name="Yes, do it").click()
    await expect(item).not_to_contain_text("Yes, do it", timeout=10_000)
    assert [m.param("Body") for m in world.twilio.messages] == ["Run at 7"]


async def test_the_no_button_cancels_the_pending_action_and_nothing_is_sent(browser, world):
    item = await sms_waiting_on_the_page(browser, world)
    await item.get_by_role("button", name="No").click()
    await expect(item).not_to_contain_text("Yes, do it", timeout=10_000)
    assert world.twilio.messages == []


async def test_a_refused_token_says_so_on_the_page(browser, world):
    page = await start_talking(browser, world, "vc_not-a-token")
    await expect(page.locator("#status")).to_have_text(
        "Could not connect: the token was refused, or the server is not reachable."
    )
    await expect(page.locator("#start")).to_be_enabled()
    assert world.gemini.live.connections == []


async def test_hanging_up_ends_the_call_and_its_record(browser, world):
    user = await new_user(world.data)
    page = await start_talking(browser, world, user.token)
    connection = await world.gemini.live.wait_for_connection(0, timeout=15)
    await expect(page.locator("#status")).to_have_text("Connected: start talking.")
    await page.click("#stop")
    await expect(page.locator("#status")).to_have_text("Call ended.")
    await expect(page.locator("#start")).to_be_enabled()
    call = await ended_call(world, user.id)
    assert call.status == "completed" and call.end_reason == "browser hung up"
    assert await connection.wait_closed() is not None
