/** The per-talker reorder buffer: order, loss, lateness, DTX gaps and sequence wrap-around. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JitterBuffer, type JitterSlot } from '../../relay/audio/JitterBuffer';
import { seqAdd, seqDiff } from '../../relay/audio/SequenceNumber';

/** A payload that names its sequence number, so the test can see what was played. */
function payload(seq: number): Uint8Array {
  return new Uint8Array([seq >> 8, seq & 0xff, 0xaa]);
}

/** Describes a slot compactly: "p5" played 5, "l5" lost 5, "s5" starved at 5, "-" empty. */
function describe(slot: JitterSlot): string {
  switch (slot.kind) {
    case 'packet':
      assert.equal(slot.payload, payload(slot.seq), 'a slot carries its own packet');
      return `p${slot.seq}`;
    case 'lost':
      return `l${slot.seq}`;
    case 'starved':
      return `s${slot.seq}`;
    case 'empty':
      return '-';
  }
}

/** Runs ticks: before tick i, pushes arrivals[i] (sequence numbers), then pops one slot. */
function play(buffer: JitterBuffer, arrivals: number[][]): string[] {
  return arrivals.map((batch) => {
    for (const seq of batch) buffer.push(seq, payload(seq));
    return describe(buffer.pop());
  });
}

test('sequence arithmetic wraps at 65535', () => {
  assert.is(seqDiff(0, 65535), 1);
  assert.is(seqDiff(65535, 0), -1);
  assert.is(seqDiff(10, 65530), 16);
  assert.is(seqAdd(65535, 1), 0);
  assert.is(seqAdd(0, -1), 65535);
});

test('packets that arrive out of order are played in sequence order', () => {
  const buffer = new JitterBuffer();
  const slots = play(buffer, [[1], [0], [3], [2], [5], [4], [], []]);
  assert.equal(slots, ['-', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5', 's6']);
  assert.is(buffer.stats.lost, 0);
  assert.is(buffer.stats.late, 0);
});

test('a missing packet is declared lost once a later one is waiting, and played around', () => {
  const buffer = new JitterBuffer();
  const slots = play(buffer, [[0], [1], [2], [], [4], [5]]);
  assert.equal(slots, ['-', 'p0', 'p1', 'p2', 'l3', 'p4']);
  assert.is(buffer.stats.lost, 1);
});

test('a packet arriving after its slot was concealed is dropped as late and counted', () => {
  const buffer = new JitterBuffer();
  const slots = play(buffer, [[0], [1], [2], [4], [5], [3], [6]]);
  assert.equal(slots, ['-', 'p0', 'p1', 'p2', 'l3', 'p4', 'p5']);
  assert.is(buffer.push(3, payload(3)), 'late', 'a second copy is late too');
  assert.is(buffer.stats.late, 2);
});

test('a packet already played is late, one still waiting is a duplicate', () => {
  const buffer = new JitterBuffer();
  play(buffer, [[0], [1, 2]]);
  assert.is(buffer.push(0, payload(0)), 'late');
  assert.is(buffer.push(2, payload(2)), 'duplicate');
  assert.is(buffer.stats.duplicates, 1);
});

test('sequence numbers wrap from 65535 to 0 without loss or reordering', () => {
  const buffer = new JitterBuffer();
  const seqs = [65533, 65534, 65535, 0, 1, 2];
  const slots = play(buffer, [...seqs.map((s) => [s]), []]);
  assert.equal(slots, ['-', 'p65533', 'p65534', 'p65535', 'p0', 'p1', 'p2']);
  assert.is(buffer.stats.lost + buffer.stats.late, 0);
});

test('after a silent (DTX) pause the next talkspurt plays, not mistaken for late packets', () => {
  const buffer = new JitterBuffer();
  const talk = play(buffer, [[10], [11], [], [], [], [], []]);
  assert.equal(talk, ['-', 'p10', 'p11', 's12', 's12', 's12', '-']);
  assert.is(buffer.state, 'idle');
  // With DTX the sender skips no sequence numbers: the next packet is 12.
  const resume = play(buffer, [[12], [13], [14]]);
  assert.equal(resume, ['-', 'p12', 'p13']);
  assert.is(buffer.stats.late, 0);
});

test('a packet that comes after its slot was concealed plays a frame later: the buffer grows', () => {
  const buffer = new JitterBuffer();
  const slots = play(buffer, [[0], [1], [], [], [2], [3], [4]]);
  assert.equal(slots, ['-', 'p0', 'p1', 's2', 'p2', 'p3', 'p4']);
  assert.is(buffer.stats.late, 0);
  assert.is(buffer.stats.lost, 0);
});

test('a packet that never comes is declared lost once a later one is here, after its concealment', () => {
  const buffer = new JitterBuffer();
  const slots = play(buffer, [[0], [1], [], [], [3], [4]]);
  assert.equal(slots, ['-', 'p0', 'p1', 's2', 'l2', 'p3']);
  assert.is(describe(buffer.pop()), 'p4');
  assert.is(buffer.push(2, payload(2)), 'late', 'declared lost: too late now');
});

test('a burst after a network stall is trimmed so latency stays bounded', () => {
  const buffer = new JitterBuffer({ depth: 2, maxSpan: 6 });
  play(buffer, [[0], [1]]);
  for (let seq = 2; seq < 14; seq++) buffer.push(seq, payload(seq));
  assert.ok(buffer.size <= 6, `held ${buffer.size} packets`);
  assert.is(buffer.stats.late, 7, 'seq 1..7 given up');
  assert.is(describe(buffer.pop()), 'p8');
});

test('a sender that restarts its sequence numbers is followed', () => {
  const buffer = new JitterBuffer();
  play(buffer, [[100], [101], [102]]);
  const slots = play(buffer, [[30000], [30001], [30002]]);
  assert.equal(slots, ['-', 'p30000', 'p30001']);
  assert.is(buffer.stats.late, 1, 'the unplayed 102 of the old sequence');
});

test.run();
