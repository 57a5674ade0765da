"""Added latency on the phone path: model audio chunk -> first Twilio frame of it at the caller.

End to end over loopback, in this process: the Gemini Live fake sends one 40 ms chunk of coach speech
(24 kHz) at t0, the real server resamples, encodes, frames and paces it, and `TwilioMediaCaller` notes
when the first `media` frame of it arrives. t0 is taken before the fake's thread is asked to send, so
the figure is an upper bound on what the server adds (it includes two loopback hops and a thread hop).
Each trial starts with nothing queued (mid-turn chunks are paced playback, not added latency), while
the caller streams its inbound audio as always. Codec CPU per frame is in bench/codec.py.

Run: .venv/bin/python bench/voice_latency.py [--trials 400]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from audio import coach_turn  # noqa: E402
from factories import new_user  # noqa: E402
from fakes.gemini_live import LiveConnection  # noqa: E402
from fakes.twilio_caller import TwilioMediaCaller  # noqa: E402
from phone import phone_call  # noqa: E402
from worlds import scratch_voice_world  # noqa: E402

CHUNK_MS = 40
CHUNK_BYTES = 24 * 2 * CHUNK_MS
GAP_S = 0.06  # between a trial's last frame and the next chunk: the pacer is idle again


async def trial(caller: TwilioMediaCaller, model: LiveConnection, chunk: bytes) -> float:
    """Milliseconds from sending `chunk` to the first media frame of it at the caller."""
    seen = len(caller.received_frames)
    t0 = time.monotonic()
    await model.send_audio(chunk, chunk_ms=CHUNK_MS)
    first = await caller.wait_until(
        lambda: next((f for f in caller.received_frames[seen:] if (f.message or {}).get("event") == "media"), None),
        2, "the first frame",
    )
    await model.send_turn_complete()
    await caller.wait_until(lambda: caller.queued_ms() == 0, 2, "playback to finish")
    await asyncio.sleep(GAP_S)
    return (first.at - t0) * 1000


async def run(trials: int) -> list[float]:
    speech = coach_turn(10)
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as directory:
        async with scratch_voice_world(Path(directory)) as world:
            user = await new_user(world.data)
            async with phone_call(world, user.phone) as (caller, model):
                await asyncio.sleep(0.3)
                latencies = []
                for _ in range(trials):
                    start = int(rng.integers(0, (len(speech) - CHUNK_BYTES) // 2)) * 2
                    latencies.append(await trial(caller, model, speech[start : start + CHUNK_BYTES]))
                return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400)
    latencies = asyncio.run(run(parser.parse_args().trials))
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    header = f"{'path':<44} {'trials':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    print(header)
    print("-" * len(header))
    print(f"{'model chunk sent -> first Twilio frame received':<44} {len(latencies):>6} "
          f"{p50:>7.2f} {p95:>7.2f} {p99:>7.2f} {max(latencies):>7.2f}")


if __name__ == "__main__":
    main()
