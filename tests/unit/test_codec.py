import warnings

import numpy as np
import pytest

from voice.codec import (
    Downsampler24kTo8k,
    FrameChunker,
    TwilioInboundDecoder,
    TwilioOutboundEncoder,
    Upsampler8kTo16k,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the oracle only; voice.codec must not need it


RNG_SEED = 20240611


def tone(freq_hz: float, rate: int, seconds: float, amplitude: float = 16000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


def as_pcm(samples: np.ndarray) -> bytes:
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def as_samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def spectrum_db(samples: np.ndarray) -> np.ndarray:
    """Amplitude spectrum in dB (a sine of amplitude A peaks at 20*log10(A))."""
    window = np.hanning(samples.size)
    return 20 * np.log10(np.abs(np.fft.rfft(samples * window)) * 2 / window.sum() + 1e-9)


def level_at_db(samples: np.ndarray, rate: int, freq_hz: float) -> float:
    spectrum = spectrum_db(samples)
    bin_hz = rate / samples.size
    centre = round(freq_hz / bin_hz)
    return float(spectrum[centre - 2 : centre + 3].max())


def process_in_chunks(process, pcm: bytes, chunk_bytes: int) -> bytes:
    return b"".join(process(pcm[i : i + chunk_bytes]) for i in range(0, len(pcm), chunk_bytes))


def random_chunks(pcm: bytes, rng: np.random.Generator) -> list[bytes]:
    """Split at random byte offsets, so chunks have odd lengths and partial samples."""
    cuts = np.sort(rng.choice(np.arange(1, len(pcm)), size=len(pcm) // 300, replace=False))
    return [pcm[a:b] for a, b in zip([0, *cuts], [*cuts, len(pcm)])]


# --------------------------------------------------------------------------- #
# mu-law
# --------------------------------------------------------------------------- #


def test_ulaw_encode_matches_audioop_for_every_int16_value():
    every_value = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert pcm16_to_ulaw(every_value) == audioop.lin2ulaw(every_value, 2)


def test_ulaw_decode_matches_audioop_for_all_256_codes():
    every_code = bytes(range(256))
    assert ulaw_to_pcm16(every_code) == audioop.ulaw2lin(every_code, 2)


def test_ulaw_round_trip_matches_audioop_on_random_pcm():
    rng = np.random.default_rng(RNG_SEED)
    pcm = as_pcm(rng.normal(0, 6000, 16000))
    ulaw = pcm16_to_ulaw(pcm)
    assert ulaw == audioop.lin2ulaw(pcm, 2)
    assert ulaw_to_pcm16(ulaw) == audioop.ulaw2lin(ulaw, 2)


# --------------------------------------------------------------------------- #
# 8 kHz -> 16 kHz
# --------------------------------------------------------------------------- #


def test_upsampler_turns_160_samples_into_320():
    upsampler = Upsampler8kTo16k()
    for _ in range(3):
        assert len(upsampler.process(bytes(320))) == 640


def test_upsampler_output_does_not_depend_on_chunking():
    rng = np.random.default_rng(RNG_SEED)
    pcm = as_pcm(rng.normal(0, 6000, 8000))
    whole = Upsampler8kTo16k().process(pcm)
    upsampler = Upsampler8kTo16k()
    chunked = b"".join(upsampler.process(chunk) for chunk in random_chunks(pcm, rng))
    assert chunked == whole
    assert len(whole) == 2 * len(pcm)


def test_upsampler_passes_1khz_tone_at_unity_gain():
    source = tone(1000, 8000, 1.0)
    out = as_samples(process_in_chunks(Upsampler8kTo16k().process, as_pcm(source), 320))
    gain_db = level_at_db(out[1600:], 16000, 1000) - level_at_db(source[800:], 8000, 1000)
    assert abs(gain_db) < 0.2


def test_upsampler_suppresses_the_image_of_a_1khz_tone():
    # Repeating samples would leave the 7 kHz image only ~17 dB down.
    source = tone(1000, 8000, 1.0)
    out = as_samples(process_in_chunks(Upsampler8kTo16k().process, as_pcm(source), 320))
    steady = out[1600:]
    image_rejection_db = level_at_db(steady, 16000, 1000) - level_at_db(steady, 16000, 7000)
    assert image_rejection_db >= 50


# --------------------------------------------------------------------------- #
# 24 kHz -> 8 kHz
# --------------------------------------------------------------------------- #


def test_downsampler_turns_480_samples_into_160():
    downsampler = Downsampler24kTo8k()
    for _ in range(3):
        assert len(downsampler.process(bytes(960))) == 320


def test_downsampler_total_output_is_floor_of_total_input_over_three():
    rng = np.random.default_rng(RNG_SEED)
    downsampler = Downsampler24kTo8k()
    bytes_in = samples_out = 0
    for length in rng.integers(1, 700, size=200):
        samples_out += len(downsampler.process(bytes(int(length)))) // 2
        bytes_in += int(length)
        assert samples_out == (bytes_in // 2) // 3


def test_downsampler_output_does_not_depend_on_chunking():
    rng = np.random.default_rng(RNG_SEED)
    pcm = as_pcm(rng.normal(0, 6000, 24000 + 2))
    whole = Downsampler24kTo8k().process(pcm)
    downsampler = Downsampler24kTo8k()
    chunked = b"".join(downsampler.process(chunk) for chunk in random_chunks(pcm, rng))
    assert chunked == whole


def test_downsampler_emits_each_output_sample_as_soon_as_its_three_inputs_arrive():
    downsampler = Downsampler24kTo8k()
    assert downsampler.process(bytes(4)) == b""
    assert len(downsampler.process(bytes(2))) == 2


def test_downsampler_passes_1khz_tone_at_unity_gain():
    source = tone(1000, 24000, 1.0)
    out = as_samples(process_in_chunks(Downsampler24kTo8k().process, as_pcm(source), 960))
    gain_db = level_at_db(out[800:], 8000, 1000) - level_at_db(source[2400:], 24000, 1000)
    assert abs(gain_db) < 0.2


@pytest.mark.parametrize("freq_hz", [5000, 6000])
def test_downsampler_rejects_aliases_by_at_least_40_db(freq_hz):
    source = tone(freq_hz, 24000, 1.0)
    out = as_samples(process_in_chunks(Downsampler24kTo8k().process, as_pcm(source), 960))
    input_db = level_at_db(source, 24000, freq_hz)
    strongest_output_db = float(spectrum_db(out[800:]).max())
    assert input_db - strongest_output_db >= 40


# --------------------------------------------------------------------------- #
# Twilio wrappers and framing
# --------------------------------------------------------------------------- #


def test_inbound_decoder_returns_8k_pcm_and_its_16k_upsampling():
    rng = np.random.default_rng(RNG_SEED)
    frames = [rng.integers(0, 256, 160, dtype=np.uint8).tobytes() for _ in range(5)]
    decoder, upsampler = TwilioInboundDecoder(), Upsampler8kTo16k()
    for frame in frames:
        pcm8k, pcm16k = decoder.decode(frame)
        assert pcm8k == audioop.ulaw2lin(frame, 2)
        assert pcm16k == upsampler.process(pcm8k)


def test_outbound_encoder_turns_20ms_of_24k_pcm_into_one_ulaw_frame():
    rng = np.random.default_rng(RNG_SEED)
    pcm24k = as_pcm(rng.normal(0, 6000, 480 * 5))
    encoder, downsampler = TwilioOutboundEncoder(), Downsampler24kTo8k()
    for i in range(0, len(pcm24k), 960):
        ulaw = encoder.encode(pcm24k[i : i + 960])
        assert len(ulaw) == 160
        assert ulaw == audioop.lin2ulaw(downsampler.process(pcm24k[i : i + 960]), 2)


def test_frame_chunker_emits_whole_frames_and_carries_the_remainder():
    chunker = FrameChunker()
    data = bytes(range(250)) + bytes(range(250))
    frames = chunker.push(data[:100]) + chunker.push(data[100:])
    assert frames == [data[0:160], data[160:320], data[320:480]]
    assert chunker.pending_bytes == 20


def test_frame_chunker_flush_pads_the_last_frame_with_ulaw_silence():
    chunker = FrameChunker()
    chunker.push(b"\x01" * 170)
    assert chunker.flush() == [b"\x01" * 10 + b"\xff" * 150]
    assert chunker.flush() == []


def test_frame_chunker_clear_drops_the_partial_frame():
    chunker = FrameChunker()
    chunker.push(b"\x01" * 50)
    chunker.clear()
    assert chunker.pending_bytes == 0
    assert chunker.push(b"\x02" * 160) == [b"\x02" * 160]


def test_frame_chunker_supports_other_frame_sizes_and_padding():
    chunker = FrameChunker(frame_bytes=320, pad_byte=0)
    assert chunker.push(b"\x05" * 330) == [b"\x05" * 320]
    assert chunker.flush() == [b"\x05" * 10 + bytes(310)]
