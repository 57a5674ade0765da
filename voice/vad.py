"""Barge-in detection: has the caller started talking (over the coach)?

Fed the caller's decoded PCM16 8 kHz audio in 20 ms frames and, separately,
the coach's PCM16 8 kHz audio as it is played to the caller. The coach's echo is
first subtracted from each inbound frame where it is a delayed, scaled copy of
the coach's audio (`voice.echo.EchoCanceller`: a speakerphone); everything below
works on what is left. Each inbound frame is analysed as two 10 ms halves; a
half *qualifies* as caller sound only if all three gates agree:

* webrtcvad calls it speech;
* its level is clearly above an adaptive noise floor (and above an absolute
  minimum), so steady hiss or hum that webrtcvad happens to flag is ignored;
* it is louder than the coach's own audio can come back as echo, by a margin.

Echo: the caller's frame must beat the loudest coach audio of the last
`echo_window_ms` (a Geigel double-talk test) attenuated by the echo return loss
learnt on this call, plus `echo_margin_db`, instead of a fixed worst-case loss.
The coach's audio is kept as a timeline of 10 ms levels, consumed one level per
analysis frame from the moment it is handed to the player, and the return loss is
the larger of two estimates:

* per-delay coupling bounds: the microphone carries at least the echo of each
  delay, so `mic level - coach level at that delay` bounds the coupling there on
  every frame, even while the caller talks. Each bound starts from a safe prior
  (the classic Geigel assumption, echo at least 6 dB down), falls quickly to the
  evidence and creeps back up slowly; their maximum is the strongest coupling the
  evidence still allows. A handset with no echo gets there within 440 ms of coach
  audio (every delay must have heard the coach once) and then needs the caller
  only to be above the line noise, at any level relative to the coach.
* the echo envelope: the loudest `mic level - loudest coach level in the window`
  seen while the caller is quiet, quick to rise and slow (2 dB/s) to fall, so a
  speakerphone's threshold sits just above its real echo. An observation counts
  only after 200 ms without caller activity: the caller's speech masked by the
  coach before anything qualified would otherwise be learnt as echo. The envelope
  falls only as observations are released, never while caller activity is
  discarding them: it used to fall regardless, so short sounds every 100-200 ms
  (a caller tapping or rustling, an echo blip just above the threshold) starved it,
  it sank below the real echo and the echo then passed as the caller (in
  simulation: 20 ms clicks or coughs every 150 ms over -10 dB echo whose delay
  drifted between turns fired on the echo; repeated early barge-ins over a
  speakerphone, 1 false barge-in in 400). The per-delay bounds alone are not
  enough: when the delay moves they erode (see below).

Why not the per-delay estimate itself (coach level at each delay plus its
coupling, which would follow the syllable echoing now and let double talk through
sooner): the delay between the timeline and the caller's frames moves, within a
turn as late packets push the caller's playback back and between turns with the
phase of each turn's start, and by 100 ms or more when the event loop stalls. In
simulation it then fired on -10 dB echo in most calls; the window maximum is
immune to where the echo sits in the window. A barge-in forgets the timeline: its
newest audio was cut and will never echo, and learning from it would wrongly
lower the bounds. It also drops the envelope observations still held: they are
the caller's onset under the echo, and a barge-in confirmed before the next
learning step would otherwise leave them to be learnt as echo (in simulation,
without this, 19 of 400 speakerphone barge-ins were missed instead of 10 and 83%
instead of 96% came within 120 ms).

Onset confirmation, three ways (`BargeInConfig` has the thresholds):

* any qualifying sound whose active span, measured at 2 ms resolution from its
  first to its last active 2 ms block, covers `min_speech_ms` + 4 ms. A burst
  touches at most one partial block at each end, so a click or cough shorter
  than `min_speech_ms` can never fire, whatever it sounds like. This alone puts
  the latency at 104 ms plus up to 20 ms waiting for the frame that completes
  it (speech starting on a frame boundary: 120 ms), above a 120 ms p95 target.
* faster, a run whose span covers `min_voiced_ms` + 4 ms with at most two frames
  that are not *periodic* (normalised autocorrelation over the last 30 ms at a
  pitch lag of 2.5-12.5 ms above `voicing_threshold`). Clicks, coughs and knocks
  are aperiodic noise bursts (at most one chance-periodic frame in simulation)
  and never pass; voiced speech does, confirmed 64-84 ms after onset. The
  trade-off: a voiced sound (a hummed "mm", a beep) fires after `min_voiced_ms`;
  set it equal to `min_speech_ms` to require the full duration of everything.
* over the coach's echo, faster still: a run that began right after a *masked*
  frame (above the noise gates, under the echo threshold), that has a frame
  `echo_excess_db` clear of the echo threshold and whose span covers
  `masked_voiced_ms` + 4 ms (30 ms: three frames), ending in
  `masked_periodic_frames` periodic frames.
  On a speakerphone the caller's onset drowns in the echo: the caller fixture
  rises from -32 to -20 dBFS over its first 60 ms while the threshold over -10 dB
  echo sits near -21 dBFS, so the first qualifying frame comes 40-80 ms (median
  54) after the onset, and the voiced path's 64 ms then put barge-in at 120-160
  ms (bench p95 149-155 ms). The run is credited with the onset it could not
  see. Echo alone never stood more than 1.3 dB clear of its threshold in
  simulation (48 min of echo at -3 to -20 dB, delays 50-300 ms drifting +/-30 ms
  within a turn, half of it with 8 event-loop stalls of 50-300 ms per 6 s), and
  clicks and coughs of 20-90 ms over echo never fired (2430 bursts). On a
  handset the frame before a caller's onset is line noise, not masked, so
  nothing changes there. The trade-off: over the echo a voiced sound of 30 ms
  or more standing 5 dB above the echo estimate fires (on a quiet line 64 ms).
  The periodic frames must end the run, rather than the fast path's "at most
  two aperiodic": caller and echo mixed make the onset frames look aperiodic.
  Bench (speakerphone, 20 trials, four runs, before the echo canceller): p50
  101-102 ms, p95 106-128 ms. What remained above 120 ms was mostly onsets the
  echo hid for 80 ms or more (about 6% in simulation): three frames after that
  is already 110-120 ms. Once the canceller has locked, the echo it removes no
  longer hides the onset, and this path is for echo it cannot explain.

A qualifying run survives a single non-qualifying 10 ms frame (sounds separated
by less than 20 ms are one sound); a barge-in fires once per utterance, which
ends after `release_ms` of non-qualifying frames.

Tried for the speakerphone and dropped (simulated bench, 400 barge-ins over -10 dB
echo at 150-190 ms: without the credit about half within 120 ms, p95 160 ms; with
it 96%, p95 120 ms, 89% within 100 ms):

* the coach's loudest level over a window centred on the learnt delay (the
  strongest per-delay coupling, +/-20-80 ms, the whole window when the profile is
  flat) instead of the whole window, to start a run, with confirmation still
  needing frames that beat the whole-window test: 65-83% within 120 ms, p95 still
  160 ms. Within 80 ms of the delay the coach's loudest level is nearly always the
  window's, and under drifting delays and stalls echo alone then opened runs of
  100-260 ms that only the whole-window frames kept from firing. Even the true
  delay +/-30 ms, known exactly, gave a p95 of 120-140 ms: the caller's first
  40-50 ms are below the echo's own level, so no level-based echo estimate can
  see them (the waveform canceller in `voice.echo` does).
* a lower `echo_margin_db`: 2.5 dB fired on echo 6 times and 2 dB 29 times in the
  stress above.
* a larger credit, `masked_voiced_ms` 20: 16 misses instead of 10 and a p95 of
  580 ms (some calls learnt the caller as echo and fired only at the end of the
  utterance). 30 instead of 26: 75% instead of 89% within 100 ms (bench p95 127
  ms in one run).

Time is counted in inbound audio: every inbound frame advances the detector's
clock by 20 ms, and coach audio is consumed from its timeline one 10 ms level
per analysis frame, so the detector needs no wall clock, threads or asyncio.
"""

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad
from numpy.lib.stride_tricks import sliding_window_view

from voice.codec import to_pcm16_bytes
from voice.echo import EchoCanceller

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2
"""320 bytes: one 20 ms frame of PCM16 at 8 kHz, the unit `push_inbound` takes."""
ANALYSIS_MS = 10
_ANALYSIS_SAMPLES = SAMPLE_RATE * ANALYSIS_MS // 1000
_ANALYSIS_BYTES = _ANALYSIS_SAMPLES * 2
BLOCK_MS = 2
"""Resolution at which the span of a sound is measured."""
_BLOCKS_PER_ANALYSIS = ANALYSIS_MS // BLOCK_MS
_PITCH_LAGS = slice(SAMPLE_RATE // 400, SAMPLE_RATE // 80 + 1)
"""Autocorrelation lags of voice pitch, 400 Hz down to 80 Hz, in samples."""
_PERIODICITY_SAMPLES = SAMPLE_RATE * 30 // 1000
"""Periodicity is judged on the latest 30 ms: two periods of an 80 Hz voice, and long
enough that a noise burst rarely correlates by chance (20 ms let 5% of bursts reach 0.64)."""
_LEARN_EVERY_FRAMES = 2
"""The echo path learns from every other 20 ms frame: a valid bound needs only a few
frames, and learning costs as much as the rest of the detector."""
_ENVELOPE_HOLD = 5
"""Learning steps (40 ms each) an echo envelope observation waits for the caller to stay quiet."""
_MAX_PENDING_OUTBOUND_MS = 2000
"""Coach audio handed over ahead of its playback is kept at most this far ahead."""

_SILENCE_DBFS = -96.0
"""Level assigned to digital silence (and the floor of every level), about the int16 noise floor."""

_FULL_SCALE_POWER = 32768.0**2


@dataclass(frozen=True)
class BargeInConfig:
    """Thresholds for `BargeInDetector`; durations are in ms (multiples of 10 unless noted)."""

    aggressiveness: int = 2
    """webrtcvad mode, 0 (permissive) to 3 (strict). The energy and echo gates do the
    rest of the filtering, so a middle setting keeps soft speech onsets."""

    min_speech_ms: int = 100
    """Any sound shorter than this never fires. A sound is confirmed once its active
    span (first to last active 2 ms block) covers this plus 4 ms, so speech that is
    not clearly periodic waits 104-124 ms after onset."""

    min_voiced_ms: int = 60
    """Span of a periodic (voiced) run that confirms it early. Shorter means faster
    barge-in but lets shorter hums and "mm"s interrupt; equal to `min_speech_ms` turns
    the fast path off. Below ~40 ms a run is too few frames to tell voice from noise."""

    voicing_threshold: float = 0.6
    """Normalised autocorrelation peak (0..1) over the last 30 ms at a pitch lag that
    makes a frame periodic. Voiced speech mostly scores 0.8-1; the best frame of a
    cough-like noise burst typically scores 0.36 and exceeds 0.57 in one burst in twenty."""

    masked_voiced_ms: int = 26
    """Span of a voiced run over the coach's echo that confirms it once one of its frames stood
    `echo_excess_db` clear of the echo threshold. The caller's first tens of ms drown in the echo
    and cannot be seen, so such a run is credited with `min_voiced_ms - masked_voiced_ms` of
    unseen onset. Equal to `min_voiced_ms` turns the credit off."""

    echo_excess_db: float = 2.0
    """How far above the echo threshold (echo estimate plus `echo_margin_db`) a frame must be for
    the masked-onset credit. In simulation echo alone never beat the threshold by more than 1.3 dB
    (drifting delays, stalls, -3 to -20 dB); the caller's onset mostly reaches 3-8 dB."""

    masked_periodic_frames: int = 3
    """Consecutive periodic frames that must end a run confirmed with the masked-onset credit.
    Not the fast path's "at most two aperiodic frames": the onset frames of caller and echo mixed
    often look aperiodic, while a noise burst has at most one chance-periodic frame."""

    release_ms: int = 300
    """Non-qualifying run that ends an utterance, so the next one can fire again."""

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

    echo_window_ms: int = 440
    """How far back coach audio can still be echoing (coach audio handed to the player to
    caller audio received): echo delays up to ~400 ms."""

    echo_prior_db: float = -6.0
    """Coupling assumed at a delay before any coach audio at that delay has been heard:
    the classic Geigel assumption that echo returns at least 6 dB down."""

    echo_margin_db: float = 3.0
    """How far above the learnt echo a frame must be to count as the caller. In simulation
    (tests, and 8 event-loop stalls of up to 300 ms in 6 s) echo never fired at 3 dB and
    did at 2 dB; each dB more delays double talk on a speakerphone."""

    echo_learn_rate: float = 0.5
    """Fraction of the way the coupling at a delay moves down to a new, lower bound per
    frame. Below 1 so a single odd frame cannot drop it all the way."""

    echo_rise_db_per_s: float = 3.0
    """How fast a per-delay coupling bound creeps back up. Frozen while the caller is
    talking; a suddenly louder echo path is caught by the envelope instead."""

    echo_envelope_fall_db_per_s: float = 2.0
    """How fast the echo envelope (loudest `mic - loudest coach in the window` seen while
    the caller is quiet) decays. Slow, so a speakerphone's echo is remembered through
    quieter stretches; a line with no echo is learnt by the per-delay bounds instead."""

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError("aggressiveness must be 0, 1, 2 or 3")
        if not 0 < self.min_voiced_ms <= self.min_speech_ms:
            raise ValueError("need 0 < min_voiced_ms <= min_speech_ms")
        if not 0 < self.masked_voiced_ms <= self.min_voiced_ms:
            raise ValueError("need 0 < masked_voiced_ms <= min_voiced_ms")
        if self.echo_excess_db < 0 or self.masked_periodic_frames < 1:
            raise ValueError("need echo_excess_db >= 0 and masked_periodic_frames >= 1")
        if self.release_ms < ANALYSIS_MS or self.echo_window_ms < ANALYSIS_MS:
            raise ValueError("release_ms and echo_window_ms must cover at least one frame")
        if self.noise_floor_fall_ms <= 0 or self.noise_floor_rise_db_per_s < 0:
            raise ValueError("noise floor adaptation rates must be positive")
        if not 0 < self.echo_learn_rate <= 1:
            raise ValueError("need 0 < echo_learn_rate <= 1")
        if min(self.echo_rise_db_per_s, self.echo_envelope_fall_db_per_s) < 0:
            raise ValueError("echo rise and envelope fall must not be negative")


def _analysis_frames(duration_ms: float) -> int:
    return max(1, math.ceil(duration_ms / ANALYSIS_MS))


def _power_to_dbfs(mean_square: float) -> float:
    return max(_SILENCE_DBFS, 10.0 * math.log10(mean_square / _FULL_SCALE_POWER + 1e-12))


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2).astype(np.float64)


def level_dbfs(pcm: bytes) -> float:
    """RMS level of PCM16 bytes in dB relative to full scale (-96 for silence)."""
    samples = _samples(pcm)
    if samples.size == 0:
        return _SILENCE_DBFS
    return _power_to_dbfs(float(np.dot(samples, samples)) / samples.size)


def _analysis_levels_dbfs(samples: np.ndarray) -> list[float]:
    """Level of each 10 ms piece of samples, in order (a shorter tail counts as a piece)."""
    pieces = (samples[start : start + _ANALYSIS_SAMPLES] for start in range(0, samples.size, _ANALYSIS_SAMPLES))
    return [_power_to_dbfs(float(np.dot(piece, piece)) / piece.size) for piece in pieces]


def periodicity(samples: np.ndarray) -> float:
    """Peak normalised autocorrelation of `samples` at voice pitch lags (80-400 Hz): ~1 periodic, ~0 noise."""
    x = samples - samples.mean()
    n = x.size
    raw = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * n)) ** 2)[_PITCH_LAGS]
    energy = np.cumsum(x * x)
    lags = np.arange(_PITCH_LAGS.start, _PITCH_LAGS.stop)
    head = energy[n - 1 - lags]  # x[: n - lag]
    tail = energy[-1] - energy[lags - 1]  # x[lag:]
    return float(np.max(raw / np.sqrt(head * tail + 1.0)))


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


class _EchoPath:
    """The coach's audio timeline and the echo return loss learnt from it (all in dB per 10 ms frame).

    Works on a whole 20 ms inbound frame at a time: `advance` plays the next two
    10 ms coach levels and returns, for each half of the frame, the coach's level at
    every delay (a view, rows x delays); `estimate` and `learn` take that view.
    The timeline is a doubled ring buffer (each level written twice), so every
    row is a contiguous slice and nothing is copied per frame.
    """

    def __init__(self, cfg: BargeInConfig) -> None:
        delays = _analysis_frames(cfg.echo_window_ms)
        delays += delays % 2  # the ring advances two levels at a time and must not straddle its end
        self._delays = delays
        self._timeline = np.full(2 * delays, _SILENCE_DBFS)
        self._rows = sliding_window_view(self._timeline, delays)
        self._newest = 0
        self._coupling = np.full(delays, cfg.echo_prior_db)
        self._envelope = -math.inf
        self._held: deque[float] = deque()
        self.return_loss_db = cfg.echo_prior_db
        """Strongest coupling learnt: the echo of the loudest coach audio in the window is at most this loud."""
        self._learn_rate = cfg.echo_learn_rate
        self._rise = cfg.echo_rise_db_per_s * _LEARN_EVERY_FRAMES * FRAME_MS / 1000
        self._envelope_fall = cfg.echo_envelope_fall_db_per_s * _LEARN_EVERY_FRAMES * FRAME_MS / 1000
        self._frames = 0
        self._audible = cfg.min_level_dbfs
        self._since_audible = delays  # analysis frames since an audible coach level was played
        self._pending: deque[float] = deque()
        self._max_pending = _MAX_PENDING_OUTBOUND_MS // ANALYSIS_MS

    def add_outbound(self, samples: np.ndarray) -> None:
        room = self._max_pending - len(self._pending)
        self._pending.extend(_analysis_levels_dbfs(samples)[:room])

    def forget_playback(self) -> None:
        """A barge-in clears the coach's playback: drop the timeline.

        Audio is handed over (and enters the timeline) up to a few tens of ms before it
        plays, so the newest part of the timeline may have been cut and will never
        echo; learning from it would wrongly lower the coupling at the real delay.
        """
        self._pending.clear()
        self._held.clear()
        self._timeline[:] = _SILENCE_DBFS
        self._since_audible = self._delays

    def forget_envelope(self) -> None:
        """The echo canceller locked on: the envelope measured the line before cancellation, far above
        what is left after it, and falling at `echo_envelope_fall_db_per_s` it would hide the caller for
        seconds. The per-delay bounds fall to the new evidence within a few frames on their own."""
        self._envelope = -math.inf
        self._held.clear()
        self.return_loss_db = float(self._coupling.max())

    @property
    def coach_in_window(self) -> bool:
        """Whether audible coach audio was played within the echo window (else there is no echo to model)."""
        return self._since_audible < self._delays

    def advance(self) -> np.ndarray:
        """Play the next 20 ms of coach audio; the coach's level by delay for each 10 ms half (2 x delays)."""
        first, second = self._play(), self._play()
        newest = (self._newest - 2) % self._delays
        timeline, delays = self._timeline, self._delays
        timeline[newest + 1] = timeline[newest + 1 + delays] = first
        timeline[newest] = timeline[newest + delays] = second
        self._newest = newest
        return self._rows[newest : newest + 2][::-1]

    def _play(self) -> float:
        level = self._pending.popleft() if self._pending else _SILENCE_DBFS
        self._since_audible = 0 if level >= self._audible else self._since_audible + 1
        return level

    def estimate(self, coach: np.ndarray) -> np.ndarray:
        """Loudest echo expected in each half: the loudest coach audio in the window at the return loss."""
        return coach.max(axis=1) + self.return_loss_db

    def learn(self, coach: np.ndarray, mic_dbfs: np.ndarray, caller_active: bool) -> None:
        """Tighten the per-delay coupling bounds and follow the echo envelope with this frame.

        Only every `_LEARN_EVERY_FRAMES`-th frame is used (the rest are skipped for CPU).
        `min(rate * gap, rise)` is both the fall towards a lower bound (gap < 0) and
        the capped creep towards a higher one, in one vectorised step. Nothing rises
        while the caller is talking.
        """
        self._frames += 1
        if self._frames % _LEARN_EVERY_FRAMES:
            return
        gap = (mic_dbfs[:, None] - coach).min(axis=0)
        gap -= self._coupling
        gap *= self._learn_rate
        np.minimum(gap, 0.0 if caller_active else self._rise, out=gap)
        self._coupling += gap
        self._follow_envelope(float((mic_dbfs - coach.max(axis=1)).max()), caller_active)
        self.return_loss_db = max(self._envelope, float(self._coupling.max()))

    def _follow_envelope(self, observed_db: float, caller_active: bool) -> None:
        """Let the envelope rise to an observation only once `_ENVELOPE_HOLD` learning steps have passed
        with no caller activity: the caller's speech masked by the coach before anything qualified
        would otherwise be learnt as echo and mask the caller further.

        It falls only as observations are released: while caller activity keeps discarding them it
        holds, or short sounds every 100-200 ms would starve it until echo passed as the caller."""
        if caller_active:
            self._held.clear()
        else:
            self._held.append(observed_db)
        if len(self._held) > _ENVELOPE_HOLD:  # else nothing new was seen: hold rather than fall
            self._envelope = max(self._held.popleft(), self._envelope - self._envelope_fall)


@dataclass
class _Run:
    """A run of qualifying frames that may become a confirmed onset (times in stream ms)."""

    start_ms: int
    end_ms: int
    aperiodic_frames: int = 0
    misses: int = 0
    after_masked: bool = False
    """The frame before the run passed the noise gates but not the echo test: it may have begun under the echo."""
    clear_of_echo: bool = False
    """A frame whose threshold was set by the echo estimate beat it by `echo_excess_db`."""
    periodic_streak: int = 0


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
        self._echo = _EchoPath(cfg)
        self._canceller = EchoCanceller(cfg.echo_window_ms, _MAX_PENDING_OUTBOUND_MS)
        self._span_needed_ms = cfg.min_speech_ms + 2 * BLOCK_MS
        self._voiced_span_needed_ms = cfg.min_voiced_ms + 2 * BLOCK_MS
        self._masked_span_needed_ms = cfg.masked_voiced_ms + 2 * BLOCK_MS
        self._excess_over_echo: float | None = None
        self._masked = self._masked_before = False
        self._release_frames = _analysis_frames(cfg.release_ms)
        self._run: _Run | None = None
        self._previous_frame = np.zeros(FRAME_BYTES // 2)
        self._frame = self._previous_frame
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
        """Register coach audio (PCM16 8 kHz, any length) when handed to the player.

        It joins the coach timeline, consumed at the pace of inbound audio.
        """
        if len(pcm8k) >= 2:
            samples = _samples(pcm8k)
            self._echo.add_outbound(samples)
            self._canceller.add_outbound(samples)

    def push_inbound(self, pcm8k_frame: bytes) -> bool:
        """Process one 20 ms caller frame (320 bytes PCM16 8 kHz).

        Returns True only on the frame that confirms a new speech onset.
        """
        if len(pcm8k_frame) != FRAME_BYTES:
            raise ValueError(f"expected a {FRAME_BYTES}-byte frame, got {len(pcm8k_frame)}")
        received = _samples(pcm8k_frame)
        samples = self._cancel_echo(received)
        if samples is not received:  # webrtcvad reads PCM16
            pcm8k_frame = to_pcm16_bytes(samples)
        self._frame = samples
        first, second = samples[:_ANALYSIS_SAMPLES], samples[_ANALYSIS_SAMPLES:]
        levels = [_power_to_dbfs(float(np.dot(x, x)) / _ANALYSIS_SAMPLES) for x in (first, second)]
        coach = self._echo.advance()
        audible = self._echo.coach_in_window and max(levels) >= self.config.min_level_dbfs
        echo = self._echo.estimate(coach).tolist() if audible else [_SILENCE_DBFS] * 2  # else no frame qualifies
        fired = False
        for half, pcm in enumerate((pcm8k_frame[:_ANALYSIS_BYTES], pcm8k_frame[_ANALYSIS_BYTES:])):
            fired = self._analyse(pcm, half, levels[half], echo[half]) or fired
        if self._echo.coach_in_window:
            self._echo.learn(coach, np.array(levels), caller_active=self.speaking or self._run is not None)
        self._previous_frame = samples
        return fired

    def _cancel_echo(self, samples: np.ndarray) -> np.ndarray:
        """The caller's frame with the coach's echo subtracted; the canceller's first lock resets the envelope."""
        was_locked = self._canceller.delay is not None
        cancelled = self._canceller.process(samples)
        if not was_locked and self._canceller.delay is not None:
            self._echo.forget_envelope()
        return cancelled

    def _analyse(self, pcm: bytes, half: int, level: float, echo: float) -> bool:
        """Advance by one 10 ms analysis frame; True if it confirms an onset."""
        self._analysed += 1
        threshold = self._speech_threshold(pcm, level, echo)
        if self.speaking:
            self._continue_utterance(threshold is not None)
            return False
        if threshold is None:
            self._miss()
            return False
        self._extend_run(half, threshold)
        if not self._confirmed():
            return False
        self._run = None
        self.speaking = True
        self.speech_onsets += 1
        self._non_speech_run = 0
        self.last_speech_ms = self.stream_ms
        self._echo.forget_playback()
        self._canceller.forget_playback()
        return True

    def _speech_threshold(self, pcm: bytes, level: float, echo: float) -> float | None:
        """The level (dBFS) a 10 ms frame had to beat if it qualifies as caller speech, else None."""
        cfg = self.config
        floor = self._noise_floor.dbfs
        self._noise_floor.update(level)
        if floor is None:
            return None
        above_noise = max(cfg.min_level_dbfs, floor + cfg.energy_margin_db)
        threshold = max(above_noise, echo + cfg.echo_margin_db)
        self._masked_before, self._masked = self._masked, above_noise <= level < threshold
        if level < threshold or not self._vad.is_speech(pcm, SAMPLE_RATE):
            return None
        self._excess_over_echo = level - threshold if threshold > above_noise else None
        return threshold

    def _extend_run(self, half: int, threshold_dbfs: float) -> None:
        """Add a qualifying frame to the current run (starting one if needed), timed by its active 2 ms blocks."""
        chunk = self._frame[half * _ANALYSIS_SAMPLES : (half + 1) * _ANALYSIS_SAMPLES]
        blocks = chunk.reshape(_BLOCKS_PER_ANALYSIS, -1)
        block_energy = (blocks * blocks).sum(axis=1)
        active = np.flatnonzero(block_energy >= blocks.shape[1] * _FULL_SCALE_POWER * 10 ** (threshold_dbfs / 10))
        frame_start = self.stream_ms - ANALYSIS_MS
        if self._run is None:
            self._run = _Run(start_ms=frame_start + int(active[0]) * BLOCK_MS, end_ms=frame_start)
            self._run.after_masked = self._masked_before
        self._run.end_ms = frame_start + (int(active[-1]) + 1) * BLOCK_MS
        self._run.misses = 0
        excess = self._excess_over_echo
        if excess is not None and excess >= self.config.echo_excess_db:
            self._run.clear_of_echo = True
        if periodicity(self._recent(half)) < self.config.voicing_threshold:
            self._run.aperiodic_frames += 1
            self._run.periodic_streak = 0
        else:
            self._run.periodic_streak += 1

    def _recent(self, half: int) -> np.ndarray:
        """The caller's audio over the periodicity window that ends with analysis frame `half` of this frame."""
        end = FRAME_BYTES // 2 + (half + 1) * _ANALYSIS_SAMPLES
        return np.concatenate((self._previous_frame, self._frame))[end - _PERIODICITY_SAMPLES : end]

    def _confirmed(self) -> bool:
        run = self._run
        assert run is not None
        span = run.end_ms - run.start_ms
        voiced = run.aperiodic_frames <= 2 and span >= self._voiced_span_needed_ms
        masked = (
            run.after_masked
            and run.clear_of_echo
            and span >= self._masked_span_needed_ms
            and run.periodic_streak >= self.config.masked_periodic_frames
        )
        return voiced or masked or span >= self._span_needed_ms

    def _miss(self) -> None:
        """A non-qualifying frame: a run survives one, not two in a row."""
        if self._run is not None:
            self._run.misses += 1
            if self._run.misses > 1:
                self._run = None

    def _continue_utterance(self, is_speech: bool) -> None:
        if is_speech:
            self._non_speech_run = 0
            self.last_speech_ms = self.stream_ms
            return
        self._non_speech_run += 1
        if self._non_speech_run >= self._release_frames:
            self.speaking = False

