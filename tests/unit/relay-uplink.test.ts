/**
 * The relay's view of a publisher's uplink (relay/uplink/): per-SSRC reception statistics
 * for its receiver reports, and the ceiling it sends as REMB while that uplink loses packets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReceptionStats } from '../../relay/uplink/ReceptionStats';
import { UplinkEstimate } from '../../relay/uplink/UplinkEstimate';

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

test('uplink: no ceiling while nothing is lost; on loss 85% of what arrived; held 3 s, then climbing about 8%/s, until released', () => {
  const uplink = new UplinkEstimate();
  assert.is(uplink.update(100, 0, 900_000, 0), undefined);
  assert.is(uplink.update(100, 1, 900_000, 500), undefined, 'a little loss is no reason');
  assert.is(uplink.update(100, 30, 300_000, 1000), 255_000);
  // Lower again while the loss goes on, never up.
  assert.is(uplink.update(100, 20, 280_000, 1500), 238_000);
  assert.is(uplink.update(100, 5, 400_000, 2000), 238_000, 'between 2% and 10%: held');
  assert.is(uplink.update(100, 0, 200_000, 4000), 238_000, 'held for 3 s after the last cut');
  let ceiling = 238_000;
  // Climbing above what arrives (the browser sends only its low layer meanwhile): room for the top layer to come back.
  for (let t = 5000; t <= 10_000; t += 500) ceiling = uplink.update(100, 0, 100_000, t)!;
  assert.ok(ceiling > 238_000 * 1.3 && ceiling < 238_000 * 1.6, String(ceiling));
  // Released once far above what arrives.
  let released = false;
  for (let t = 10_500; t <= 60_000 && !released; t += 500) released = uplink.update(100, 0, 300_000, t) === undefined;
  assert.ok(released);
});

test('uplink: intervals with too few packets cut nothing but let the ceiling climb; it never goes below 100 kbit/s', () => {
  const uplink = new UplinkEstimate();
  assert.is(uplink.update(5, 5, 10_000, 0), undefined);
  assert.is(uplink.update(100, 50, 40_000, 500), 100_000, 'a cut read while little arrives stops at the floor');
  let ceiling = 0;
  // The browser sends a few packets a report (one small layer): the ceiling still climbs.
  for (let t = 4000; t <= 10_000; t += 500) ceiling = uplink.update(6, 0, 30_000, t)!;
  assert.ok(ceiling > 140_000, String(ceiling));
});

test.run();
