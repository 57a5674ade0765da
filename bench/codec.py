"""CPU cost of the per-call audio path, per 20 ms frame, and the 24k->8k alias rejection.

The barge-in detector's cost depends on what the line returns while the coach talks: line noise
(a handset) or the coach's echo, which the echo canceller then subtracts (a speakerphone).

Run: .venv/bin/python bench/codec.py
"""

import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from voice.codec import (  # noqa: E402
    Downsampler24kTo8k,
    TwilioInboundDecoder,
    TwilioOutboundEncoder,
    pcm16_to_ulaw,
)
from voice.vad import BargeInDetector  # noqa: E402

FRAMES = 3000
REPEATS = 5
SPEECH = REPO / "tests" / "fixtures" / "caller_speech_8k.wav"


def load_speech_8k() -> np.ndarray:
    with wave.open(str(SPEECH)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def looped(samples: np.ndarray, length: int) -> np.ndarray:
    return np.resize(samples, length)


def best_us_per_frame(run_all_frames: Callable[[], None]) -> float:
    """Best of several runs, so scheduler noise does not inflate the figure."""
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run_all_frames()
        timings.append(time.perf_counter() - start)
    return min(timings) / FRAMES * 1e6


def inbound_cost(ulaw_frames: list[bytes]) -> float:
    def run() -> None:
        decoder = TwilioInboundDecoder()
        for frame in ulaw_frames:
            decoder.decode(frame)

    return best_us_per_frame(run)


def outbound_cost(pcm24k_frames: list[bytes]) -> float:
    def run() -> None:
        encoder = TwilioOutboundEncoder()
        for frame in pcm24k_frames:
            encoder.encode(frame)

    return best_us_per_frame(run)


def detector_cost(inbound: list[bytes], outbound: list[bytes]) -> float:
    """push_outbound + push_inbound per frame: the coach talking while the caller listens (`inbound`: what
    the line returns meanwhile)."""

    def run() -> None:
        detector = BargeInDetector()
        for caller, coach in zip(inbound, outbound):
            detector.push_outbound(coach)
            detector.push_inbound(caller)

    return best_us_per_frame(run)


def line_frames(coach: np.ndarray, echo_gain_db: float | None) -> list[bytes]:
    """What a listening caller's line returns: -60 dBFS noise, plus the coach's echo 150 ms later."""
    line = np.random.default_rng(1).normal(0, 32768 * 10 ** (-60 / 20), coach.size)
    if echo_gain_db is not None:
        line[1200:] += coach[:-1200] * 10 ** (echo_gain_db / 20)
    pcm = np.clip(np.rint(line), -32768, 32767).astype("<i2")
    return [pcm[i : i + 160].tobytes() for i in range(0, pcm.size, 160)]


def alias_rejection_db(freq_hz: float) -> float:
    """Input tone level minus the strongest component left in the 8 kHz output."""
    t = np.arange(24000) / 24000
    tone = np.rint(16000 * np.sin(2 * np.pi * freq_hz * t)).astype("<i2").tobytes()
    downsampler = Downsampler24kTo8k()
    out = b"".join(downsampler.process(tone[i : i + 960]) for i in range(0, len(tone), 960))
    steady = np.frombuffer(out, dtype="<i2")[800:].astype(np.float64)
    window = np.hanning(steady.size)
    strongest = np.abs(np.fft.rfft(steady * window)).max() * 2 / window.sum()
    return 20 * np.log10(16000 / strongest)


def main() -> None:
    speech = looped(load_speech_8k(), FRAMES * 160)
    pcm8k_frames = [speech[i : i + 160].tobytes() for i in range(0, speech.size, 160)]
    ulaw_frames = [pcm16_to_ulaw(frame) for frame in pcm8k_frames]
    speech24k = np.repeat(speech, 3)  # content does not matter for cost, only size
    pcm24k_frames = [speech24k[i : i + 480].tobytes() for i in range(0, speech24k.size, 480)]

    rows = [
        ("inbound: mu-law decode + 8k->16k", inbound_cost(ulaw_frames)),
        ("outbound: 24k->8k (480 samples) + mu-law encode", outbound_cost(pcm24k_frames)),
        ("barge-in detector, handset", detector_cost(line_frames(speech, None), pcm8k_frames)),
    ]
    rows.append(("total (handset)", sum(cost for _, cost in rows)))
    rows.append(("barge-in detector, speakerphone echo -10 dB", detector_cost(line_frames(speech, -10), pcm8k_frames)))
    width = max(len(name) for name, _ in rows)
    print(f"{'per 20 ms frame':<{width}}  {'us':>7}")
    for name, cost in rows:
        print(f"{name:<{width}}  {cost:7.1f}")
    print()
    for freq in (5000, 6000):
        print(f"alias rejection, {freq} Hz tone at 24 kHz -> 8 kHz: {alias_rejection_db(freq):.1f} dB")


if __name__ == "__main__":
    main()
