"""Audio conversion between Twilio Media Streams and Gemini Live.

Twilio speaks G.711 mu-law at 8 kHz in 20 ms frames of 160 bytes. Gemini Live
takes PCM16 at 16 kHz and returns PCM16 at 24 kHz. Everything here is bytes in,
bytes out (PCM16 is little-endian int16) and uses numpy only, no per-sample
Python loops. The resamplers are stateful: create one object per call and
direction, and feed it the stream in order.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ULAW_SILENCE = 0xFF
ULAW_FRAME_BYTES = 160
"""20 ms of mu-law at 8 kHz: the frame size Twilio sends and expects."""

_PCM_DTYPE = np.dtype("<i2")


# --------------------------------------------------------------------------- #
# G.711 mu-law
# --------------------------------------------------------------------------- #

_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159


def _build_ulaw_encode_table() -> np.ndarray:
    """Mu-law code for every int16 value, indexed by the value's uint16 bit pattern.

    Follows the Sun g711.c algorithm that CPython's audioop uses (14-bit input,
    i.e. the int16 sample arithmetically shifted right by 2), so the result is
    bit-exact with ``audioop.lin2ulaw``.
    """
    samples = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)
    value = samples >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left")
    mantissa = (magnitude >> np.minimum(segment + 1, 8)) & 0xF
    code = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | mantissa)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode_table() -> np.ndarray:
    """PCM16 value for each of the 256 mu-law codes (same values as ``audioop.ulaw2lin``)."""
    inverted = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(inverted & 0x80, -magnitude, magnitude).astype(_PCM_DTYPE)


_ULAW_ENCODE = _build_ulaw_encode_table()
_ULAW_DECODE = _build_ulaw_decode_table()


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encode PCM16 bytes (even length) to G.711 mu-law, one byte per sample."""
    return _ULAW_ENCODE[np.frombuffer(pcm, dtype=np.uint16)].tobytes()


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """Decode G.711 mu-law bytes to PCM16 bytes, two bytes per sample."""
    return _ULAW_DECODE[np.frombuffer(ulaw, dtype=np.uint8)].tobytes()


# --------------------------------------------------------------------------- #
# Resampling
# --------------------------------------------------------------------------- #


def kaiser_lowpass(num_taps: int, cutoff_hz: float, sample_rate: int, beta: float) -> np.ndarray:
    """Windowed-sinc low-pass FIR with unity DC gain (linear phase, symmetric taps)."""
    centred = np.arange(num_taps) - (num_taps - 1) / 2
    taps = np.sinc(2 * cutoff_hz / sample_rate * centred) * np.kaiser(num_taps, beta)
    return taps / taps.sum()


# 24 kHz -> 8 kHz: -0.5 dB at 3.4 kHz, below -48 dB from 4.4 kHz on (-68 dB at 5 kHz).
# Group delay 35.5 samples at 24 kHz = 1.5 ms.
_DOWNSAMPLE_TAPS = kaiser_lowpass(72, 3800.0, 24000, beta=6.0)

# 8 kHz -> 16 kHz interpolation filter at 16 kHz: -0.5 dB at 3.4 kHz, images at
# 4.6 kHz and above at least -69 dB. Gain 2 restores the level lost to zero-stuffing.
# Group delay 23.5 samples at 16 kHz = 1.5 ms.
_UPSAMPLE_TAPS = 2.0 * kaiser_lowpass(48, 3800.0, 16000, beta=6.0)


def to_pcm16_bytes(samples: np.ndarray) -> bytes:
    """Float samples rounded to PCM16 bytes, clipped to int16.

    Clipping first and rounding after gives the same values as the other way round; the ndarray
    methods skip `np.clip`'s Python wrapper, which cost more than the rest put together on a 20 ms frame."""
    return samples.clip(-32768.0, 32767.0).round().astype(_PCM_DTYPE).tobytes()


class _SampleAligner:
    """Turns a byte stream into whole int16 samples, carrying an odd trailing byte."""

    def __init__(self) -> None:
        self._pending = b""

    def samples(self, pcm: bytes) -> np.ndarray:
        data = self._pending + pcm if self._pending else pcm
        whole = len(data) & ~1
        self._pending = data[whole:]
        return np.frombuffer(data, dtype=_PCM_DTYPE, count=whole // 2)


class _FirInput:
    """What a stateful FIR filter reads: the input samples it still needs from earlier chunks (zeros
    before the stream started), then each new chunk, in one float buffer kept between chunks.

    Output k is the dot product of the taps (reversed) with the window of `num_taps` inputs starting
    at input k * `step`. The buffer's window view is built once and sliced per chunk: on a 20 ms frame,
    building views and joining arrays cost more than the filtering itself.
    """

    def __init__(self, num_taps: int, step: int) -> None:
        self._num_taps, self._step = num_taps, step
        self._held = num_taps - step
        self._allocate(4096)

    def _allocate(self, size: int) -> None:
        self._buffer = np.zeros(size)
        self._windows = sliding_window_view(self._buffer, self._num_taps)[:: self._step]

    def filter(self, new: np.ndarray, reversed_taps: np.ndarray) -> np.ndarray:
        """Append `new` and return every output it completes (one row of `reversed_taps`' columns each)."""
        total = self._held + new.size
        if total > self._buffer.size:
            held = self._buffer[: self._held].copy()
            self._allocate(2 ** math.ceil(math.log2(total)))
            self._buffer[: self._held] = held
        self._buffer[self._held : total] = new
        count = max(0, (total - self._num_taps) // self._step + 1)
        out = np.dot(self._windows[:count], reversed_taps)
        used = count * self._step
        self._buffer[: total - used] = self._buffer[used:total]
        self._held = total - used
        return out


class Upsampler8kTo16k:
    """Stateful 2x interpolator: PCM16 8 kHz -> PCM16 16 kHz.

    Polyphase form of zero-stuffing followed by a low-pass FIR: even output
    samples use the even taps and odd output samples the odd taps, both run over
    the input with filter history carried between calls (one matrix product, whose
    rows are the output pairs). N input samples always give exactly 2N output samples.
    """

    def __init__(self) -> None:
        even, odd = _UPSAMPLE_TAPS[0::2], _UPSAMPLE_TAPS[1::2]
        self._phases = np.stack((even[::-1], odd[::-1]), axis=1)  # (taps, 2): the even and the odd output
        self._input = _FirInput(even.size, step=1)
        self._aligner = _SampleAligner()

    def process(self, pcm8k: bytes) -> bytes:
        """Return the 16 kHz PCM16 for this chunk of 8 kHz PCM16."""
        new = self._aligner.samples(pcm8k)
        if new.size == 0:
            return b""
        return to_pcm16_bytes(self._input.filter(new, self._phases).ravel())


class Downsampler24kTo8k:
    """Stateful 3x decimator with anti-alias FIR: PCM16 24 kHz -> PCM16 8 kHz.

    Output sample m is the low-passed input at index 3m + 2, so after T input
    samples in total exactly floor(T / 3) output samples have been produced, and
    any chunking of the input yields the same output as one big chunk. Apart
    from the filter's own group delay, at most two input samples (the unfinished
    group of three) are held back.
    """

    def __init__(self) -> None:
        self._reversed_taps = _DOWNSAMPLE_TAPS[::-1].copy()
        self._input = _FirInput(_DOWNSAMPLE_TAPS.size, step=3)
        self._aligner = _SampleAligner()

    def process(self, pcm24k: bytes) -> bytes:
        """Return the 8 kHz PCM16 that this chunk of 24 kHz PCM16 completes."""
        return to_pcm16_bytes(self._input.filter(self._aligner.samples(pcm24k), self._reversed_taps))


# --------------------------------------------------------------------------- #
# Twilio <-> model conveniences
# --------------------------------------------------------------------------- #


class TwilioInboundDecoder:
    """Caller audio: Twilio mu-law 8 kHz -> (PCM16 8 kHz, PCM16 16 kHz).

    The 8 kHz PCM feeds the barge-in detector, the 16 kHz PCM goes to the model.
    """

    def __init__(self) -> None:
        self._upsampler = Upsampler8kTo16k()

    def decode(self, ulaw8k: bytes) -> tuple[bytes, bytes]:
        pcm8k = ulaw_to_pcm16(ulaw8k)
        return pcm8k, self._upsampler.process(pcm8k)


class TwilioOutboundEncoder:
    """Coach audio: model PCM16 24 kHz -> Twilio mu-law 8 kHz."""

    def __init__(self) -> None:
        self._downsampler = Downsampler24kTo8k()

    def encode(self, pcm24k: bytes) -> bytes:
        return pcm16_to_ulaw(self._downsampler.process(pcm24k))


class FrameChunker:
    """Cuts a byte stream into fixed-size frames, carrying the remainder.

    Defaults to 20 ms mu-law frames (160 bytes) padded with mu-law silence, which
    is what outbound pacing to Twilio needs.
    """

    def __init__(self, frame_bytes: int = ULAW_FRAME_BYTES, pad_byte: int = ULAW_SILENCE) -> None:
        if frame_bytes <= 0:
            raise ValueError("frame_bytes must be positive")
        self._frame_bytes = frame_bytes
        self._pad = bytes([pad_byte])
        self._buffer = bytearray()

    @property
    def pending_bytes(self) -> int:
        """Bytes held back until a full frame is available."""
        return len(self._buffer)

    def push(self, data: bytes) -> list[bytes]:
        """Append data and return every complete frame now available."""
        self._buffer += data
        whole = len(self._buffer) - len(self._buffer) % self._frame_bytes
        frames = [
            bytes(self._buffer[start : start + self._frame_bytes])
            for start in range(0, whole, self._frame_bytes)
        ]
        del self._buffer[:whole]
        return frames

    def flush(self) -> list[bytes]:
        """Return the final partial frame padded to full size (empty list if none)."""
        if not self._buffer:
            return []
        frame = bytes(self._buffer) + self._pad * (self._frame_bytes - len(self._buffer))
        self._buffer.clear()
        return [frame]

    def clear(self) -> None:
        """Drop any partial frame (e.g. when the caller barges in)."""
        self._buffer.clear()
