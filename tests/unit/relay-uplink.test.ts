/**
 * The relay's view of a publisher's uplink (relay/uplink/): per-SSRC reception statistics
 * for its receiver reports (its transport-wide feedback: relay-transport-feedback.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReceptionStats } from '../../relay/uplink/ReceptionStats';

test('reception: loss per interval and since the start, across a sequence wrap', () => {
  const stats = new ReceptionStats();
  let t = 0;
  for (let seq = 65_530; seq < 65_536 + 10; seq += 1) stats.receive(seq & 0xffff, seq * 3000, (t += 33));
  const first = stats.report(7, t)!;
  assert.is(first.block.fractionLost, 0);
  assert.is(first.block.highestSequence, 0x1_0000 + 9, 'the extended sequence counts the wrap');
  assert.is(first.expected, 16);
  // Next interval: 10 sent, every other one lost.
  for (let seq = 10; seq < 20; seq += 2) stats.receive(seq, seq * 3000, (t += 33));
  const second = stats.report(7, t)!;
  assert.is(second.expected, 9);
  assert.is(second.lost, 4);
  assert.ok(Math.abs(second.block.fractionLost - 4 / 9) < 1e-9);
  assert.is(second.block.cumulativeLost, 4);
});

test('reception: a restart of the numbering is not counted as loss; jitter grows with uneven arrival', () => {
  const stats = new ReceptionStats();
  for (let i = 0; i < 20; i += 1) stats.receive(100 + i, i * 3000, i * (i % 2 === 0 ? 30 : 36));
  assert.ok(stats.report(1, 1000)!.block.jitter > 0);
  for (let i = 0; i < 20; i += 1) stats.receive(40_000 + i, i * 3000, 2000 + i * 33);
  const after = stats.report(1, 3000)!;
  assert.is(after.lost, 0);
});

test('reception: the last sender report goes back as LSR with its delay in 1/65536 s', () => {
  const stats = new ReceptionStats();
  stats.receive(1, 0, 0);
  stats.senderReport(0xcafe, 1000);
  const { block } = stats.report(1, 1500)!;
  assert.is(block.lastSenderReport, 0xcafe);
  assert.is(block.delaySinceLastSenderReport, 32768);
});

test.run();
