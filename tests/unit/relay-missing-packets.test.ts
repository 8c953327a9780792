/**
 * Packets lost on a publisher's uplink, asked for again (relay/uplink/MissingPackets.ts and
 * the NACK it writes, relay/rtcp.ts): a gap is due at once, again after a retry interval,
 * at most three times; a packet that comes is forgotten and counted as recovered; long
 * jumps and old gaps are left to keyframes; the NACK reads back as a browser reads it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nackedSequences, nackPacket } from '../../relay/rtcp';
import { MissingPackets } from '../../relay/uplink/MissingPackets';

test('a gap is asked for at once, again while it stays open, three times at most', () => {
  const missing = new MissingPackets();
  missing.arrived(10, 0);
  missing.arrived(13, 5);
  assert.equal(missing.due(5), [11, 12]);
  assert.equal(missing.due(30), [], 'not again before the retry interval');
  missing.arrived(12, 60);
  assert.equal(missing.due(200), [11], '12 came');
  assert.equal(missing.due(400), [11]);
  assert.equal(missing.due(600), [], 'three asks at most');
  assert.equal(missing.takeCounts(), { asked: 4, recovered: 1 });
  assert.equal(missing.takeCounts(), { asked: 0, recovered: 0 });
});

test('across the wrap; a jump too long is left to a keyframe; a gap too old is given up', () => {
  const missing = new MissingPackets();
  missing.arrived(65_534, 0);
  missing.arrived(1, 1);
  assert.equal(missing.due(1), [65_535, 0]);
  missing.arrived(5_000, 2);
  assert.equal(missing.due(500), [], 'a jump of thousands: nothing asked');
  missing.arrived(5_002, 600);
  assert.equal(missing.due(600), [5_001]);
  assert.equal(missing.due(2_000), [], 'past the give-up time');
});

test('the NACK names the stream and every packet, in PID + bitmask entries', () => {
  const seqs = [65_535, 0, 3, 15, 16, 40];
  const packet = nackPacket(1, 0xabcdef01, seqs);
  assert.equal(nackedSequences(packet, 0xabcdef01), seqs);
  assert.equal(nackedSequences(packet, 42), [], 'another stream');
  // 65535 with 0, 3, 15 in its mask (16 is 17 after it: a new entry), then 16, then 40.
  assert.is(packet.length, 12 + 3 * 4);
});

test.run();
