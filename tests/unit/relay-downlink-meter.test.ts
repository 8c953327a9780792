/**
 * What a viewer's probe sends (relay/allocation/DownlinkMeter.ts): duplicates worth the share
 * asked for, and what the probe sent in all, from its start to its stop — what it tested,
 * which the allocation raises the budget to when it falls well short of the target.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DownlinkMeter } from '../../relay/allocation/DownlinkMeter';

test('a probe sends duplicates worth its share, and reports what it sent in all', () => {
  const meter = new DownlinkMeter();
  meter.startProbe(0.5, 1000);
  let duplicates = 0;
  // 1000-byte packets every 10 ms for 400 ms: 800 kbit/s of originals.
  for (let t = 1000; t < 1400; t += 10) {
    meter.sent(1000, true, t);
    const copies = meter.duplicates(1000);
    duplicates += copies;
    for (let c = 0; c < copies; c += 1) meter.sent(1000, false, t);
  }
  meter.stopProbe(1400);
  assert.is(duplicates, 20);
  assert.is(meter.probeSentBps, 1_200_000);
  // Stopped: no more duplicates, and a second stop keeps the figure.
  assert.is(meter.duplicates(1000), 0);
  meter.stopProbe(2000);
  assert.is(meter.probeSentBps, 1_200_000);
});

test.run();
