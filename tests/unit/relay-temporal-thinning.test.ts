/**
 * Temporal layers left out while a viewer's video queues at the relay (relay/allocation/
 * TemporalValve.ts, relay/TemporalThinning.ts, in TrackSlotOutput): the ceiling follows the
 * queue (down at once, up a layer at a time once it is short); frames above it are left out
 * whole, and what goes out stays one steady stream — sequence numbers and VP8 picture IDs
 * without gaps, the base layer's TL0PICIDX untouched; a layer comes back only at a frame
 * that may start it (layer sync, or a keyframe).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DownlinkDelivery } from '../../relay/allocation/DownlinkDelivery';
import { DownlinkMeter } from '../../relay/allocation/DownlinkMeter';
import { DownlinkPacer } from '../../relay/allocation/DownlinkPacer';
import { ALL_TEMPORAL_LAYERS, TemporalValve } from '../../relay/allocation/TemporalValve';
import { readRtp } from '../../relay/rtpBytes';
import { TrackSlotOutput } from '../../relay/TrackSlotOutput';
import type { RtpIn } from '../../relay/types';

test('the valve: the ceiling falls with the queue at once, and rises a layer at a time once the queue has been short', () => {
  const queue = { queuedMs: 0 };
  const valve = new TemporalValve(queue);
  assert.is(valve.ceiling(0), ALL_TEMPORAL_LAYERS);
  queue.queuedMs = 200;
  assert.is(valve.ceiling(10), 1);
  queue.queuedMs = 400;
  assert.is(valve.ceiling(20), 0);
  queue.queuedMs = 100; // draining, not yet short
  assert.is(valve.ceiling(1000), 0);
  queue.queuedMs = 20;
  assert.is(valve.ceiling(1010), 1);
  assert.is(valve.ceiling(1200), 1, 'one step at a time');
  assert.is(valve.ceiling(1510), ALL_TEMPORAL_LAYERS);
});

/** A VP8 packet with a 15-bit picture ID, TL0PICIDX and TID/Y (RFC 7741 §4.2); `start`: it starts the frame; `key`: a keyframe. */
function vp8(seq: number, ts: number, pictureId: number, tl0: number, tid: number, { sync = false, start = true, key = false } = {}): RtpIn {
  const payload = Buffer.from([0x80 | (start ? 0x10 : 0), 0xe0, 0x80 | (pictureId >> 8), pictureId & 0xff, tl0, (tid << 6) | (sync ? 0x20 : 0), key ? 0x00 : 0x01, 0xab]);
  return { ssrc: 5, sequenceNumber: seq, timestamp: ts, marker: !start, payloadType: 120, payload, size: 12 + payload.length };
}

/** A slot whose viewer's ceiling the test sets, recording what it sends. */
function slot() {
  const sent: Array<{ seq: number; pictureId: number; tl0: number; tid: number }> = [];
  const track = {
    isOpen: () => true,
    sendMessageBinary(buffer: Buffer) {
      const view: RtpIn = { ssrc: 0, sequenceNumber: 0, timestamp: 0, marker: false, payloadType: 0, payload: Buffer.alloc(0), size: 0 };
      readRtp(buffer, view);
      const p = view.payload;
      sent.push({ seq: view.sequenceNumber, pictureId: ((p[2]! & 0x7f) << 8) | p[3]!, tl0: p[4]!, tid: p[5]! >> 6 });
      return true;
    },
  };
  const valve = { level: ALL_TEMPORAL_LAYERS, thinned: 0, ceiling() { return this.level; }, leftOut() { this.thinned += 1; } };
  const pacer = new DownlinkPacer();
  const output = new TrackSlotOutput({ isConnected: true }, track, 1, 120, Buffer.alloc(1400), new DownlinkMeter(), pacer, new DownlinkDelivery(), valve);
  return { output, sent, valve };
}

/** libwebrtc's three-layer pattern: TID 0, 2, 1, 2, …; two packets a frame; TL1 and TL2 frames right after a base frame are layer sync. */
function stream(frames: number, firstFrame = 0) {
  const packets: RtpIn[] = [];
  for (let f = firstFrame; f < firstFrame + frames; f += 1) {
    const tid = [0, 2, 1, 2][f % 4]!;
    const tl0 = Math.floor(f / 4) & 0xff;
    const sync = f % 4 === 1 || f % 4 === 2;
    packets.push(vp8(100 + 2 * f, 9000 * f, 500 + f, tl0, tid, { sync, key: f === 0 }), vp8(101 + 2 * f, 9000 * f, 500 + f, tl0, tid, { start: false }));
  }
  return packets;
}

const contiguous = (values: number[], modulus: number): boolean => values.every((v, i) => i === 0 || v === (values[i - 1]! + 1) % modulus);

test('frames above the ceiling are left out whole; sequence numbers and picture IDs stay without gaps', () => {
  const { output, sent, valve } = slot();
  const packets = stream(16);
  packets.forEach((p, i) => {
    if (i === 8) valve.level = 1; // from frame 4: no TL2
    if (i === 24) valve.level = 0; // from frame 12: the base only
    output.send(p, i === 0);
  });
  assert.equal(sent.map((s) => s.tid), [0, 0, 2, 2, 1, 1, 2, 2, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  assert.ok(contiguous(sent.map((s) => s.seq), 0x10000), 'sequence numbers');
  // Two packets per frame: each picture ID once per frame, one after the other.
  const ids = sent.filter((_, i) => i % 2 === 0).map((s) => s.pictureId);
  assert.ok(contiguous(ids, 0x8000), `picture IDs ${ids.join(' ')}`);
  // TL0PICIDX is the base layer's count, never changed.
  assert.equal(sent.filter((s) => s.tid === 0).map((s) => s.tl0), [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.is(valve.thinned, 7);
});

test('a layer comes back only at a frame that may start it: layer sync, or a keyframe', () => {
  const { output, sent, valve } = slot();
  valve.level = 0;
  stream(4).forEach((p, i) => output.send(p, i === 0));
  valve.level = ALL_TEMPORAL_LAYERS;
  // Frames 4–11, one packet each, none layer sync until frames 10 (TL1) and 11 (TL2): the
  // upper layers come back there, one at a time — not at frame 6, whose references were left out.
  const next = [vp8(108, 36_000, 504, 1, 0), vp8(109, 45_000, 505, 1, 2), vp8(110, 54_000, 506, 1, 1), vp8(111, 63_000, 507, 1, 2), vp8(112, 72_000, 508, 2, 0), vp8(113, 81_000, 509, 2, 2), vp8(114, 90_000, 510, 2, 1, { sync: true }), vp8(115, 99_000, 511, 2, 2, { sync: true })];
  next.forEach((p) => output.send(p, false));
  assert.equal(sent.map((s) => s.tid), [0, 0, 0, 0, 1, 2]);
  assert.ok(contiguous(sent.map((s) => s.seq), 0x10000));
  assert.ok(contiguous(sent.filter((_, i) => i > 0).map((s) => s.pictureId), 0x8000));
  // A keyframe brings every layer back at once.
  const { output: second, sent: again, valve: valve2 } = slot();
  valve2.level = 0;
  stream(4).forEach((p, i) => second.send(p, i === 0));
  valve2.level = ALL_TEMPORAL_LAYERS;
  second.send(vp8(108, 36_000, 504, 1, 0, { key: true }), false);
  second.send(vp8(109, 45_000, 505, 1, 2), false);
  second.send(vp8(110, 54_000, 506, 1, 1), false);
  assert.equal(again.map((s) => s.tid), [0, 0, 0, 2, 1]);
});

test('a late packet of a frame that went out keeps the picture ID it had, one of a frame left out stays out; a stream without temporal layers passes whole', () => {
  const { output, sent, valve } = slot();
  valve.level = 1;
  const packets = stream(8);
  // Frame 4's second packet comes late, after frames 5–7 (frame 5, TL2, is left out), and so
  // does frame 5's second packet, after the ceiling rose again.
  const lateOfFrame5 = packets.splice(11, 1)[0]!;
  const late = packets.splice(9, 1)[0]!;
  packets.forEach((p, i) => output.send(p, i === 0));
  output.send(late, false);
  const lateSent = sent.at(-1)!;
  const frame4 = sent.find((s) => s.tid === 0 && s.tl0 === 1)!;
  assert.is(lateSent.pictureId, frame4.pictureId);
  assert.is(lateSent.seq, (frame4.seq + 1) & 0xffff);
  valve.level = ALL_TEMPORAL_LAYERS;
  const before = sent.length;
  output.send(lateOfFrame5, false);
  assert.is(sent.length, before, 'a packet of a frame left out never goes out (its picture ID is the next frame\'s now)');
  // No T bit: nothing is left out, whatever the ceiling.
  const { output: plain, sent: plainSent, valve: plainValve } = slot();
  plainValve.level = 0;
  for (let i = 0; i < 6; i += 1) plain.send({ ssrc: 7, sequenceNumber: i, timestamp: 3000 * i, marker: true, payloadType: 120, payload: Buffer.from([0x90, 0x80, 0x80 | 0, i, i % 2 ? 0x01 : 0x00]), size: 17 }, i === 0);
  assert.is(plainSent.length, 6);
});

test.run();
