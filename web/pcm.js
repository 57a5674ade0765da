// PCM16 conversions and playback timing for the browser client; no browser API here, so node tests it.
// The websocket contract (DESIGN section 5): PCM16 mono 16 kHz from the page, PCM16 24 kHz to it.
// Int16Array is platform-endian: little-endian on every browser platform, as the wire is.

export const MIC_RATE = 16000;
export const COACH_RATE = 24000;
export const FRAME_SAMPLES = 320; // 20 ms at 16 kHz: the unit the server's barge-in detector works in

/** Float samples in [-1, 1] (Web Audio) to PCM16, clipping anything louder. */
export function floatToPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
  }
  return out;
}

/** PCM16 bytes (an ArrayBuffer from the websocket) to float samples for an AudioBuffer. */
export function pcm16ToFloat(buffer) {
  const pcm = new Int16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = pcm[i] / 0x8000;
  return out;
}

/** Gathers the microphone's blocks (128 samples from an AudioWorklet) into 20 ms PCM16 frames. */
export class FrameGatherer {
  constructor(frameSamples = FRAME_SAMPLES) {
    this.frameSamples = frameSamples;
    this.pending = new Float32Array(0);
  }

  /** Add a block; returns the whole frames it completes (a partial frame waits for the next block). */
  push(block) {
    const joined = new Float32Array(this.pending.length + block.length);
    joined.set(this.pending);
    joined.set(block, this.pending.length);
    const frames = [];
    let start = 0;
    for (; start + this.frameSamples <= joined.length; start += this.frameSamples) {
      frames.push(floatToPcm16(joined.subarray(start, start + this.frameSamples)));
    }
    this.pending = joined.slice(start);
    return frames;
  }
}

/** When each chunk of coach audio starts: right after the previous one, or now when playback ran dry. */
export class PlaybackClock {
  constructor() {
    this.endsAt = 0;
  }

  /** The start time (AudioContext seconds) of a chunk of `duration` seconds arriving at `now`. */
  schedule(now, duration) {
    const start = Math.max(now, this.endsAt);
    this.endsAt = start + duration;
    return start;
  }

  /** A barge-in: what was scheduled is dropped, the next chunk starts at once. */
  reset() {
    this.endsAt = 0;
  }
}
