"""Barge-in detection: has the caller started talking (over the coach)?

Fed the caller's decoded PCM16 8 kHz audio in 20 ms frames and, separately,
the coach's PCM16 8 kHz audio as it is played to the caller. Each inbound frame
is analysed as two 10 ms halves; a half counts as caller speech only if all
three gates agree:

* webrtcvad calls it speech;
* its level is clearly above an adaptive noise floor (and above an absolute
  minimum), so steady hiss or hum that webrtcvad happens to flag is ignored;
* while the coach is talking, it is louder than the coach's own audio could
  come back as echo (a Geigel-style double-talk test on frame levels).

A barge-in fires once per utterance, when enough qualifying frames occur in a
short window; the utterance ends after a run of non-speech frames.

Why 10 ms analysis: a burst touches one partial analysis frame at each end,
so with 20 ms frames an 80 ms cough straddling frame boundaries spans five
frames and looks like 100 ms of speech. At 10 ms the error is halved: bursts
up to 80 ms can never fire and real speech is confirmed 100-115 ms after onset.

Time is counted in inbound audio: every inbound frame advances the detector's
clock by 20 ms, so the detector needs no wall clock, threads or asyncio.
"""

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2
"""320 bytes: one 20 ms frame of PCM16 at 8 kHz, the unit `push_inbound` takes."""
ANALYSIS_MS = 10
_ANALYSIS_BYTES = FRAME_BYTES * ANALYSIS_MS // FRAME_MS

_SILENCE_DBFS = -96.0
"""Level assigned to digital silence (and the floor of every level), about the int16 noise floor."""

_FULL_SCALE_POWER = 32768.0**2


@dataclass(frozen=True)
class BargeInConfig:
    """Thresholds for `BargeInDetector`; durations are in ms, rounded up to multiples of 10."""

    aggressiveness: int = 2
    """webrtcvad mode, 0 (permissive) to 3 (strict). The energy and echo gates do the
    rest of the filtering, so a middle setting keeps soft speech onsets."""

    min_speech_ms: int = 100
    """Qualifying speech needed within `onset_window_ms` to confirm a barge-in.
    A burst can touch a partial 10 ms frame at each end, so clicks and coughs
    up to `min_speech_ms` - 20 ms can never fire."""

    onset_window_ms: int = 110
    """Window in which `min_speech_ms` of speech must occur; the slack over
    `min_speech_ms` tolerates one dropped 10 ms analysis frame inside an onset."""

    release_ms: int = 300
    """Non-speech run that ends an utterance, so the next one can fire again."""

    energy_margin_db: float = 9.0
    """How far above the noise floor a frame must be to count as speech."""

    min_level_dbfs: float = -45.0
    """Frames quieter than this never count as speech, whatever the noise floor."""

    noise_floor_rise_db_per_s: float = 3.0
    """How fast the noise floor climbs towards louder frames. Slow, so speech
    (which keeps dipping between syllables) barely moves it, while a new steady
    noise is absorbed within seconds."""

    noise_floor_fall_ms: float = 100.0
    """Time constant with which the floor follows quieter frames down."""

    echo_margin_db: float = -6.0
    """While the coach talks, inbound audio counts only if its level exceeds the
    loudest 10 ms of coach audio in the last `echo_window_ms` by this many dB.
    -6 dB is the classic Geigel threshold: it assumes echo returns at least 6 dB down."""

    echo_window_ms: int = 440
    """How far back coach audio can still be echoing: echo delays up to ~400 ms."""

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError("aggressiveness must be 0, 1, 2 or 3")
        if not 0 < self.min_speech_ms <= self.onset_window_ms:
            raise ValueError("need 0 < min_speech_ms <= onset_window_ms")
        if self.release_ms < ANALYSIS_MS or self.echo_window_ms < ANALYSIS_MS:
            raise ValueError("release_ms and echo_window_ms must cover at least one frame")
        if self.noise_floor_fall_ms <= 0 or self.noise_floor_rise_db_per_s < 0:
            raise ValueError("noise floor adaptation rates must be positive")


def _analysis_frames(duration_ms: float) -> int:
    return max(1, math.ceil(duration_ms / ANALYSIS_MS))


def _power_to_dbfs(mean_square: float) -> float:
    return max(_SILENCE_DBFS, 10.0 * math.log10(mean_square / _FULL_SCALE_POWER + 1e-12))


def level_dbfs(pcm: bytes) -> float:
    """RMS level of PCM16 bytes in dB relative to full scale (-96 for silence)."""
    samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2).astype(np.float64)
    if samples.size == 0:
        return _SILENCE_DBFS
    return _power_to_dbfs(float(np.dot(samples, samples)) / samples.size)


def loudest_analysis_frame_dbfs(pcm: bytes) -> float:
    """Level of the loudest 10 ms piece of PCM16 bytes (a shorter tail counts as a piece).

    Measuring the coach's audio at the same 10 ms resolution as the caller's
    keeps a short loud syllable from hiding inside a quieter 20 ms average.
    """
    samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2).astype(np.float64)
    piece = _ANALYSIS_BYTES // 2
    whole = samples.size - samples.size % piece
    powers = [float(p) for p in (samples[:whole].reshape(-1, piece) ** 2).mean(axis=1)]
    if whole < samples.size:
        tail = samples[whole:]
        powers.append(float(np.dot(tail, tail)) / tail.size)
    return _power_to_dbfs(max(powers)) if powers else _SILENCE_DBFS


class _NoiseFloor:
    """Minimum tracker in dB: follows quieter frames down quickly, creeps up slowly."""

    def __init__(self, rise_db_per_frame: float, fall_fraction_per_frame: float) -> None:
        self._rise = rise_db_per_frame
        self._fall = fall_fraction_per_frame
        self.dbfs: float | None = None

    def update(self, frame_dbfs: float) -> None:
        if self.dbfs is None:
            self.dbfs = frame_dbfs
        elif frame_dbfs < self.dbfs:
            self.dbfs += self._fall * (frame_dbfs - self.dbfs)
        else:
            self.dbfs = min(frame_dbfs, self.dbfs + self._rise)


class _EchoReference:
    """Loudest coach audio over the recent window, clocked by inbound analysis frames."""

    def __init__(self, window_frames: int) -> None:
        self._levels: deque[float] = deque(maxlen=window_frames)
        self._since_last_tick = _SILENCE_DBFS

    def add_outbound(self, frame_dbfs: float) -> None:
        self._since_last_tick = max(self._since_last_tick, frame_dbfs)

    def tick(self) -> float:
        """Close one analysis period; return the loudest coach level in the window."""
        self._levels.append(self._since_last_tick)
        self._since_last_tick = _SILENCE_DBFS
        return max(self._levels)


class BargeInDetector:
    """Detects the caller starting to speak, including over the coach's audio.

    One instance per call. Call `push_outbound` with the coach's audio as it is
    played and `push_inbound` with every caller frame; `push_inbound` returns
    True exactly on the frame that confirms a new utterance.
    """

    def __init__(self, config: BargeInConfig | None = None) -> None:
        self.config = config or BargeInConfig()
        cfg = self.config
        self._vad = webrtcvad.Vad(cfg.aggressiveness)
        self._noise_floor = _NoiseFloor(
            rise_db_per_frame=cfg.noise_floor_rise_db_per_s * ANALYSIS_MS / 1000,
            fall_fraction_per_frame=1.0 - math.exp(-ANALYSIS_MS / cfg.noise_floor_fall_ms),
        )
        self._echo = _EchoReference(_analysis_frames(cfg.echo_window_ms))
        self._recent: deque[bool] = deque(maxlen=_analysis_frames(cfg.onset_window_ms))
        self._min_speech_frames = _analysis_frames(cfg.min_speech_ms)
        self._release_frames = _analysis_frames(cfg.release_ms)
        self._non_speech_run = 0
        self._analysed = 0
        self.speaking = False
        """True from a confirmed onset until `release_ms` of non-speech."""
        self.speech_onsets = 0
        """Number of confirmed utterance onsets so far (monotonic)."""
        self.last_speech_ms: int | None = None
        """Stream time (see `stream_ms`) at the end of the latest confirmed caller speech."""

    @property
    def stream_ms(self) -> int:
        """Inbound audio processed so far, in ms: the detector's clock."""
        return self._analysed * ANALYSIS_MS

    def spoke_since(self, stream_ms: int) -> bool:
        """Whether confirmed caller speech occurred after the given stream time."""
        return self.last_speech_ms is not None and self.last_speech_ms > stream_ms

    def push_outbound(self, pcm8k: bytes) -> None:
        """Register coach audio (PCM16 8 kHz, any length) at the moment it is played."""
        if len(pcm8k) >= 2:
            self._echo.add_outbound(loudest_analysis_frame_dbfs(pcm8k))

    def push_inbound(self, pcm8k_frame: bytes) -> bool:
        """Process one 20 ms caller frame (320 bytes PCM16 8 kHz).

        Returns True only on the frame that confirms a new speech onset.
        """
        if len(pcm8k_frame) != FRAME_BYTES:
            raise ValueError(f"expected a {FRAME_BYTES}-byte frame, got {len(pcm8k_frame)}")
        first = self._analyse(pcm8k_frame[:_ANALYSIS_BYTES])
        second = self._analyse(pcm8k_frame[_ANALYSIS_BYTES:])
        return first or second

    def _analyse(self, chunk: bytes) -> bool:
        """Advance by one 10 ms analysis frame; True if it confirms an onset."""
        self._analysed += 1
        is_speech = self._is_caller_speech(chunk)
        self._recent.append(is_speech)
        if self.speaking:
            self._continue_utterance(is_speech)
            return False
        if sum(self._recent) >= self._min_speech_frames:
            self.speaking = True
            self.speech_onsets += 1
            self._non_speech_run = 0
            self.last_speech_ms = self.stream_ms
            return True
        return False

    def _is_caller_speech(self, frame: bytes) -> bool:
        cfg = self.config
        level = level_dbfs(frame)
        echo_reference = self._echo.tick()
        floor = self._noise_floor.dbfs
        self._noise_floor.update(level)
        voiced = self._vad.is_speech(frame, SAMPLE_RATE)
        loud_enough = (
            floor is not None
            and level >= cfg.min_level_dbfs
            and level >= floor + cfg.energy_margin_db
        )
        above_echo = level > echo_reference + cfg.echo_margin_db
        return voiced and loud_enough and above_echo

    def _continue_utterance(self, is_speech: bool) -> None:
        if is_speech:
            self._non_speech_run = 0
            self.last_speech_ms = self.stream_ms
            return
        self._non_speech_run += 1
        if self._non_speech_run >= self._release_frames:
            self.speaking = False
            self._recent.clear()
