"""Barge-in detector scenarios on synthetic line noise, coughs, coach echo and real (synthesised) speech.

The speech fixtures are espeak-ng recordings at 8 kHz, see
tests/fixtures/make_speech_fixtures.py: the caller says "Wait, I have a question
about that." (voice en-us), the coach says "Let's look at your goals for this
week." (voice en-us+f3). Every inbound signal goes through a G.711 round trip,
as real Twilio audio does.
"""

import wave
from pathlib import Path

import numpy as np
import pytest

from voice.codec import pcm16_to_ulaw, ulaw_to_pcm16
from voice.vad import FRAME_BYTES, BargeInConfig, BargeInDetector, periodicity

RATE = 8000
FRAME = 160  # samples per 20 ms frame
FIXTURES = Path(__file__).parent.parent / "fixtures"
QUIET_LINE_DBFS = -60.0


def load_speech(name: str) -> np.ndarray:
    with wave.open(str(FIXTURES / name)) as wav:
        assert wav.getframerate() == RATE and wav.getnchannels() == 1
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)


CALLER = load_speech("caller_speech_8k.wav")
COACH = load_speech("coach_speech_8k.wav")


def ms(n: float) -> int:
    return int(round(n * RATE / 1000))


def scaled_to_dbfs(samples: np.ndarray, dbfs: float) -> np.ndarray:
    rms = np.sqrt(np.mean(samples**2))
    return samples * (10 ** (dbfs / 20) * 32768 / rms)


def white_noise(seconds: float, dbfs: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return scaled_to_dbfs(rng.normal(size=ms(seconds * 1000)), dbfs)


def hum(seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(ms(seconds * 1000)) / RATE
    buzz = sum(np.sin(2 * np.pi * 60 * k * t) / k for k in (1, 3, 5, 7))
    return scaled_to_dbfs(buzz, dbfs)


def hiss(seconds: float, dbfs: float) -> np.ndarray:
    """High-frequency-heavy noise, like an analogue line's hiss."""
    return scaled_to_dbfs(np.diff(white_noise(seconds + 0.001, 0.0)), dbfs)[: ms(seconds * 1000)]


def place(background: np.ndarray, sound: np.ndarray, at_sample: int) -> np.ndarray:
    mixed = background.copy()
    mixed[at_sample : at_sample + sound.size] += sound[: mixed.size - at_sample]
    return mixed


def delayed(samples: np.ndarray, delay_ms: float, gain_db: float) -> np.ndarray:
    return np.concatenate((np.zeros(ms(delay_ms)), samples))[: samples.size] * 10 ** (gain_db / 20)


def phone_frames(samples: np.ndarray) -> list[bytes]:
    """20 ms PCM16 frames after a G.711 round trip (the tail is zero-padded)."""
    padded = np.concatenate((samples, np.zeros(-samples.size % FRAME)))
    pcm = np.clip(np.rint(padded), -32768, 32767).astype("<i2").tobytes()
    pcm = ulaw_to_pcm16(pcm16_to_ulaw(pcm))
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def fired_frames(
    inbound: np.ndarray, outbound: np.ndarray | None = None, config: BargeInConfig | None = None
) -> list[int]:
    """Indices of inbound frames on which a barge-in fired.

    Outbound (coach) audio is pushed frame by frame just before the inbound
    frame of the same 20 ms slot, as a session pacing playback would.
    """
    detector = BargeInDetector(config)
    played = phone_frames(outbound) if outbound is not None else []
    fired = []
    for index, frame in enumerate(phone_frames(inbound)):
        if index < len(played):
            detector.push_outbound(played[index])
        if detector.push_inbound(frame):
            fired.append(index)
    return fired


def onset_sample(speech: np.ndarray) -> int:
    """First sample of the first 5 ms block louder than -40 dBFS."""
    block = ms(5)
    blocks = speech[: speech.size // block * block].reshape(-1, block)
    loud = np.sqrt((blocks**2).mean(axis=1)) > 10 ** (-40 / 20) * 32768
    return int(np.argmax(loud)) * block


def fire_latency_ms(fired_frame: int, onset_at_sample: int) -> float:
    frame_end_sample = (fired_frame + 1) * FRAME
    return (frame_end_sample - onset_at_sample) * 1000 / RATE


# --------------------------------------------------------------------------- #
# Caller speech
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("offset_ms", [0, 5, 10, 15])
def test_speech_onset_fires_within_120ms(offset_ms):
    start = ms(1000 + offset_ms)
    inbound = place(white_noise(4, QUIET_LINE_DBFS), CALLER, start)
    fired = fired_frames(inbound)
    assert fired, "speech never fired"
    assert fire_latency_ms(fired[0], start + onset_sample(CALLER)) <= 120


def test_one_utterance_with_short_pauses_fires_once():
    inbound = place(white_noise(4, QUIET_LINE_DBFS), CALLER, ms(1000))
    assert len(fired_frames(inbound)) == 1


def test_next_utterance_after_a_pause_fires_again():
    second_start = ms(1000) + CALLER.size + ms(600)
    inbound = place(white_noise(7, QUIET_LINE_DBFS), CALLER, ms(1000))
    inbound = place(inbound, CALLER, second_start)
    detector = BargeInDetector()
    fired = [i for i, frame in enumerate(phone_frames(inbound)) if detector.push_inbound(frame)]
    assert len(fired) == 2
    assert fired[1] * FRAME >= second_start
    assert detector.speech_onsets == 2


def test_spoke_since_reports_speech_after_a_mark_only():
    inbound = place(white_noise(5, QUIET_LINE_DBFS), CALLER, ms(1000))
    detector = BargeInDetector()
    frames = phone_frames(inbound)
    for frame in frames[:40]:  # 800 ms of quiet line
        detector.push_inbound(frame)
    mark_before_speech = detector.stream_ms
    for frame in frames[40:]:
        detector.push_inbound(frame)
    assert detector.spoke_since(mark_before_speech)
    assert not detector.spoke_since(detector.stream_ms)
    assert detector.stream_ms == len(frames) * 20


# --------------------------------------------------------------------------- #
# Noise, clicks and coughs
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "noise",
    [
        pytest.param(lambda: white_noise(5, -30), id="white-noise-30dBFS"),
        pytest.param(lambda: white_noise(5, -50), id="white-noise-50dBFS"),
        pytest.param(lambda: hum(5, -20), id="60Hz-hum-20dBFS"),
        pytest.param(lambda: hiss(5, -40), id="line-hiss-40dBFS"),
        pytest.param(lambda: hum(5, -30) + hiss(5, -45), id="hum-and-hiss"),
    ],
)
def test_steady_line_noise_never_fires(noise):
    assert fired_frames(noise()) == []


def loudest_speech(duration_ms: float) -> np.ndarray:
    """The loudest stretch of the caller fixture: speech that webrtcvad surely flags."""
    length = ms(duration_ms)
    energy = np.convolve(CALLER**2, np.ones(length), mode="valid")
    start = int(np.argmax(energy))
    return CALLER[start : start + length]


@pytest.mark.parametrize("offset_ms", [0, 5, 10, 15])
@pytest.mark.parametrize("duration_ms", [80, 90, 98])
def test_speech_shorter_than_100ms_does_not_fire_without_the_voiced_fast_path(duration_ms, offset_ms):
    inbound = place(white_noise(3, QUIET_LINE_DBFS), loudest_speech(duration_ms), ms(1000 + offset_ms))
    assert fired_frames(inbound, config=BargeInConfig(min_voiced_ms=100)) == []


@pytest.mark.parametrize("offset_ms", [0, 5, 10, 15])
def test_voiced_sound_shorter_than_min_voiced_ms_does_not_fire(offset_ms):
    inbound = place(white_noise(3, QUIET_LINE_DBFS), loudest_speech(40), ms(1000 + offset_ms))
    assert fired_frames(inbound) == []


def click(duration_ms: float, seed: int) -> np.ndarray:
    """A sharp broadband attack decaying over the burst (a knock, a handset rustle)."""
    length = ms(duration_ms)
    rng = np.random.default_rng(seed)
    return rng.normal(size=length) * np.exp(-np.arange(length) / (length / 4)) * 20000


def cough(duration_ms: float, seed: int) -> np.ndarray:
    """Low-passed noise under a smooth envelope, loud (-15 dBFS)."""
    length = ms(duration_ms)
    rng = np.random.default_rng(seed)
    low_passed = np.convolve(rng.normal(size=length), np.ones(4) / 4, mode="same")
    return scaled_to_dbfs(low_passed * np.hanning(length), -15)


@pytest.mark.parametrize("offset_ms", [0, 5, 15])
@pytest.mark.parametrize("duration_ms", [20, 40, 60, 80, 90])
@pytest.mark.parametrize("burst", [click, cough])
def test_clicks_and_coughs_of_20_to_90ms_do_not_fire(burst, duration_ms, offset_ms):
    for seed in range(3):
        inbound = place(white_noise(3, QUIET_LINE_DBFS), burst(duration_ms, seed), ms(1000 + offset_ms))
        assert fired_frames(inbound) == [], f"seed {seed}"


@pytest.mark.parametrize("duration_ms", [60, 90])
def test_a_cough_over_the_coach_on_a_handset_does_not_fire(duration_ms):
    """The handset's learnt echo threshold is low, so only the onset rule stands between a cough and a barge-in."""
    outbound = coach_talking(4)
    inbound = place(white_noise(4, QUIET_LINE_DBFS), cough(duration_ms, 1), ms(2005))
    assert fired_frames(inbound, outbound) == []


# --------------------------------------------------------------------------- #
# Coach echo and double talk
# --------------------------------------------------------------------------- #


def coach_talking(seconds: float) -> np.ndarray:
    repeats = int(np.ceil(ms(seconds * 1000) / COACH.size))
    return np.tile(COACH, repeats)[: ms(seconds * 1000)]


@pytest.mark.parametrize("delay_ms", [50, 120, 200, 300])
@pytest.mark.parametrize("gain_db", [-6, -10, -15, -20])
def test_coach_echo_does_not_fire(gain_db, delay_ms):
    """From the first word of the coach, before anything is learnt, and after."""
    outbound = coach_talking(5)
    inbound = delayed(outbound, delay_ms, gain_db) + white_noise(5, QUIET_LINE_DBFS)
    assert fired_frames(inbound, outbound) == []


def test_echo_whose_delay_drifts_between_coach_turns_does_not_fire():
    """Playback and caller audio are clocked independently, so each turn can echo 30 ms earlier or later."""
    turn, pause = coach_talking(2), np.zeros(ms(800))
    outbound = np.concatenate([turn, pause] * 4)
    inbound = np.concatenate(
        [delayed(np.concatenate((turn, pause)), delay_ms, -10) for delay_ms in (150, 180, 150, 120)]
    )
    inbound += white_noise(outbound.size / RATE, QUIET_LINE_DBFS)
    assert fired_frames(inbound, outbound) == []


@pytest.mark.parametrize("burst", [click, cough])
def test_short_sounds_every_150ms_over_echo_do_not_wear_the_learnt_echo_down(burst):
    """Each sound discards the echo observations held before it; the echo estimate must hold meanwhile.

    The echo's delay changes between turns, so the per-delay bounds cannot carry the threshold alone.
    """
    turn, pause = coach_talking(2), np.zeros(ms(300))
    delays_ms = (150, 190, 130, 170, 150, 190, 130, 170)
    outbound = np.concatenate([turn, pause] * len(delays_ms))
    inbound = np.concatenate([delayed(np.concatenate((turn, pause)), d, -10) for d in delays_ms])
    inbound += white_noise(outbound.size / RATE, QUIET_LINE_DBFS)
    for turn_index in range(1, 6):
        turn_start = turn_index * (turn.size + pause.size)
        for at in range(turn_start + ms(100), turn_start + turn.size, ms(150)):
            inbound = place(inbound, burst(20, seed=at), at)
    assert fired_frames(inbound, outbound) == []


@pytest.mark.parametrize("offset_ms", [0, 5, 10, 15])
def test_caller_at_the_coach_level_on_a_handset_fires_within_120ms(offset_ms):
    outbound = coach_talking(5)
    start = ms(1500 + offset_ms)
    inbound = place(white_noise(5, QUIET_LINE_DBFS), CALLER, start)
    fired = fired_frames(inbound, outbound)
    assert fired, "caller over the coach never fired"
    assert fire_latency_ms(fired[0], start + onset_sample(CALLER)) <= 120


def test_quiet_caller_over_the_coach_on_a_handset_fires():
    """No echo is learnt on a handset, so even a caller 16 dB under the coach interrupts."""
    outbound = coach_talking(5)
    start = ms(1500)
    inbound = place(white_noise(5, QUIET_LINE_DBFS), scaled_to_dbfs(CALLER, -38), start)
    fired = fired_frames(inbound, outbound)
    assert fired and fire_latency_ms(fired[0], start + onset_sample(CALLER)) <= 200


@pytest.mark.parametrize("delay_ms", [50, 120, 300])
def test_caller_speaking_over_speakerphone_echo_fires(delay_ms):
    outbound = coach_talking(5)
    echo = delayed(outbound, delay_ms, gain_db=-10) + white_noise(5, QUIET_LINE_DBFS)
    start = ms(1500)
    inbound = place(echo, CALLER, start)
    fired = fired_frames(inbound, outbound)
    assert fired, "double talk never fired"
    assert fired[0] * FRAME < start + CALLER.size, "fired only after the caller stopped"


def speakerphone_echo(seconds: float, delay_ms: float = 150, gain_db: float = -10) -> tuple[np.ndarray, np.ndarray]:
    """The coach talking and the line carrying its echo (plus quiet line noise): (outbound, inbound)."""
    outbound = coach_talking(seconds)
    return outbound, delayed(outbound, delay_ms, gain_db) + white_noise(seconds, QUIET_LINE_DBFS)


@pytest.mark.parametrize("offset_ms", [0, 5, 10, 15])
@pytest.mark.parametrize("start_ms", [2000, 3000])
@pytest.mark.parametrize("delay_ms", [120, 200])
def test_caller_over_speakerphone_echo_fires_within_100ms(delay_ms, start_ms, offset_ms):
    """The caller's first ~50 ms drown in the echo; the run that rises out of it gets credit for them."""
    outbound, echo = speakerphone_echo(5, delay_ms)
    start = ms(start_ms + offset_ms)
    fired = fired_frames(place(echo, CALLER, start), outbound)
    assert fired, "double talk never fired"
    assert fire_latency_ms(fired[0], start + onset_sample(CALLER)) <= 100


@pytest.mark.parametrize("offset_ms", [0, 5, 10, 15])
@pytest.mark.parametrize("at_ms", [2000, 2500, 3100])
def test_voiced_sound_over_echo_shorter_than_masked_voiced_ms_does_not_fire(at_ms, offset_ms):
    outbound, echo = speakerphone_echo(4)
    inbound = place(echo, loudest_speech(20), ms(at_ms + offset_ms))
    assert fired_frames(inbound, outbound) == []


@pytest.mark.parametrize("offset_ms", [0, 5, 15])
@pytest.mark.parametrize("duration_ms", [20, 40, 60, 90])
@pytest.mark.parametrize("burst", [click, cough])
@pytest.mark.parametrize("gain_db", [-6, -10, -15])
def test_clicks_and_coughs_over_speakerphone_echo_do_not_fire(gain_db, burst, duration_ms, offset_ms):
    """Loud enough to stand clear of the echo, but aperiodic: no masked-onset credit."""
    outbound, echo = speakerphone_echo(4, gain_db=gain_db)
    for seed, at_ms in enumerate((2000, 2500, 3100)):
        inbound = place(echo, burst(duration_ms, seed), ms(at_ms + offset_ms))
        assert fired_frames(inbound, outbound) == [], f"burst at {at_ms} ms"


@pytest.mark.parametrize("offset_ms", [0, 5, 10, 15])
def test_short_voiced_sound_over_the_coach_on_a_handset_gets_no_masked_onset_credit(offset_ms):
    """300 ms into the coach's first turn the echo threshold is still the prior's (6 dB under the coach),
    but before the sound there was only line noise, nothing it could have masked: 40 ms stays too short."""
    outbound = np.concatenate((np.zeros(ms(500)), coach_talking(3)))
    inbound = place(white_noise(3.5, QUIET_LINE_DBFS), loudest_speech(40), ms(800 + offset_ms))
    assert fired_frames(inbound, outbound) == []


def coach_turns_with_pauses(seconds: float, seed: int) -> np.ndarray:
    """Coach turns of 1-4 s, each starting somewhere in the fixture, with pauses of 0.2-1 s."""
    rng = np.random.default_rng(seed)
    pieces, total = [], 0
    while total < ms(seconds * 1000):
        turn = np.roll(coach_talking(rng.uniform(1, 4)), -int(rng.integers(0, ms(1000))))
        pieces += [turn, np.zeros(ms(rng.uniform(200, 1000)))]
        total += turn.size + pieces[-1].size
    return np.concatenate(pieces)[: ms(seconds * 1000)]


def wandering_echo(outbound: np.ndarray, base_delay_ms: float, gain_db: float, seed: int) -> np.ndarray:
    """The echo of `outbound` whose delay wanders +/-30 ms around the base (a random walk, per 20 ms frame)."""
    rng = np.random.default_rng(seed)
    wander = 30 * np.tanh(np.cumsum(rng.normal(0, 1.5, outbound.size // FRAME)) / 30)
    echo = np.zeros(outbound.size)
    for i, delay_ms in enumerate(base_delay_ms + wander):
        start = i * FRAME - ms(delay_ms)
        if start + FRAME > 0:
            lo = max(start, 0)
            echo[i * FRAME + lo - start : (i + 1) * FRAME] = outbound[lo : start + FRAME]
    return echo * 10 ** (gain_db / 20)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("delay_ms", [50, 150])
@pytest.mark.parametrize("gain_db", [-6, -10])
def test_echo_whose_delay_wanders_within_a_turn_does_not_fire(gain_db, delay_ms, seed):
    """Such echo briefly passes its threshold now and then (by at most ~1.3 dB), never clear of it."""
    outbound = coach_turns_with_pauses(6, seed)
    inbound = wandering_echo(outbound, delay_ms, gain_db, seed) + white_noise(6, QUIET_LINE_DBFS, seed)
    assert fired_frames(inbound, outbound) == []


def echo_with_stalls(outbound: np.ndarray, base_delay_ms: float, gain_db: float, seed: int) -> np.ndarray:
    """The echo of `outbound` whose delay jumps by whole 20 ms frames (an event-loop stall: the timeline
    skips or repeats frames) 8 times, at any sample, and wanders +/-30 ms between frames as well."""
    rng = np.random.default_rng(seed)
    delay = np.full(outbound.size, ms(base_delay_ms))
    for at in np.sort(rng.integers(0, outbound.size, 8)):
        delay[at:] += FRAME * int(rng.integers(1, 8)) * int(rng.choice((-1, 1)))
    wander = 30 * np.tanh(np.cumsum(rng.normal(0, 1.5, outbound.size // FRAME + 1)) / 30)
    delay = np.clip(delay + np.repeat(np.rint(wander * RATE / 1000).astype(int), FRAME)[: outbound.size], ms(20), ms(430))
    source = np.arange(outbound.size) - delay
    return np.where(source >= 0, outbound[np.maximum(source, 0)], 0.0) * 10 ** (gain_db / 20)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("gain_db", [-6, -12])
def test_echo_whose_delay_jumps_with_stalls_does_not_fire(gain_db, seed):
    """The echo canceller loses its lock at each jump and must find the new delay before the echo passes."""
    outbound = coach_turns_with_pauses(6, seed)
    inbound = echo_with_stalls(outbound, 150, gain_db, seed) + white_noise(6, QUIET_LINE_DBFS, seed)
    assert fired_frames(inbound, outbound) == []


def barge_ins_over_speakerphone(leads_ms: list[int], delays_ms: list[int]) -> list[float | None]:
    """Coach turns over -10 dB echo, each interrupted by the caller `lead` ms in: each barge-in's latency.

    After a 2 s turn that is only echo. The coach is cut on the frame that fires, as the session does;
    its echo (at that turn's delay) dies away after it.
    """
    detector = BargeInDetector()
    warm_up = coach_talking(2)
    line = white_noise(30, QUIET_LINE_DBFS)
    warm_up_echo = delayed(warm_up, delays_ms[0], -10) + line[: warm_up.size]
    for coach, mic in zip(phone_frames(warm_up), phone_frames(warm_up_echo)):
        detector.push_outbound(coach)
        assert not detector.push_inbound(mic), "echo fired"
    caller, turn = CALLER[: ms(600)], coach_talking(2)
    latencies: list[float | None] = []
    at = warm_up.size
    for lead_ms, delay_ms in zip(leads_ms, delays_ms):
        frames = (ms(lead_ms) + caller.size + ms(400)) // FRAME
        played = np.zeros(frames * FRAME)
        voice = place(line[at : at + played.size], caller, ms(lead_ms))
        fired = None
        for i in range(frames):
            now = slice(i * FRAME, (i + 1) * FRAME)
            if fired is None:
                played[now] = turn[now]
                detector.push_outbound(phone_frames(played[now])[0])
            mic = voice[now] + delayed(played, delay_ms, -10)[now]
            if detector.push_inbound(phone_frames(mic)[0]) and fired is None:
                assert now.stop > ms(lead_ms), "fired before the caller spoke"
                fired = i
        latencies.append(None if fired is None else fire_latency_ms(fired, ms(lead_ms) + onset_sample(caller)))
        at += frames * FRAME
    return latencies


def test_repeated_barge_ins_over_a_speakerphone_each_fire_within_120ms():
    leads_ms = [300, 450, 250, 600, 350, 500, 280, 400, 320, 260, 700, 240]
    delays_ms = [150, 190, 160, 180, 170, 150, 190, 160, 180, 170, 150, 185]
    latencies = barge_ins_over_speakerphone(leads_ms, delays_ms)
    assert all(latency is not None and latency <= 120 for latency in latencies), latencies


def test_quiet_caller_fires_once_the_coach_echo_has_died_away():
    coach = coach_talking(2)
    outbound = np.concatenate((coach, np.zeros(ms(3000))))
    line = delayed(outbound, 120, gain_db=-10) + white_noise(5, QUIET_LINE_DBFS)
    quiet_caller = scaled_to_dbfs(CALLER, -38)  # well below the coach's level
    inbound = place(line, quiet_caller, coach.size + ms(700))
    assert fired_frames(inbound, outbound) != []


# --------------------------------------------------------------------------- #
# API contract
# --------------------------------------------------------------------------- #


def test_push_inbound_rejects_frames_that_are_not_20ms():
    with pytest.raises(ValueError):
        BargeInDetector().push_inbound(bytes(160))


def test_config_rejects_a_voiced_fast_path_slower_than_min_speech():
    with pytest.raises(ValueError):
        BargeInConfig(min_speech_ms=100, min_voiced_ms=120)


def test_periodicity_tells_a_voice_from_noise():
    t = np.arange(240) / RATE
    voice_like = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in (1, 2, 3))
    assert periodicity(voice_like) > 0.9
    assert periodicity(np.random.default_rng(1).normal(size=240)) < 0.4
