/**
 * The relay as a transport-wide congestion control receiver: the feedback packet's bytes
 * (relay/rtcp.ts), the arrival recorder (relay/uplink/TransportFeedback.ts) and the
 * sequence number's header extension (relay/rtpBytes.ts). Feedback is read back by a small
 * decoder written here from draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1, not
 * by the relay's own code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { transportFeedbackPacket } from '../../relay/rtcp';
import { readExtension16 } from '../../relay/rtpBytes';
import { TransportFeedback } from '../../relay/uplink/TransportFeedback';

interface Decoded {
  sender: number;
  media: number;
  baseSequence: number;
  referenceTime: number;
  feedbackCount: number;
  /** Chunk kinds in order: 'run', 'vector1', 'vector2'. */
  chunks: string[];
  /** Per packet from the base (sequence mod 2^16): arrival in 250 µs units since reference time 0, or undefined when not received. */
  packets: Array<{ sequence: number; arrival: number | undefined; deltaBytes: number }>;
}

/** Reads one feedback packet as the draft describes it. */
function decode(packet: Buffer): Decoded {
  assert.is(packet[0]! >> 6, 2, 'version 2');
  assert.is(packet[0]! & 0x1f, 15, 'FMT 15');
  assert.is(packet[1], 205, 'RTPFB');
  assert.is((packet.readUInt16BE(2) + 1) * 4, packet.length, 'length field in words minus one');
  assert.is(packet.length % 4, 0, 'padded to 32 bits');
  const baseSequence = packet.readUInt16BE(12);
  const count = packet.readUInt16BE(14);
  let referenceTime = packet.readUIntBE(16, 3);
  if (referenceTime & 0x800000) referenceTime -= 0x1000000;
  const statuses: number[] = [];
  const chunks: string[] = [];
  let at = 20;
  while (statuses.length < count) {
    const chunk = packet.readUInt16BE(at);
    at += 2;
    if ((chunk & 0x8000) === 0) {
      chunks.push('run');
      const symbol = (chunk >> 13) & 3;
      for (let i = 0; i < (chunk & 0x1fff); i += 1) statuses.push(symbol);
    } else if ((chunk & 0x4000) === 0) {
      chunks.push('vector1');
      for (let i = 0; i < 14; i += 1) statuses.push((chunk >> (13 - i)) & 1);
    } else {
      chunks.push('vector2');
      for (let i = 0; i < 7; i += 1) statuses.push((chunk >> (12 - 2 * i)) & 3);
    }
  }
  statuses.length = count;
  let time = referenceTime * 256;
  const packets = statuses.map((status, i) => {
    const sequence = (baseSequence + i) & 0xffff;
    if (status === 0) return { sequence, arrival: undefined, deltaBytes: 0 };
    assert.ok(status === 1 || status === 2, `status ${status}`);
    const delta = status === 1 ? packet.readUInt8(at) : packet.readInt16BE(at);
    at += status;
    time += delta;
    return { sequence, arrival: time, deltaBytes: status };
  });
  // What is left is zero padding.
  assert.ok(packet.length - at < 4, 'at most 3 padding bytes');
  for (; at < packet.length; at += 1) assert.is(packet[at], 0, 'zero padding');
  return { sender: packet.readUInt32BE(4), media: packet.readUInt32BE(8), baseSequence, referenceTime, feedbackCount: packet[19]!, chunks, packets };
}

test('feedback bytes: a short one, byte by byte', () => {
  // Base 7, three packets: received (delta 4 from the reference), lost, received (delta 300: two bytes).
  const packet = transportFeedbackPacket(1, 0xabcd, { baseSequence: 7, referenceTime: 2, feedbackCount: 9, deltas: [4, undefined, 300] });
  assert.is(packet.toString('hex'), [
    '8fcd0006', // V=2, FMT 15, PT 205, length 6 (28 bytes)
    '00000001', // sender
    '0000abcd', // media
    '00070003', // base 7, count 3
    '00000209', // reference time 2, feedback count 9
    'd200', // 2-bit vector: 01 00 10, then not received
    '04', '012c', // deltas: 4 (1 byte), 300 (2 bytes)
    '000000', // padding to 28 bytes
  ].join(''));
});

test('feedback bytes: run-length and both vector chunks, small and large deltas, a loss, across the sequence wrap', () => {
  const deltas: Array<number | undefined> = [];
  // 20 received 2 ms apart (8 ticks: one byte each) — a run.
  for (let i = 0; i < 20; i += 1) deltas.push(i === 0 ? 10 : 8);
  // Loss and reception mixed, small deltas only — a 1-bit vector.
  deltas.push(undefined, 8, undefined, undefined, 8, 8, undefined, 8, 8, 8, undefined, 8, 8, 8);
  // A large delta (100 ms: 400 ticks) and a negative one (reordered) among small ones — 2-bit vectors.
  deltas.push(8, 400, undefined, -20, 8);
  const packet = transportFeedbackPacket(1, 2, { baseSequence: 65_520, referenceTime: 1000, feedbackCount: 255, deltas });
  const decoded = decode(packet);
  assert.is(decoded.baseSequence, 65_520);
  assert.is(decoded.referenceTime, 1000);
  assert.is(decoded.feedbackCount, 255);
  assert.equal(decoded.chunks, ['run', 'vector1', 'vector2']);
  assert.is(decoded.packets.length, deltas.length);
  assert.is(decoded.packets[16]!.sequence, 0, 'the sequence wraps');
  let time = 1000 * 256;
  decoded.packets.forEach((p, i) => {
    const delta = deltas[i];
    if (delta === undefined) return assert.is(p.arrival, undefined, `packet ${i} lost`);
    time += delta;
    assert.is(p.arrival, time, `packet ${i}`);
    assert.is(p.deltaBytes, delta >= 0 && delta <= 255 ? 1 : 2, `packet ${i}'s delta size`);
  });
});

test('feedback bytes: a delta beyond 16 bits is refused (the recorder splits there)', () => {
  assert.throws(() => transportFeedbackPacket(1, 2, { baseSequence: 0, referenceTime: 0, feedbackCount: 0, deltas: [0, 40_000] }), RangeError);
});

/** The arrivals a list of feedback packets reports, by sequence number (ms since the recorder's first packet, to the 250 µs). */
function reported(packets: Buffer[]): Map<number, number | undefined> {
  const seen = new Map<number, number | undefined>();
  let first: number | undefined;
  for (const packet of packets) {
    for (const p of decode(packet).packets) {
      if (p.arrival !== undefined) first ??= p.arrival;
      seen.set(p.sequence, p.arrival);
    }
  }
  // The recorder's epoch is its first packet: reference 0 and its own delta.
  return new Map([...seen].map(([s, a]) => [s, a === undefined ? undefined : a / 4]));
}

test('recorder: reordering within a feedback interval, a loss, a duplicate, across the wrap', () => {
  const twcc = new TransportFeedback();
  twcc.record(65_534, 0x55, 0);
  twcc.record(0, 0x55, 2); // 65535 still missing
  twcc.record(65_535, 0x55, 3); // reordered: arrives after 0
  twcc.record(2, 0x55, 5); // 1 lost
  twcc.record(2, 0x55, 9); // duplicate: the first arrival counts
  const packets = twcc.feedback(0x10);
  assert.is(packets.length, 1);
  const decoded = decode(packets[0]!);
  assert.is(decoded.sender, 0x10);
  assert.is(decoded.media, 0x55, 'names a stream of the publisher');
  assert.is(decoded.baseSequence, 65_534);
  assert.equal([...reported(packets)], [[65_534, 0], [65_535, 3], [0, 2], [1, undefined], [2, 5]]);
  assert.ok(decoded.packets[1]!.deltaBytes === 1 && decoded.packets[2]!.deltaBytes === 2, 'a reordered packet has a negative (2-byte) delta after it');
  assert.is(twcc.feedback(0x10).length, 0, 'nothing new, nothing sent');
  // Next interval: starts after the last reported; a late packet already reported as lost is dropped.
  twcc.record(1, 0x55, 60);
  twcc.record(3, 0x55, 61);
  const next = twcc.feedback(0x10);
  assert.is(decode(next[0]!).baseSequence, 3);
  assert.is(decode(next[0]!).feedbackCount, 1, 'the feedback count goes up');
  assert.equal([...reported(next)].map(([s]) => s), [3]);
});

test('recorder: a pause longer than a 2-byte delta starts a new feedback packet with its own reference time', () => {
  const twcc = new TransportFeedback();
  twcc.record(10, 1, 1000);
  twcc.record(11, 1, 1001);
  twcc.record(13, 1, 1000 + 9000); // 9 s later, 12 lost
  const packets = twcc.feedback(1);
  assert.is(packets.length, 2);
  const [first, second] = packets.map(decode);
  assert.is(first!.baseSequence, 10);
  assert.is(first!.packets.length, 2, 'ends with its last received packet');
  assert.is(second!.baseSequence, 12);
  assert.equal(second!.packets.map((p) => p.arrival === undefined), [true, false]);
  assert.is(second!.packets[1]!.arrival, 9000 * 4, 'arrival from its own reference time');
  assert.is(second!.feedbackCount, first!.feedbackCount + 1);
});

test('recorder: bounded memory — a long gap starts over, a long silence of feedback reports only the newest packets', () => {
  const twcc = new TransportFeedback();
  // 100,000 packets (wrapping the 16-bit numbers), never reported: only the ring's worth goes out.
  for (let i = 0; i < 100_000; i += 1) twcc.record(i & 0xffff, 1, i);
  const packets = twcc.feedback(1);
  const all = packets.flatMap((p) => decode(p).packets);
  assert.ok(all.length <= 4096, String(all.length));
  assert.is(all.at(-1)!.sequence, 99_999 & 0xffff);
  assert.ok(all.every((p) => p.arrival !== undefined));
  assert.ok(packets.every((p) => p.length <= 1100), 'each packet fits a datagram');
  // A jump of 30,000 numbers: no 30,000 "not received" statuses, just the new packet.
  twcc.record((99_999 + 30_000) & 0xffff, 1, 100_000);
  const after = twcc.feedback(1).flatMap((p) => decode(p).packets);
  assert.equal(after.map((p) => p.sequence), [(99_999 + 30_000) & 0xffff]);
});

test('recorder: malformed input is ignored', () => {
  const twcc = new TransportFeedback();
  twcc.record(-1, 1, 0);
  twcc.record(70_000, 1, 0);
  twcc.record(1.5, 1, 0);
  twcc.record(5, 1, Number.NaN);
  assert.is(twcc.pending, false);
  assert.equal(twcc.feedback(1), []);
});

/** An RTP header (12 bytes) with extension block `block` (profile and elements, padded to words here) and a payload byte. */
function rtpWith(profile: number, elements: number[]): Buffer {
  const body = Buffer.from(elements);
  const words = Math.ceil(body.length / 4);
  const packet = Buffer.alloc(12 + 4 + words * 4 + 1);
  packet[0] = 0x90;
  packet[1] = 96;
  packet.writeUInt16BE(profile, 12);
  packet.writeUInt16BE(words, 14);
  body.copy(packet, 16);
  return packet;
}

test('extension: the transport-wide sequence number in the one-byte and two-byte forms', () => {
  // One-byte: abs-send-time (ID 2, 3 bytes), a padding byte, transport-cc (ID 3, 2 bytes).
  assert.is(readExtension16(rtpWith(0xbede, [0x22, 1, 2, 3, 0, 0x31, 0xab, 0xcd]), 3), 0xabcd);
  assert.is(readExtension16(rtpWith(0xbede, [0x22, 1, 2, 3, 0, 0x31, 0xab, 0xcd]), 4), undefined);
  // Two-byte (profile 0x1000): ID, length, data.
  assert.is(readExtension16(rtpWith(0x1000, [2, 3, 1, 2, 3, 0, 3, 2, 0x12, 0x34]), 3), 0x1234);
  // ID 15 ends a one-byte block; an element too short, one past the block, no extension.
  assert.is(readExtension16(rtpWith(0xbede, [0xf0, 0x31, 0xab, 0xcd]), 3), undefined);
  assert.is(readExtension16(rtpWith(0xbede, [0x30, 0xab]), 3), undefined);
  const overrun = rtpWith(0xbede, [0x31, 0xab, 0xcd]);
  overrun.writeUInt16BE(9, 14);
  assert.is(readExtension16(overrun, 3), undefined);
  assert.is(readExtension16(Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9]), 3), undefined);
});

test('extension: random bytes never throw', () => {
  let state = 12345;
  const random = () => (state = (state * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x80000000;
  for (let i = 0; i < 20_000; i += 1) {
    const packet = Buffer.alloc(Math.floor(random() * 40));
    for (let b = 0; b < packet.length; b += 1) packet[b] = Math.floor(random() * 256);
    if (packet.length > 0) packet[0] = (packet[0]! & 0x3f) | 0x80 | 0x10;
    const value = readExtension16(packet, 1 + Math.floor(random() * 14));
    assert.ok(value === undefined || (value >= 0 && value <= 0xffff));
  }
});

test.run();
