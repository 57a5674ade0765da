// node --test web/  (run by tests/integration/test_web_client.py)
import assert from "node:assert/strict";
import test from "node:test";

import { FRAME_SAMPLES, FrameGatherer, PlaybackClock, floatToPcm16, pcm16ToFloat } from "./pcm.js";

test("full scale floats become the PCM16 extremes and louder ones are clipped", () => {
  assert.deepEqual(Array.from(floatToPcm16(new Float32Array([0, 1, -1, 2, -2, 0.5]))), [0, 32767, -32768, 32767, -32768, 16384]);
});

test("PCM16 from the server becomes floats in [-1, 1)", () => {
  const buffer = new Int16Array([0, -32768, 16384, 32767]).buffer;
  assert.deepEqual(Array.from(pcm16ToFloat(buffer)), [0, -1, 0.5, 32767 / 32768]);
});

test("a trailing odd byte from the server is ignored", () => {
  const bytes = new Uint8Array([0, 64, 7]).buffer; // one sample (16384) and half of another
  assert.deepEqual(Array.from(pcm16ToFloat(bytes)), [0.5]);
});

test("microphone blocks of 128 samples are sent as 20 ms frames, the remainder kept", () => {
  const gatherer = new FrameGatherer();
  const sent = [];
  for (let block = 0; block < 5; block++) sent.push(...gatherer.push(new Float32Array(128).fill(0.25)));
  assert.equal(sent.length, Math.floor((5 * 128) / FRAME_SAMPLES)); // 640 samples: two frames
  assert.ok(sent.every((frame) => frame.length === FRAME_SAMPLES && frame[0] === 8192));
  assert.equal(gatherer.pending.length, 0);
  assert.equal(gatherer.push(new Float32Array(100)).length, 0);
  assert.equal(gatherer.pending.length, 100);
});

test("coach audio plays back to back, and at once after a gap or a barge-in", () => {
  const clock = new PlaybackClock();
  assert.equal(clock.schedule(10, 0.1), 10);
  assert.equal(clock.schedule(10.01, 0.1), 10.1); // queued behind the first chunk
  assert.equal(clock.schedule(11, 0.1), 11); // playback had run dry
  clock.reset();
  assert.equal(clock.schedule(11.02, 0.1), 11.02); // the barge-in dropped the rest
});
