"""Echo cancellation for barge-in: takes the coach's own voice out of the caller's audio when the line
returns it as a delayed, attenuated copy (a speakerphone), so the detector hears a caller under it.

Why: a level test cannot see a caller quieter than the echo, and a caller's first 40-80 ms are (see
`voice.vad`): over -10 dB echo, barge-in came 20 ms later than on a handset, with a p95 just above the
120 ms target. Subtracting the echo's waveform leaves the caller from their first syllable.

The model is the simplest echo there is: one delayed, scaled copy of what the coach played,
`echo(t) = g * coach(t - d)`, with d within the echo window. The coach's audio is a timeline of samples
consumed at the pace of inbound audio, exactly like the detector's timeline of levels, so d is the delay
between handing a frame to the player and hearing it back. Each 10 ms piece of caller audio is handled
in up to three steps:

1. local: once a delay is locked, its copy at the locked gain; when that does not explain the piece
   (leave `_EXPLAINED_DB` less energy), the lag within `_LOCAL_SAMPLES` of it, with its least-squares
   gain, that leaves the least. The delay between the timeline and the caller's audio moves (late
   packets, a new turn starting at another phase, an event-loop stall); the lock follows it.
2. global: when that does not explain the piece either (the echo moved further, or the caller is
   talking) and the piece is audible, the piece is correlated with the whole window (FFT, about ten local
   steps of CPU). A delay that explains it is subtracted at once, and locked once it has explained
   `_CONFIRMING_PIECES` searched pieces in a row.
3. neither: the caller is talking over the echo, or the echo is not a copy any more. The lock's copy is
   subtracted (a fit to the caller's voice as well would leave part of the echo in), never leaving more
   than the piece itself: the caller, plus residual echo that the detector's level-based echo path bounds.

Not a full acoustic echo canceller: an echo path far from one delayed copy (a reverberant room, a
non-linear loudspeaker) is never explained to `_EXPLAINED_DB`, never locked, and the detector then works
on the line as it arrives. Until the first lock nothing is subtracted but the pieces a search explained,
so on a handset (no echo) the caller's voice comes through: it is explained by the coach's at no delay,
except where the two share a sound exactly (synthetic voices do), for a piece or three.

The risk: after a lock the detector's learnt echo level is what is left after cancelling, so echo the
canceller cannot explain passes as the caller. Echo whose delay jumps by whole frames and wanders does
not (tests/unit/test_vad.py); echo spliced inside every 20 ms frame did in simulation (see
docs/architecture.md).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SAMPLE_RATE = 8000
_FRAME_SAMPLES = 160
_PIECE_SAMPLES = 80
_LOCAL_SAMPLES = 40
"""The lock follows the echo within +/- 5 ms per 10 ms piece (further: the global search)."""
_EXPLAINED_DB = 12.0
"""How far subtracting the echo must lower the energy for the audio to count as explained by it."""
_CONFIRMING_PIECES = 3
"""Pieces in a row a new delay must explain before it is locked: one 10 ms piece of the caller's own voice is
now and then explained to 14 dB by the coach's at some delay (two voices with the same pitch for a moment);
the same delay three times running, only a real echo."""
_EXPLAINED_RATIO = 10 ** (_EXPLAINED_DB / 10)
_AUDIBLE_POWER = 32768.0**2 * 10 ** (-50 / 10)
"""Mean square of -50 dBFS: quieter audio is line noise; there is nothing worth cancelling."""
_AUDIBLE_ENERGY = _AUDIBLE_POWER * _PIECE_SAMPLES
_TINY_POWER = 1.0


class EchoCanceller:
    """One per call: `add_outbound` the coach's PCM as it is handed to the player, `process` each 20 ms
    caller frame (float samples) in order; `process` returns the frame with the echo taken out."""

    def __init__(self, echo_window_ms: int, max_pending_ms: int) -> None:
        self._max_delay = echo_window_ms * SAMPLE_RATE // 1000
        self._timeline = np.zeros(self._max_delay + _LOCAL_SAMPLES + 2 * _FRAME_SAMPLES)
        self._copies = sliding_window_view(self._timeline, _PIECE_SAMPLES)  # row i: the piece from index i on
        self._pending = np.zeros(0)
        self._max_pending = max_pending_ms * SAMPLE_RATE // 1000
        self._silent_after = -(-self._max_delay // _FRAME_SAMPLES) + 1  # frames: all coach audio has echoed
        self._frames_since_coach = self._silent_after
        self._fft_size = 2 ** math.ceil(math.log2(self._max_delay + _PIECE_SAMPLES))  # no circular wrap at any delay
        self.delay: int | None = None
        """The locked echo delay in samples, None until an echo has been explained."""
        self.gain = 0.0
        """The echo's gain at the locked delay."""
        self._candidate: tuple[int, int] | None = None  # a delay a search found, and in how many pieces in a row

    def add_outbound(self, samples: np.ndarray) -> None:
        room = self._max_pending - self._pending.size
        if room > 0 and samples.size:
            self._pending = np.concatenate((self._pending, samples[:room]))

    def forget_playback(self) -> None:
        """A barge-in cut the coach's playback: its newest audio will never echo. The lock stays."""
        self._pending = self._pending[:0]
        self._timeline[:] = 0.0
        self._frames_since_coach = self._silent_after

    def process(self, frame: np.ndarray) -> np.ndarray:
        """The caller's 20 ms frame with the coach's echo subtracted (the frame itself when there is none)."""
        self._play()
        if self._frames_since_coach >= self._silent_after:
            return frame
        if self.delay is None and float(np.dot(frame, frame)) < _AUDIBLE_ENERGY:
            return frame  # no piece of it is loud enough to search for an echo
        first, second = frame[:_PIECE_SAMPLES], frame[_PIECE_SAMPLES:]
        first_left, second_left = self._cancel(first, 0), self._cancel(second, _PIECE_SAMPLES)
        if first_left is first and second_left is second:
            return frame
        return np.concatenate((first_left, second_left))

    def _cancel(self, piece: np.ndarray, start: int) -> np.ndarray:
        piece_energy = float(np.dot(piece, piece))
        residual, explained = self._cancel_locally(piece, piece_energy, start)
        if explained or piece_energy < _AUDIBLE_ENERGY:
            return residual  # explained, or too quiet to be worth a search
        found = self._search(piece, piece_energy, start)
        return residual if found is None else found

    def _play(self) -> None:
        """Move the next 20 ms of coach audio (silence when none is waiting) onto the timeline."""
        played, self._pending = self._pending[:_FRAME_SAMPLES], self._pending[_FRAME_SAMPLES:]
        self._timeline[:-_FRAME_SAMPLES] = self._timeline[_FRAME_SAMPLES:]
        audible = played.size and float(np.dot(played, played)) >= _AUDIBLE_POWER * played.size
        if played.size < _FRAME_SAMPLES:
            played = np.concatenate((played, np.zeros(_FRAME_SAMPLES - played.size)))
        self._timeline[-_FRAME_SAMPLES:] = played
        self._frames_since_coach = 0 if audible else self._frames_since_coach + 1

    def _copy_start(self, end: int) -> int:
        """Timeline index where the coach's audio starts that echoes at delay 0 into the piece of the current
        frame ending at sample `end`; at delay d it starts d samples earlier."""
        return self._timeline.size - _FRAME_SAMPLES + end - _PIECE_SAMPLES

    def _cancel_locally(self, piece: np.ndarray, piece_energy: float, start: int) -> tuple[np.ndarray, bool]:
        """The piece minus its echo near the locked delay, and whether the echo explained it.

        The lock as it stands first; when that does not explain the piece, the best lag within
        `_LOCAL_SAMPLES` and its least-squares gain, which the lock follows if they explain it. Neither
        (the caller is talking, or the echo moved): the lock's copy is subtracted, since a fit to the
        caller's voice as well would leave part of the echo in; never leaving more than the piece."""
        if self.delay is None:
            return piece, False
        base = self._copy_start(start + _PIECE_SAMPLES)
        residual = piece - self.gain * self._copies[base - self.delay]
        left = float(np.dot(residual, residual))
        if _explains(left, piece_energy) or left < _AUDIBLE_ENERGY:
            return residual, True  # explained, or nothing audible is left to explain
        if piece_energy < _AUDIBLE_ENERGY:
            return (residual if left < piece_energy else piece), False  # too quiet to matter: no search
        copies, low = self._local_copies(base, self.delay)
        energy = np.maximum(np.einsum("ij,ij->i", copies, copies), _TINY_POWER)
        correlation = copies @ piece
        removed = correlation * correlation / energy
        best = int(np.argmax(removed))
        if _explains(piece_energy - float(removed[best]), piece_energy):
            self.delay, self.gain = low + best, float(correlation[best] / energy[best])
            return piece - self.gain * copies[best], True
        return (residual if left < piece_energy else piece), False

    def _local_copies(self, base: int, delay: int) -> tuple[np.ndarray, int]:
        """The copies of the coach's audio at delays within `_LOCAL_SAMPLES` of `delay`, for the piece whose
        delay-0 copy starts at `base`; row i is the copy at the returned lowest delay plus i."""
        low, high = max(delay - _LOCAL_SAMPLES, 0), min(delay + _LOCAL_SAMPLES, self._max_delay)
        return self._copies[base - high : base - low + 1][::-1], low

    def _search(self, piece: np.ndarray, piece_energy: float, start: int) -> np.ndarray | None:
        """The piece (which starts at sample `start` of this frame) minus the scaled copy of the coach's audio
        that explains it to `_EXPLAINED_DB`, if any. Its delay is locked once it has explained
        `_CONFIRMING_PIECES` searched pieces in a row; the pieces before are cancelled with it meanwhile,
        so an echo that jumped (an event-loop stall) does not pass while its new delay is confirmed."""
        n, max_delay = _PIECE_SAMPLES, self._max_delay
        base = self._copy_start(start + n)
        coach = self._timeline[base - max_delay : base + n]  # every delay's copy of `piece`
        size = self._fft_size
        correlation = np.fft.irfft(np.fft.rfft(coach, size) * np.conj(np.fft.rfft(piece, size)), size)
        correlation = correlation[: max_delay + 1]  # index i: the coach delayed by max_delay - i
        squares = np.concatenate(([0.0], np.cumsum(coach * coach)))
        energy = squares[n : n + max_delay + 1] - squares[: max_delay + 1]
        removed = np.where(energy > _TINY_POWER, correlation**2 / np.maximum(energy, _TINY_POWER), 0.0)
        best = int(np.argmax(removed))
        if not _explains(piece_energy - float(removed[best]), piece_energy):
            self._candidate = None
            return None
        delay, gain = max_delay - best, float(correlation[best] / energy[best])
        if self._candidate is None or abs(delay - self._candidate[0]) > _LOCAL_SAMPLES:
            self._candidate = (delay, 0)
        self._candidate = (delay, self._candidate[1] + 1)
        if self._candidate[1] >= _CONFIRMING_PIECES:
            self.delay, self.gain, self._candidate = delay, gain, None
        return piece - gain * coach[best : best + n]


def _explains(left_energy: float, energy: float) -> bool:
    """Whether subtracting an echo that leaves `left_energy` of `energy` explains the audio."""
    return left_energy * _EXPLAINED_RATIO <= energy
