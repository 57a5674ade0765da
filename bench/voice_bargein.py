"""Barge-in latency on the phone path: caller speech onset -> `clear` received by the caller.

Through the real server (uvicorn), the Gemini Live fake (real google-genai SDK) and `TwilioMediaCaller`,
all over loopback in this process. Each trial: the model sends a 2 s coach turn; after a random part of
it has played, the caller starts speaking (the caller fixture). The onset is measured in the caller's
audio stream time (the first 5 ms above -40 dBFS in the frames it sent), the clear on arrival; both on
the caller's stream clock, so frame capture (20 ms) and loopback are included. Run with a handset
(quiet line) and a speakerphone (coach echo 10 dB down after 150 ms). A trial with no clear while the
caller talks is a miss.

Run: .venv/bin/python bench/voice_bargein.py [--trials 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from audio import coach_turn, onset_ms, speech_8k  # noqa: E402
from factories import new_user  # noqa: E402
from fakes.gemini_live import LiveConnection  # noqa: E402
from fakes.twilio_caller import TwilioMediaCaller  # noqa: E402
from phone import phone_call  # noqa: E402
from worlds import VoiceWorld, scratch_voice_world  # noqa: E402

CONDITIONS: dict[str, dict[str, Any]] = {
    "handset": {"noise_dbfs": -60},
    "speakerphone": {"noise_dbfs": -60, "echo_gain_db": -10, "echo_delay_ms": 150},
}
BARGE_IN = speech_8k()[: 8000 * 2 * 600 // 1000]  # the first 600 ms of "Wait, I have a question..."
SPEECH_ONSET_MS = onset_ms(BARGE_IN)
COACH_TURN_S = 2.0
CLEAR_TIMEOUT_S = len(BARGE_IN) / 16000 + 0.3  # a clear can only come while the caller talks
RELEASE_MS = 400  # silence after the utterance, so the detector's next onset is a new one
TARGET_P95_MS = 120.0


async def trial(caller: TwilioMediaCaller, model: LiveConnection, lead_ms: float) -> float | None:
    """One barge-in `lead_ms` into a coach turn; its latency in ms, or None when no clear came."""
    played_before, clears_before = caller.played_ms(), len(caller.clears)
    await model.send_audio(coach_turn(COACH_TURN_S))
    await caller.wait_until(lambda: caller.played_ms() >= played_before + lead_ms, 5, "coach audio")
    onset = await caller.say(BARGE_IN) + SPEECH_ONSET_MS
    try:
        await caller.wait_until(lambda: len(caller.clears) > clears_before, CLEAR_TIMEOUT_S, "clear")
        latency: float | None = caller.clears[clears_before].stream_ms - onset
    except TimeoutError:
        latency = None
        await model.send_interrupted()  # end the unheard turn now rather than play it out
    await model.send_turn_complete()
    await caller.wait_until(lambda: caller.stream_ms() > onset + RELEASE_MS + len(BARGE_IN) / 16, 5, "release")
    return latency


async def measure(world: VoiceWorld, condition: str, trials: int, rng: np.random.Generator) -> list[float | None]:
    user = await new_user(world.data)
    async with phone_call(world, user.phone, **CONDITIONS[condition]) as (caller, model):
        await asyncio.sleep(0.5)  # the detector learns the line's noise floor
        return [await trial(caller, model, float(rng.uniform(200, 900))) for _ in range(trials)]


async def run(trials: int) -> dict[str, list[float | None]]:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as directory:
        async with scratch_voice_world(Path(directory)) as world:
            return {condition: await measure(world, condition, trials, rng) for condition in CONDITIONS}


def print_table(results: dict[str, list[float | None]]) -> None:
    header = f"{'condition':<14} {'trials':>6} {'missed':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for condition, latencies in results.items():
        hits = [x for x in latencies if x is not None]
        p50, p95 = np.percentile(hits, [50, 95]) if hits else (float("nan"), float("nan"))
        worst = max(hits, default=float("nan"))
        print(f"{condition:<14} {len(latencies):>6} {len(latencies) - len(hits):>6} {p50:>8.0f} {p95:>8.0f} {worst:>8.0f}")
    print(f"\ntarget: p95 <= {TARGET_P95_MS:.0f} ms (a miss counts as over)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    print_table(asyncio.run(run(parser.parse_args().trials)))


if __name__ == "__main__":
    main()
