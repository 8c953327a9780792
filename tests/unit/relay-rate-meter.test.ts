/** Rates and picture sizes the relay measures at its input, for the per-viewer allocation. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateMeter } from '../../relay/allocation/RateMeter';
import { vp8KeyframeSize } from '../../relay/vp8';
import { InputStream } from '../../relay/InputStreams';
import type { RtpIn } from '../../relay/types';

test('a steady stream reads at its rate; a stopped one falls to zero within a second', () => {
  const meter = new RateMeter();
  // 1,000-byte packets every 10 ms for 3 s: 800 kbit/s.
  for (let t = 0; t < 3000; t += 10) meter.add(1000, t);
  assert.ok(Math.abs(meter.bitrate(3000) - 800_000) <= 8_000, String(meter.bitrate(3000)));
  // Half a second later, only four of the window's nine full buckets hold packets.
  assert.ok(Math.abs(meter.bitrate(3500) - (800_000 * 4) / 9) <= 8_000, String(meter.bitrate(3500)));
  assert.is(meter.bitrate(4100), 0);
  // And it starts again cleanly after a long silence.
  for (let t = 10_000; t < 11_000; t += 20) meter.add(500, t);
  assert.ok(Math.abs(meter.bitrate(11_000) - 200_000) <= 4_000, String(meter.bitrate(11_000)));
});

test('a keyframe burst counts once, averaged over its second', () => {
  const meter = new RateMeter();
  meter.add(50_000, 0);
  // 400,000 bits over the 950 ms the window spans at 950 ms.
  assert.ok(Math.abs(meter.bitrate(950) - 400_000 / 0.95) < 1);
  assert.is(meter.bitrate(1200), 0);
});

test("a VP8 keyframe's first packet declares its picture size; other packets none", () => {
  // Descriptor: X=1, S=1, PID=0; extension with a 15-bit PictureID. Then the keyframe tag
  // (P=0), the start code 9d 01 2a, width 640 and height 480 (little-endian, no scaling).
  const keyframe = Uint8Array.from([0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0, 0]);
  assert.equal(vp8KeyframeSize(keyframe), { width: 640, height: 480 });
  const delta = Uint8Array.from([0x90, 0x80, 0x81, 0x23, 0x11, 0x02, 0x00, 0, 0, 0]);
  assert.is(vp8KeyframeSize(delta), undefined);
  const continuation = Uint8Array.from([0x80, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
  assert.is(vp8KeyframeSize(continuation), undefined, 'not the start of a frame (S=0)');
  assert.is(vp8KeyframeSize(keyframe.subarray(0, 12)), undefined, 'cut short');
});

test("a layer's rate between keyframes leaves out every packet of its keyframes, not the frames after them", () => {
  const stream = new InputStream('ann', 'camera', 1, 11);
  const rtp = (payload: Uint8Array, timestamp: number, size: number): RtpIn => ({ ssrc: 11, sequenceNumber: 0, timestamp, marker: false, payloadType: 96, payload: Buffer.from(payload), size });
  const keyframeStart = Uint8Array.from([0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0, 0]);
  const continuation = Uint8Array.from([0x80, 0x80, 0x81, 0x23, 0, 0, 0, 0]);
  const deltaStart = Uint8Array.from([0x90, 0x80, 0x82, 0x23, 0x11, 0x02, 0x00, 0, 0, 0]);
  // A 640×480 keyframe of ten 1,000-byte packets at 0 ms, then 15 delta frames of 400 bytes.
  stream.measure(rtp(keyframeStart, 90_000, 1000), 0);
  for (let i = 1; i < 10; i++) stream.measure(rtp(continuation, 90_000, 1000), i);
  for (let f = 1; f <= 15; f++) stream.measure(rtp(deltaStart, 90_000 + f * 6000, 400), f * 66);
  assert.is(stream.width, 640);
  const at = 990;
  assert.ok(Math.abs(stream.rate.bitrate(at) - ((10_000 + 6000) * 8 * 1000) / at) < 1, 'every packet arrived');
  assert.ok(Math.abs(stream.betweenKeyframes.bitrate(at) - (6000 * 8 * 1000) / at) < 1, 'what the layer costs between keyframes');
});

test.run();
