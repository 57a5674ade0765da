"""The echo canceller on the coach's and the caller's recorded speech (see tests/fixtures), after a G.711
round trip as on a phone line: what it removes, what it must leave alone."""

import numpy as np

from audio import speech_8k
from voice.codec import pcm16_to_ulaw, ulaw_to_pcm16
from voice.echo import EchoCanceller

RATE = 8000
FRAME = 160
COACH = np.frombuffer(speech_8k("coach_speech_8k.wav"), dtype="<i2").astype(np.float64)
CALLER = np.frombuffer(speech_8k(), dtype="<i2").astype(np.float64)
LINE_NOISE = np.random.default_rng(1).normal(0, 32768 * 10 ** (-60 / 20), 10 * RATE)


def ms(n: float) -> int:
    return int(round(n * RATE / 1000))


def over_the_line(samples: np.ndarray) -> np.ndarray:
    pcm = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
    return np.frombuffer(ulaw_to_pcm16(pcm16_to_ulaw(pcm)), dtype="<i2").astype(np.float64)


def echo_of(coach: np.ndarray, delay_ms: float, gain_db: float = -10) -> np.ndarray:
    return np.concatenate((np.zeros(ms(delay_ms)), coach))[: coach.size] * 10 ** (gain_db / 20)


def run(coach: np.ndarray, line: np.ndarray) -> tuple[EchoCanceller, np.ndarray]:
    """Play `coach` frame by frame while `line` (plus line noise) comes back; the canceller and its output."""
    canceller = EchoCanceller(echo_window_ms=440, max_pending_ms=2000)
    line = over_the_line(line + LINE_NOISE[: line.size])
    played = over_the_line(coach)
    out = []
    for start in range(0, line.size - FRAME + 1, FRAME):
        canceller.add_outbound(played[start : start + FRAME])
        out.append(canceller.process(line[start : start + FRAME]))
    return canceller, np.concatenate(out)


def level_db(samples: np.ndarray) -> float:
    return 10 * np.log10(np.mean(samples**2) / 32768**2 + 1e-12)


def test_a_delayed_copy_of_the_coach_is_removed_to_the_line_noise():
    coach = np.tile(COACH, 2)
    canceller, out = run(coach, echo_of(coach, 150))
    settled = slice(ms(500), coach.size)
    assert canceller.delay == ms(150)
    assert level_db(echo_of(coach, 150)[settled]) > -35
    assert level_db(out[settled]) < -50


def test_the_caller_talking_over_the_echo_comes_through_whole():
    coach = np.tile(COACH, 3)[: ms(5000)]
    at = ms(2000)
    caller = np.zeros(coach.size)
    caller[at : at + CALLER.size] = CALLER[: coach.size - at]
    _, out = run(coach, echo_of(coach, 150) + caller)
    talking = slice(at, at + CALLER.size)
    left_of_the_echo = out[talking] - over_the_line(caller + LINE_NOISE[: coach.size])[talking]
    assert level_db(left_of_the_echo) < level_db(caller[talking]) - 20


def test_the_lock_follows_an_echo_whose_delay_moves_between_turns():
    turn, pause = COACH, np.zeros(ms(300))
    coach = np.concatenate((turn, pause, turn, pause))
    first = np.concatenate((turn, pause))
    line = np.concatenate((echo_of(first, 150), echo_of(first, 190)))
    canceller, out = run(coach, line)
    second_turn = slice(first.size + ms(400), coach.size - pause.size)
    assert canceller.delay == ms(190)
    assert level_db(out[second_turn]) < -50


def test_without_echo_the_caller_over_the_coach_comes_through_at_full_level():
    """A handset: the coach's voice explains the caller's nowhere but where the two share a sound. In these
    fixtures they do: espeak-ng plays the same recorded samples for an "s" in both voices, and the canceller
    may lock onto that for a moment; the caller's voice must come through all the same."""
    coach = np.tile(COACH, 2)
    caller = np.zeros(coach.size)
    caller[ms(500) : ms(500) + CALLER.size] = CALLER
    _, out = run(coach, caller)
    line = over_the_line(caller + LINE_NOISE[: coach.size])
    for start in range(ms(500), ms(500) + CALLER.size - ms(100), ms(100)):
        window = slice(start, start + ms(100))
        if level_db(line[window]) > -40:
            assert level_db(out[window]) > level_db(line[window]) - 1, f"caller cut at {start / RATE:.1f} s"


def test_after_a_barge_in_the_cut_coach_audio_is_not_subtracted():
    coach = np.tile(COACH, 2)
    canceller, _ = run(coach, echo_of(coach, 150))
    canceller.forget_playback()
    caller = over_the_line(CALLER[:FRAME] * 4)
    assert canceller.process(caller) is caller
