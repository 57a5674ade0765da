"""Audio for the voice tests and benchmarks: the speech fixtures, silence, tones, framing (PCM16 little-endian)."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voice.codec import Upsampler8kTo16k

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CALLER_SPEECH = "caller_speech_8k.wav"  # "Wait, I have a question about that."
COACH_SPEECH = "coach_speech_8k.wav"  # "Let's look at your goals for this week."
FULL_SCALE = 32768.0


def speech_8k(name: str = CALLER_SPEECH) -> bytes:
    """A fixture's PCM16 8 kHz mono samples (ValueError for any other format)."""
    with wave.open(str(FIXTURES / name)) as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if shape != (8000, 1, 2):
            raise ValueError(f"{name}: need 8000 Hz mono 16-bit, got rate/channels/width {shape}")
        return wav.readframes(wav.getnframes())


def speech_16k(name: str = CALLER_SPEECH) -> bytes:
    return Upsampler8kTo16k().process(speech_8k(name))


def speech_24k(name: str = COACH_SPEECH) -> bytes:
    """A fixture as the model would send it (PCM16 24 kHz); linear interpolation is enough for a phone band."""
    samples = np.frombuffer(speech_8k(name), dtype="<i2").astype(np.float64)
    upsampled = np.interp(np.arange(3 * samples.size) / 3, np.arange(samples.size), samples)
    return np.rint(upsampled).astype("<i2").tobytes()


def silence(ms: float, rate: int = 8000) -> bytes:
    return b"\x00\x00" * round(rate * ms / 1000)


def tone(ms: float, rate: int = 8000, hz: float = 440.0, dbfs: float = -12.0) -> bytes:
    """A sine lasting `ms` with RMS level `dbfs` (0 dBFS = a full-scale square wave)."""
    t = np.arange(round(rate * ms / 1000)) / rate
    samples = FULL_SCALE * 10 ** (dbfs / 20) * np.sqrt(2) * np.sin(2 * np.pi * hz * t)
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def onset_ms(pcm8k: bytes, threshold_dbfs: float = -40.0) -> float:
    """Where speech starts in PCM16 8 kHz: the first 5 ms block whose RMS exceeds `threshold_dbfs`."""
    samples = np.frombuffer(pcm8k, dtype="<i2").astype(np.float64)
    blocks = samples[: samples.size // 40 * 40].reshape(-1, 40)
    loud = np.sqrt((blocks**2).mean(axis=1)) > FULL_SCALE * 10 ** (threshold_dbfs / 20)
    if not loud.any():
        raise ValueError("no speech above the threshold")
    return float(np.argmax(loud)) * 5.0


def coach_turn(seconds: float) -> bytes:
    """`seconds` of coach speech at 24 kHz (the coach fixture repeated), as the model sends it."""
    speech = speech_24k(COACH_SPEECH)
    needed = round(seconds * 24000) * 2
    return (speech * (needed // len(speech) + 1))[:needed]
