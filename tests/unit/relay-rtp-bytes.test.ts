/**
 * Raw RTP as the node-datachannel relay reads and writes it (relay/rtpBytes.ts), and a slot's
 * numbering across a change of source (TrackSlotOutput): the viewer must see one stream
 * continue, not a jump it would take for massive loss — its sequence numbers, timestamps
 * and VP8 picture IDs (Vp8PictureIds) alike.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DownlinkPacer } from '../../relay/allocation/DownlinkPacer';
import { DownlinkDelivery } from '../../relay/allocation/DownlinkDelivery';
import { DownlinkMeter } from '../../relay/allocation/DownlinkMeter';
import { TemporalValve } from '../../relay/allocation/TemporalValve';
import { TrackSlotOutput } from '../../relay/TrackSlotOutput';
import { isRtcp, readExtension16, readRtp, TRANSPORT_CC_BYTES, UNNUMBERED, writeRtp } from '../../relay/rtpBytes';
import type { RtpIn } from '../../relay/types';
import { SOURCE_SWITCH_TICKS } from '../../relay/VideoSlot';

const view = (): RtpIn => ({ ssrc: 0, sequenceNumber: 0, timestamp: 0, marker: false, payloadType: 0, payload: Buffer.alloc(0), size: 0 });

test('writeRtp then readRtp gives back every field and the payload', () => {
  const out = Buffer.alloc(100);
  const packet = writeRtp(out, 96, true, 0x1_0005, 2 ** 32 + 7, 0xdeadbeef, Buffer.from([1, 2, 3]));
  assert.is(packet.length, 15);
  const v = view();
  assert.ok(readRtp(packet, v));
  assert.equal(
    { marker: v.marker, payloadType: v.payloadType, seq: v.sequenceNumber, ts: v.timestamp, ssrc: v.ssrc, payload: [...v.payload], size: v.size },
    { marker: true, payloadType: 96, seq: 5, ts: 7, ssrc: 0xdeadbeef, payload: [1, 2, 3], size: 15 },
  );
});

test('writeRtp with a transport-wide sequence number: a one-byte extension (RFC 8285) that readExtension16 reads back', () => {
  const out = Buffer.alloc(100);
  const packet = writeRtp(out, 96, false, 1, 2, 3, Buffer.from([9, 8]), 3, 0xbeef);
  assert.is(packet.length, 12 + TRANSPORT_CC_BYTES + 2);
  assert.is(packet[0], 0x90, 'X bit set');
  assert.is(packet.readUInt32BE(12), 0xbede0001);
  assert.is(packet[16], (3 << 4) | 1, 'ID 3, 2 bytes');
  assert.is(readExtension16(packet, 3), 0xbeef);
  const v = view();
  assert.ok(readRtp(packet, v));
  assert.equal([...v.payload], [9, 8], 'the payload follows the extension');
  // No number: the same size, an extension of padding only.
  const unnumbered = writeRtp(Buffer.alloc(100), 96, false, 1, 2, 3, Buffer.from([9, 8]), 3, UNNUMBERED);
  assert.is(unnumbered.length, packet.length);
  assert.is(readExtension16(unnumbered, 3), undefined);
  assert.ok(readRtp(unnumbered, v));
  assert.equal([...v.payload], [9, 8]);
});

test('readRtp skips CSRCs and the header extension, and drops padding', () => {
  // V=2, P=1, X=1, CC=1; one CSRC; extension of one word; payload 0xaa 0xbb; 2 bytes of padding.
  const packet = Buffer.from([
    0xb1, 0x60, 0x00, 0x01, 0, 0, 0, 9, 0, 0, 0, 5,
    0, 0, 0, 77,
    0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0, 0,
    0xaa, 0xbb, 0x00, 0x02,
  ]);
  const v = view();
  assert.ok(readRtp(packet, v));
  assert.equal([...v.payload], [0xaa, 0xbb]);
  assert.is(v.size, packet.length - 2);
  assert.is(v.payloadType, 0x60);
});

test('readRtp refuses RTCP, other versions and truncated headers', () => {
  const v = view();
  const rtcp = Buffer.from([0x81, 201, 0, 1, 0, 0, 0, 1]);
  assert.ok(isRtcp(rtcp));
  assert.not.ok(readRtp(Buffer.concat([rtcp, Buffer.alloc(8)]), v));
  assert.not.ok(readRtp(Buffer.from([0x40, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), v), 'version 1');
  assert.not.ok(readRtp(Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe]), v), 'extension header cut off');
  assert.not.ok(readRtp(Buffer.alloc(5), v));
});

/** A slot output whose track records what it sends. */
function recordingSlot() {
  const sent: RtpIn[] = [];
  const track = {
    isOpen: () => true,
    sendMessageBinary(buffer: Buffer) {
      const v = view();
      readRtp(Buffer.from(buffer), v);
      sent.push(v);
      return true;
    },
  };
  const pacer = new DownlinkPacer();
  return { output: new TrackSlotOutput({ isConnected: true }, track, 1234, 100, Buffer.alloc(1400), new DownlinkMeter(), pacer, new DownlinkDelivery(), new TemporalValve(pacer)), sent };
}

function packet(ssrc: number, seq: number, ts: number): RtpIn {
  return { ssrc, sequenceNumber: seq, timestamp: ts, marker: false, payloadType: 120, payload: Buffer.from([0x10, 0, 0]), size: 15 };
}

test('a slot sends on its own SSRC and payload type, and a new source continues its numbering', () => {
  const { output, sent } = recordingSlot();
  output.send(packet(1, 65_534, 4_294_967_000), true);
  output.send(packet(1, 65_535, 4_294_967_000), false);
  output.send(packet(1, 0, 4_294_967_000 + 3000), false); // the publisher's sequence wraps
  // Another publisher's numbering is unrelated: the viewer sees it continue the slot's stream.
  output.send(packet(2, 100, 5_000), true);
  output.send(packet(2, 101, 8_000), false);
  assert.ok(sent.every((p) => p.ssrc === 1234 && p.payloadType === 100));
  const seqs = sent.map((p) => p.sequenceNumber);
  for (let i = 1; i < seqs.length; i++) assert.is(seqs[i], (seqs[i - 1]! + 1) & 0xffff, `sequence ${seqs.join(',')}`);
  const ts = sent.map((p) => p.timestamp);
  assert.is((ts[3]! - ts[2]!) >>> 0, SOURCE_SWITCH_TICKS);
  assert.is((ts[4]! - ts[3]!) >>> 0, 3000);
});

test('padding skipped on the way leaves no hole in the numbering the viewer sees', () => {
  const { output, sent } = recordingSlot();
  output.send(packet(1, 100, 1000), true);
  output.send(packet(1, 101, 1000), false);
  // The publisher's estimator probes: two padding-only packets, not forwarded.
  output.skip(packet(1, 102, 1000));
  output.skip(packet(1, 103, 1000));
  output.send(packet(1, 104, 4000), false);
  output.send(packet(1, 105, 4000), false);
  const seqs = sent.map((p) => p.sequenceNumber);
  for (let i = 1; i < seqs.length; i++) assert.is(seqs[i], (seqs[i - 1]! + 1) & 0xffff, `sequence ${seqs.join(',')}`);
});

test('a reordered packet keeps its place; the next source continues after the highest sent', () => {
  const { output, sent } = recordingSlot();
  output.send(packet(1, 10, 1000), true);
  output.send(packet(1, 12, 1000), false);
  output.send(packet(1, 11, 1000), false); // late
  output.send(packet(2, 500, 90_000), true);
  const seqs = sent.map((p) => p.sequenceNumber);
  assert.is((seqs[2]! - seqs[0]!) & 0xffff, 1);
  assert.is((seqs[3]! - seqs[1]!) & 0xffff, 1);
});

/**
 * A VP8 packet as Chromium sends it: payload descriptor with X, I (15-bit picture ID), L
 * (TL0PICIDX), T (TID 0, Y) and K (KEYIDX), then two payload bytes.
 */
function vp8(ssrc: number, seq: number, ts: number, pictureId: number, tl0: number, keyIdx: number): RtpIn {
  const payload = Buffer.from([0x90, 0xf0, 0x80 | (pictureId >> 8), pictureId & 0xff, tl0, 0x20 | keyIdx, 0xab, 0xcd]);
  return { ssrc, sequenceNumber: seq, timestamp: ts, marker: false, payloadType: 120, payload, size: 12 + payload.length };
}

const vp8Ids = (p: RtpIn) => ({ pictureId: ((p.payload[2]! & 0x7f) << 8) | p.payload[3]!, tl0: p.payload[4]!, keyIdx: p.payload[5]! & 0x1f });

test('VP8 picture IDs, TL0PICIDX and KEYIDX continue across a change of source; the rest of the payload is the publisher\'s', () => {
  const { output, sent } = recordingSlot();
  output.send(vp8(1, 10, 1000, 32_766, 255, 31), true);
  output.send(vp8(1, 11, 4000, 32_767, 0, 31), false); // both wrap
  // Another layer (or publisher), its own counters far behind: the viewer sees them go on by one.
  output.send(vp8(2, 500, 9000, 1200, 90, 3), true);
  output.send(vp8(2, 501, 12_000, 1201, 91, 4), false);
  assert.equal(sent.map(vp8Ids), [
    { pictureId: 32_766, tl0: 255, keyIdx: 31 },
    { pictureId: 32_767, tl0: 0, keyIdx: 31 },
    { pictureId: 0, tl0: 1, keyIdx: 0 },
    { pictureId: 1, tl0: 2, keyIdx: 1 },
  ]);
  assert.ok(sent.every((p) => p.payload[0] === 0x90 && p.payload[1] === 0xf0 && (p.payload[5]! & 0xe0) === 0x20 && p.payload[6] === 0xab && p.payload[7] === 0xcd));
});

test('a retransmission carries the picture IDs it was first sent with, even after a change of source', () => {
  const track = { isOpen: () => true, sendMessageBinary: (buffer: Buffer) => (sent.push(Buffer.from(buffer)), true) };
  const sent: Buffer[] = [];
  const pacer = new DownlinkPacer();
  const output = new TrackSlotOutput({ isConnected: true }, track, 1234, 100, Buffer.alloc(1400), new DownlinkMeter(), pacer, new DownlinkDelivery(), new TemporalValve(pacer));
  output.send(vp8(1, 10, 1000, 7000, 40, 0), true);
  output.send(vp8(2, 300, 4000, 100, 200, 0), true);
  output.send(vp8(2, 301, 7000, 101, 201, 0), false);
  const first = view();
  readRtp(sent[0]!, first);
  output.resend([first.sequenceNumber]);
  const again = view();
  readRtp(sent.at(-1)!, again);
  assert.is(sent.length, 4);
  assert.equal(vp8Ids(again), vp8Ids(first));
  const switched = view();
  readRtp(sent[1]!, switched);
  assert.equal(vp8Ids(switched), { pictureId: 7001, tl0: 41, keyIdx: 1 });
});

test.run();
